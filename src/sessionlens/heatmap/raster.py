"""Turning points into a heatmap image with numpy; pillow composites and encodes.

Points are binned on a grid SCALE times coarser than the page, blurred with
a separable gaussian (sigma = radius / 3), normalised, coloured through a
lookup table and scaled up to the page. Normalisation is logarithmic, from
one click's peak to the 99.5th percentile of non-empty cells: a few very
hot spots (a "Buy" button with thousands of clicks) then do not wash every
other spot out to nothing, which a plain linear max would.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageDraw, ImageFont

SCALE = 4
CAP_PERCENTILE = 99.5


def _ramp(stops: list[tuple[float, tuple[int, int, int]]]) -> np.ndarray:
    xs = np.linspace(0, 1, 256)
    out = np.zeros((256, 3), dtype=np.float64)
    positions = [s[0] for s in stops]
    for channel in range(3):
        out[:, channel] = np.interp(xs, positions, [s[1][channel] for s in stops])
    return out.astype(np.uint8)


HEAT = _ramp(
    [(0, (0, 0, 255)), (0.25, (0, 255, 255)), (0.5, (0, 255, 0)), (0.75, (255, 255, 0)), (1, (255, 0, 0))]
)
DIVERGING = _ramp([(0, (33, 102, 172)), (0.5, (247, 247, 247)), (1, (178, 24, 43))])


def _kernel(sigma: float) -> np.ndarray:
    half = max(1, int(3 * sigma))
    xs = np.arange(-half, half + 1, dtype=np.float64)
    k = np.exp(-(xs**2) / (2 * sigma * sigma))
    return (k / k.sum()).astype(np.float32)


def _blur(grid: np.ndarray, sigma: float) -> np.ndarray:
    k = _kernel(sigma)
    half = len(k) // 2
    out = grid
    for axis in (0, 1):
        padded = np.pad(out, [(half, half) if a == axis else (0, 0) for a in (0, 1)])
        acc = np.zeros_like(out)
        n = out.shape[axis]
        for i, w in enumerate(k):
            acc += w * (padded[i : i + n] if axis == 0 else padded[:, i : i + n])
        out = acc
    return out


def density(xs: np.ndarray, ys: np.ndarray, width: int, height: int, radius: float) -> np.ndarray:
    """Blurred counts on the coarse grid (rows, cols)."""
    return density_of_cells(cells(xs, ys, width, height), width, height, radius)


def cells(xs: np.ndarray, ys: np.ndarray, width: int, height: int) -> np.ndarray:
    """The grid cell (row * cols + col) of each point on the page; points off it are left out.
    (index/fact_arrays.py computes the same cells in SQL.)"""
    cols, rows = max(1, -(-width // SCALE)), max(1, -(-height // SCALE))
    cx = np.clip((xs / SCALE).astype(np.int64), 0, cols - 1)
    cy = np.clip((ys / SCALE).astype(np.int64), 0, rows - 1)
    inside = (xs >= 0) & (xs < width) & (ys >= 0) & (ys < height)
    return cy[inside] * cols + cx[inside]


def density_of_cells(found: np.ndarray, width: int, height: int, radius: float) -> np.ndarray:
    """Blurred counts on the coarse grid (rows, cols) of points given by their cells."""
    cols, rows = max(1, -(-width // SCALE)), max(1, -(-height // SCALE))
    counts = np.bincount(found, minlength=rows * cols).astype(np.float32)
    return _blur(counts.reshape(rows, cols), _sigma(radius))


def normalise(grid: np.ndarray, radius: float = 30) -> np.ndarray:
    """0..1 on a log scale from one click's peak to the 99.5th-percentile cell.

    One click is the unit, so a spot of ten clicks stays visible beside one
    of ten thousand (a linear max would draw it at 0.001).
    """
    if grid.max() <= 0:
        return np.zeros_like(grid)
    unit, cap = scale_of(grid, radius)
    return np.clip(np.log1p(grid / unit) / np.log1p(cap / unit), 0, 1)


def scale_of(grid: np.ndarray, radius: float = 30) -> tuple[float, float]:
    """(unit, cap) of `normalise`: one click's peak and the density drawn at full heat."""
    unit = float(_kernel(_sigma(radius)).max() ** 2)
    positive = grid[grid > unit * 0.05]
    cap = max(float(np.percentile(positive, CAP_PERCENTILE)) if positive.size else unit, unit * 2)
    return unit, cap


def clicks_at(value: float, unit: float, cap: float) -> float:
    """The clicks on one spot that `normalise` draws at `value` (0..1): its inverse, in clicks."""
    return float(np.expm1(value * np.log1p(cap / unit)))


def _sigma(radius: float) -> float:
    return max(radius / 3 / SCALE, 0.5)


Layer = tuple[Image.Image, Image.Image]  # colours (RGB) and their opacity (L), page-sized


def _luts(ramp: np.ndarray, alpha: np.ndarray) -> list[list[int]]:
    return [list(map(int, ramp[:, c])) for c in range(3)] + [list(map(int, alpha))]


_X = np.arange(256) / 255
HEAT_ALPHA = np.where(_X < 0.02, 0, _X**0.5 * 200 + 30).astype(np.uint8)
SIGNED_ALPHA = (np.abs(_X * 2 - 1) ** 0.6 * 210).astype(np.uint8)


def overlay(
    values: np.ndarray, width: int, height: int, ramp: np.ndarray = HEAT, signed: bool = False
) -> Layer:
    """A page-sized layer from coarse values in 0..1 (or -1..1 when signed).

    Only the 8-bit index is scaled up (one channel, bilinear); colours and
    opacity come from lookup tables applied by pillow at page size, which
    is what keeps a 1440x10000 map well under a second.
    """
    index = ((values + 1) / 2 if signed else values) * 255
    small = Image.fromarray(np.clip(index, 0, 255).astype(np.uint8), "L")
    big = small.resize((width, height), Image.BILINEAR)
    r, g, b, a = _luts(ramp, SIGNED_ALPHA if signed else HEAT_ALPHA)
    return Image.merge("RGB", [big.point(r), big.point(g), big.point(b)]), big.point(a)


