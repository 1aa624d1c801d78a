"""A heatmap of 1,000,000 clicks from the index to a PNG, on SQLite and on PostgreSQL.

Builds an index of 1,000,000 clicks on /product/* pages (100,000 page
views of 10 clicks over 500 product URLs and 7 days, 300 clicked
elements of which 250 are on the backdrop, a third of the clicks with an
anchor) plus 200,000 clicks elsewhere, on each backend (SQLite: one
executemany; PostgreSQL: COPY, then VACUUM ANALYZE as autovacuum would),
then times, median of --runs (default 5):

  read      the clicks as the packed arrays of their page views (click_arrays), and the
            most clicked elements (the backdrop measures them) counted and named
  place     every click placed on its box / anchor / page position and binned, in numpy
  png       grid from the cells, blur, normalise, colour, composite, PNG (1440 x 10,000);
            tiles decoded, laid over and deflated two at a time (heatmap/png_strips.py)
  views     the backdrop's page view among the selection's (its device class is the map's:
            the clicks are read for it), the page views counted, their class's median height

--bots (default 0.01): that share of the product page views' sessions are
bots (sessions.is_bot = 1): left out of the map, as by default (by
session, in SQL).

The backdrop is a blank 1440 x 10,000 page with the element boxes given
(a cached backdrop costs the decoding of its tiles, included in png; its
first render in Chromium is not measured here: bench/backdrop_render.py).
"index to PNG" is read + place + png; "whole path" adds views (what
build_heatmap does besides reading the cached backdrop from the store).
With --row-path, the old path (every click fetched as a dict, placed in
Python) is timed once for comparison.

    .venv/bin/python bench/heatmap_index.py [--clicks 1000000] [--backends sqlite,postgresql] [--runs 5] [--bots 0.01]
        [--row-path]

PostgreSQL is started as the tests start it (tests/postgres_server.py).
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

from index_backend import bench_index  # noqa: E402

from sessionlens.heatmap import raster  # noqa: E402
from sessionlens.heatmap.backdrop import Backdrop  # noqa: E402
from sessionlens.heatmap.render import MAX_SELECTORS, Selection, _click_map, resolve_device  # noqa: E402
from sessionlens.index import Index, click_arrays, fact_arrays  # noqa: E402
from sessionlens.index import heatmaps as heatmap_queries  # noqa: E402
from sessionlens.index.database import CLICK_COLUMNS  # noqa: E402
from sessionlens.index.fact_arrays import Grid  # noqa: E402
from sessionlens.index.url_keys import INSERT_URL_KEYS, url_key_rows  # noqa: E402

W, H = 1440, 10_000
DAY = 86_400_000
T0 = 1_790_000_000_000 - 1_790_000_000_000 % DAY
ELEMENTS, ON_BACKDROP = 300, 250
PAGE_VIEW_COLUMNS = (
    "site, sid, pid, t0, end_time, duration_ms, active_ms, url, vw, vh, device, chunks, events, clicks,"
    " inputs, errors, customs, navs, stored_bytes"
)


def layout(rng: np.random.Generator) -> dict[str, list[float]]:
    boxes = {}
    for i in range(ON_BACKDROP):
        w, h = float(rng.uniform(50, 400)), float(rng.uniform(20, 80))
        x, y = float(rng.uniform(0, W - w)), float(rng.uniform(0, H - h))
        boxes[f"#e{i}"] = [x, y, w, h, 1 if i % 25 == 7 else 0]
    return boxes


def facts(n: int, rng: np.random.Generator) -> tuple[list[tuple], list[tuple], list[tuple], list[tuple]]:
    """(clicks, page_views, page_urls, url_keys) rows: n clicks on /product/*, n / 5 on /blog/*."""
    weights = 1 / np.arange(1, ELEMENTS + 1)
    per_view = 10
    clicks, views, urls = [], [], []
    for part, count, url_of in (
        ("p", n, lambda v: f"https://shop.example/product/{v % 500}"),
        ("b", n // 5, lambda v: f"https://shop.example/blog/{v % 100}"),
    ):
        k = rng.choice(ELEMENTS, size=count, p=weights / weights.sum())
        anchored = rng.random(count) < 1 / 3
        fx, fy = rng.random(count), rng.random(count)
        px, py = rng.uniform(0, W, count), rng.uniform(0, H, count)
        ax, ay = rng.uniform(0, 200, count), rng.uniform(0, 40, count)
        for v in range(count // per_view):
            sid, pid = f"{part}s{v}", f"{part}p{v}"
            t0 = T0 + (v % 7) * DAY + v
            url = url_of(v)
            vw = 1440.0 if v % 3 else 1280.0
            views.append(("s", sid, pid, t0, t0 + 60_000, 60_000, 30_000, url, vw, 900.0, "desktop",
                          1, 50, per_view, 0, 0, 0, 0, 5000))  # fmt: skip
            urls.append(("s", sid, pid, url))
            for j in range(v * per_view, (v + 1) * per_view):
                e = int(k[j])
                anchor = f"#e{(e + 7) % ON_BACKDROP}" if anchored[j] else ""
                clicks.append(("s", sid, pid, t0, j, url, f"#e{e}", float(fx[j]), float(fy[j]), float(px[j]),
                               float(py[j]), vw, 1440.0, float(H), "div", int(j % 40 == 0), int(j % 55 == 0),
                               int(j % 70 == 0), "", "", anchor, float(ax[j]), float(ay[j])))  # fmt: skip
    keys = url_key_rows(("s", u[3]) for u in urls)
    return clicks, views, urls, keys


def bot_sessions(n: int, share: float) -> list[tuple]:
    """sessions rows (is_bot = 1) for every 1/share-th product page view's session."""
    if share <= 0:
        return []
    step = max(1, round(1 / share))
    return [("s", f"ps{v}", T0, T0, 0, 0, 1, 10, 0, 0, 0, 1, 0, 1) for v in range(0, n // 10, step)]


def fill(index: Index, rows: tuple[list[tuple], ...], postgres_url: str | None, bots: list[tuple]) -> None:
    clicks, views, urls, keys = rows
    arrays = packed(clicks)
    insert_clicks = (
        f"INSERT INTO clicks ({', '.join(CLICK_COLUMNS)}) VALUES ({','.join('?' * len(CLICK_COLUMNS))})"
    )
    insert_views = f"INSERT INTO page_views ({PAGE_VIEW_COLUMNS}) VALUES ({','.join('?' * 19)})"

    def write(conn: Any) -> None:
        conn.executemany(insert_views, views)
        conn.executemany("INSERT INTO page_urls (site, sid, pid, url) VALUES (?, ?, ?, ?)", urls)
        conn.executemany(INSERT_URL_KEYS, keys)
        conn.executemany(
            "INSERT INTO sessions (site, sid, start_time, end_time, duration_ms, active_ms, page_count, clicks,"
            " inputs, errors, customs, batches, stored_bytes, is_bot) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            bots,
        )
        conn.executemany(click_arrays.INSERT, arrays)
        if postgres_url is None:
            conn.executemany(insert_clicks, clicks)

    index.write(write)
    if postgres_url is None:
        return
    import psycopg

    for day in range(7):
        index._ensure_partitions(T0 + day * DAY)  # the day partitions, as replace_clicks makes them
    with psycopg.connect(postgres_url, options=f"-csearch_path={index.schema}") as conn:
        with conn.cursor().copy(f"COPY clicks ({', '.join(CLICK_COLUMNS)}) FROM STDIN") as copy:
            for row in clicks:
                copy.write_row(row)
        conn.commit()
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE")  # as autovacuum does after bulk inserts: index-only scans need it


def packed(clicks: list[tuple]) -> list[tuple]:
    """click_arrays rows of the click rows (as Index.replace_clicks writes them with its clicks)."""
    col = {name: i for i, name in enumerate(CLICK_COLUMNS)}
    fields = [col[n] for n in ("url", "selector", "anchor", "fx", "fy", "px", "py", "vw", "ax", "ay", "rage", "dead", "error")]
    # The bench's page views: desktop, the clicks' window width.
    return list(click_arrays.view_rows((*row[:4], "desktop", row[col["vw"]], *(row[i] for i in fields)) for row in clicks))


def blank_backdrop(boxes: dict[str, list[float]]) -> Backdrop:
    tile_height = 2048
    tiles = []
    for top in range(0, H, tile_height):
        out = io.BytesIO()
        Image.new("RGB", (W, min(tile_height, H - top)), (255, 255, 255)).save(out, "PNG")
        tiles.append(out.getvalue())
    return Backdrop(tiles, boxes, W, H, 900, tile_height, float(W), H)


def median_of(runs: int, fn: Callable[[], Any]) -> tuple[float, Any]:
    times, out = [], None
    for _ in range(runs):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), out


def measure(name: str, index: Index, boxes: dict[str, list[float]], row_path: bool, runs: int = 5) -> None:
    # As build_heatmap: the device class of the backdrop's page view (so the facts are read for it).
    sel = resolve_device(index, Selection(site="s", pattern="/product/*"), W)
    assert sel.device == "desktop", sel.device
    bd = blank_backdrop(boxes)
    grid = Grid(bd.width, bd.height, raster.SCALE, bd.inner_width or bd.width)
    text = {"sessionlens:selection": "bench"}
    steps: dict[str, list[float]] = {"read": [], "place": [], "png": [], "views": [], "cpu": []}
    for _ in range(runs):
        cpu = time.process_time()
        start = time.perf_counter()
        clicks = fact_arrays.read_clicks(index, sel, "click", limit=MAX_SELECTORS)
        steps["read"].append(time.perf_counter() - start)
        start = time.perf_counter()
        placed = fact_arrays.place_clicks(clicks.clicks, {s: boxes[s] for s in clicks.wanted if s in boxes}, grid)
        steps["place"].append(time.perf_counter() - start)
        start = time.perf_counter()
        result = _click_map(placed, bd, 30, "click", None, text)
        steps["png"].append(time.perf_counter() - start)
        steps["cpu"].append(time.process_time() - cpu)
        start = time.perf_counter()
        # build_heatmap's page-view reads: the backdrop's page view (which decides the device
        # class), the selection's page views counted, their class's median height.
        view = heatmap_queries.backdrop_view(index, Selection(site="s", pattern="/product/*"), W)
        heatmap_queries.count_page_views(index, sel)
        heatmap_queries.median_view_height(index, sel, view["device"] if view else None)
        steps["views"].append(time.perf_counter() - start)
    assert placed.counted > 0, placed.counted
    med = {k: statistics.median(v) for k, v in steps.items()}
    total = [a + b + c for a, b, c in zip(steps["read"], steps["place"], steps["png"], strict=True)]
    whole = [t + v for t, v in zip(total, steps["views"], strict=True)]
    print(f"{name}: {placed.counted:,} clicks of people ({placed.hidden:,} on hidden elements, {placed.by_position:,} by "
          f"position) -> {len(result.png) / 1e6:.1f} MB PNG {W}x{H + raster.LEGEND_BAND}; medians of {runs}:")  # fmt: skip
    print(f"  read {med['read']:.2f} s + place {med['place']:.2f} s + png {med['png']:.2f} s"
          f" = index to PNG {statistics.median(total):.2f} s (min {min(total):.2f})")  # fmt: skip
    print(f"  + views {med['views']:.2f} s (backdrop page view, page views counted, class height) = whole path"
          f" {statistics.median(whole):.2f} s (min {min(whole):.2f})")  # fmt: skip
    print(f"  CPU time of this process, index to PNG: {med['cpu']:.2f} s"
          f" ({'everything: SQLite runs in it' if index.dialect.name == 'sqlite' else 'the server works apart'})")  # fmt: skip
    if row_path:
        start = time.perf_counter()
        rows = sel.clicks(index, "click")
        fetched = time.perf_counter() - start
        old = _click_map(rows, bd, 30, "click", None, text)
        took = time.perf_counter() - start
        same = old.png == result.png
        print(
            f"  row path (once): {len(rows):,} rows as dicts in {fetched:.2f} s, to PNG {took:.2f} s; same PNG: {same}"
        )


def main() -> int:
    ap = argparse.ArgumentParser(description="1,000,000 clicks from the index to a heatmap PNG, per backend.")
    ap.add_argument("--clicks", type=int, default=1_000_000, help="clicks on the selected pages")
    ap.add_argument("--backends", default="sqlite,postgresql", help="comma-separated: sqlite, postgresql")
    ap.add_argument("--runs", type=int, default=5, help="timed runs per backend (medians are printed)")
    ap.add_argument(
        "--row-path", action="store_true", help="also time the old path once (every click as a dict)"
    )
    ap.add_argument("--bots", type=float, default=0.01, help="share of the product sessions that are bots")
    args = ap.parse_args()
    rng = np.random.default_rng(7)
    boxes = layout(rng)
    started = time.perf_counter()
    rows = facts(args.clicks, rng)
    print(f"{len(rows[0]):,} click rows ({len(bot_sessions(args.clicks, args.bots)):,} bot sessions) made in {time.perf_counter() - started:.1f} s; load average {os.getloadavg()[0]:.1f}"
          f" on {os.cpu_count()} cores")  # fmt: skip
    for backend in args.backends.split(","):
        with bench_index(backend) as (index, url):
            started = time.perf_counter()
            fill(index, rows, url, bot_sessions(args.clicks, args.bots))
            print(f"{backend}: index filled in {time.perf_counter() - started:.0f} s")
            measure(backend, index, boxes, args.row_path, args.runs)
    print(f"load average after: {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
