"""Ingest requests per second with one uvicorn worker, on loopback.

Starts `sessionlens serve` (local disk + SQLite) in a subprocess, then POSTs
realistic batches (a mix of pointer, scroll and mutation events, ~4 KB gzip)
from several client threads over keep-alive connections for a fixed time.
Prints the median of three runs.

    .venv/bin/python bench/ingest_throughput.py [--seconds 5] [--clients 8]
"""

from __future__ import annotations

import argparse
import gzip
import http.client
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.helpers import batch, meta_event, new_id, snapshot_event  # noqa: E402
from tests.live import LiveCollector  # noqa: E402

ORIGIN = "https://bench.example"


def realistic_events(seq: int) -> list[list]:
    events: list[list] = [meta_event(), snapshot_event()] if seq == 0 else []
    t = seq * 5000
    for i in range(60):
        t += 80
        events.append(["move", t, 100 + i, 200 + i, 5])
        if i % 6 == 0:
            events.append(["scroll", t, None, 0, i * 30, 1280, 6000])
        if i % 10 == 0:
            events.append(
                [
                    "mutation",
                    t,
                    [],
                    [
                        [100 + i, 4, None, 1, "div", {"class": "toast"}],
                        [200 + i, 100 + i, None, 3, "Added to cart"],
                    ],
                    [[5, "class", "active"]],
                    [],
                ]
            )
        if i % 20 == 0:
            events.append(
                ["click", t, 5, "#buy", 0.5, 0.5, 300, 400, 300, 200, 0, "mouse", 1280, 6000, "button", ""]
            )
    return events


def run_once(collector: LiveCollector, site_key: str, seconds: float, clients: int) -> float:
    counts = [0] * clients
    errors: list[str] = []

    # Bodies are built before the clock starts so the load generator, which
    # shares the machine's two cores with the collector, stays cheap.
    per_client = [
        [gzip.compress(orjson.dumps(batch(sid, pid, seq, realistic_events(seq))), 5) for seq in range(400)]
        for sid, pid in ((new_id(), new_id()) for _ in range(clients))
    ]

    def client(n: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", collector.port, timeout=10)
        seq = 0
        while time.monotonic() < stop and seq < len(per_client[n]):
            body = per_client[n][seq]
            conn.request(
                "POST", f"/ingest/{site_key}", body, {"Origin": ORIGIN, "Content-Type": "text/plain"}
            )
            resp = conn.getresponse()
            resp.read()
            if resp.status != 200:
                errors.append(f"{resp.status}")
                return
            counts[n] += 1
            seq += 1
        conn.close()

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    stop = time.monotonic() + seconds
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started
    if errors:
        raise SystemExit(f"requests failed: {errors[:5]}")
    return sum(counts) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    sample = gzip.compress(orjson.dumps(batch(events=realistic_events(1))), 5)
    with tempfile.TemporaryDirectory() as tmp:
        collector = LiveCollector(Path(tmp) / "data")
        site = collector.add_site(ORIGIN)
        collector.start()
        try:
            rates = [run_once(collector, site.key, args.seconds, args.clients) for _ in range(args.runs)]
        finally:
            collector.stop()
    print(f"batch: {len(realistic_events(1))} events, {len(sample)} bytes gzip")
    print(f"ingest, 1 uvicorn worker, {args.clients} clients: runs {[round(r) for r in rates]} req/s")
    print(f"median: {statistics.median(rates):.0f} requests/s")


if __name__ == "__main__":
    main()