def compose(backdrop: Image.Image, layer: Layer) -> Image.Image:
    image = backdrop.convert("RGB") if backdrop.mode != "RGB" else backdrop.copy()
    colours, opacity = layer
    if colours.size != image.size:
        colours, opacity = colours.resize(image.size), opacity.resize(image.size)
    image.paste(colours, (0, 0), opacity)
    return image


def finish(image: Image.Image, legend: str) -> bytes:
    _legend(image, legend)
    out = io.BytesIO()
    image.save(out, "PNG", compress_level=1)
    return out.getvalue()


def composite(backdrop: Image.Image, layer: Layer, legend: str) -> bytes:
    return finish(compose(backdrop, layer), legend)


def _legend(image: Image.Image, text: str) -> None:
    draw = ImageDraw.Draw(image)
    x, y = 8, 8
    draw.rectangle([x - 4, y - 4, x + 264, y + 34], fill=(255, 255, 255), outline=(80, 80, 80))
    for i in range(256):
        draw.line([x + i, y, x + i, y + 10], fill=tuple(int(v) for v in HEAT[i]))
    draw.text((x, y + 14), text, fill=(20, 20, 20))


def scroll_overlay(reached: np.ndarray, height: int, width: int) -> Layer:
    """reached[y] = share of page views whose view got to depth y (0..1)."""
    index = Image.fromarray((np.clip(reached, 0, 1) * 255).astype(np.uint8)[:, None], "L")
    big = index.resize((width, height), Image.NEAREST)
    r, g, b, _ = _luts(HEAT, HEAT_ALPHA)
    colours = Image.merge("RGB", [big.point(r), big.point(g), big.point(b)])
    return colours, Image.new("L", (width, height), 110)


# -- tall pages: composed and encoded a strip at a time, legend in a strip under the page ---------

LEGEND_BAND = 96  # px under the page: the legend never covers it
_INK, _MUTED = (20, 20, 20), (90, 90, 90)


def font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """Pillow's bundled font at `size` px (FreeType); its tiny bitmap font only without FreeType."""
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError, ImportError):  # pragma: no cover - Pillow without FreeType
        return ImageFont.load_default()


def legend_band(
    width: int, text: str, ramp: np.ndarray = HEAT, ticks: list[tuple[float, str]] | None = None,
    signed: bool = False,
) -> np.ndarray:  # fmt: skip
    """The legend as rows of its own, to sit under the page, never on it: a title, the colour
    ramp and its numeric scale (`ticks`: (position 0..1 along the ramp, label)).

    `signed`: a diverging ramp whose middle (white) is no difference."""
    band = Image.new("RGB", (width, LEGEND_BAND), (255, 255, 255))
    draw = ImageDraw.Draw(band)
    draw.line([0, 0, width, 0], fill=(80, 80, 80))
    title, small = font(16), font(13)
    x, y = 12, 10
    draw.text((x, y), text, fill=_INK, font=title)
    length = max(32, min(480, width - 2 * x - 8))
    bar_top, bar_bottom = y + 26, y + 44
    for i in range(length):
        colour = ramp[min(255, int(i * 256 / length))]
        draw.line([x + i, bar_top, x + i, bar_bottom], fill=tuple(int(v) for v in colour))
    draw.rectangle([x, bar_top, x + length - 1, bar_bottom], outline=(120, 120, 120))
    right_edge = -1.0
    for position, label in ticks or []:
        tx = x + position * (length - 1)
        draw.line([tx, bar_bottom, tx, bar_bottom + 5], fill=_INK)
        lines = label.split("\n")  # the number, then (muted) what it is of page views
        w = max(draw.textlength(line, font=small) for line in lines)
        left = min(max(tx - w / 2, 2), width - w - 2)
        if left <= right_edge + 8:  # never two numbers over each other: a crowded one is left out
            continue
        for i, line in enumerate(lines):
            colour = _MUTED if i or (signed and position == 0.5) else _INK
            lw = draw.textlength(line, font=small)
            draw.text((left + (w - lw) / 2, bar_bottom + 7 + 16 * i), line, fill=colour, font=small)
        right_edge = left + w
    return np.asarray(band)


def layer_strip(
    values: np.ndarray | None, width: int, height: int, top: int, rows: int, ramp: np.ndarray = HEAT,
    signed: bool = False, constant_alpha: int | None = None,
) -> Layer | None:  # fmt: skip
    """The rows top..top+rows of the page-sized layer `overlay` would make, without making all of it.

    Pillow's resize with a source box samples exactly as the whole resize does, so strips meet
    without seams. A `values` of one column (the scroll map) is stretched across, nearest rows.
    """
    if values is None:
        return None
    index = ((values + 1) / 2 if signed else values) * 255
    small = Image.fromarray(np.clip(index, 0, 255).astype(np.uint8), "L")
    sy = small.height / height
    box = (0.0, top * sy, float(small.width), (top + rows) * sy)
    resample = Image.NEAREST if small.width == 1 else Image.BILINEAR
    big = small.resize((width, rows), resample, box=box)
    r, g, b, a = _luts(ramp, SIGNED_ALPHA if signed else HEAT_ALPHA)
    colours = Image.merge("RGB", [big.point(r), big.point(g), big.point(b)])
    opacity = Image.new("L", (width, rows), constant_alpha) if constant_alpha is not None else big.point(a)
    return colours, opacity
