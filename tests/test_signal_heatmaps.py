"""Heatmap types of the frustration signals that have a place (docs/heatmaps.md, docs/signals.md):
thrashed cursor at the centre of the thrashing, form errors on the first invalid field's box,
excessive scrolling as the depth band it happened in. Recorded through the real collector
(HTTP ingest, derivation worker), drawn over a real Chromium backdrop; both index backends
(new_collector takes each backend's index)."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import numpy as np
import pytest

from sessionlens.auth.users import Accounts
from sessionlens.cli import build_parser
from sessionlens.contracts import make_event, make_node
from sessionlens.heatmap import raster
from sessionlens.heatmap.render import KINDS, Selection
from sessionlens.index import fact_arrays
from sessionlens.index.fact_arrays import Grid
from sessionlens.index.heatmaps import signal_rows
from tests.helpers import new_id
from tests.live import LiveCollector, wait_until
from tests.viewer_live import add_viewer_user, post_batch

ORIGIN = "https://shop.example"
PAGE = f"{ORIGIN}/signup"
HUMAN_UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"
BOT_UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0 Safari/537.36"
VW, VH = 1280, 800
# The email field's box in the page (absolutely placed): its centre is where form errors go.
FIELD = (600, 900, 200, 40)
FIELD_CENTRE = (FIELD[0] + FIELD[2] / 2, FIELD[1] + FIELD[3] / 2)
THRASH_AT = (1050.0, 400.0)  # where the scripted cursor thrashes (centre of its turns)
BOT_THRASH_AT = (200.0, 1500.0)


def snapshot() -> list[Any]:
    """A signup form with an email field far from the thrashing, on a tall page."""
    left, top, w, h = FIELD
    nodes = [
        make_node("document", id=1),
        make_node("doctype", id=2, parent=1, name="html", publicId="", systemId=""),
        make_node("element", id=3, parent=1, tag="html", attrs={}),
        make_node("element", id=4, parent=3, tag="body", attrs={"style": "margin:0;height:3000px"}),
        make_node("element", id=5, parent=4, tag="form", attrs={"id": "signup"}),
        make_node(
            "element",
            id=6,
            parent=5,
            tag="input",
            attrs={
                "name": "email",
                "style": f"position:absolute;left:{left}px;top:{top}px;width:{w}px;height:{h}px;"
                "box-sizing:border-box;margin:0",
            },
        ),  # fmt: skip
        make_node("element", id=7, parent=5, tag="button", attrs={"id": "go", "style": "margin:20px"}),
        make_node("text", id=8, parent=7, text="Sign up"),
    ]
    return make_event("snapshot", t=5, part=0, last=True, nodes=nodes)


def meta(bot: bool) -> list[Any]:
    return make_event(
        "meta", t=0, url=PAGE, referrer="", title="Sign up", vw=VW, vh=VH, sw=VW, sh=VH + 100, dpr=1,
        ua=BOT_UA if bot else HUMAN_UA, lang="en-US", tz="UTC", lw=VW, lh=VH, vs=1, touch=0,
        webdriver=1 if bot else 0, brands="Chromium;Google Chrome",
    )  # fmt: skip


def thrash(start: int, at: tuple[float, float]) -> list[list[Any]]:
    # Left-right 300 px every 50 ms (6000 px/s): a sharp turn at each sample, centred on `at`.
    x, y = at
    return [
        make_event("move", t=start + i * 50, x=x - 150 + (300 if i % 2 else 0), y=y, target=4)
        for i in range(16)
    ]


def reversing_scrolls(start: int) -> list[list[Any]]:
    # down, up, down, up, down between ~1000 and ~2000: 4 reversals in 2.5 s
    return [
        make_event("scroll", t=start + i * 500, target=None, x=0, y=y, sw=VW, sh=3000)
        for i, y in enumerate((1000, 2000, 1000, 2000, 1000, 2100))
    ]


def calm(start: int) -> list[list[Any]]:
    """Reads down the page, moves slowly, no submit: no signal."""
    events = [
        make_event("scroll", t=start + i * 400, target=None, x=0, y=i * 300, sw=VW, sh=3000) for i in range(6)
    ]
    events += [make_event("move", t=start + i * 50, x=100 + i * 8, y=300, target=4) for i in range(30)]
    return sorted(events, key=lambda e: e[1])


def visit(kind: str) -> list[list[Any]]:
    events = [meta(kind == "bot"), snapshot()]
    if kind == "frustrated":
        events += thrash(1_000, THRASH_AT)
        # Submit blocked: the email field invalid at the attempt (target 6).
        events.append(make_event("submit", t=3_000, target=7, form="signup", invalid=[[6, "Email"]]))
        events += reversing_scrolls(5_000)
    elif kind == "bot":
        events += thrash(1_000, BOT_THRASH_AT)
    else:
        events += calm(1_000)
    return events


@pytest.fixture(scope="module")
def rig(
    tmp_path_factory: pytest.TempPathFactory, new_collector: Callable[..., LiveCollector]
) -> Iterator[dict]:
    collector = new_collector(Path(tmp_path_factory.mktemp("signals")) / "data")
    collector.start()
    site = collector.add_site(ORIGIN)
    add_viewer_user(collector)
    token = Accounts(collector.store).create_token("researcher", "tests", scope="read")
    t0 = int(time.time() * 1000) - 3_600_000
    sids = {}
    for i, kind in enumerate(("frustrated", "calm", "bot")):
        sids[kind] = new_id()
        body = {
            "v": 1,
            "sid": sids[kind],
            "pid": new_id(),
            "seq": 0,
            "t0": t0 + i * 60_000,
            "events": visit(kind),
        }
        post_batch(collector, site, ORIGIN, body)
    # Derived after ingest: 3 signals of the frustrated visitor, 1 of the bot.
    wait_until(
        lambda: len(collector.index_rows("SELECT 1 FROM session_signals")) >= 4, timeout=60, message="signals"
    )
    yield {"collector": collector, "site": site, "token": token, "sids": sids}
    collector.stop()


def call(rig: dict, path: str, **params: Any) -> tuple[int, bytes]:
    query = urlencode([("site", rig["site"].key), ("url", "/signup"), ("width", VW), *params.items()])
    request = urllib.request.Request(
        f"{rig['collector'].url}{path}?{query}", headers={"Authorization": f"Bearer {rig['token']}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=120) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def summary(rig: dict, **params: Any) -> dict[str, Any]:
    status, body = call(rig, "/api/heatmaps/image", format="json", **params)
    assert status == 200, body
    return json.loads(body)


def test_signals_derived_where_scripted(rig: dict) -> None:
    rows = rig["collector"].index_rows("SELECT sid, kind, x, y, target FROM session_signals ORDER BY kind")
    by_sid: dict[str, list[dict]] = {}
    for r in rows:
        by_sid.setdefault(r["sid"], []).append(r)
    assert rig["sids"]["calm"] not in by_sid  # a calm session adds nothing
    mine = {r["kind"]: r for r in by_sid[rig["sids"]["frustrated"]]}
    assert set(mine) == {"thrash", "form_error", "excessive_scroll"}
    # The field's path from its nearest ancestor with an id, as the backdrop finds it again.
    assert mine["form_error"]["target"] == "#signup>input:nth-of-type(1)"
    assert abs(mine["thrash"]["x"] - THRASH_AT[0]) < 40 and mine["thrash"]["y"] == THRASH_AT[1]


@pytest.mark.parametrize("kind", ["thrash", "form_error"])
def test_the_hottest_cell_is_the_scripted_spot(rig: dict, kind: str) -> None:
    s = summary(rig, type=kind)
    assert s["type"] == kind and s["counted"] == 1 and s["drawn"] == 1  # the bot's thrash left out
    x, y = s["hottest"]
    want = THRASH_AT if kind == "thrash" else FIELD_CENTRE
    assert abs(x - want[0]) <= 40 and abs(y - want[1]) <= 40, (x, y, want)
    name = "thrashed-cursor episode" if kind == "thrash" else "form error (submit attempts with invalid fields)"
    assert s["legend"]["title"].startswith(f"1 {name} on 2 page views")


def test_excessive_scrolling_is_a_depth_band(rig: dict) -> None:
    s = summary(rig, type="excessive_scroll")
    assert s["counted"] == 1 and s["legend"]["title"].startswith("1 excessive-scrolling episode on ")
    top, bottom = s["legend"]["band"]
    # The window the reversals happened in: around scroll y 2100 (+ half the 800 px window).
    assert top <= 2100 + VH / 2 <= bottom and bottom - top <= VH + 40


def test_bots_are_left_out_by_default_and_included_on_request(rig: dict) -> None:
    assert summary(rig, type="thrash")["counted"] == 1
    s = summary(rig, type="thrash", bots="include")
    assert s["counted"] == 2
    assert summary(rig, type="thrash", bots="only")["counted"] == 1


def test_a_bad_type_is_a_400_naming_type(rig: dict) -> None:
    status, body = call(rig, "/api/heatmaps/image", type="quick_back")
    assert status == 400 and "type" in json.loads(body)["error"]


def test_the_cli_offers_every_type() -> None:
    parser = build_parser()
    heatmap = parser._subparsers._group_actions[0].choices["heatmap"]  # noqa: SLF001 - argparse has no API
    [action] = [a for a in heatmap._actions if a.dest == "type"]  # noqa: SLF001
    assert list(action.choices) == list(KINDS)


def test_sql_placement_equals_placing_the_rows(rig: dict) -> None:
    """The index places and bins signals in SQL; the same rows placed in Python give the same cells
    (thrash: page position scaled by the page view's width; excessive scrolling: its window's rows)."""
    index = rig["collector"].index
    grid = Grid(VW + 20, 3000, raster.SCALE, 700.0)  # a backdrop narrower than the visitors' window
    for bots in ("exclude", "include"):
        sel = Selection.from_query({"site": rig["site"].key, "url": "/signup", "device": "any", "bots": bots})
        rows = signal_rows(index, sel, "thrash")
        xs = np.asarray([r["x"] * grid.reference / (r["vw"] or grid.reference) for r in rows])
        ys = np.asarray([r["y"] * grid.reference / (r["vw"] or grid.reference) for r in rows])
        placed = fact_arrays.placed_thrashes(index, sel, grid)
        assert placed.counted == len(rows) == (1 if bots == "exclude" else 2)
        assert sorted(placed.cells.tolist()) == sorted(raster.cells(xs, ys, grid.width, grid.height).tolist())
        [scroll] = signal_rows(index, sel, "excessive_scroll")
        ratio = grid.reference / scroll["vw"]
        mid, half = scroll["y"] * ratio, scroll["vh"] * ratio / 2
        first, last = fact_arrays.scroll_bands(index, sel, grid)
        assert (first.tolist(), last.tolist()) == (
            [int((mid - half) / grid.scale)],
            [int((mid + half) / grid.scale)],
        )
