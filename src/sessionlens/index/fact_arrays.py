"""Heatmap facts read as arrays: placed and binned in SQL, not fetched as rows.

A click map of a million clicks used to fetch a million rows as Python
dicts (8 s) to place each click by its element's box. Here the database
does the placement and the binning, and hands back per part counts and
one text of grid cells ("12,7,7,...") that numpy parses in milliseconds:

1. `click_targets`: clicks per (selector, anchor), for the backdrop to
   measure the boxes of the most clicked elements (GROUP BY in SQL; on
   SQLite it streams along the covering index `clicks_heatmap`).
2. `placed_clicks`: the boxes go into a temporary table, and one
   statement (one pass, each click's box and anchor's box looked up by
   key) places every click as heatmap/render.py's `_place` does
   (that function stays the reference; tests compare the two):
   - target in the backdrop: hidden (counted, not drawn) or at the box
     plus its offset (fx, fy) inside it;
   - else its anchor visible in the backdrop: the anchor's box plus
     (ax, ay);
   - else its page position scaled from the visitor's window width (vw)
     to the backdrop's (`Grid.reference`).
   The same floating point operations in the same order as in Python, and
   cells truncated as numpy truncates, so the grid is the same, cell for
   cell, as binning the positions `_place` returns.
3. `placed_moves`: pointer samples by page position, scaled likewise.
4. Frustration signals with a place (session_signals): `placed_thrashes` (the centre
   of the thrashing, by page position scaled likewise), `signal_targets` +
   `placed_form_errors` (on the first invalid field's box, its centre; hidden:
   counted, not drawn; field not in the backdrop: counted, not drawn), and
   `scroll_bands` (excessive scrolling: the window it happened in, as rows).

Bots (left out by default) are subtracted on SQLite: every click read, then
the bots' alone (found by session), counts and cells taken off (testing each
click's session reads its table row: the sid is not in clicks_heatmap).
Targets (SQLite) and placement are read in `PARTS` parts (`t0 % n`), one per
core, on threads, each in its own read transaction.

`Grid` is the backdrop's page: width and height in CSS px, the cell size
(heatmap/raster.py's SCALE) and the reference window width.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from sessionlens.index.heatmaps import _SIGNALS, _facts, _signal_facts, selection_urls, subtracts_bots

if TYPE_CHECKING:
    from sessionlens.index.database import Index
    from sessionlens.index.dialect import Dialect

T = TypeVar("T")
# Parts of a selection's clicks read at once, on as many cores (at most 4: each part scans its
# URLs' clicks whole, the placement work of the others left out).
PARTS = max(1, min(4, os.cpu_count() or 1))
_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()

BOXES_TABLE = (
    "CREATE TEMP TABLE IF NOT EXISTS heatmap_boxes ("
    " sel TEXT PRIMARY KEY, x REAL NOT NULL, y REAL NOT NULL, w REAL NOT NULL, h REAL NOT NULL,"
    " hidden INTEGER NOT NULL)"
)


@dataclass(frozen=True, slots=True)
class Grid:
    width: int  # the page, CSS px
    height: int
    scale: int  # CSS px per cell side
    reference: float  # the backdrop's window width: page positions are scaled from the visitor's to it

    @property
    def cols(self) -> int:
        return max(1, -(-self.width // self.scale))

    @property
    def rows(self) -> int:
        return max(1, -(-self.height // self.scale))


@dataclass(slots=True)
class Placed:
    """Facts of a selection placed on a backdrop's grid."""

    cells: np.ndarray  # int64: row * cols + col of each drawn fact that falls on the page
    counted: int = 0  # facts selected
    drawn: int = 0  # placed somewhere (on the page or not); counted - hidden
    hidden: int = 0  # on elements hidden in the backdrop: counted, not drawn
    by_position: int = 0  # placed by page position (their element and anchor not in the backdrop)


