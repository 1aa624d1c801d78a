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


def test_strips_deflated_apart_make_one_valid_png() -> None:
    """png_strips deflates strips on a pool and joins the streams (pigz-style): the file must decode to
    the very pixels given, with zlib's own Adler-32 check passing, whatever the strip sizes."""
    import struct
    import zlib

    from sessionlens.heatmap.png_strips import adler32_combine, encode_strips

    rng = np.random.default_rng(5)
    for _ in range(50):
        a, b = rng.bytes(int(rng.integers(0, 70_000))), rng.bytes(int(rng.integers(0, 70_000)))
        assert adler32_combine(zlib.adler32(a), zlib.adler32(b), len(b)) == zlib.adler32(a + b)
    pixels = (rng.random((1001, 37, 3)) * 255).astype(np.uint8)
    pixels[300:700] = 255  # long runs, as a page's margins
    cuts = [0, 0, 1, 130, 131, 600, 1001]  # an empty strip and a one-row strip among them
    strips = [pixels[top:end] for top, end in zip(cuts, cuts[1:], strict=False)]
    png = encode_strips(37, 1001, [*strips[:3], *(lambda s=s: s for s in strips[3:])])
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(png)).convert("RGB")), pixels)
    idat, pos = b"", 8
    while pos < len(png):
        (length,) = struct.unpack(">I", png[pos : pos + 4])
        if png[pos + 4 : pos + 8] == b"IDAT":
            idat += png[pos + 8 : pos + 8 + length]
        pos += 12 + length
    assert len(zlib.decompress(idat)) == 1001 * (37 * 3 + 1)  # raises on a wrong Adler-32
    assert encode_strips(37, 1001, strips) == png  # the same bytes however strips are handed over
