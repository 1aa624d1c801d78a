"""Heatmap facts read as arrays (index/fact_arrays.py) give the same maps as the row path.

The row path fetches every click as a dict and places it with render._place;
the columnar path reads the packed click arrays (index/click_arrays.py) and
places them in numpy (moves and signals: placed and binned in SQL). On a
seeded index (both backends)
the two must agree exactly: the same counts, the same grid, the same PNG,
for every map type that reads facts, compare maps, empty selections and
clicks on hidden elements.
"""

from __future__ import annotations

import dataclasses
import io
import statistics
from typing import Any

import numpy as np
import pytest
from PIL import Image

from sessionlens.heatmap import raster
from sessionlens.heatmap.backdrop import Backdrop
from sessionlens.heatmap.render import (
    Selection,
    _backdrop_view,
    _backdrop_view_in,
    _click_map,
    _move_map,
    _place,
    click_targets,
    placed_move_rows,
    placed_rows,
    wanted_selectors,
)
from sessionlens.heatmap.signals import ClickFact, MoveFact
from sessionlens.index import Index, fact_arrays
from sessionlens.index import heatmaps as heatmap_queries
from sessionlens.index.fact_arrays import Grid
from sessionlens.session_search import FilterError

SITE = "s"
DAY = 86_400_000
T0 = 1_790_000_000_000 - 1_790_000_000_000 % DAY  # a UTC midnight
WIDTH, HEIGHT = 1000, 3000
URLS = [
    "https://shop.example/product/1",
    "https://shop.example/product/2?utm_source=news",
    "https://shop.example/blog/1",
]
# selector -> [x, y, w, h, hidden]: ints and floats as the backdrop cache holds them,
# 1 hidden and 2 scrolled out of view, a box partly off the page, one on cell edges.
BOXES: dict[str, list[float]] = {
    "#a": [10, 20, 300, 40, 0],
    "#b": [500.25, 1200.5, 120.75, 33.125, 0],
    "#edge": [0, 0, 8, 8, 0],
    "#wide": [900.0, 2990.0, 400.0, 50.0, 0],
    "#hid": [100, 100, 50, 50, 1],
    "#scrolled": [40.0, 700.0, 90.0, 20.0, 2],
}
# (selector, anchor): on a box, anchored to a visible box, anchor hidden / absent / none -> by position.
TARGETS = [
    ("#a", ""), ("#a", "#b"), ("#b", ""), ("#edge", ""), ("#wide", ""), ("#hid", ""), ("#scrolled", "#a"),
    ("#gone", "#a"), ("#gone", "#b"), ("#gone2", "#hid"), ("#gone3", ""), ("#gone4", "#missing"),
]  # fmt: skip


def _backdrop(boxes: dict[str, list[float]], inner_width: float = 1000.0) -> Backdrop:
    out = io.BytesIO()
    Image.new("RGB", (WIDTH, HEIGHT), (255, 255, 255)).save(out, "PNG")
    return Backdrop([out.getvalue()], boxes, WIDTH, HEIGHT, 800, HEIGHT, inner_width, HEIGHT)


def _page_view(
    conn: Any, sid: str, pid: str, t0: int, url: str, vw: float, vh: float, device: str | None
) -> None:
    conn.execute(
        "INSERT INTO page_views (site, sid, pid, t0, end_time, duration_ms, active_ms, url, vw, vh, device,"
        " chunks, events, clicks, inputs, errors, customs, navs, stored_bytes)"
        " VALUES (?, ?, ?, ?, ?, 1000, 1000, ?, ?, ?, ?, 1, 1, 0, 0, 0, 0, 0, 0)",
        (SITE, sid, pid, t0, t0 + 1000, url, vw, vh, device),
    )
    conn.execute("INSERT INTO page_urls (site, sid, pid, url) VALUES (?, ?, ?, ?)", (SITE, sid, pid, url))


