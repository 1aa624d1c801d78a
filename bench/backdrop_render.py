"""Backdrop rendering: first render of a new page x width, the cached repeat, and a 60,000 px page.

    .venv/bin/python bench/backdrop_render.py [--pages 5]

Figures (medians and max, seconds):
- first render: a page view never rendered at that width (Chromium launch, layout, tiles, boxes);
- repeat: the same backdrop again (tiles and boxes from the blob store);
- long page end to end: a 60,000 px page, default moment, backdrop, click heatmap PNG in strips.
Not a test: it prints what it measured.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sessionlens.heatmap import page_moments  # noqa: E402
from sessionlens.heatmap.backdrop import render_backdrop  # noqa: E402
from sessionlens.heatmap.device_profile import profile_for  # noqa: E402
from sessionlens.heatmap.render import _click_map  # noqa: E402
from sessionlens.replay.pageview import PageViewReader  # noqa: E402
from sessionlens.stores.local import LocalStore  # noqa: E402
from tests.backdrop_pages import click, meta, snapshot, store_page_view  # noqa: E402

SITE, SID = "bench-site", "bench-session"
WIDTHS = (390, 768, 1440)


def page(n: int, rows: int = 40, row_height: int = 300) -> str:
    body = "".join(
        f"<section class=r><h2>Section {i}</h2><a id=a{i} href=#>link {i}</a></section>" for i in range(rows)
    )
    return (
        "<!doctype html><html><head><meta name=viewport content='width=device-width'><style>"
        f"body{{margin:0;font:16px sans-serif}} .r{{height:{row_height}px;border-bottom:1px solid #ccc;"
        f"background:hsl({n * 37 % 360},40%,95%)}}</style></head><body>{body}</body></html>"
    )


def record(store: LocalStore, pid: str, html: str, width: int) -> list[str]:
    snap, ids = snapshot(html)
    phone = width < 600
    events = [meta(width, 844 if phone else 900, phone=phone, sw=width, sh=844 if phone else 1080,
                   dpr=3 if phone else 1, vs=1, touch=5 if phone else 0), snap]  # fmt: skip
    last = max(k for k in ids if k.startswith("a"))
    events.append(click(4000, ids[last], f"#{last}", vw=width))
    store_page_view(store, SITE, SID, pid, events)
    return [f"#{last}", "#a0"]


def summary(name: str, values: list[float]) -> None:
    print(
        f"{name:<34} median {statistics.median(values):6.2f} s   max {max(values):6.2f} s   (n={len(values)})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pages", type=int, default=3, help="page views per width")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        store = LocalStore(tmp)
        reader = PageViewReader(store)
        first, repeat = [], []
        for width in WIDTHS:
            for n in range(args.pages):
                pid = f"bench-{width}-{n:03d}"
                selectors = record(store, pid, page(n), width)
                scan = page_moments.scan(reader, SITE, SID, pid)
                device = profile_for(scan.meta, [], width)
                for out in (first, repeat, repeat):
                    start = time.perf_counter()
                    render_backdrop(
                        store, reader, SITE, SID, pid, scan.default, width, selectors, device=device
                    )
                    out.append(time.perf_counter() - start)
        summary("first render (page x width)", first)
        summary("repeat render (cached)", repeat)
        long_runs = []
        for n in range(2):
            pid = f"bench-long-{n}"
            selectors = record(store, pid, page(n, rows=200, row_height=300), 1440)
            start = time.perf_counter()
            scan = page_moments.scan(reader, SITE, SID, pid)
            device = profile_for(scan.meta, [], 1440)
            bd = render_backdrop(store, reader, SITE, SID, pid, scan.default, 1440, selectors, device=device)
            clicks = [{"selector": selectors[0], "fx": 0.5, "fy": 0.5, "px": 0, "py": 0, "vw": 1440}] * 50
            png = _click_map(clicks, bd, 30, "click", None, {}).png
            long_runs.append(time.perf_counter() - start)
        print(f"long page: {bd.width} x {bd.height} px, {len(bd.tiles)} tiles, PNG {len(png) / 1e6:.1f} MB")
        summary("60,000 px page end to end", long_runs)


if __name__ == "__main__":
    main()
