"""Ingest req/s and p99 with 1, 2 and 4 collector processes, and derivation lag under that load.

Configurations, each a set of processes on this machine (tests/cluster.py):

- ``sqlite``: the one-box default: one `sessionlens serve` (role all, the
  derivation worker in-process) on local disk and SQLite;
- ``pg-N`` (``pg-NxW``): N `sessionlens serve --role ingest` collectors and one
  (W) `sessionlens worker`, sharing one S3-protocol server (moto) and one
  PostgreSQL (Debian's, started like the tests'; fsync off, as in the tests);
- ``pglocal-N``: the same with the blobs on local disk (one machine only): what
  the S3 server costs, told apart from what PostgreSQL costs.

50 clients (threads, keep-alive connections; client i talks to collector
i mod N, as a load balancer would spread them) send page views of
``--batches`` realistic gzip batches each (bench/ingest_throughput.py's), in
order, for ``--seconds``. Derivation lag: from the acknowledgement of a page
view's last batch to the moment its derivation_queue row is gone (keyframes
and click facts of everything acknowledged written; sampled every 50 ms).
Rounds alternate the configurations; medians are printed.

    .venv/bin/python bench/multi_collector.py [--seconds 8] [--rounds 3] [--clients 50]
"""

from __future__ import annotations

import argparse
import gzip
import http.client
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ingest_throughput import realistic_events  # noqa: E402 - beside this file

from sessionlens.index import Index  # noqa: E402
from sessionlens.settings import load_settings  # noqa: E402
from sessionlens.sites import SiteRegistry, new_site  # noqa: E402
from sessionlens.stores.factory import open_store  # noqa: E402
from tests.cluster import Cluster, new_database, s3_env  # noqa: E402
from tests.helpers import batch, free_port, new_id, wait_for_port  # noqa: E402
from tests.postgres_server import PostgresServer  # noqa: E402

ORIGIN = "https://bench.example"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))] if ordered else float("nan")


class Round:
    """One configuration under load: its processes, clients and lag sampler."""

    def __init__(self, root: Path, name: str, env: dict[str, str], collectors: int, workers: int) -> None:
        self.name = name
        self.cluster = Cluster(root, env)
        self.collectors = collectors
        self.workers = workers
        self.settings = load_settings(environ=self.cluster._environ())

    def start(self) -> None:
        store = open_store(self.settings)
        self.site = new_site("Bench", [ORIGIN])
        SiteRegistry(store).save(self.site)
        role = "all" if self.name == "sqlite" else "ingest"
        self.ports = [self.cluster.serve(f"c{i}", role).port for i in range(self.collectors)]
        for i in range(self.workers):
            self.cluster.worker(f"w{i}")
        self.index = Index(self.settings.index_url or self.settings.resolved_index_path)

    def stop(self) -> None:
        self.index.close()
        self.cluster.stop_all()

    def run(self, clients: int, seconds: float, batches: int, pause: float = 0.0) -> dict[str, float]:
        latencies: list[float] = []
        last_acked: dict[tuple[str, str], float] = {}  # page view -> ack time of its last batch
        lock = threading.Lock()
        errors: list[str] = []
        gate = threading.Barrier(clients + 1)
        stop_at = [0.0]

        def client(n: int) -> None:
            conn = http.client.HTTPConnection("127.0.0.1", self.ports[n % len(self.ports)], timeout=60)
            gate.wait()
            while time.monotonic() < stop_at[0] and not errors:
                sid, pid = new_id(), new_id()
                for seq in range(batches):
                    body = gzip.compress(orjson.dumps(batch(sid, pid, seq, realistic_events(seq))), 5)
                    began = time.perf_counter()
                    conn.request("POST", f"/ingest/{self.site.key}", body,
                                 {"Origin": ORIGIN, "Content-Type": "text/plain"})  # fmt: skip
                    resp = conn.getresponse()
                    resp.read()
                    done = time.perf_counter()
                    if resp.status != 200:
                        errors.append(f"{resp.status} from collector {n % len(self.ports)}")
                        return
                    with lock:
                        latencies.append(done - began)
                        if seq == batches - 1:
                            last_acked[(sid, pid)] = time.monotonic()
                    if time.monotonic() >= stop_at[0]:
                        break  # an unfinished page view is not counted for the lag
                    time.sleep(pause)  # a recorder's flush interval; 0: as fast as answered
            conn.close()

        lags: dict[tuple[str, str], float] = {}
        sampling = threading.Event()

        def sampler() -> None:
            while True:
                now = time.monotonic()
                queued = {
                    (r["sid"], r["pid"]) for r in self.index.query("SELECT sid, pid FROM derivation_queue")
                }
                with lock:
                    acked = dict(last_acked)
                for view, at in acked.items():
                    if view not in lags and view not in queued and now >= at:
                        lags[view] = now - at
                if sampling.is_set() and len(lags) >= len(acked):
                    return
                time.sleep(0.05)

        threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(clients)]
        for t in threads:
            t.start()
        watcher = threading.Thread(target=sampler, daemon=True)
        watcher.start()
        stop_at[0] = time.monotonic() + seconds
        started = time.monotonic()
        gate.wait()
        for t in threads:
            t.join()
        elapsed = time.monotonic() - started
        sampling.set()
        watcher.join(timeout=120)
        if errors:
            raise SystemExit(f"{self.name}: requests failed: {errors[:5]}")
        lag = list(lags.values())
        return {
            "rps": len(latencies) / elapsed,
            "p50": percentile(latencies, 0.5) * 1000,
            "p99": percentile(latencies, 0.99) * 1000,
            "lag_p50": percentile(lag, 0.5) * 1000,
            "lag_p95": percentile(lag, 0.95) * 1000,
            "underived": len(last_acked) - len(lags),
        }


