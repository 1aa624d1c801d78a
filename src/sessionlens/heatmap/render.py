"""A heatmap from a selection: which clicks, placed where, drawn over what.

Each click is anchored to its element in the backdrop's layout (found by
its selector, placed at its recorded offset inside the box), so it lands
on the same element whatever the visitor's screen or the content above it.
Clicks whose element is absent from the backdrop fall back to their page
coordinates scaled to the backdrop width; elements present but hidden are
counted, not drawn.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from sessionlens.heatmap import page_moments, raster
from sessionlens.heatmap.backdrop import Backdrop, BackdropConfig, default_moment, render_backdrop
from sessionlens.heatmap.device_profile import profile_for
from sessionlens.heatmap.png_strips import encode_strips
from sessionlens.heatmap.png_text import with_text
from sessionlens.index import Index, fact_arrays
from sessionlens.index import heatmaps as heatmap_queries
from sessionlens.index.fact_arrays import Grid, Placed
from sessionlens.params import HEATMAP_AT, RADIUS, SELECTION, WIDTH
from sessionlens.replay.pageview import PageViewReader
from sessionlens.session_search import FilterError
from sessionlens.stores.base import BlobStore

KINDS = ("click", "rage", "dead", "error", "move", "scroll")
MAX_SELECTORS = 500


@dataclass(slots=True)
class Selection:
    site: str
    pattern: str
    device: str | None = None
    min_width: int | None = None
    max_width: int | None = None
    start: int | None = None
    end: int | None = None

    @classmethod
    def from_query(cls, q: Mapping[str, str]) -> Selection:
        if not q.get("site"):
            raise FilterError("site is required (a site key)")
        if not q.get("url"):
            raise FilterError("url is required: an exact URL, a path, or a pattern such as /product/*")
        n = SELECTION.parse(q)
        return cls(
            site=q["site"], pattern=q["url"], device=q.get("device") or None,
            start=n["from"], end=n["to"], min_width=n["min_width"], max_width=n["max_width"],
        )  # fmt: skip

    # The SQL of a selection lives in the index package (sessionlens/index/heatmaps.py).

    def urls(self, index: Index, table: str = "clicks") -> list[str]:
        """The distinct URLs of the facts table (clicks, moves) the pattern selects."""
        return heatmap_queries.matching_urls(index, self, table)

    def moves(self, index: Index) -> list[dict[str, Any]]:
        return heatmap_queries.moves(index, self)

    def clicks(self, index: Index, kind: str, selector: str | None = None) -> list[dict[str, Any]]:
        """Clicks of the selection; with `selector`, those on that element (a control or an inner one)."""
        return heatmap_queries.clicks(index, self, kind, selector)

    def elements(self, index: Index, kind: str) -> list[dict[str, Any]]:
        """Top elements, aggregated in SQL: one row per control (the nearest interactive
        ancestor of the click target), with its visible text, clicks, share, rage, dead,
        error, and `inner`: the elements clicked inside it and how often."""
        # Per (control, inner element) first, then per control: a link clicked on its
        # icon, its caption and its padding is one row, its parts kept as detail.
        # (Merged here rather than by a JSON aggregate in SQL, which SQLite and PostgreSQL spell apart.)
        merged: dict[str, dict[str, Any]] = {}
        for part in heatmap_queries.element_parts(index, self, kind):
            row = merged.setdefault(part["element"], _element_row(part["element"]))
            row["text"] = max(row["text"], part["text"] or "")
            row["clicks"] += part["n"]
            for signal in ("rage", "dead", "error"):
                row[signal] += part[signal] or 0
            if part["inner"] != part["element"]:
                row["inner"].append({"selector": part["inner"], "clicks": part["n"]})
        rows = sorted(merged.values(), key=lambda r: (-r["clicks"], r["selector"]))
        total = max(sum(r["clicks"] for r in rows), 1)
        for r in rows:
            r["share"] = round(r["clicks"] / total, 4)
            r["inner"].sort(key=lambda p: (-p["clicks"], p["selector"]))
        return rows

    def page_views(self, index: Index) -> list[dict[str, Any]]:
        return heatmap_queries.page_views(index, self)


@dataclass(slots=True)
class Heatmap:
    png: bytes
    kind: str
    width: int
    height: int  # of the page; the PNG is `band` px taller (the legend sits above the page)
    counted: int = 0
    drawn: int = 0
    hidden: int = 0
    by_position: int = 0
    values: np.ndarray | None = None  # normalised coarse grid (rows, cols), SCALE px a cell
    boxes: dict[str, list[float]] = field(default_factory=dict)
    backdrop: tuple[str, str, int] = ("", "", 0)  # sid, pid, at
    lines: dict[str, float] = field(default_factory=dict)  # scroll map: fold and 75/50/25 % depths
    band: int = raster.LEGEND_BAND  # rows above the page in the PNG: page y = image y - band
    moment: str = ""  # why the backdrop shows that moment ("load settled, ...", "chosen")
    device: str = ""  # the browser settings the backdrop was laid out with
    page_height: int = 0  # the whole page (height is less when cut at backdrop_max_height)

    def hottest(self) -> tuple[float, float]:
        """Page coordinates (CSS px of the backdrop) of the hottest cell."""
        assert self.values is not None
        row, col = np.unravel_index(int(np.argmax(self.values)), self.values.shape)
        return (col + 0.5) * raster.SCALE, (row + 0.5) * raster.SCALE

    def headers(self) -> dict[str, str]:
        """The figures as response headers (the image endpoint sends them beside the PNG)."""
        return {
            "X-Heatmap-Moment": f"{self.backdrop[2]}; {self.moment}"[:200],
            "X-Heatmap-Device": self.device,
            "X-Heatmap-Page-Top": str(self.band),
            "X-Heatmap-Page-Height": str(self.height),
        }


def choose_backdrop(
    sel: Selection,
    views: list[dict[str, Any]],
    reader: PageViewReader,
    width: int,
    pid: str | None,
    at: int | None,
) -> tuple[str, str, int]:
    """The page view a heatmap is drawn over and its moment: the page as first seen after load
    settled (page_moments), unless `at` names another."""
    view = _backdrop_view(views, width, pid)
    if at is None:
        at = default_moment(reader, sel.site, view["sid"], view["pid"])
    return view["sid"], view["pid"], at


def _backdrop_view_in(index: Index, sel: Selection, width: int, pid: str | None) -> dict[str, Any]:
    """As _backdrop_view, the choice made in SQL."""
    view = heatmap_queries.backdrop_view(index, sel, width, pid)
    if view is None and pid:
        raise FilterError(f"page view {pid} is not in this selection")
    if view is None:
        raise LookupError("no recorded page view matches this selection yet")
    return view


def _backdrop_view(views: list[dict[str, Any]], width: int, pid: str | None) -> dict[str, Any]:
    if pid:
        views = [v for v in views if v["pid"] == pid]
        if not views:
            raise FilterError(f"page view {pid} is not in this selection")
    if not views:
        raise LookupError("no recorded page view matches this selection yet")
    # The newest page view recorded at the width closest to the one asked for.
    return min(views, key=lambda v: (abs((v["vw"] or 0) - width), -v["t0"]))


def build_heatmap(
    index: Index, store: BlobStore, reader: PageViewReader, sel: Selection, kind: str, width: int,
    radius: float = 30, pid: str | None = None, at: int | None = None, compare: Selection | None = None,
    step: Callable[[str], None] | None = None, backdrops: BackdropConfig | None = None,
) -> Heatmap:  # fmt: skip
    if kind not in KINDS:
        raise FilterError(f"type must be one of {', '.join(KINDS)}")
    # The API and CLI checked these already; library callers get the same bounds.
    WIDTH.check(width)
    RADIUS.check(radius)
    if at is not None:
        HEATMAP_AT.check(at)
    step = step or (lambda _: None)
    step("selecting")
    # Facts are read as counts and grid cells computed in SQL (index/fact_arrays.py), never as rows.
    targets = fact_arrays.click_targets(index, sel, kind) if kind not in ("scroll", "move") else {}
    # The backdrop's page view and its class's median height are chosen in SQL (not from every page view).
    view = _backdrop_view_in(index, sel, width, pid)
    sid, bpid = view["sid"], view["pid"]
    found = page_moments.scan(reader, sel.site, sid, bpid)
    moment = "chosen" if at is not None else next((m.label for m in found.moments if m.default), "")
    at = found.default if at is None else at
    # The device class's visitors: its median viewport height is the backdrop's.
    median_height = heatmap_queries.median_view_height(index, sel, view.get("device"))
    device = profile_for(found.meta, [median_height] if median_height is not None else [], width)
    selectors = wanted_selectors(targets)
    step("rendering backdrop")
    bd = render_backdrop(
        store, reader, sel.site, sid, bpid, at, width, selectors, config=backdrops, device=device,
        inner_scrolls=found.inner_scrolls,
    )  # fmt: skip
    step("rasterising")
    text = {"sessionlens:moment": f"{at}; {moment}", "sessionlens:device": device.describe()}
    grid = Grid(bd.width, bd.height, raster.SCALE, bd.inner_width or bd.width)
    if kind == "scroll":
        result = _scroll_map(sel.page_views(index), bd, text)
    elif kind == "move":
        result = _move_map(fact_arrays.placed_moves(index, sel, grid), bd, radius, text)
    else:
        placed = fact_arrays.placed_clicks(index, sel, kind, bd.boxes, grid)
        other = fact_arrays.placed_clicks(index, compare, kind, bd.boxes, grid) if compare else None
        result = _click_map(placed, bd, radius, kind, other, text)
    result.backdrop = (sid, bpid, at)
    result.boxes = bd.boxes
    result.moment, result.device, result.page_height = moment, device.describe(), bd.page_height
    # The file says which page view and moment it is drawn over (the moment picker's choice).
    result.png = with_text(
        result.png,
        {"sessionlens:backdrop": f"{sid}/{bpid}/{at}", "sessionlens:selection": _describe(sel, kind, width)},
    )
    return result


def _describe(sel: Selection, kind: str, width: int) -> str:
    parts = {"site": sel.site, "url": sel.pattern, "type": kind, "width": width, "device": sel.device,
             "min_width": sel.min_width, "max_width": sel.max_width, "from": sel.start, "to": sel.end}  # fmt: skip
    return "&".join(f"{k}={v}" for k, v in parts.items() if v is not None)


def wanted_selectors(targets: Mapping[tuple[str, str], int]) -> list[str]:
    """The elements whose boxes the backdrop measures: the most clicked targets, and anchors
    (fallbacks, when a target is gone), clicks per (selector, anchor) summed; ties by name."""
    wanted: Counter[str] = Counter()
    for (selector, anchor), n in targets.items():
        wanted[selector] += n
        if anchor:
            wanted[anchor] += n
    return [s for s, _ in sorted(wanted.items(), key=lambda item: (-item[1], item[0]))[:MAX_SELECTORS]]


def click_targets(clicks: list[dict[str, Any]]) -> dict[tuple[str, str], int]:
    """Clicks per (selector, anchor) of click rows (as index/fact_arrays.click_targets counts them)."""
    return dict(Counter((c["selector"], c.get(ANCHOR_COLUMN) or "") for c in clicks))


def _place(clicks: list[dict[str, Any]], bd: Backdrop) -> tuple[np.ndarray, np.ndarray, int, int]:
    """Each click at its offset inside its element's box in the backdrop.

    Boxes are measured with the window at the top and inner scroll containers where the
    visitors had them: a fixed element's box is its place in the first viewport (clicks on it
    at any scroll land there), an element inside a scrolled sidebar or table is where that
    container shows it. Elements hidden, or scrolled out of their container's view, are counted
    as hidden and not drawn. Clicks whose element is not in the backdrop go to the same offset
    from their nearest anchored ancestor (`anchor`, `ax`, `ay`) when that one is there, else to
    their page position, scaled from the visitor's window width to the backdrop's (the same when the
    backdrop was laid out like the visitor's browser).
    """
    xs, ys, hidden, by_position = [], [], 0, 0
    reference = bd.inner_width or bd.width
    for c in clicks:
        box = bd.boxes.get(c["selector"])
        anchor = bd.boxes.get(c.get(ANCHOR_COLUMN) or "") if box is None else None
        if box is not None:
            if box[4]:
                hidden += 1
                continue
            xs.append(box[0] + c["fx"] * box[2])
            ys.append(box[1] + c["fy"] * box[3])
        elif anchor is not None and not anchor[4]:
            # The target is not in the backdrop, its nearest anchored ancestor is: the same offset from it.
            xs.append(anchor[0] + c["ax"])
            ys.append(anchor[1] + c["ay"])
        else:
            ratio = reference / (c["vw"] or reference)
            xs.append(c["px"] * ratio)
            ys.append(c["py"] * ratio)
            by_position += 1
    return np.asarray(xs, dtype=np.float64), np.asarray(ys, dtype=np.float64), hidden, by_position


def _encode(
    bd: Backdrop, values: np.ndarray | None, legend: str, text: dict[str, str], *, ramp: np.ndarray = raster.HEAT,
    signed: bool = False, constant_alpha: int | None = None,
    decorate: Callable[[Image.Image, int], None] | None = None,
) -> bytes:  # fmt: skip
    """The PNG: a legend band above the page, then the page with its layer, a tile at a time.

    Each tile is decoded, covered with its part of the layer and deflated on png_strips' thread
    pool (pillow and zlib release the GIL): on 2 cores, two tiles at once."""

    def tile(png: bytes, top: int, rows: int) -> Callable[[], np.ndarray]:
        def make() -> np.ndarray:
            page = _tile_rows(png, bd.width, rows)
            layer = raster.layer_strip(values, bd.width, bd.height, top, rows, ramp, signed, constant_alpha)
            if layer is None and decorate is None:
                return page
            image = Image.fromarray(page, "RGB")
            if layer is not None:
                image.paste(layer[0], (0, 0), layer[1])
            if decorate is not None:
                decorate(image, top)
            return np.asarray(image)

        return make

    strips: list[np.ndarray | Callable[[], np.ndarray]] = [raster.legend_band(bd.width, legend, ramp)]
    strips += [tile(png, top, rows) for png, top, rows in _tiles(bd)]
    return encode_strips(bd.width, bd.height + raster.LEGEND_BAND, strips, text)


def _tiles(bd: Backdrop) -> Iterator[tuple[bytes, int, int]]:
    """(PNG, top, rows) of each backdrop tile as Backdrop.strips cuts them, from the tiles' headers
    (nothing decoded: the tiles are decoded on the pool, each where it is encoded)."""
    top = 0
    for png in bd.tiles:
        with Image.open(io.BytesIO(png)) as tile:
            rows = max(0, min(tile.height, bd.height - top))
        yield png, top, rows
        top += rows


def _tile_rows(png: bytes, width: int, rows: int) -> np.ndarray:
    """A tile's first `rows` rows, `width` px wide (cut, or padded white as Backdrop.strips pads)."""
    with Image.open(io.BytesIO(png)) as tile:
        pixels = np.asarray(tile.convert("RGB"))[:rows, :width]
    if pixels.shape[1] < width:
        pixels = np.pad(pixels, ((0, 0), (0, width - pixels.shape[1]), (0, 0)), constant_values=255)
    return pixels


def placed_rows(clicks: list[dict[str, Any]], bd: Backdrop) -> Placed:
    """Click rows placed by `_place` and binned (the row path; the index places in SQL the same way)."""
    xs, ys, hidden, by_position = _place(clicks, bd)
    cells = raster.cells(xs, ys, bd.width, bd.height)
    return Placed(cells, counted=len(clicks), drawn=len(xs), hidden=hidden, by_position=by_position)


def placed_move_rows(moves: list[dict[str, Any]], bd: Backdrop) -> Placed:
    # Moves carry no element: page coordinates scaled from the visitor's window to the backdrop's.
    reference = bd.inner_width or bd.width
    xs = np.asarray([m["x"] * reference / (m["vw"] or reference) for m in moves], dtype=np.float64)
    ys = np.asarray([m["y"] * reference / (m["vw"] or reference) for m in moves], dtype=np.float64)
    n = len(moves)
    return Placed(raster.cells(xs, ys, bd.width, bd.height), counted=n, drawn=n, by_position=n)


def _click_map(
    clicks: Placed | list, bd: Backdrop, radius: float, kind: str, other, text: dict[str, str]
) -> Heatmap:
    """Clicks placed by the index (Placed), or click rows (placed here by `_place`)."""
    placed = clicks if isinstance(clicks, Placed) else placed_rows(clicks, bd)
    grid = raster.density_of_cells(placed.cells, bd.width, bd.height, radius)
    name = "clicks" if kind == "click" else f"{kind} clicks"
    if other is not None:
        theirs = other if isinstance(other, Placed) else placed_rows(other, bd)
        other_grid = raster.density_of_cells(theirs.cells, bd.width, bd.height, radius)
        diff = grid / max(placed.drawn, 1) - other_grid / max(theirs.drawn, 1)
        peak = float(np.abs(diff).max()) or 1.0
        values = diff / peak
        legend = f"{name}: {placed.drawn} vs {theirs.drawn} (red: more in the first range)"
        png = _encode(bd, values, legend, text, ramp=raster.DIVERGING, signed=True)
    else:
        values = raster.normalise(grid, radius)
        legend = f"{placed.counted} {name}; {placed.hidden} on hidden elements; {placed.by_position} placed by position"
        png = _encode(bd, values, legend, text)
    return Heatmap(
        png,
        kind,
        bd.width,
        bd.height,
        placed.counted,
        placed.drawn,
        placed.hidden,
        placed.by_position,
        values,
    )


def _move_map(moves: Placed | list, bd: Backdrop, radius: float, text: dict[str, str]) -> Heatmap:
    """Pointer samples placed by the index (Placed), or move rows (placed here)."""
    placed = moves if isinstance(moves, Placed) else placed_move_rows(moves, bd)
    values = raster.normalise(raster.density_of_cells(placed.cells, bd.width, bd.height, radius), radius)
    png = _encode(bd, values, f"{placed.counted} pointer positions", text)
    return Heatmap(png, "move", bd.width, bd.height, placed.counted, placed.counted, values=values)


def _scroll_map(views: list[dict[str, Any]], bd: Backdrop, text: dict[str, str]) -> Heatmap:
    depths, folds = [], []
    reference = bd.inner_width or bd.width
    for v in views:
        ratio = reference / (v["vw"] or reference)
        view_h = (v["vh"] or 0) * ratio
        depths.append(((v["max_scroll_y"] or 0) * ratio) + view_h)
        folds.append(view_h)
    depths_arr = np.sort(np.asarray(depths, dtype=np.float64))
    ys = np.arange(bd.height, dtype=np.float64)
    reached = 1 - np.searchsorted(depths_arr, ys, side="left") / max(len(depths_arr), 1)
    lines = {"fold": float(np.mean(folds)) if folds else 0.0}
    for share in (0.75, 0.5, 0.25):
        below = np.nonzero(reached < share)[0]
        lines[f"{int(share * 100)}%"] = float(below[0]) if below.size else float(bd.height)

    def draw_lines(image: Image.Image, top: int) -> None:
        draw = ImageDraw.Draw(image)
        for name, y in lines.items():
            if not top - 16 <= y < top + image.height + 16:
                continue
            colour = (0, 0, 0) if name == "fold" else (255, 255, 255)
            draw.line([0, y - top, bd.width, y - top], fill=colour, width=3)
            label = f"{name} reached" if name != "fold" else "average fold"
            draw.text((bd.width - 160, max(0, y - 14) - top), label, fill=colour)

    legend = f"{len(views)} page views: share that scrolled this far"
    png = _encode(bd, reached[:, None], legend, text, constant_alpha=110, decorate=draw_lines)
    result = Heatmap(png, "scroll", bd.width, bd.height, len(views), len(views))
    result.lines = lines
    result.values = reached[:, None]
    return result


# The recorder names the control around a click target (a, button, [role=button], ...) and
# its visible text; clicks recorded before it did have neither, and count for their own target.
CONTROL_COLUMN, TEXT_COLUMN = "control", "text"
ANCHOR_COLUMN = "anchor"  # with ax, ay: the click's offset from its target's nearest anchored ancestor


def _element_row(selector: str) -> dict[str, Any]:
    return {"selector": selector, "text": "", "clicks": 0, "rage": 0, "dead": 0, "error": 0, "inner": []}


def elements_csv(rows: list[dict[str, Any]]) -> str:
    """The element table as CSV; `inner` lists the parts clicked inside a control (selector=count; ...)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["selector", "text", "clicks", "share", "rage", "dead", "error", "inner"])
    for r in rows:
        inner = "; ".join(f"{p['selector']}={p['clicks']}" for p in r.get("inner", ()))
        writer.writerow(
            [_cell(r["selector"]), _cell(r.get("text", "")), r["clicks"], r["share"], r["rage"], r["dead"],
             r["error"], _cell(inner)]
        )  # fmt: skip
    return out.getvalue()


def _cell(text: str) -> str:
    """A recorded string made inert in a spreadsheet: a leading = + - @ would start a formula."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
