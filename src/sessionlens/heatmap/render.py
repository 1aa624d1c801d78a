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
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson
from PIL import ImageDraw

from sessionlens.heatmap import raster
from sessionlens.heatmap.backdrop import Backdrop, BackdropConfig, render_backdrop
from sessionlens.heatmap.png_text import with_text
from sessionlens.index import Index
from sessionlens.params import HEATMAP_AT, RADIUS, SELECTION, WIDTH
from sessionlens.replay.pageview import PageViewReader
from sessionlens.session_search import FilterError
from sessionlens.stores.base import BlobStore
from sessionlens.url_patterns import page_matches

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

    def where(self, alias: str) -> tuple[str, list[Any]]:
        parts = [f"{alias}.site = ?"]
        params: list[Any] = [self.site]
        for column, value, op in (("device", self.device, "="), ("vw", self.min_width, ">="), ("vw", self.max_width, "<="),
                                  ("t0", self.start, ">="), ("t0", self.end, "<")):  # fmt: skip
            if value is not None:
                parts.append(f"p.{column} {op} ?")
                params.append(value)
        return " AND ".join(parts), params

    def urls(self, index: Index, table: str = "clicks") -> list[str]:
        """The distinct URLs of the table the pattern selects, matched once each in Python."""
        found = index.query(f"SELECT DISTINCT url FROM {table} WHERE site = ?", (self.site,))  # noqa: S608
        return [r["url"] for r in found if page_matches(r["url"], self.pattern)]

    def _facts_sql(
        self, index: Index, table: str, alias: str, columns: str, extra: str = ""
    ) -> tuple[str, list[Any]]:
        """SELECT columns from a facts table (clicks, moves) limited to this selection."""
        where, params = self.where(alias)
        # Page views are joined only when a filter needs them (device, width, dates).
        join = (
            f" JOIN page_views p ON p.site = {alias}.site AND p.sid = {alias}.sid AND p.pid = {alias}.pid"
            if "p." in where
            else ""
        )
        sql = (
            f"SELECT {columns} FROM {table} {alias}{join}"  # noqa: S608 - fixed names
            f" WHERE {where} AND {alias}.url IN (SELECT value FROM json_each(?)){extra}"
        )
        return sql, [*params, orjson.dumps(self.urls(index, table)).decode()]

    def moves(self, index: Index) -> list[dict[str, Any]]:
        return index.query(*self._facts_sql(index, "moves", "m", "m.x, m.y, m.vw"))

    def _click_sql(self, index: Index, kind: str, columns: str, tail: str = "") -> tuple[str, list[Any]]:
        signal = {"rage": " AND c.rage = 1", "dead": " AND c.dead = 1", "error": " AND c.error = 1"}.get(
            kind, ""
        )
        return self._facts_sql(index, "clicks", "c", columns, signal + tail)

    def clicks(self, index: Index, kind: str, selector: str | None = None) -> list[dict[str, Any]]:
        """Clicks of the selection; with `selector`, those on that element (a control or an inner one)."""
        columns = (
            "c.sid, c.pid, c.t, c.url, c.selector, c.fx, c.fy, c.px, c.py, c.vw, c.rage, c.dead, c.error"
        )
        element = _element_sql(index)
        tail = f" AND ({element} = ? OR c.selector = ?)" if selector else ""
        sql, params = self._click_sql(index, kind, columns, tail)
        return index.query(sql, [*params, selector, selector] if selector else params)

    def elements(self, index: Index, kind: str) -> list[dict[str, Any]]:
        """Top elements, aggregated in SQL: one row per control (the nearest interactive
        ancestor of the click target), with its visible text, clicks, share, rage, dead,
        error, and `inner`: the elements clicked inside it and how often."""
        element, text = _element_sql(index), _text_sql(index)
        # Per (control, inner element) first, then per control: a link clicked on its
        # icon, its caption and its padding is one row, its parts kept as detail.
        inner, params = self._click_sql(
            index, kind,
            f"{element} AS element, c.selector AS inner, {text} AS text, COUNT(*) AS n,"
            " SUM(c.rage) AS rage, SUM(c.dead) AS dead, SUM(c.error) AS error",
            " GROUP BY element, inner",
        )  # fmt: skip
        sql = (
            "SELECT element AS selector, MAX(text) AS text, SUM(n) AS clicks, SUM(rage) AS rage,"
            " SUM(dead) AS dead, SUM(error) AS error,"
            " json_group_array(json_object('selector', inner, 'clicks', n)) AS inner"
            f" FROM ({inner}) GROUP BY element ORDER BY clicks DESC, selector"  # noqa: S608 - built from fixed names
        )
        rows = index.query(sql, params)
        total = max(sum(r["clicks"] for r in rows), 1)
        for r in rows:
            r["share"] = round(r["clicks"] / total, 4)
            r["text"] = r["text"] or ""
            parts = sorted(orjson.loads(r["inner"]), key=lambda p: (-p["clicks"], p["selector"]))
            r["inner"] = [p for p in parts if p["selector"] != r["selector"]]
        return rows

    def page_views(self, index: Index) -> list[dict[str, Any]]:
        where, params = self.where("p")
        sql = (
            f"SELECT p.* FROM page_views p WHERE {where} AND EXISTS (SELECT 1 FROM page_urls u"
            " WHERE u.site = p.site AND u.sid = p.sid AND u.pid = p.pid AND page_matches(u.url, ?))"
            " ORDER BY p.t0 DESC"
        )
        return index.query(sql, [*params, self.pattern])