def click_targets(index: Index, sel: Any, kind: str) -> dict[tuple[str, str], int]:
    """Clicks of the selection (of one signal `kind`) per (selector, anchor)."""
    d = index.dialect
    grouping = (
        " GROUP BY c.url, c.selector, c.anchor" if d.groups_by_sorting else " GROUP BY c.selector, c.anchor"
    )

    def read(conn: Any, part: str) -> list[list[Any]]:
        urls = selection_urls(conn, index, sel)
        out = []
        for bots in _bot_parts(index, sel):
            sql, params = _facts(
                index, sel, "clicks", "c", "c.selector, c.anchor, COUNT(*) AS n",
                _SIGNALS.get(kind, "") + part + grouping, urls=urls, bots=bots,
            )  # fmt: skip
            if d.groups_by_sorting:
                # Grouped by URL first: SQLite's covering index hands the rows over in that order, so the
                # inner grouping sorts nothing, the outer one only the (far fewer) inner groups.
                sql = f"SELECT selector, anchor, SUM(n) AS n FROM ({sql}) g GROUP BY selector, anchor"  # noqa: S608
            out.append(_run(conn, d, sql, params))
        return out

    # PostgreSQL counts in parallel workers itself; SQLite is given the parts on threads.
    counts: dict[tuple[str, str], int] = {}
    for found, *bots in _in_parts(index, read, 1 if d.is_postgresql else PARTS):
        for row in found:
            key = (row[0], row[1])
            counts[key] = counts.get(key, 0) + int(row[2])
        for row in bots[0] if bots else []:
            key = (row[0], row[1])
            counts[key] -= int(row[2])
            if not counts[key]:
                del counts[key]
    return counts


def placed_clicks(
    index: Index, sel: Any, kind: str, boxes: Mapping[str, Sequence[float]], grid: Grid
) -> Placed:
    """The selection's clicks placed on `boxes` (selector -> [x, y, w, h, hidden]) and binned on `grid`."""
    d = index.dialect
    signal = _SIGNALS.get(kind, "")
    ref = float(grid.reference)

    def col(name: str) -> str:
        return d.finite_operand(name)

    on_box = _cell(
        d, grid, (f"b.x + {col('c.fx')} * b.w", []), (f"b.y + {col('c.fy')} * b.h", []), "b.hidden = 0"
    )
    on_anchor = _cell(d, grid, (f"a.x + {col('c.ax')}", []), (f"a.y + {col('c.ay')}", []))
    vw = col("c.vw")
    ratio = f"(? / CASE WHEN {vw} <> 0 THEN {vw} ELSE ? END)"
    by_page = _cell(
        d, grid, (f"{col('c.px')} * {ratio}", [ref, ref]), (f"{col('c.py')} * {ratio}", [ref, ref])
    )
    # One pass: each click's box (b) by its selector, else its anchor's visible box (a), by key.
    cell = f"CASE WHEN b.sel IS NOT NULL THEN {on_box[0]} WHEN a.sel IS NOT NULL THEN {on_anchor[0]} ELSE {by_page[0]} END"
    rows = _box_rows(boxes)

    def read(conn: Any, part: str) -> list[Any]:
        for statement in d.bulk_read_settings():
            conn.execute(statement)
        if d.is_postgresql:
            # A part's condition (t0 % n = k) is estimated at 0.5 % of the rows: the planner then
            # probes the boxes in nested loops, the anchors' by scanning them all per click (90 s
            # for 500,000 clicks); hashed, the boxes cost next to nothing whatever the estimate.
            conn.execute("SET LOCAL enable_nestloop = off")
        urls = selection_urls(conn, index, sel)
        conn.execute(d.ddl(BOXES_TABLE))
        conn.executemany(
            "INSERT INTO heatmap_boxes (sel, x, y, w, h, hidden) VALUES (?, ?, ?, ?, ?, ?)", rows
        )
        out = []
        for bots in _bot_parts(index, sel):
            sql, where = _facts(
                index, sel, "clicks", "c",
                "COUNT(*) AS n, SUM(CASE WHEN b.hidden <> 0 THEN 1 ELSE 0 END) AS hidden,"
                " SUM(CASE WHEN b.sel IS NULL AND a.sel IS NULL THEN 1 ELSE 0 END) AS by_position,"
                f" {d.int_list_agg(cell)} AS cells",
                signal + part,
                " LEFT JOIN heatmap_boxes b ON b.sel = c.selector"
                " LEFT JOIN heatmap_boxes a ON b.sel IS NULL AND a.sel = c.anchor AND a.hidden = 0",
                urls=urls, bots=bots,
            )  # fmt: skip
            out.append(conn.execute(sql, on_box[1] + on_anchor[1] + by_page[1] + where).fetchone())
        return out

    # Placed on threads, a part each: PostgreSQL runs this plan in one process (string_agg has no
    # parallel form before version 16, and a temporary table keeps workers out), SQLite in one thread.
    placed = []
    for every, *bots in _in_parts(index, read, PARTS):
        part = _placed_part(*every)
        placed.append(_minus(part, _placed_part(*bots[0])) if bots else part)
    return _joined(placed)