@pytest.fixture
def seeded(index: Index) -> Index:
    rng = np.random.default_rng(11)
    views = []
    for i in range(24):
        t0 = T0 + (i % 3) * DAY + i * 1000
        vw = [1000.0, 1440.0, 390.0, 0.0][i % 4]  # 0: an unknown width, scaled as the backdrop's
        url = URLS[i % len(URLS)]
        clicks, moves = [], []
        for k in range(int(rng.integers(5, 40))):
            selector, anchor = TARGETS[int(rng.integers(0, len(TARGETS)))]
            fx, fy = (0.5, 0.5) if k == 0 else (float(rng.random()), float(rng.random()))
            clicks.append(
                ClickFact(
                    t=k * 100, url=url, selector=selector, fx=fx, fy=fy,
                    px=float(rng.uniform(-50, 1600)), py=float(rng.uniform(-50, 3200)), vw=vw, pw=1000.0,
                    ph=3000.0, tag="div", flags="", label="", anchor=anchor,
                    ax=float(rng.uniform(-20, 400)), ay=float(rng.uniform(-20, 60)),
                    rage=bool(rng.random() < 0.3), dead=bool(rng.random() < 0.3), error=bool(rng.random() < 0.2),
                )
            )  # fmt: skip
        for k in range(int(rng.integers(0, 30))):
            moves.append(
                MoveFact(
                    t=k * 50, url=url, x=float(rng.uniform(-10, 1500)), y=float(rng.uniform(-10, 3100)), vw=vw
                )
            )
        vh = [0.0, 640.0, 800.5, 900.0, 700.0][i % 5]  # 0: not recorded, left out of the median
        device = None if i % 7 == 6 else "mobile" if vw == 390.0 else "desktop"
        views.append((f"s{i}", f"p{i}", t0, url, vw, vh, device, clicks, moves))
    # Page views first, as ingest makes them before their clicks are derived.
    index.write(lambda conn: [_page_view(conn, *v[:7]) for v in views])
    for sid, pid, t0, _, _, _, _, clicks, moves in views:
        index.replace_clicks(SITE, sid, pid, t0, clicks, moves)
    return index


SELECTIONS = [
    Selection(SITE, "/product/*"),
    Selection(SITE, "https://shop.example/product/1"),
    Selection(SITE, "/*"),
    Selection(SITE, "/product/*", device="desktop"),
    Selection(SITE, "/*", min_width=400, max_width=1440),
    Selection(SITE, "/*", start=T0 + DAY, end=T0 + 3 * DAY),
]


def _grid(bd: Backdrop) -> Grid:
    return Grid(bd.width, bd.height, raster.SCALE, bd.inner_width or bd.width)


def _same_map(row_map: Any, column_map: Any) -> None:
    assert (row_map.counted, row_map.drawn, row_map.hidden, row_map.by_position) == (
        column_map.counted, column_map.drawn, column_map.hidden, column_map.by_position,
    )  # fmt: skip
    assert np.array_equal(row_map.values, column_map.values)
    # The same image: pixels, size and text chunks. Not the deflate bytes: one full-suite run saw
    # the two encodings of an empty map differ in bytes (never reproduced alone, 15 runs), and a
    # deflate stream is free to differ for the same rows.
    assert _pixels(row_map.png) == _pixels(column_map.png)


def _pixels(png: bytes) -> tuple[Any, ...]:
    with Image.open(io.BytesIO(png)) as image:
        return image.size, image.mode, dict(image.text), image.tobytes()


@pytest.mark.parametrize("kind", ["click", "rage", "dead", "error"])
@pytest.mark.parametrize("inner_width", [1000.0, 0.0])  # 0: the reference is the backdrop width (an int)
def test_click_maps_equal_the_row_path(seeded: Index, kind: str, inner_width: float) -> None:
    bd = _backdrop(BOXES, inner_width)
    for sel in SELECTIONS:
        rows = sel.clicks(seeded, kind)
        placed = fact_arrays.placed_clicks(seeded, sel, kind, bd.boxes, _grid(bd))
        reference = placed_rows(rows, bd)
        assert np.array_equal(np.sort(placed.cells), np.sort(reference.cells)), sel
        _same_map(_click_map(rows, bd, 30, kind, None, {}), _click_map(placed, bd, 30, kind, None, {}))
    everything = fact_arrays.placed_clicks(seeded, SELECTIONS[2], kind, bd.boxes, _grid(bd))
    assert everything.counted > 0 and everything.by_position > 0 and everything.drawn > everything.by_position


