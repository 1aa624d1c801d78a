"""Turning points into a heatmap image with numpy; pillow composites and encodes.

Points are binned on a grid SCALE times coarser than the page, blurred with
a separable gaussian (sigma = radius / 3), normalised, coloured through a
lookup table and scaled up to the page. Normalisation is logarithmic and
capped at the 99.5th percentile of non-empty cells: a few very hot spots
(a "Buy" button with thousands of clicks) then do not wash every other
spot out to nothing, which a plain linear max would.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageDraw

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
    cols, rows = max(1, -(-width // SCALE)), max(1, -(-height // SCALE))
    cx = np.clip((xs / SCALE).astype(np.int64), 0, cols - 1)
    cy = np.clip((ys / SCALE).astype(np.int64), 0, rows - 1)
    inside = (xs >= 0) & (xs < width) & (ys >= 0) & (ys < height)
    counts = np.bincount(cy[inside] * cols + cx[inside], minlength=rows * cols).astype(np.float32)
    return _blur(counts.reshape(rows, cols), max(radius / 3 / SCALE, 0.5))


def normalise(grid: np.ndarray) -> np.ndarray:
    positive = grid[grid > grid.max() * 1e-6] if grid.max() > 0 else grid[:0]
    if positive.size == 0:
        return np.zeros_like(grid)
    cap = float(np.percentile(positive, CAP_PERCENTILE))
    return np.clip(np.log1p(grid / cap * 50) / np.log1p(50), 0, 1)


def overlay(
    values: np.ndarray, width: int, height: int, ramp: np.ndarray = HEAT, signed: bool = False
) -> Image.Image:
    """RGBA overlay at page size from values in 0..1 (or -1..1 when signed)."""
    if signed:
        index = ((values + 1) / 2 * 255).astype(np.uint8)
        alpha = (np.abs(values) ** 0.6 * 210).astype(np.uint8)
    else:
        index = (values * 255).astype(np.uint8)
        alpha = np.where(values < 0.02, 0, (values**0.5) * 200 + 30).astype(np.uint8)
    rgba = np.dstack([ramp[index], alpha])
    return Image.fromarray(rgba, "RGBA").resize((width, height), Image.BILINEAR)


def composite(backdrop: Image.Image, layer: Image.Image, legend: str) -> bytes:
    base = backdrop.convert("RGBA")
    if layer.size != base.size:
        layer = layer.resize(base.size, Image.BILINEAR)
    image = Image.alpha_composite(base, layer)
    _legend(image, legend)
    out = io.BytesIO()
    image.convert("RGB").save(out, "PNG", compress_level=1)
    return out.getvalue()


def _legend(image: Image.Image, text: str) -> None:
    draw = ImageDraw.Draw(image)
    x, y = 8, 8
    draw.rectangle([x - 4, y - 4, x + 264, y + 34], fill=(255, 255, 255, 230), outline=(80, 80, 80, 255))
    for i in range(256):
        r, g, b = (int(v) for v in HEAT[i])
        draw.line([x + i, y, x + i, y + 10], fill=(r, g, b, 255))
    draw.text((x, y + 14), text, fill=(20, 20, 20, 255))


def scroll_overlay(reached: np.ndarray, height: int, width: int) -> Image.Image:
    """reached[y] = share of page views whose view got to depth y (0..1)."""
    index = (np.clip(reached, 0, 1) * 255).astype(np.uint8)
    rows = HEAT[index]
    alpha = np.full((len(rows), 1), 110, dtype=np.uint8)
    rgba = np.concatenate([rows, alpha], axis=1)[:, None, :].repeat(2, axis=1)
    return Image.fromarray(np.ascontiguousarray(rgba), "RGBA").resize((width, height), Image.NEAREST)