def _in_parts(index: Index, read: Callable[[Any, str], T], parts: int) -> list[T]:
    """read(conn, condition) of each of `parts` parts of the clicks ("AND c.t0 % parts = k": a page
    view's clicks in one part), at once on the pool, each in a read transaction of its own."""
    if parts <= 1:
        return [index.read(lambda conn: read(conn, ""))]
    conditions = [f" AND c.t0 % {int(parts)} = {k}" for k in range(parts)]
    futures = [_executor().submit(index.read, lambda conn, c=c: read(conn, c)) for c in conditions[1:]]
    # The first part on the calling thread: it would only wait otherwise.
    first = index.read(lambda conn: read(conn, conditions[0]))
    return [first, *(f.result() for f in futures)]


def _executor() -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max(1, PARTS - 1), thread_name_prefix="heatmap-parts")
        return _pool


def _joined(parts: list[Placed]) -> Placed:
    if len(parts) == 1:
        return parts[0]
    return Placed(
        np.concatenate([p.cells for p in parts]),
        counted=sum(p.counted for p in parts),
        drawn=sum(p.drawn for p in parts),
        hidden=sum(p.hidden for p in parts),
        by_position=sum(p.by_position for p in parts),
    )


def _placed_part(n: Any, hidden: Any, by_position: Any, text: str | None) -> Placed:
    counted, hidden = int(n), int(hidden or 0)
    return Placed(
        _parse_cells(text),
        counted=counted,
        drawn=counted - hidden,
        hidden=hidden,
        by_position=int(by_position or 0),
    )


def _bot_parts(index: Index, sel: Any) -> tuple[str | None, ...]:
    """The reads of a selection's facts: as it says, or (bots excluded, SQLite) all, then the
    bots' to subtract (heatmaps._facts' `bots`)."""
    return ("include", "only") if subtracts_bots(index, sel) else (None,)


def _minus(every: Placed, bots: Placed) -> Placed:
    """`every` fact placed less the bots' (a part of them): counts subtracted, cells as a multiset
    (in cell order then, which binning does not see)."""
    cells = every.cells
    if bots.cells.size:
        size = int(max(every.cells.max(initial=0), bots.cells.max(initial=0))) + 1
        counts = np.bincount(every.cells, minlength=size) - np.bincount(bots.cells, minlength=size)
        # Never below 0 (both read in one snapshot, the bots' a subset); clipped all the same.
        cells = np.repeat(np.arange(size, dtype=np.int64), np.maximum(counts, 0))
    return Placed(
        cells,
        counted=every.counted - bots.counted,
        drawn=every.drawn - bots.drawn,
        hidden=every.hidden - bots.hidden,
        by_position=every.by_position - bots.by_position,
    )


