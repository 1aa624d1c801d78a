"""Replay: time to first frame, seek latency, 100k-node rebuild, viewer memory.

Synthetic sessions of 1, 10 and 60 minutes (a 1,000-row page changing a few
times a second: class and text changes, inserts, removes, scrolls, moves)
are ingested through the real ingest path, keyframed, and served by a real
`sessionlens serve`. Chromium opens the real player:

- first frame: opening /sessions/{sid} until the first state is built;
- seek: `sessionlensPlayer.seek(T)` at 20 random points, from request to
  the DOM built (fetch + sanitise + JSON + build), median / p95 / max;
- server-only seek: PageViewReader.state_at + sanitise + JSON, cold reader;
- 100,000-node snapshot: Python rebuild + keyframe, and the player building it;
- viewer tab memory: JS heap after the seeks (CDP Performance metrics).

rrweb's Replayer is not run side by side: it replays rrweb's own event
format, and converting these recordings to it is not implemented.

    .venv/bin/python bench/replay_seek.py [--minutes 1 10 60]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sessionlens.index import Index  # noqa: E402
from sessionlens.ingest import ingest_batch  # noqa: E402
from sessionlens.replay.dom import DomState  # noqa: E402
from sessionlens.replay.keyframes import write_keyframes  # noqa: E402
from sessionlens.replay.pageview import PageViewReader  # noqa: E402
from sessionlens.replay.sanitize import Sanitizer  # noqa: E402
from sessionlens.settings import load_settings  # noqa: E402
from tests.helpers import batch, new_id  # noqa: E402
from tests.live import LiveCollector, chromium  # noqa: E402
from tests.synthetic import synthetic_page_view  # noqa: E402
from tests.viewer_live import add_viewer_user, log_in, open_player, replay_frame  # noqa: E402

ORIGIN = "https://bench.example"
T0 = int(time.time() * 1000) - 3_600_000  # within the collector's t0 window


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def load_session(collector: LiveCollector, site_key: str, minutes: float) -> tuple[str, str, int, int]:
    settings = load_settings(overrides={"data_dir": str(collector.data_dir)}, environ={})
    store = collector.store
    index = Index(collector.data_dir / "index.sqlite3")
    sid, pid = new_id(), new_id()
    chunks = synthetic_page_view(minutes, seed=int(minutes * 10), rows=1000)
    for seq, events in enumerate(chunks):
        body = orjson.dumps(batch(sid, pid, seq, events, t0=T0))
        ingest_batch(site=site_key, body=body, content_encoding="", user_agent="bench", settings=settings,
                     store=store, index=index)  # fmt: skip
    started = time.perf_counter()
    written = write_keyframes(store, PageViewReader(store), site_key, sid, pid)
    keyframing = time.perf_counter() - started
    index.close()
    print(f"  {minutes:>4} min: {len(chunks)} chunks, {sum(len(c) for c in chunks):,} events, "
          f"{written} keyframes written in {keyframing:.1f} s")  # fmt: skip
    return sid, pid, chunks[-1][-1][1], sum(len(c) for c in chunks)


def wait_for_derivation(collector: LiveCollector, timeout_s: float = 600) -> None:
    index = Index(collector.data_dir / "index.sqlite3")
    try:
        deadline = time.monotonic() + timeout_s
        while sum(index.work_backlog(5).values()):
            if time.monotonic() > deadline:
                raise SystemExit("derivation did not finish")
            time.sleep(0.5)
    finally:
        index.close()


def server_seeks(collector: LiveCollector, site_key: str, sid: str, pid: str, end: int) -> list[float]:
    clean = Sanitizer(["http://127.0.0.1"])
    times = []
    for at in random.Random(1).sample(range(end), 20):
        reader = PageViewReader(collector.store)  # cold: nothing cached
        started = time.perf_counter()
        frame, rest = reader.state_at(site_key, sid, pid, at)
        orjson.dumps({"keyframe": clean.keyframe(frame), "events": clean.events(rest)})
        times.append((time.perf_counter() - started) * 1000)
    return times


def big_snapshot_records(n: int) -> list[list]:
    records = [[1, None, None, 9], [2, 1, None, 1, "html", {}], [3, 2, None, 1, "body", {}]]
    next_id, parents = 4, [3]
    while next_id < n:
        parent = parents[(next_id * 7) % len(parents)]
        records.append([next_id, parent, None, 1, "div", {"class": f"c{next_id % 50}"}])
        records.append([next_id + 1, next_id, None, 3, f"node {next_id}"])
        parents.append(next_id)
        next_id += 2
    return records


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=float, nargs="+", default=[1, 10, 60])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        collector = LiveCollector(Path(tmp) / "data")
        site = collector.add_site(ORIGIN)
        print("ingesting synthetic sessions:")
        sessions = {m: load_session(collector, site.key, m) for m in args.minutes}
        collector.start()
        add_viewer_user(collector)
        # A recording is watched once derived (keyframes, click facts, markers): the
        # serve's worker derives the ingested sessions first, timed here, not during the seeks.
        started = time.perf_counter()
        wait_for_derivation(collector)
        print(f"  derived by the serve's worker in {time.perf_counter() - started:.1f} s")
        try:
            with chromium() as browser:
                page = browser.new_page(viewport={"width": 1500, "height": 950})
                log_in(page, collector)
                cdp = page.context.new_cdp_session(page)
                cdp.send("Performance.enable")
                print("\nsession  first frame  seek median  p95     max     server seek median/max  JS heap")
                for minutes, (sid, pid, end, _events) in sessions.items():
                    started = time.perf_counter()
                    open_player(page, collector, sid, 0)
                    first = (time.perf_counter() - started) * 1000
                    seeks = []
                    for at in random.Random(2).sample(range(end), 20):
                        seeks.append(page.evaluate(
                            "async (t) => { const s = performance.now(); await window.sessionlensPlayer.seek(t);"
                            " return performance.now() - s; }", at))  # fmt: skip
                    server = server_seeks(collector, site.key, sid, pid, end)
                    metrics = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
                    print(f"{minutes:>5.0f} m  {first:8.0f} ms  {statistics.median(seeks):8.1f} ms"
                          f"  {pct(seeks, .95):6.1f}  {max(seeks):6.1f}  "
                          f"{statistics.median(server):8.1f} / {max(server):6.1f} ms"
                          f"          {metrics['JSHeapUsedSize'] / 2**20:6.1f} MB")  # fmt: skip

                records = big_snapshot_records(100_000)
                started = time.perf_counter()
                state = DomState().apply_all([["snapshot", 1, 0, True, records]])
                frame = state.keyframe()
                python_ms = (time.perf_counter() - started) * 1000
                # Built in the replay frame itself (its own origin: playwright's frame API).
                build_ms = replay_frame(page).evaluate(
                    """(frame) => { const s = performance.now();
                       window.sessionlensReplay.dom.applyKeyframe(frame); return performance.now() - s; }""",
                    frame,
                )
                metrics = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
                print(f"\n100,000-node snapshot: Python rebuild + keyframe {python_ms:.0f} ms; "
                      f"player build {build_ms:.0f} ms; JS heap after {metrics['JSHeapUsedSize'] / 2**20:.1f} MB")  # fmt: skip
        finally:
            collector.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
