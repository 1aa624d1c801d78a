"""Main-thread cost of the recorder beside rrweb's record, in one Chromium run.

Scenarios: the initial snapshot of a 10,000- and a 100,000-node page, and
inserting 1,000 blocks of 10 nodes into a recorded page. For each, the
total main-thread task time attributable to the recorder (minus the same
scenario with no recorder) and the longest single task, medians over runs.
Also the recorder's size, minified + gzipped.

    .venv/bin/python bench/recorder_cost.py [--runs 5]
(rrweb comes from bench/node_modules: `cd bench && npm ci`.)
"""

from __future__ import annotations

import argparse
import gzip
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from browser_bench import (  # noqa: E402
    CHROMIUM,
    CHROMIUM_ARGS,
    RRWEB_JS,
    SESSIONLENS_JS,
    START_RECORDER,
    TRACE_CATEGORIES,
    BenchServer,
    main_thread_tasks,
)

SETTLE_MS = 2500  # time-sliced snapshots finish well within this on this machine


def measure(browser, server: BenchServer, recorder: str, nodes: int, insert: bool) -> tuple[float, float]:
    page = browser.new_page()
    try:
        page.goto(f"{server.url}/page?n={nodes}")
        page.wait_for_function("window.built === true")
        # Let the page finish its own first layout and paint, so its cost is
        # not billed to whichever recorder starts first.
        page.wait_for_timeout(300)
        if insert:
            page.evaluate(START_RECORDER[recorder], server.url)
            page.wait_for_timeout(SETTLE_MS)
        browser.start_tracing(page=page, categories=TRACE_CATEGORIES)
        if insert:
            page.evaluate("() => insertBlocks(1000, 10)")
        else:
            page.evaluate(START_RECORDER[recorder], server.url)
        page.wait_for_timeout(SETTLE_MS)
        tasks = main_thread_tasks(browser.stop_tracing())
    finally:
        page.close()
    return sum(tasks), max(tasks, default=0.0)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    sizes = {
        "sessionlens": len(gzip.compress(SESSIONLENS_JS.read_bytes(), 9)),
        "rrweb record": len(gzip.compress(RRWEB_JS.read_bytes(), 9)),
    }
    print("recorder size, minified + gzip -9:")
    for name, size in sizes.items():
        print(f"  {name:14s} {size / 1024:6.1f} KB")

    server = BenchServer()
    scenarios = [
        ("snapshot 10,000 nodes", 10_000, False),
        ("snapshot 100,000 nodes", 100_000, False),
        ("insert 1,000x10 nodes", 2_000, True),
    ]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        print(
            f"\nmain-thread time (ms), median of {args.runs} runs; 'extra' = minus the same scenario without a recorder"
        )
        print(f"{'scenario':24s} {'recorder':12s} {'extra total':>12s} {'longest task':>13s}")
        for label, nodes, insert in scenarios:
            results = {}
            for recorder in ("none", "sessionlens", "rrweb"):
                runs = [measure(browser, server, recorder, nodes, insert) for _ in range(args.runs)]
                results[recorder] = (
                    statistics.median(r[0] for r in runs),
                    statistics.median(r[1] for r in runs),
                )
            base = results["none"][0]
            for recorder in ("sessionlens", "rrweb"):
                total, longest = results[recorder]
                print(f"{label:24s} {recorder:12s} {max(total - base, 0):12.1f} {longest:13.1f}")
            print(f"{label:24s} {'(none)':12s} {'':12s} {results['none'][1]:13.1f}")
            s, r = results["sessionlens"][0] - base, results["rrweb"][0] - base
            if r > 0:
                print(f"{'':24s} ratio sessionlens/rrweb extra main-thread time: {s / r:.2f}")
        browser.close()
    server.close()


if __name__ == "__main__":
    main()
