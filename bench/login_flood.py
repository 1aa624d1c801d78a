"""Ingest latency during a login flood, on loopback.

Starts `sessionlens serve` (local disk + SQLite) in a subprocess, then
measures the latency of small ingest batches posted one after another over
a keep-alive connection: first alone, then while other threads send a
flood of login requests with wrong passwords. Each login uses its own user
name and one of many client addresses (the collector is told to trust
X-Forwarded-For for this run), so the throttle does not stop the flood
early, and a 503 ("checks queue full") is retried at once, so every one
of the logins costs a scrypt: the point is the scrypt load. Prints p50/p99 of both and the ratio.

    .venv/bin/python bench/login_flood.py [--logins 400] [--flooders 16] [--batches 300]
"""

from __future__ import annotations

import argparse
import collections
import http.client
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sessionlens.auth.users import Accounts  # noqa: E402
from tests.helpers import batch, click_event, new_id, wait_for_port  # noqa: E402
from tests.live import LiveCollector  # noqa: E402

ORIGIN = "https://bench.example"
# 400 logins over 40 addresses = 10 per address, under the default per-address limit (30).
ADDRESSES = [f"198.51.100.{i}" for i in range(1, 41)]


class FloodCollector(LiveCollector):
    """LiveCollector started with a settings file (the base class clears SESSIONLENS_* variables)."""

    def start(self) -> None:
        config = self.data_dir / "bench.toml"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        config.write_text('login_client_address_header = "X-Forwarded-For"\nsite_cache_seconds = 0\n')
        env = {k: v for k, v in os.environ.items() if not k.startswith("SESSIONLENS_")}
        log = open(self.log_path, "ab")  # noqa: SIM115 - owned by the process
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "sessionlens.cli", "--config", str(config), "serve",
             "--port", str(self.port), "--host", "127.0.0.1", "--data-dir", str(self.data_dir)],
            env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        wait_for_port(self.port, timeout=30)


def ingest_latencies(
    collector: LiveCollector, site_key: str, count: int, stop: threading.Event | None
) -> list[float]:
    """Seconds per small batch, sequential, keep-alive; stops early when stop is set."""
    conn = http.client.HTTPConnection("127.0.0.1", collector.port, timeout=60)
    sid, pid = new_id(), new_id()
    out = []
    for seq in range(count):
        body = orjson.dumps(batch(sid, pid, seq, None if seq == 0 else [click_event(100 + seq)]))
        start = time.perf_counter()
        conn.request("POST", f"/ingest/{site_key}", body=body,
                     headers={"Origin": ORIGIN, "Content-Type": "application/json"})  # fmt: skip
        response = conn.getresponse()
        response.read()
        out.append(time.perf_counter() - start)
        if response.status != 200:
            raise SystemExit(f"ingest answered {response.status}")
        if stop is not None and stop.is_set():
            break
    conn.close()
    return out


def flood(collector: LiveCollector, logins: int, threads: int) -> tuple[collections.Counter, float]:
    statuses: collections.Counter = collections.Counter()
    lock = threading.Lock()
    todo = iter(range(logins))

    def worker() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", collector.port, timeout=120)
        while True:
            with lock:
                i = next(todo, None)
            if i is None:
                break
            form = urllib.parse.urlencode({"name": f"guess{i}", "password": "wrong password!"})
            headers = {
                "Content-Type": "application/x-www-form-urlencoded",
                "Origin": collector.url,
                "X-Forwarded-For": ADDRESSES[i % len(ADDRESSES)],
            }
            while True:  # an attacker retries a "busy" answer at once, so every guess costs a scrypt
                conn.request("POST", "/login", body=form, headers=headers)
                response = conn.getresponse()
                response.read()
                with lock:
                    statuses[response.status] += 1
                if response.status != 503:
                    break
                time.sleep(0.005)
        conn.close()

    start = time.perf_counter()
    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return statuses, time.perf_counter() - start


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--logins", type=int, default=400)
    parser.add_argument("--flooders", type=int, default=16, help="concurrent login connections")
    parser.add_argument("--batches", type=int, default=300, help="ingest batches per phase")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        collector = FloodCollector(Path(tmp) / "data")
        collector.start()
        try:
            site = collector.add_site(ORIGIN)
            Accounts(collector.store).add_user("ada", "the real password")
            ingest_latencies(collector, site.key, 30, None)  # warm up
            quiet = ingest_latencies(collector, site.key, args.batches, None)

            done = threading.Event()
            result: dict = {}

            def run_flood() -> None:
                result["statuses"], result["seconds"] = flood(collector, args.logins, args.flooders)
                done.set()

            flooder = threading.Thread(target=run_flood)
            flooder.start()
            time.sleep(0.2)  # let the flood build up
            busy = ingest_latencies(collector, site.key, args.batches, done)
            flooder.join()
        finally:
            collector.stop()
    print(f"login flood: {args.logins} logins from {args.flooders} connections in {result['seconds']:.1f} s, "
          f"answers {dict(sorted(result['statuses'].items()))}")  # fmt: skip
    for label, samples in (("ingest alone", quiet), ("ingest during flood", busy)):
        print(f"{label:>20}: n={len(samples)}  p50 {statistics.median(samples) * 1000:.1f} ms  "
              f"p99 {percentile(samples, 0.99) * 1000:.1f} ms")  # fmt: skip
    print(f"ratio during/alone: p50 {statistics.median(busy) / statistics.median(quiet):.2f}x  "
          f"p99 {percentile(busy, 0.99) / percentile(quiet, 0.99):.2f}x")  # fmt: skip


if __name__ == "__main__":
    main()
