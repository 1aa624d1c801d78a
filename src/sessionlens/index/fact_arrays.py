"""Heatmap facts read as arrays, never as a row per fact.

A click map of a million clicks used to fetch a million rows as Python
dicts (8 s) to place each click by its element's box. Here:

1. `read_clicks`: the selection's clicks come as the packed arrays of
   their page views (index/click_arrays.py: a row per page view and URL,
   a hundred thousand blobs for a million clicks), joined into one numpy
   array; the most clicked elements (targets and anchors, for the
   backdrop to measure) are counted on it by hash and named from the
   `clicks` rows of a page view holding each, in the same transaction.
2. `place_clicks`: every click placed in numpy as heatmap/render.py's
   `_place` places its row (that function stays the reference; tests
   compare the two), the same floating point operations in the same
   order, cells truncated as raster.cells truncates:
   - target in the backdrop: hidden (counted, not drawn) or at the box
     plus its offset (fx, fy) inside it;
   - else its anchor visible in the backdrop: the anchor's box plus
     (ax, ay);
   - else its page position scaled from the visitor's window width (vw)
     to the backdrop's (`Grid.reference`).
3. `placed_moves`: pointer samples by page position, scaled likewise,
   placed and binned in SQL (one text of grid cells, "12,7,7,...",
   parsed by numpy).
4. Frustration signals with a place (session_signals): `placed_thrashes` (the centre
   of the thrashing, by page position scaled likewise), `signal_targets` +
   `placed_form_errors` (on the first invalid field's box, its centre; hidden:
   counted, not drawn; field not in the backdrop: counted, not drawn), and
   `scroll_bands` (excessive scrolling: the window it happened in, as rows).

Bots (left out by default) are left out by session in SQL, as for every
other read (heatmaps._facts).

`Grid` is the backdrop's page: width and height in CSS px, the cell size
(heatmap/raster.py's SCALE) and the reference window width.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from sessionlens.index import click_arrays
from sessionlens.index.heatmaps import _facts, _signal_facts, selection_urls

if TYPE_CHECKING:
    from sessionlens.index.database import Index
    from sessionlens.index.dialect import Dialect

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


@dataclass(slots=True)
class ClickFacts:
    """A selection's clicks (of one kind) as one array (index/click_arrays.py), and what it takes to
    name their elements: the session each came from, and the paths resolved so far."""

    clicks: np.ndarray  # click_arrays.CLICK
    sids: list[str]  # the session of each row read
    ends: np.ndarray  # the end of each row's clicks in the array as read (before `kept`)
    kept: np.ndarray | None  # of a kind: the index as read of each click kept
    names: dict[int, str]  # element hash -> path
    wanted: list[str]  # the paths the backdrop measures: most clicked first (see `_wanted`)

    @property
    def count(self) -> int:
        return int(self.clicks.size)

    def sid_of(self, clicks: np.ndarray) -> set[str]:
        """The sessions of the clicks at these indexes."""
        read = clicks if self.kept is None else self.kept[clicks]
        return {self.sids[int(row)] for row in np.searchsorted(self.ends, read, side="right")}

    def targets(self) -> dict[tuple[str, str], int]:
        """Clicks per (selector, anchor) (every hash named: read with limit=None)."""
        pairs = np.stack([self.clicks["sel"], self.clicks["anchor"]], axis=1)
        found, counts = np.unique(pairs, axis=0, return_counts=True) if pairs.size else ((), ())
        return {
            (self.names[int(a)], self.names[int(b)]): int(n) for (a, b), n in zip(found, counts, strict=True)
        }


def read_clicks(index: Index, sel: Any, kind: str, limit: int | None = None) -> ClickFacts:
    """The selection's clicks of `kind` as an array, with the paths of the `limit` most clicked
    elements (targets and anchors, as heatmap/render.py's wanted_selectors counts them) named, or
    of every element (limit None). One read transaction: the names are those of these clicks."""
    d = index.dialect
    flag = click_arrays.FLAGS.get(kind)

    def read(conn: Any) -> ClickFacts:
        urls = selection_urls(conn, index, sel)
        for statement in d.bulk_read_settings():
            conn.execute(statement)
        sql, params = _facts(index, sel, "click_arrays", "c", "c.sid, c.data", urls=urls)
        # Plain tuples, bytea in binary: no Python object per row but the tuple and its two values
        # (joining the arrays on the PostgreSQL server measured slower: 0.42-0.51 s against 0.31 s).
        rows = conn.tuples(sql, params, binary=True) if d.is_postgresql else _tuples(conn, sql, params)
        sids = [r[0] for r in rows]
        blobs = [r[1] for r in rows]
        data, sizes = b"".join(blobs), list(map(len, blobs))
        clicks = click_arrays.unpack(data) if data else np.empty(0, dtype=click_arrays.CLICK)
        ends = np.cumsum(np.asarray(sizes, dtype=np.int64)) // click_arrays.CLICK.itemsize
        kept = None
        if flag is not None:
            kept = np.flatnonzero(clicks["flags"] & flag)
            clicks = clicks[kept]
        facts = ClickFacts(clicks, sids, ends, kept, {0: ""}, [])
        if limit is None:
            _name(conn, sel.site, facts, np.unique(np.concatenate([clicks["sel"], clicks["anchor"]])))
        elif limit > 0:
            facts.wanted = _wanted(conn, sel.site, facts, limit)
        return facts

    return index.read(read)


def click_targets(index: Index, sel: Any, kind: str) -> dict[tuple[str, str], int]:
    """Clicks of the selection (of one signal `kind`) per (selector, anchor)."""
    return read_clicks(index, sel, kind).targets()


def placed_clicks(
    index: Index, sel: Any, kind: str, boxes: Mapping[str, Sequence[float]], grid: Grid
) -> Placed:
    """The selection's clicks placed on `boxes` (selector -> [x, y, w, h, hidden]) and binned on `grid`."""
    return place_clicks(read_clicks(index, sel, kind, limit=0).clicks, boxes, grid)


def place_clicks(clicks: np.ndarray, boxes: Mapping[str, Sequence[float]], grid: Grid) -> Placed:
    """Each click placed as heatmap/render.py's `_place` places its row (that function is the
    reference; tests compare the two), in the same float operations, and binned as raster.cells:

    - its element in the backdrop: hidden (counted, not drawn), or the box plus its offset (fx, fy)
      inside it;
    - else its anchor visible in the backdrop: the anchor's box plus (ax, ay);
    - else its page position scaled from the visitor's window width (vw; none or 0: the
      reference's) to the backdrop's (`Grid.reference`).

    Every way is computed for every click (whole columns: cheaper than gathering the clicks of
    each), the click's own way picked after."""
    n = int(clicks.size)
    by_hash = {click_arrays.name_hash(s): b for s, b in boxes.items()}
    keys = np.array(sorted(by_hash), dtype=np.int64)
    # Row 0: no box (its hidden flag set, so a miss is neither drawn on a box nor on an anchor).
    table = np.array(
        [[0.0, 0.0, 0.0, 0.0, 1.0]]
        + [[float(v) for v in by_hash[int(k)][:4]] + [1.0 if by_hash[int(k)][4] else 0.0] for k in keys],
        dtype=np.float64,
    )

    slots = _slots(keys)

    def lookup(hashes: np.ndarray) -> np.ndarray:
        """The row of `table` of each hash's box (0: none)."""
        if not keys.size:
            return np.zeros(n, dtype=np.intp)
        if slots is not None:  # addressed by the hash's low bits: two gathers, no search
            key_of, row_of = slots
            at = hashes & (key_of.size - 1)
            return np.where(key_of[at] == hashes, row_of[at], 0)
        at = np.minimum(np.searchsorted(keys, hashes), keys.size - 1)
        return np.where(keys[at] == hashes, at + 1, 0)

    b, a = lookup(clicks["sel"]), lookup(clicks["anchor"])
    hidden = (b > 0) & (table[b, 4] != 0)
    on_box = (b > 0) & ~hidden
    on_anchor = (b == 0) & (table[a, 4] == 0)
    by_page = (b == 0) & ~on_anchor
    ref = float(grid.reference)
    vw = clicks["vw"]
    ratio = ref / np.where(np.isnan(vw) | (vw == 0), ref, vw)
    with np.errstate(invalid="ignore", over="ignore"):
        x = np.where(on_box, table[b, 0] + clicks["fx"] * table[b, 2],
                     np.where(on_anchor, table[a, 0] + clicks["ax"], clicks["px"] * ratio))  # fmt: skip
        y = np.where(on_box, table[b, 1] + clicks["fy"] * table[b, 3],
                     np.where(on_anchor, table[a, 1] + clicks["ay"], clicks["py"] * ratio))  # fmt: skip
        inside = ~hidden & (x >= 0) & (x < grid.width) & (y >= 0) & (y < grid.height)
    cells = (y[inside] / grid.scale).astype(np.int64) * grid.cols + (x[inside] / grid.scale).astype(np.int64)
    hidden_n = int(np.count_nonzero(hidden))
    return Placed(cells, counted=n, drawn=n - hidden_n, hidden=hidden_n, by_position=int(np.count_nonzero(by_page)))


def _slots(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """A table addressed by the low bits of the sorted `keys` (hashes: uniform bits): (key, row + 1)
    per slot, with the fewest bits (16-22) at which no two keys share a slot; None if none does
    (then the keys are searched)."""
    for bits in range(16, 23):
        at = keys & ((1 << bits) - 1)
        if np.unique(at).size == keys.size:
            key_of = np.zeros(1 << bits, dtype=np.int64)
            row_of = np.zeros(1 << bits, dtype=np.intp)
            key_of[at] = keys
            row_of[at] = np.arange(1, keys.size + 1)
            # An empty slot holds key 0 and row 0: a hash of 0 (no anchor) finds no box there.
            return key_of, row_of
    return None


def _wanted(conn: Any, site: str, facts: ClickFacts, limit: int) -> list[str]:
    """The `limit` most clicked paths (targets, and anchors of clicks: wanted_selectors' count),
    ties by path: every hash with at least the limit-th count is named, then sorted by (-clicks, path)."""
    clicks = facts.clicks
    anchors = clicks["anchor"]
    hashes, counts = np.unique(np.concatenate([clicks["sel"], anchors[anchors != 0]]), return_counts=True)
    if not hashes.size:
        return []
    floor = np.partition(counts, counts.size - min(limit, counts.size))[counts.size - min(limit, counts.size)]
    pick = counts >= floor
    if np.count_nonzero(pick) > 2 * limit:
        # Very many ties at the floor (a page of thousands of elements clicked once each, or paths
        # made up by a hostile recorder): those above it, and of the ties the first by hash (hashes
        # are sorted), never the names of them all.
        ties = np.flatnonzero(counts == floor)
        pick = counts > floor
        pick[ties[: limit - int(np.count_nonzero(pick))]] = True
    _name(conn, site, facts, hashes[pick])
    named = sorted(
        (-int(n), facts.names[int(h)]) for h, n in zip(hashes[pick], counts[pick], strict=True) if int(h) in facts.names
    )
    return [path for _, path in named[:limit]]


def _name(conn: Any, site: str, facts: ClickFacts, wanted: np.ndarray) -> None:
    """Name the hashes `wanted` (facts.names): the paths of the clicks of a session holding each."""
    wanted_set = {int(h) for h in wanted} - facts.names.keys()
    missing = np.array(sorted(wanted_set), dtype=np.int64)
    if not missing.size:
        return
    clicks = facts.clicks
    # A click holding each: looked for in the first clicks, then in ever longer runs after them
    # (a popular element is found at once; only a rare one costs a longer look).
    firsts, start, size = [], 0, 4096
    while missing.size and start < clicks.size:
        run = clicks[start : start + size]
        for column in (run["sel"], run["anchor"]):
            at = np.minimum(np.searchsorted(missing, column), missing.size - 1)
            hit = np.flatnonzero(missing[at] == column)
            found, first = np.unique(at[hit], return_index=True)
            firsts.append(start + hit[first])
            missing = np.delete(missing, found)
            if not missing.size:
                break
        start, size = start + size, size * 4
    sids = sorted(facts.sid_of(np.concatenate(firsts))) if firsts else []
    for part in range(0, len(sids), 500):
        chunk = sids[part : part + 500]
        rows = conn.execute(
            f"SELECT DISTINCT selector, anchor FROM clicks WHERE site = ? AND sid IN ({', '.join('?' * len(chunk))})",  # noqa: S608
            [site, *chunk],
        ).fetchall()
        for row in rows:
            for path in row:
                if path and (h := click_arrays.name_hash(path)) in wanted_set:
                    facts.names.setdefault(h, path)


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


def _tuples(conn: Any, sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
    """SQLite's rows as plain tuples (no sqlite3.Row per row)."""
    cur = conn.cursor()
    cur.row_factory = None
    return cur.execute(sql, params).fetchall()


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