@dataclass(slots=True)
class Heatmap:
    png: bytes
    kind: str
    width: int
    height: int
    counted: int = 0
    drawn: int = 0
    hidden: int = 0
    by_position: int = 0
    values: np.ndarray | None = None  # normalised coarse grid (rows, cols), SCALE px a cell
    boxes: dict[str, list[float]] = field(default_factory=dict)
    backdrop: tuple[str, str, int] = ("", "", 0)  # sid, pid, at
    lines: dict[str, float] = field(default_factory=dict)  # scroll map: fold and 75/50/25 % depths

    def hottest(self) -> tuple[float, float]:
        assert self.values is not None
        row, col = np.unravel_index(int(np.argmax(self.values)), self.values.shape)
        return (col + 0.5) * raster.SCALE, (row + 0.5) * raster.SCALE


def choose_backdrop(
    sel: Selection,
    views: list[dict[str, Any]],
    reader: PageViewReader,
    width: int,
    pid: str | None,
    at: int | None,
) -> tuple[str, str, int]:
    if pid:
        views = [v for v in views if v["pid"] == pid]
        if not views:
            raise FilterError(f"page view {pid} is not in this selection")
    if not views:
        raise LookupError("no recorded page view matches this selection yet")
    # The newest page view recorded at the width closest to the one asked for.
    view = min(views, key=lambda v: (abs((v["vw"] or 0) - width), -v["t0"]))
    if at is None:
        times = reader.keyframe_times(sel.site, view["sid"], view["pid"])
        at = times[0] if times else view["duration_ms"]
    return view["sid"], view["pid"], at


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
    clicks = sel.clicks(index, kind) if kind not in ("scroll", "move") else []
    views = sel.page_views(index)
    sid, bpid, at = choose_backdrop(sel, views, reader, width, pid, at)
    selectors = [s for s, _ in Counter(c["selector"] for c in clicks).most_common(MAX_SELECTORS)]
    step("rendering backdrop")
    bd = render_backdrop(store, reader, sel.site, sid, bpid, at, width, selectors, config=backdrops)
    step("rasterising")
    if kind == "scroll":
        result = _scroll_map(views, bd, width)
    elif kind == "move":
        result = _move_map(sel.moves(index), bd, width, radius)
    else:
        result = _click_map(clicks, bd, width, radius, kind, compare and compare.clicks(index, kind))
    result.backdrop = (sid, bpid, at)
    result.boxes = bd.boxes
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


def _place(clicks: list[dict[str, Any]], bd: Backdrop, width: int) -> tuple[np.ndarray, np.ndarray, int, int]:
    xs, ys, hidden, by_position = [], [], 0, 0
    for c in clicks:
        box = bd.boxes.get(c["selector"])
        if box is not None:
            if box[4]:
                hidden += 1
                continue
            xs.append(box[0] + c["fx"] * box[2])
            ys.append(box[1] + c["fy"] * box[3])
        else:
            ratio = width / (c["vw"] or width)
            xs.append(c["px"] * ratio)
            ys.append(c["py"] * ratio)
            by_position += 1
    return np.asarray(xs, dtype=np.float64), np.asarray(ys, dtype=np.float64), hidden, by_position