def placed_moves(index: Index, sel: Any, grid: Grid) -> Placed:
    """The selection's pointer samples at their page position scaled to the backdrop, binned on `grid`."""
    d = index.dialect
    ref = float(grid.reference)
    vw = d.finite_operand("m.vw")
    # As heatmap/render.py's _move_map: x * reference / vw (that order), vw 0 read as the reference.
    scaled = "({} * ?) / CASE WHEN {vw} <> 0 THEN {vw} ELSE ? END"
    cell_sql, cell_params = _cell(
        d, grid,
        (scaled.format(d.finite_operand("m.x"), vw=vw), [ref, ref]),
        (scaled.format(d.finite_operand("m.y"), vw=vw), [ref, ref]),
    )  # fmt: skip

    def read(conn: Any) -> list[Any]:
        sql, where = _facts(
            index, sel, "moves", "m", f"COUNT(*) AS n, {d.int_list_agg(cell_sql)} AS cells",
            urls=selection_urls(conn, index, sel),
        )  # fmt: skip
        return _run(conn, d, sql, cell_params + where)

    n, cells = index.read(read)[0]
    return Placed(_parse_cells(cells), counted=int(n), drawn=int(n), by_position=int(n))


def placed_thrashes(index: Index, sel: Any, grid: Grid) -> Placed:
    """Thrashed-cursor episodes at their centre (page position), scaled from the visitor's window
    width (their page view's vw) to the backdrop's, as moves are; binned on `grid`."""
    d = index.dialect
    ref = float(grid.reference)
    vw = d.finite_operand("p.vw")
    scaled = "({} * ?) / CASE WHEN {vw} > 0 THEN {vw} ELSE ? END"
    cell_sql, cell_params = _cell(
        d, grid,
        (scaled.format(d.finite_operand("g.x"), vw=vw), [ref, ref]),
        (scaled.format(d.finite_operand("g.y"), vw=vw), [ref, ref]),
    )  # fmt: skip
    sql, where = _signal_facts(
        index, sel, "thrash", "COUNT(*) AS n, SUM(CASE WHEN g.x IS NULL OR g.y IS NULL THEN 0 ELSE 1 END) AS"
        f" placed, {d.int_list_agg(cell_sql)} AS cells",
    )  # fmt: skip
    n, placed, cells = index.read(lambda conn: _run(conn, d, sql, cell_params + where))[0]
    return Placed(_parse_cells(cells), counted=int(n), drawn=int(placed or 0), by_position=int(placed or 0))


def signal_targets(index: Index, sel: Any, kind: str) -> dict[tuple[str, str], int]:
    """Signals of the selection per element path (session_signals.target), for the backdrop to
    measure (shaped as click_targets: (selector, anchor '') -> n)."""
    sql, params = _signal_facts(
        index,
        sel,
        kind,
        "g.target, COUNT(*) AS n",
        " AND g.target IS NOT NULL AND g.target <> '' GROUP BY g.target",
    )
    rows = index.read(lambda conn: _run(conn, index.dialect, sql, params))
    return {(row[0], ""): int(row[1]) for row in rows}


def placed_form_errors(index: Index, sel: Any, boxes: Mapping[str, Sequence[float]], grid: Grid) -> Placed:
    """Form errors at the centre of their first invalid field's box in the backdrop. A field
    hidden there is counted, not drawn (`hidden`); a field the backdrop has not (another page
    state, a field without a path) is counted, not drawn (counted - drawn - hidden)."""
    d = index.dialect
    cell_sql, cell_params = _cell(d, grid, ("b.x + b.w / 2", []), ("b.y + b.h / 2", []), "b.hidden = 0")
    sql, where = _signal_facts(
        index, sel, "form_error",
        "COUNT(*) AS n, SUM(CASE WHEN b.hidden <> 0 THEN 1 ELSE 0 END) AS hidden,"
        " SUM(CASE WHEN b.hidden = 0 THEN 1 ELSE 0 END) AS drawn,"
        f" {d.int_list_agg(cell_sql)} AS cells",
    )  # fmt: skip
    # The box is joined by the field's path (fixed SQL after the facts table, as placed_clicks).
    sql = sql.replace(
        " JOIN page_views p ON", " LEFT JOIN heatmap_boxes b ON b.sel = g.target JOIN page_views p ON", 1
    )
    rows = _box_rows(boxes)

    def read(conn: Any) -> list[Any]:
        conn.execute(d.ddl(BOXES_TABLE))
        conn.execute("DELETE FROM heatmap_boxes")
        conn.executemany(
            "INSERT INTO heatmap_boxes (sel, x, y, w, h, hidden) VALUES (?, ?, ?, ?, ?, ?)", rows
        )
        return _run(conn, d, sql, cell_params + where)

    n, hidden, drawn, cells = index.read(read)[0]
    return Placed(_parse_cells(cells), counted=int(n), drawn=int(drawn or 0), hidden=int(hidden or 0))


