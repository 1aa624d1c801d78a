"""Clicks and submits the recorder leaves unnamed get their names in the index through the real
ingest and derivation worker, chunk by chunk (the kept replay carries the DOM between passes),
and a reindex from storage writes the same rows; clicks named by older recorders keep theirs."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from starlette.testclient import TestClient

from sessionlens.app import create_app
from sessionlens.contracts import make_event, make_node
from sessionlens.index import Index
from sessionlens.reindex import reindex
from sessionlens.settings import Settings
from sessionlens.sites import Site
from sessionlens.stores.local import LocalStore
from tests.helpers import new_id, settings_with

ORIGIN = "https://shop.example"
HUMAN_UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"


def meta() -> list[Any]:
    return make_event(
        "meta", t=0, url=f"{ORIGIN}/plans", referrer="", title="Plans", vw=1280, vh=800, sw=1920, sh=1080, dpr=1,
        ua=HUMAN_UA, lang="en", tz="UTC", lw=1280, lh=800, vs=1, touch=0, webdriver=0, brands="Chromium",
    )  # fmt: skip


def element(node_id: int, parent: int, tag: str, attrs: dict[str, str] | None = None) -> list[Any]:
    return make_node("element", id=node_id, parent=parent, tag=tag, attrs=attrs or {})


def text(node_id: int, parent: int, value: str) -> list[Any]:
    return make_node("text", id=node_id, parent=parent, text=value)


SNAPSHOT = [
    make_node("document", id=1),
    element(2, 1, "html"),
    element(3, 2, "body"),
    element(4, 3, "ul", {"class": "plans"}),
    element(5, 4, "li", {"class": "plan"}),
    element(6, 5, "button", {"class": "pick"}),
    text(7, 6, "Basic 9 EUR"),
    element(8, 4, "li", {"class": "plan"}),
    element(9, 8, "button", {"class": "pick"}),
    text(10, 9, "Pro 29 EUR"),
    element(11, 3, "form", {"class": "signup"}),
    element(12, 11, "label", {"for": "mail"}),
    text(13, 12, "Work e-mail"),
    element(14, 11, "input", {"id": "mail", "name": "email"}),
]


def click(t: int, target: int, offsets: list[int], selector: str = "") -> list[Any]:
    return make_event(
        "click", t=t, target=target, selector=selector, fx=0.5, fy=0.5, px=100, py=200, cx=100, cy=200, button=0,
        pointer="mouse", pw=1280, ph=2000, tag="button", flags="", control="", text="", anchor="", ax=0, ay=0,
        offsets=offsets,
    )  # fmt: skip


@pytest.fixture
def app_client(
    settings: Settings, store: LocalStore, index: Index, site: Site
) -> Iterator[tuple[TestClient, Any]]:
    quiet = settings_with(settings, derivation_worker=False)
    app = create_app(quiet, store=store, index=index)
    with TestClient(app, headers={"Origin": ORIGIN, "User-Agent": HUMAN_UA}) as client:
        yield client, app


def rows(index: Index, sid: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    clicks = index.query(
        "SELECT t, selector, control, text, anchor, ax, ay FROM clicks WHERE sid = ? ORDER BY t", (sid,)
    )
    submits = index.query("SELECT t, form, invalid FROM form_submits WHERE sid = ? ORDER BY t", (sid,))
    return clicks, submits


def test_names_follow_the_dom_across_chunks_and_a_reindex_agrees(
    app_client: tuple[TestClient, Any], site: Site, index: Index, store: LocalStore
) -> None:
    client, app = app_client
    sid, pid, t0 = new_id(), new_id(), int(time.time() * 1000) - 60_000
    chunks = [
        [meta(), make_event("snapshot", t=5, part=0, last=True, nodes=SNAPSHOT), click(100, 9, [9, 3, 4, 8, 5, 6, 4, 7, 8])],
        [
            # A third plan arrives; the click on Pro is named on the DOM as it is now.
            make_event("mutation", t=150, removes=[], adds=[element(20, 4, "li", {"class": "plan"}), element(21, 20, "button", {"class": "pick"}), text(22, 21, "Team 99 EUR")], attrs=[], texts=[]),
            click(200, 21, [21, 1, 2, 20, 3, 4]),
            make_event("submit", t=300, target=11, form="", invalid=[[14, ""]]),
        ],
        [click(400, 6, [6, 1, 1], selector="ul>li.legacy")],  # an older recorder's click: kept
    ]  # fmt: skip
    for seq, events in enumerate(chunks):
        body = {"v": 1, "sid": sid, "pid": pid, "seq": seq, "t0": t0, "events": events}
        response = client.post(f"/ingest/{site.key}", content=orjson.dumps(body))
        assert response.status_code == 200, response.text
        app.state.derivation.drain()  # each chunk derived on its own: the kept replay continues
    clicks, submits = rows(index, sid)
    assert [(c["selector"], c["control"], c["text"], c["anchor"], c["ax"], c["ay"]) for c in clicks] == [
        ("body>ul.plans>li.plan:text(Pro)>button.pick", "body>ul.plans>li.plan:text(Pro)>button.pick",
         "Pro 29 EUR", "body>ul.plans>li.plan:text(Pro)", 5, 6),
        ("body>ul.plans>li.plan:text(Team)>button.pick", "body>ul.plans>li.plan:text(Team)>button.pick",
         "Team 99 EUR", "body>ul.plans>li.plan:text(Team)", 3, 4),
        ("ul>li.legacy", "", "", "", 0, 0),
    ]  # fmt: skip
    assert [(s["form"], s["invalid"]) for s in submits] == [("body>form.signup", 1)]
    before = rows(index, sid)
    reindex(store, index)
    assert rows(index, sid) == before


def test_nul_in_a_recorded_name_or_path_is_left_out_of_the_index(
    app_client: tuple[TestClient, Any], site: Site, index: Index
) -> None:
    """PostgreSQL text cannot hold NUL: a page's script (a button's text) or a forged batch (a path
    sent by a recorder) putting one there must not stop the page view's derivation."""
    client, app = app_client
    sid, pid, t0 = new_id(), new_id(), int(time.time() * 1000) - 60_000
    nodes = [*SNAPSHOT[:5], element(6, 5, "button", {"class": "pick"}), text(7, 6, "Ba\x00sic")]
    events = [
        meta(),
        make_event("snapshot", t=5, part=0, last=True, nodes=nodes),
        click(100, 6, [6, 1, 1]),
        click(200, 6, [6, 1, 1], selector="ul>li\x00.forged"),
    ]
    body = {"v": 1, "sid": sid, "pid": pid, "seq": 0, "t0": t0, "events": events}
    assert client.post(f"/ingest/{site.key}", content=orjson.dumps(body)).status_code == 200
    app.state.derivation.drain()
    clicks, _ = rows(index, sid)
    assert [(c["selector"], c["text"]) for c in clicks] == [
        ("body>ul.plans>li.plan>button.pick", "Basic"),
        ("ul>li.forged", ""),
    ]
