"""Ingest requests/s and latency with one uvicorn worker, on loopback.

In one run, side by side, each in its own subprocess on the same machine:

- ``bare``: a Starlette endpoint that returns 204 (what the HTTP stack alone costs);
- ``after``: `sessionlens serve` from this checkout (or --after-src);
- ``before``: `sessionlens serve` from another source tree (--before-src), e.g.
  the commit before the ingest hardening:

      git worktree add /tmp/base 524e6bd
      .venv/bin/python bench/ingest_throughput.py --before-src /tmp/base/src

Clients POST realistic batches (pointer, scroll and mutation events, ~4 KB
gzip) over keep-alive connections for a fixed time. Rounds alternate the
servers so drift on a shared machine hits all of them alike; the medians of
the rounds are printed, and after/before as ratios of throughput and of the
server's CPU time per request (read from /proc; steadier than req/s when
other work shares the machine).

    .venv/bin/python bench/ingest_throughput.py [--seconds 5] [--clients 50] [--rounds 3]
"""

from __future__ import annotations

import argparse
import gzip
import http.client
import itertools
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

from sessionlens.sites import SiteRegistry, new_site  # noqa: E402
from sessionlens.stores.local import LocalStore  # noqa: E402
from tests.helpers import batch, free_port, meta_event, new_id, snapshot_event, wait_for_port  # noqa: E402

ORIGIN = "https://bench.example"
BARE_APP = """
import sys, uvicorn
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route

async def ingest(request):
    await request.body()
    return Response(status_code=204, headers={"Access-Control-Allow-Origin": "*"})

app = Starlette(routes=[Route("/ingest/{site}", ingest, methods=["POST"])])
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
"""


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


class Server:
    """One server under test in a subprocess: the collector from a source tree, or the bare app."""

    def __init__(self, name: str, src: Path | None, data_dir: Path) -> None:
        self.name, self.src, self.data_dir = name, src, data_dir
        self.port = free_port()
        self.site_key = "bare-site"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SESSIONLENS_")}
        if self.src is None:
            cmd = [sys.executable, "-c", BARE_APP, str(self.port)]
        else:
            site = new_site("Bench", [ORIGIN])
            SiteRegistry(LocalStore(self.data_dir / "blobs")).save(site)
            self.site_key = site.key
            env["PYTHONPATH"] = str(self.src)
            cmd = [sys.executable, "-m", "sessionlens.cli", "serve", "--port", str(self.port),
                   "--host", "127.0.0.1", "--data-dir", str(self.data_dir)]  # fmt: skip
        log = open(self.data_dir.parent / f"{self.name}.log", "ab")  # noqa: SIM115 - owned by the process
        self.proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
        wait_for_port(self.port, timeout=30)

    def cpu_seconds(self) -> float:
        """User + system CPU the server process has used (Linux /proc), all threads."""
        assert self.proc is not None
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=20)


def make_bodies(clients: int, per_client: int) -> list[list[bytes]]:
    # Fresh session ids every run: first write wins, so a re-sent batch
    # would take the (cheaper) duplicate path.
    return [
        [
            gzip.compress(orjson.dumps(batch(sid, pid, seq, realistic_events(seq))), 5)
            for seq in range(per_client)
        ]
        for sid, pid in ((new_id(), new_id()) for _ in range(clients))
    ]


