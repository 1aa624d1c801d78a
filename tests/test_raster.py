"""The rasteriser: spots land where the points are, and normalisation stays readable."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from sessionlens.heatmap import raster


def spot_value(values: np.ndarray, x: float, y: float) -> float:
    return float(values[int(y // raster.SCALE), int(x // raster.SCALE)])


def test_a_dominant_spot_does_not_wash_out_a_small_one() -> None:
    xs = np.concatenate([np.full(10_000, 200.0), np.full(10, 800.0)])
    ys = np.concatenate([np.full(10_000, 300.0), np.full(10, 900.0)])
    values = raster.normalise(raster.density(xs, ys, 1000, 1200, 30))
    assert spot_value(values, 200, 300) == 1.0
    # Linear normalisation would give the 10-click spot 0.001; the log scale keeps it visible.
    assert spot_value(values, 800, 900) > 0.15
    assert spot_value(values, 500, 600) == 0.0


def test_the_png_is_page_sized_and_coloured_where_the_clicks_are() -> None:
    xs, ys = np.full(50, 100.0), np.full(50, 150.0)
    layer = raster.overlay(raster.normalise(raster.density(xs, ys, 400, 600, 20)), 400, 600)
    png = raster.composite(Image.new("RGB", (400, 600), "white"), layer, "50 clicks")
    image = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    assert image.shape == (600, 400, 3)
    hot, cold = image[150, 100], image[500, 300]
    assert hot[0] > 200 and hot[2] < 100  # red at the spot
    assert (cold == 255).all()  # untouched backdrop elsewhere


def test_comparison_layer_is_signed() -> None:
    a = raster.density(np.full(20, 100.0), np.full(20, 100.0), 400, 400, 20)
    b = raster.density(np.full(20, 300.0), np.full(20, 300.0), 400, 400, 20)
    diff = a / 20 - b / 20
    values = diff / np.abs(diff).max()
    colours, opacity = raster.overlay(values, 400, 400, raster.DIVERGING, signed=True)
    more, less = colours.getpixel((100, 100)), colours.getpixel((300, 300))
    assert more[0] > more[2] and less[2] > less[0]  # red where the first range had more, blue where less
    assert opacity.getpixel((100, 100)) > 150 and opacity.getpixel((200, 380)) < 10