def _click_map(clicks, bd: Backdrop, width: int, radius: float, kind: str, other) -> Heatmap:
    xs, ys, hidden, by_position = _place(clicks, bd, width)
    grid = raster.density(xs, ys, bd.width, bd.height, radius)
    if other is not None:
        oxs, oys, _, _ = _place(other, bd, width)
        other_grid = raster.density(oxs, oys, bd.width, bd.height, radius)
        diff = grid / max(len(xs), 1) - other_grid / max(len(oxs), 1)
        peak = float(np.abs(diff).max()) or 1.0
        values = diff / peak
        layer = raster.overlay(values, bd.width, bd.height, raster.DIVERGING, signed=True)
        legend = f"{kind}: {len(xs)} vs {len(oxs)} (red: more in the first range)"
    else:
        values = raster.normalise(grid, radius)
        layer = raster.overlay(values, bd.width, bd.height)
        legend = f"{len(clicks)} {kind} clicks; peak cell {int(round(float(grid.max()) * 1))}; {hidden} on hidden elements"
    png = raster.composite(bd.image, layer, legend)
    return Heatmap(png, kind, bd.width, bd.height, len(clicks), len(xs), hidden, by_position, values)


def _move_map(moves: list[dict[str, Any]], bd: Backdrop, width: int, radius: float) -> Heatmap:
    # Moves carry no element: page coordinates scaled to the backdrop width.
    xs = np.asarray([m["x"] * width / (m["vw"] or width) for m in moves], dtype=np.float64)
    ys = np.asarray([m["y"] * width / (m["vw"] or width) for m in moves], dtype=np.float64)
    values = raster.normalise(raster.density(xs, ys, bd.width, bd.height, radius), radius)
    png = raster.composite(
        bd.image, raster.overlay(values, bd.width, bd.height), f"{len(moves)} pointer positions"
    )
    return Heatmap(png, "move", bd.width, bd.height, len(moves), len(moves), values=values)


def _scroll_map(views: list[dict[str, Any]], bd: Backdrop, width: int) -> Heatmap:
    depths, folds = [], []
    for v in views:
        ratio = width / (v["vw"] or width)
        view_h = (v["vh"] or 0) * ratio
        depths.append(((v["max_scroll_y"] or 0) * ratio) + view_h)
        folds.append(view_h)
    depths_arr = np.sort(np.asarray(depths, dtype=np.float64))
    ys = np.arange(bd.height, dtype=np.float64)
    reached = 1 - np.searchsorted(depths_arr, ys, side="left") / max(len(depths_arr), 1)
    image = raster.compose(bd.image, raster.scroll_overlay(reached, bd.height, bd.width))
    lines = {"fold": float(np.mean(folds)) if folds else 0.0}
    for share in (0.75, 0.5, 0.25):
        below = np.nonzero(reached < share)[0]
        lines[f"{int(share * 100)}%"] = float(below[0]) if below.size else float(bd.height)
    draw = ImageDraw.Draw(image)
    for name, y in lines.items():
        colour = (0, 0, 0) if name == "fold" else (255, 255, 255)
        draw.line([0, y, bd.width, y], fill=colour, width=3)
        draw.text(
            (bd.width - 160, max(0, y - 14)),
            f"{name} reached" if name != "fold" else "average fold",
            fill=colour,
        )
    png = raster.finish(image, f"{len(views)} page views: share that scrolled this far")
    result = Heatmap(png, "scroll", bd.width, bd.height, len(views), len(views))
    result.lines = lines
    result.values = reached[:, None]
    return result


# The recorder names the control around a click target (a, button, [role=button], ...) and
# its visible text; clicks recorded before it did have neither, and count for their own target.
CONTROL_COLUMN, TEXT_COLUMN = "control", "text"


def _click_columns(index: Index) -> frozenset[str]:
    return frozenset(r["name"] for r in index.query("SELECT name FROM pragma_table_info('clicks')"))


def _element_sql(index: Index) -> str:
    """The SQL expression of the element a click counts for: its control, else its own target."""
    if CONTROL_COLUMN in _click_columns(index):
        return f"COALESCE(NULLIF(c.{CONTROL_COLUMN}, ''), c.selector)"
    return "c.selector"


def _text_sql(index: Index) -> str:
    return f"MAX(c.{TEXT_COLUMN})" if TEXT_COLUMN in _click_columns(index) else "''"


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