def start_moto() -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    wait_for_port(port, timeout=30)
    return proc, f"http://127.0.0.1:{port}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--batches", type=int, default=5, help="batches per page view")
    parser.add_argument("--configs", default="sqlite,pg-1,pg-2,pg-4")
    parser.add_argument("--pause", type=float, default=0.0, help="seconds each client waits between batches")
    args = parser.parse_args()
    os.environ.update(
        {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1"}
    )
    configs = args.configs.split(",")
    moto, endpoint = start_moto()
    postgres = PostgresServer().start()
    results: dict[str, list[dict[str, float]]] = {}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for round_no in range(args.rounds):
                order = configs if round_no % 2 == 0 else list(reversed(configs))
                for name in order:
                    root = Path(tmp) / f"{name}-{round_no}"
                    root.mkdir()
                    env: dict[str, str] = {"SESSIONLENS_COMPACTION_IDLE_SECONDS": "0"}  # not measured here
                    collectors, workers = 1, 0
                    if name == "sqlite":
                        env["SESSIONLENS_DERIVATION_WORKER"] = "true"
                    else:
                        kind, shape = name.split("-")
                        collectors, workers = (int(x) for x in (shape.split("x") + ["1"])[:2])
                        if kind == "pg":  # pglocal: PostgreSQL with local disk, to tell S3's share apart
                            env |= s3_env(endpoint, f"bench-{round_no}-{name.replace('x', 'w')}")
                        env["SESSIONLENS_INDEX_URL"] = new_database(postgres.url, "bench")
                    r = Round(root, name, env, collectors, workers)
                    r.start()
                    try:
                        r.run(args.clients, 1, args.batches)  # warm-up: connections, pools, partitions
                        result = r.run(args.clients, args.seconds, args.batches, args.pause)
                    finally:
                        r.stop()
                    results.setdefault(name, []).append(result)
                    print(
                        f"round {round_no + 1} {name:>6}: {result['rps']:6.0f} req/s  p50 {result['p50']:6.1f} ms  "
                        f"p99 {result['p99']:7.1f} ms  lag p50 {result['lag_p50']:6.0f} ms  "
                        f"p95 {result['lag_p95']:6.0f} ms  underived {result['underived']}",
                        flush=True,
                    )
    finally:
        postgres.stop()
        moto.terminate()
        moto.wait(timeout=10)
    sample = gzip.compress(orjson.dumps(batch(events=realistic_events(1))), 5)
    print(f"\n{args.clients} clients, page views of {args.batches} batches ({len(sample)} bytes gzip each), "
          f"{args.seconds:g} s x {args.rounds} rounds, {os.cpu_count()} cores; medians:")  # fmt: skip
    for name in configs:
        runs = results[name]
        m = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
        print(
            f"  {name:>6}: {m['rps']:6.0f} req/s  p50 {m['p50']:6.1f} ms  p99 {m['p99']:7.1f} ms  "
            f"derivation lag p50 {m['lag_p50']:6.0f} ms  p95 {m['lag_p95']:6.0f} ms"
        )


if __name__ == "__main__":
    main()