def test_clicks_on_hidden_elements_are_counted_not_drawn(seeded: Index) -> None:
    sel = Selection(SITE, "/*")
    rows = sel.clicks(seeded, "click")
    on_hidden = sum(1 for c in rows if c["selector"] in ("#hid", "#scrolled"))
    assert on_hidden > 0
    bd = _backdrop(BOXES)
    placed = fact_arrays.placed_clicks(seeded, sel, "click", bd.boxes, _grid(bd))
    assert placed.hidden == on_hidden and placed.drawn == len(rows) - on_hidden
    # Hide every box: the clicks on them are all counted as hidden; the rest fall back.
    hidden_all = {s: [*b[:4], 1] for s, b in BOXES.items()}
    placed = fact_arrays.placed_clicks(seeded, sel, "click", hidden_all, _grid(bd))
    xs, _, hidden, by_position = _place(rows, _backdrop(hidden_all))
    assert (placed.hidden, placed.by_position, placed.drawn) == (hidden, by_position, len(xs))
    assert placed.hidden == sum(1 for c in rows if c["selector"] in BOXES)


def test_a_backdrop_without_boxes_places_every_click_by_position(seeded: Index) -> None:
    sel = Selection(SITE, "/product/*")
    bd = _backdrop({})
    placed = fact_arrays.placed_clicks(seeded, sel, "click", {}, _grid(bd))
    rows = sel.clicks(seeded, "click")
    assert placed.by_position == placed.counted == len(rows) > 0
    _same_map(_click_map(rows, bd, 20, "click", None, {}), _click_map(placed, bd, 20, "click", None, {}))


def test_empty_selections(seeded: Index) -> None:
    bd = _backdrop(BOXES)
    for sel in (
        Selection(SITE, "/nothing/*"),
        Selection("other-site", "/*"),
        Selection(SITE, "/*", start=T0 + 9 * DAY),
    ):
        placed = fact_arrays.placed_clicks(seeded, sel, "click", bd.boxes, _grid(bd))
        assert (placed.counted, placed.drawn, placed.hidden, placed.by_position, placed.cells.size) == (
            0,
            0,
            0,
            0,
            0,
        )
        assert fact_arrays.click_targets(seeded, sel, "click") == {}
        moves = fact_arrays.placed_moves(seeded, sel, _grid(bd))
        assert moves.counted == 0 and moves.cells.dtype == np.int64 and moves.cells.size == 0
        _same_map(_click_map([], bd, 30, "click", None, {}), _click_map(placed, bd, 30, "click", None, {}))
        _same_map(_move_map([], bd, 30, {}), _move_map(moves, bd, 30, {}))


def test_move_maps_equal_the_row_path(seeded: Index) -> None:
    for inner_width in (1000.0, 0.0):
        bd = _backdrop(BOXES, inner_width)
        for sel in SELECTIONS:
            rows = sel.moves(seeded)
            placed = fact_arrays.placed_moves(seeded, sel, _grid(bd))
            assert placed.counted == len(rows)
            assert np.array_equal(np.sort(placed.cells), np.sort(placed_move_rows(rows, bd).cells))
            _same_map(_move_map(rows, bd, 30, {}), _move_map(placed, bd, 30, {}))
    assert fact_arrays.placed_moves(seeded, Selection(SITE, "/*"), _grid(bd)).counted > 0


def test_compare_maps_equal_the_row_path(seeded: Index) -> None:
    bd = _backdrop(BOXES)
    first, second = Selection(SITE, "/*", end=T0 + DAY), Selection(SITE, "/*", start=T0 + DAY)
    for kind in ("click", "rage"):
        rows = _click_map(first.clicks(seeded, kind), bd, 30, kind, second.clicks(seeded, kind), {})
        ours = fact_arrays.placed_clicks(seeded, first, kind, bd.boxes, _grid(bd))
        theirs = fact_arrays.placed_clicks(seeded, second, kind, bd.boxes, _grid(bd))
        assert ours.counted > 0 and theirs.counted > 0
        _same_map(rows, _click_map(ours, bd, 30, kind, theirs, {}))