def run_once(
    server: Server, bodies: list[list[bytes]], seconds: float, warm_up: bool = False
) -> dict[str, float]:
    latencies: list[list[float]] = [[] for _ in bodies]
    errors: list[str] = []
    start_gate = threading.Barrier(len(bodies) + 1)

    def client(n: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        start_gate.wait()
        # The bare endpoint stores nothing, so it may cycle through its bodies.
        mine = itertools.cycle(bodies[n]) if server.src is None else bodies[n]
        for body in mine:
            if time.monotonic() >= stop:
                break
            began = time.perf_counter()
            conn.request(
                "POST", f"/ingest/{server.site_key}", body, {"Origin": ORIGIN, "Content-Type": "text/plain"}
            )
            resp = conn.getresponse()
            resp.read()
            latencies[n].append(time.perf_counter() - began)
            if resp.status not in (200, 204):
                errors.append(f"{server.name}: {resp.status}")
                break
        conn.close()

    threads = [threading.Thread(target=client, args=(n,)) for n in range(len(bodies))]
    for t in threads:
        t.start()
    stop = time.monotonic() + seconds
    started = time.monotonic()
    cpu_before = server.cpu_seconds()
    start_gate.wait()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started
    cpu = server.cpu_seconds() - cpu_before
    if errors:
        raise SystemExit(f"requests failed: {errors[:5]}")
    if (
        not warm_up
        and server.src is not None
        and any(len(lat) == len(b) for lat, b in zip(latencies, bodies, strict=True))
    ):
        print(f"  note: a {server.name} client ran out of prepared batches; raise --per-client")
    flat = sorted(x for lat in latencies for x in lat)
    return {
        "rps": len(flat) / elapsed,
        "p50": flat[len(flat) // 2] * 1000,
        "p99": flat[min(len(flat) - 1, int(len(flat) * 0.99))] * 1000,
        # Server CPU per request: steadier than req/s on a machine shared with other work.
        "cpu_ms": cpu / len(flat) * 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--per-client", type=int, default=80, help="batches prepared per client and run")
    parser.add_argument("--after-src", type=Path, default=ROOT / "src")
    parser.add_argument("--before-src", type=Path, help="source tree of the collector to compare against")
    args = parser.parse_args()
    sample = gzip.compress(orjson.dumps(batch(events=realistic_events(1))), 5)
    results: dict[str, list[dict[str, float]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        names = [("bare", None), ("after", args.after_src)]
        if args.before_src:
            names.append(("before", args.before_src))
        for round_no in range(args.rounds):
            # Alternate the order so neither collector always runs first.
            order = names if round_no % 2 == 0 else [names[0], *reversed(names[1:])]
            for name, src in order:
                data_dir = Path(tmp) / f"{name}-{round_no}" / "data"
                data_dir.mkdir(parents=True)
                server = Server(name, src, data_dir)
                server.start()
                try:
                    bodies = make_bodies(args.clients, args.per_client)
                    run_once(server, make_bodies(args.clients, 3), 1, warm_up=True)
                    results.setdefault(name, []).append(run_once(server, bodies, args.seconds))
                finally:
                    server.stop()
                r = results[name][-1]
                print(
                    f"round {round_no + 1} {name:>6}: {r['rps']:7.0f} req/s  p50 {r['p50']:6.1f} ms  "
                    f"p99 {r['p99']:6.1f} ms  server CPU {r['cpu_ms']:.3f} ms/request"
                )
    print(f"\nbatch: {len(realistic_events(1))} events, {len(sample)} bytes gzip; {args.clients} clients, "
          f"1 uvicorn worker, {args.seconds:g} s x {args.rounds} rounds; medians:")  # fmt: skip
    medians = {name: {k: statistics.median(r[k] for r in runs) for k in ("rps", "p50", "p99", "cpu_ms")}
               for name, runs in results.items()}  # fmt: skip
    for name, m in medians.items():
        print(
            f"  {name:>6}: {m['rps']:7.0f} req/s  p50 {m['p50']:6.1f} ms  p99 {m['p99']:6.1f} ms  "
            f"server CPU {m['cpu_ms']:.3f} ms/request"
        )
    if "before" in medians:
        ratio = medians["after"]["rps"] / medians["before"]["rps"]
        print(f"  after/before throughput: {ratio:.3f} ({(1 - ratio) * 100:+.1f} % cost)")
        cpu_ratio = medians["after"]["cpu_ms"] / medians["before"]["cpu_ms"]
        print(f"  after/before server CPU per request: {cpu_ratio:.3f} ({(cpu_ratio - 1) * 100:+.1f} %)")


if __name__ == "__main__":
    main()