def scroll_bands(index: Index, sel: Any, grid: Grid) -> tuple[np.ndarray, np.ndarray]:
    """Excessive scrolling episodes as the rows of the window they happened in: (first row, last
    row) arrays on `grid` (the window's middle y and height, scaled from the visitor's window
    width to the backdrop's), clipped to the page; episodes wholly off the page left out."""
    d = index.dialect
    ref = float(grid.reference)
    vw = d.finite_operand("p.vw")
    ratio = f"(? / CASE WHEN {vw} > 0 THEN {vw} ELSE ? END)"
    mid = f"({d.finite_operand('g.y')} * {ratio})"
    half = f"(COALESCE({d.finite_operand('p.vh')}, 0) * {ratio} / 2)"
    scale, last = int(grid.scale), int(grid.rows) - 1
    top = f"{d.truncate_int(f'({mid} - {half}) / {scale}')}"
    bottom = f"{d.truncate_int(f'({mid} + {half}) / {scale}')}"
    sql, where = _signal_facts(
        index, sel, "excessive_scroll",
        f"{d.int_list_agg(f'CASE WHEN {mid} - {half} < {int(grid.height)} AND {mid} + {half} >= 0 THEN {top} END')}"
        f" AS tops, {d.int_list_agg(f'CASE WHEN {mid} - {half} < {int(grid.height)} AND {mid} + {half} >= 0 THEN {bottom} END')}"
        " AS bottoms",
        " AND g.y IS NOT NULL",
    )  # fmt: skip
    # Each CASE holds mid and half three times, each with the ratio's two parameters (all `ref`).
    one = [ref] * 12
    tops, bottoms = index.read(lambda conn: _run(conn, d, sql, one + one + where))[0]
    first = np.clip(_parse_cells(tops), 0, last)
    final = np.clip(_parse_cells(bottoms), 0, last)
    return first, final


def _run(conn: Any, d: Dialect, sql: str, params: list[Any]) -> list[Any]:
    for statement in d.bulk_read_settings():
        conn.execute(statement)
    return conn.execute(sql, params).fetchall()


def _cell(
    d: Dialect, grid: Grid, x: tuple[str, list[Any]], y: tuple[str, list[Any]], when: str = ""
) -> tuple[str, list[Any]]:
    """The cell of (x, y) on the grid, NULL off the page (as raster.density: 0 <= x < width, ...)."""
    xs, xp = x
    ys, yp = y
    inside = (
        f"{when + ' AND ' if when else ''}({xs}) >= 0 AND ({xs}) < {int(grid.width)}"
        f" AND ({ys}) >= 0 AND ({ys}) < {int(grid.height)}"
    )
    scale = int(grid.scale)
    sql = (
        f"CASE WHEN {inside} THEN {d.truncate_int(f'({ys}) / {scale}')} * {int(grid.cols)}"
        f" + {d.truncate_int(f'({xs}) / {scale}')} END"
    )
    return sql, xp + xp + yp + yp + yp + xp


def _box_rows(boxes: Mapping[str, Sequence[float]]) -> list[tuple[str, float, float, float, float, int]]:
    # Floats as Python holds them (an int box coordinate is the same number); hidden is any truthy flag.
    return [
        (s, float(b[0]), float(b[1]), float(b[2]), float(b[3]), 1 if b[4] else 0) for s, b in boxes.items()
    ]


def _parse_cells(text: str | None) -> np.ndarray:
    if not text:
        return np.empty(0, dtype=np.int64)
    return np.fromstring(text, dtype=np.int64, sep=",")