def test_the_backdrop_measures_the_same_elements(seeded: Index) -> None:
    for sel in SELECTIONS:
        for kind in ("click", "error"):
            counted = fact_arrays.click_targets(seeded, sel, kind)
            assert counted == click_targets(sel.clicks(seeded, kind))
    wanted = wanted_selectors(fact_arrays.click_targets(seeded, Selection(SITE, "/*"), "click"))
    assert {"#a", "#b", "#gone", "#missing", "#hid"} <= set(wanted)  # targets and their anchors
    assert "" not in wanted


@pytest.mark.parametrize("limit", [1, 2, 3, 5, 500])
def test_the_elements_read_with_the_clicks_are_the_most_clicked(seeded: Index, limit: int) -> None:
    """read_clicks names the `limit` most clicked elements (targets and anchors) by their hashes,
    ties by path: wanted_selectors' choice, cut at `limit`."""
    for sel in SELECTIONS:
        for kind in ("click", "dead"):
            counts: dict[str, int] = {}
            for (selector, anchor), n in click_targets(sel.clicks(seeded, kind)).items():
                for path in (selector, anchor):
                    if path:
                        counts[path] = counts.get(path, 0) + n
            expected = [p for p, _ in sorted(counts.items(), key=lambda item: (-item[1], item[0]))][:limit]
            facts = fact_arrays.read_clicks(seeded, sel, kind, limit=limit)
            assert facts.wanted == expected, (sel, kind)
            assert facts.count == len(sel.clicks(seeded, kind))


def test_the_backdrop_page_view_and_class_height_are_those_chosen_from_every_page_view(seeded: Index) -> None:
    def outcome(fn: Any) -> Any:
        try:
            return fn()
        except (FilterError, LookupError) as exc:
            return type(exc)

    for sel in [*SELECTIONS, Selection(SITE, "/nothing/*")]:
        views = sel.page_views(seeded)
        for width in (390, 1000, 1200, 1440, 2000):
            for pid in (None, views[-1]["pid"] if views else "p0", "nope"):
                old = outcome(lambda: _backdrop_view(views, width, pid))  # noqa: B023
                new = outcome(lambda: _backdrop_view_in(seeded, sel, width, pid))  # noqa: B023
                if not isinstance(old, dict):
                    assert new is old
                    continue
                assert (new["sid"], new["pid"]) == (old["sid"], old["pid"])
                heights = sorted(
                    h for v in views if v.get("device") == old.get("device") if (h := v["vh"]) and h > 0
                )
                expected = statistics.median(heights) if heights else None
                assert heatmap_queries.median_view_height(seeded, sel, old.get("device")) == expected


def _mark_bots(index: Index, bots: set[str], humans: set[str]) -> None:
    def write(conn: Any) -> None:
        for sid in sorted(bots | humans):
            conn.execute(
                "INSERT INTO sessions (site, sid, start_time, end_time, duration_ms, active_ms, page_count, clicks,"
                " inputs, errors, customs, batches, stored_bytes, is_bot) VALUES (?, ?, ?, ?, 0, 0, 1, 0, 0, 0, 0, 1, 0, ?)",
                (SITE, sid, T0, T0, 1 if sid in bots else 0),
            )

    index.write(write)


