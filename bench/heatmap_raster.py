"""Heatmap rasterising and fact aggregation.

1. 1,000,000 clicks rasterised into a PNG of a 1440 x 10,000 page (bin,
   blur, normalise, colour, composite, encode), beside a straightforward
   per-point drawing of the same clicks (heatmap.js-style: a radial alpha
   stamp per point, then colourised), in one run.
2. Aggregating the click facts of 100,000 page views (10 clicks each) for
   one URL pattern out of a SQLite index of 200,000 page views.
3. Peak memory (ru_maxrss) of the process.

    .venv/bin/python bench/heatmap_raster.py
"""

from __future__ import annotations

import io
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sessionlens.heatmap import raster  # noqa: E402
from sessionlens.heatmap.render import Selection  # noqa: E402
from sessionlens.index import Index  # noqa: E402

W, H, N = 1440, 10_000, 1_000_000


def clicks(n: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    hot = n // 2
    xs = np.concatenate(
        [rng.normal(300, 25, hot // 2), rng.normal(1000, 40, hot // 2), rng.uniform(0, W, n - hot)]
    )
    ys = np.concatenate(
        [rng.normal(600, 25, hot // 2), rng.normal(4000, 40, hot // 2), rng.uniform(0, H, n - hot)]
    )
    return xs, ys


def ours(xs: np.ndarray, ys: np.ndarray, backdrop: Image.Image) -> bytes:
    values = raster.normalise(raster.density(xs, ys, W, H, 30))
    return raster.composite(backdrop, raster.overlay(values, W, H), f"{len(xs):,} clicks")


def per_point(xs: np.ndarray, ys: np.ndarray, backdrop: Image.Image) -> bytes:
    """heatmap.js's approach: stamp a radial alpha gradient per point, then colour by alpha."""
    r = 30
    yy, xx = np.mgrid[-r : r + 1, -r : r + 1]
    stamp = np.clip(1 - np.sqrt(xx**2 + yy**2) / r, 0, 1).astype(np.float32) * 0.05
    alpha = np.zeros((H + 2 * r, W + 2 * r), dtype=np.float32)
    for x, y in zip(xs.astype(int), ys.astype(int), strict=True):
        if 0 <= x < W and 0 <= y < H:
            alpha[y : y + 2 * r + 1, x : x + 2 * r + 1] += stamp
    values = np.clip(alpha[r:-r, r:-r], 0, 1)
    return raster.composite(backdrop, raster.overlay(values, W, H), "per point")


def timed(fn, *args, runs: int = 3) -> tuple[float, object]:
    times, out = [], None
    for _ in range(runs):
        started = time.perf_counter()
        out = fn(*args)
        times.append(time.perf_counter() - started)
    return statistics.median(times), out


def aggregation() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        index = Index(Path(tmp) / "index.sqlite3")
        rng = np.random.default_rng(2)

        def fill(conn) -> None:
            views, facts = [], []
            for i in range(200_000):
                url = (
                    f"https://shop.example/product/{i % 500}"
                    if i % 2 == 0
                    else f"https://shop.example/blog/{i}"
                )
                pid = f"p{i}"
                views.append(("s", f"s{i}", pid, 1_790_000_000_000 + i, 0, 60_000, 30_000, url, "", "", 1440, 900,
                              "desktop", "Chrome", "Linux", 1, 10, 10, 0, 0, 0, 0, 0, 5000, 1000))  # fmt: skip
                for k in range(10):
                    facts.append(("s", f"s{i}", pid, 1_790_000_000_000 + i, k * 1000, url, f"#el{k}", 0.5, 0.5,
                                  float(rng.integers(0, W)), float(rng.integers(0, 5000)), 1440, 1440, 5000, "div",
                                  0, 0, 0))  # fmt: skip
            conn.executemany(f"INSERT INTO page_views VALUES ({','.join('?' * 25)})", views)
            conn.executemany(f"INSERT INTO clicks VALUES ({','.join('?' * 18)})", facts)

        index.write(fill)
        sel = Selection(site="s", pattern="/product/*")
        started = time.perf_counter()
        top = sel.elements(index, "click")
        took = time.perf_counter() - started
        started = time.perf_counter()
        found = sel.clicks(index, "click")
        rows_s = time.perf_counter() - started
        print(f"aggregate: {sum(r['clicks'] for r in top):,} clicks of 100,000 matching page views (of 200,000) "
              f"-> top {len(top)} elements in {took:.2f} s; all {len(found):,} click rows for the raster in {rows_s:.2f} s")  # fmt: skip
        index.close()


def main() -> int:
    xs, ys = clicks(N)
    backdrop = Image.new("RGB", (W, H), "white")
    ours_s, png = timed(ours, xs, ys, backdrop)
    assert isinstance(png, bytes) and Image.open(io.BytesIO(png)).size == (W, H)
    per_point_s, _ = timed(per_point, xs, ys, backdrop, runs=1)
    print(f"raster {N:,} clicks into a {W}x{H} PNG (encoding included), median of 3:")
    print(f"  sessionlens (bin + separable blur):  {ours_s:.2f} s")
    print(f"  per-point stamps (heatmap.js-style): {per_point_s:.2f} s   ratio {per_point_s / ours_s:.1f}x")
    # Where the time goes, for the record.
    started = time.perf_counter()
    values = raster.normalise(raster.density(xs, ys, W, H, 30))
    grid_s = time.perf_counter() - started
    print(f"  of which binning + blur + normalise: {grid_s:.2f} s (the rest: colour, scale, composite, PNG)")
    aggregation()
    print(f"peak memory (max RSS): {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    del values
    return 0


if __name__ == "__main__":
    sys.exit(main())