@pytest.mark.parametrize("kind", ["click", "rage"])
def test_bots_left_out_equal_the_row_path(seeded: Index, kind: str) -> None:
    """placed_clicks and click_targets (click arrays) and the row path (click rows) leave bots
    out by session: the same counts, cells and targets, with bots excluded, only, and included
    (a bot's session on every page, one without clicks, humans with a sessions row)."""
    bots = {"s1", "s4", "s9", "s13", "s22", "s99"}
    _mark_bots(seeded, bots, {"s0", "s2", "s5"})
    bd = _backdrop(BOXES)
    seen = {"exclude": 0, "only": 0, "include": 0}
    for base in SELECTIONS:
        every = dataclasses.replace(base, bots="include").clicks(seeded, kind)
        for mode in ("exclude", "only", "include"):
            sel = dataclasses.replace(base, bots=mode)
            rows = sel.clicks(seeded, kind)
            expected = (
                every if mode == "include" else [r for r in every if (r["sid"] in bots) == (mode == "only")]
            )
            assert sorted(map(_key, rows)) == sorted(map(_key, expected)), (sel, mode)
            placed = fact_arrays.placed_clicks(seeded, sel, kind, bd.boxes, _grid(bd))
            reference = placed_rows(rows, bd)
            assert (placed.counted, placed.drawn, placed.hidden, placed.by_position) == (
                reference.counted, reference.drawn, reference.hidden, reference.by_position,
            ), (sel, mode)  # fmt: skip
            assert np.array_equal(np.sort(placed.cells), np.sort(reference.cells)), (sel, mode)
            assert fact_arrays.click_targets(seeded, sel, kind) == click_targets(rows), (sel, mode)
            seen[mode] += len(rows)
    assert seen["exclude"] > 0 and seen["only"] > 0 and seen["include"] == seen["exclude"] + seen["only"]


def _key(row: dict[str, Any]) -> tuple[Any, ...]:
    return (row["sid"], row["pid"], row["t"], row["selector"])


def test_boxes_found_by_search_when_hash_slots_collide(seeded: Index, monkeypatch: pytest.MonkeyPatch) -> None:
    """Boxes are looked up by the low bits of their hashes; keys sharing every slot size fall back
    to a search, which places the same."""
    keys = np.array([5, 5 + (1 << 22), 7 + (1 << 40)], dtype=np.int64)
    assert fact_arrays._slots(keys) is None
    assert fact_arrays._slots(keys[1:]) is not None
    bd = _backdrop(BOXES)
    sel = Selection(SITE, "/*")
    by_slots = fact_arrays.placed_clicks(seeded, sel, "click", bd.boxes, _grid(bd))
    monkeypatch.setattr(fact_arrays, "_slots", lambda keys: None)
    by_search = fact_arrays.placed_clicks(seeded, sel, "click", bd.boxes, _grid(bd))
    reference = placed_rows(sel.clicks(seeded, "click"), bd)
    for placed in (by_slots, by_search):
        assert (placed.counted, placed.drawn, placed.hidden, placed.by_position) == (
            reference.counted, reference.drawn, reference.hidden, reference.by_position,
        )  # fmt: skip
        assert np.array_equal(np.sort(placed.cells), np.sort(reference.cells))


def test_many_elements_clicked_once_are_not_all_named(index: Index) -> None:
    """Thousands of paths clicked once each (a hostile recorder can make them up): the backdrop is
    given `limit` of them, the most clicked first, without naming every one."""
    clicks = [
        ClickFact(t=k, url=URLS[0], selector=f"#x{k}", fx=0.5, fy=0.5, px=1.0, py=1.0, vw=1000.0, pw=1000.0,
                  ph=3000.0, tag="div", flags="", label="")
        for k in range(3000)
    ] + [
        ClickFact(t=3000 + k, url=URLS[0], selector="#hot", fx=0.5, fy=0.5, px=1.0, py=1.0, vw=1000.0,
                  pw=1000.0, ph=3000.0, tag="div", flags="", label="")
        for k in range(3)
    ]  # fmt: skip
    index.replace_clicks(SITE, "s1", "p1", T0, clicks)
    facts = fact_arrays.read_clicks(index, Selection(SITE, "/*"), "click", limit=10)
    assert facts.wanted[0] == "#hot" and len(facts.wanted) == 10
    assert set(facts.wanted[1:]) <= {f"#x{k}" for k in range(3000)}
    assert len(facts.names) <= 11  # the ten, and '' (no anchor): never all 3,001 paths
