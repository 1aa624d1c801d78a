"""Frustration signals beside rage, dead and error clicks: quick back, excessive scrolling,
thrashed cursor and form errors, found by the derivation pass from ingested batches, with
their known false positives left out; counts and the frustration score on sessions; the
same rows after `reindex`. Both index backends (conftest)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from starlette.testclient import TestClient

from sessionlens.app import create_app
from sessionlens.contracts import make_event, make_node
from sessionlens.heatmap.frustration import frustration_score
from sessionlens.index import Index
from sessionlens.index.attributes import session_signals
from sessionlens.reindex import reindex
from sessionlens.settings import Settings
from sessionlens.sites import Site
from sessionlens.stores.local import LocalStore
from tests.helpers import click_event, meta_event, new_id, settings_with

ORIGIN = "https://shop.example"
UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"
CANVAS, CAROUSEL = 7, 8


def snapshot() -> list[Any]:
    nodes = [
        make_node("document", id=1),
        make_node("doctype", id=2, parent=1, name="html", publicId="", systemId=""),
        make_node("element", id=3, parent=1, tag="html", attrs={}),
        make_node("element", id=4, parent=3, tag="body", attrs={}),
        make_node("element", id=5, parent=4, tag="button", attrs={"id": "buy"}),
        make_node("text", id=6, parent=5, text="Get my quote"),
        make_node("element", id=CANVAS, parent=4, tag="canvas", attrs={"id": "sketch"}),
        make_node("element", id=CAROUSEL, parent=4, tag="div", attrs={"class": "carousel"}),
    ]
    return make_event("snapshot", t=5, part=0, last=True, nodes=nodes)


def page(url: str = f"{ORIGIN}/") -> list[list[Any]]:
    return [meta_event(0, url), snapshot()]


def scroll(t: int, y: float, target: int | None = None) -> list[Any]:
    return make_event("scroll", t=t, target=target, x=0, y=y, sw=1280, sh=6000)


def move(t: int, x: float, y: float, target: int | None = None) -> list[Any]:
    return make_event("move", t=t, x=x, y=y, target=target)


def reversing_scrolls(start: int, target: int | None = None) -> list[list[Any]]:
    # down, up, down, up, down: 4 reversals of ~1000 px within 2.5 s
    return [scroll(start + i * 500, y, target) for i, y in enumerate((0, 1000, 100, 1100, 50, 1200))]


def shaking(start: int, target: int | None = None, step: float = 300) -> list[list[Any]]:
    # left-right every 50 ms: 6000 px/s at step 300, a sharp turn at each sample
    return [move(start + i * 50, 200 + (step if i % 2 else 0), 300, target) for i in range(16)]


def calm(start: int = 100) -> list[list[Any]]:
    """What a calm visitor does: reads down the page, moves smoothly, clicks once (and it works)."""
    events = [scroll(start + i * 400, i * 300) for i in range(8)]
    events += [move(start + i * 50, 100 + i * 8, 300) for i in range(30)]
    events += [
        click_event(start + 2_000),
        make_event("nav", t=start + 2_100, url=f"{ORIGIN}/next", how="push", title="Next"),
    ]
    return sorted(events, key=lambda e: e[1])


class Visits:
    def __init__(self, client: TestClient, site: Site, app: Any) -> None:
        self.client, self.site, self.app = client, site, app
        self.t0 = int(time.time() * 1000) - 3_600_000

    def page_view(self, sid: str, events: list[list[Any]], start: int = 0) -> str:
        pid = new_id()
        body = {"v": 1, "sid": sid, "pid": pid, "seq": 0, "t0": self.t0 + start, "events": events}
        response = self.client.post(f"/ingest/{self.site.key}", content=orjson.dumps(body))
        assert response.status_code == 200, response.text
        return pid

    def session(self, *page_views: tuple[list[list[Any]], int]) -> str:
        sid = new_id()
        for events, start in page_views:
            self.page_view(sid, events, start)
        self.app.state.derivation.drain()
        return sid

    def signals(self, sid: str) -> list[dict[str, Any]]:
        return session_signals(self.app.state.index, self.site.key, sid)

    def kinds(self, sid: str) -> list[str]:
        return sorted(s["kind"] for s in self.signals(sid))


@pytest.fixture
def visits(settings: Settings, store: LocalStore, index: Index, site: Site) -> Iterator[Visits]:
    app = create_app(settings_with(settings, derivation_worker=False), store=store, index=index)
    with TestClient(app, headers={"Origin": ORIGIN, "User-Agent": UA}) as client:
        yield Visits(client, site, app)


def test_a_calm_session_has_no_signal_and_score_zero(visits: Visits, index: Index) -> None:
    sid = visits.session((page() + calm(), 0), (page(f"{ORIGIN}/next"), 60_000))
    assert visits.kinds(sid) == []
    row = index.session(sid)
    assert row["frustration_score"] == 0 and row["quick_backs"] == row["thrashes"] == 0


def test_quick_back_between_page_loads_and_inside_a_single_page_app(visits: Visits, index: Index) -> None:
    # Full page loads: list -> product -> list again 3 s later.
    sid = visits.session(
        (page(f"{ORIGIN}/products"), 0),
        (page(f"{ORIGIN}/product/1"), 20_000),
        (page(f"{ORIGIN}/products"), 23_000),
    )
    [signal] = visits.signals(sid)
    assert (signal["kind"], signal["selector"], signal["url"], signal["label"]) == (
        "quick_back", "page", f"{ORIGIN}/product/1", f"{ORIGIN}/products",
    )  # fmt: skip
    assert index.session(sid)["quick_backs"] == 1
    flagged = index.query("SELECT url FROM page_views WHERE sid = ? AND quick_back = 1", (sid,))
    assert [r["url"] for r in flagged] == [f"{ORIGIN}/product/1"]
    # Inside a page view: /app -> /app/settings -> back (popstate) 2 s later.
    spa = visits.session(
        (
            [
                *page(f"{ORIGIN}/app"),
                make_event("nav", t=1_000, url=f"{ORIGIN}/app/settings", how="push", title=""),
                make_event("nav", t=3_000, url=f"{ORIGIN}/app", how="pop", title=""),
            ],
            0,
        )
    )
    assert [(s["kind"], s["selector"], s["t"]) for s in visits.signals(spa)] == [
        ("quick_back", "route", 3_000)
    ]


def test_quick_back_false_positives_are_left_out(visits: Visits) -> None:
    slow = visits.session(  # came back, but after 30 s: read the page
        (page(f"{ORIGIN}/products"), 0),
        (page(f"{ORIGIN}/product/1"), 5_000),
        (page(f"{ORIGIN}/products"), 35_000),
    )
    anchors = visits.session(  # in-page anchors and a reload are the same page
        (
            [
                *page(f"{ORIGIN}/faq"),
                make_event("nav", t=500, url=f"{ORIGIN}/faq#shipping", how="hash", title=""),
                make_event("nav", t=900, url=f"{ORIGIN}/faq", how="pop", title=""),
            ],
            0,
        ),
        (page(f"{ORIGIN}/faq"), 2_000),
        (page(f"{ORIGIN}/faq#returns"), 3_000),
    )
    redirect = visits.session(  # a route replaced (redirect) is not a visit of its own
        (
            [
                *page(f"{ORIGIN}/app"),
                make_event("nav", t=500, url=f"{ORIGIN}/app/login", how="replace", title=""),
                make_event("nav", t=900, url=f"{ORIGIN}/app", how="push", title=""),
            ],
            0,
        )
    )
    hash_routes = visits.session(  # hash routes (#/) are pages: this one is a quick back
        (
            [
                *page(f"{ORIGIN}/#/list"),
                make_event("nav", t=500, url=f"{ORIGIN}/#/item/3", how="hash", title=""),
                make_event("nav", t=900, url=f"{ORIGIN}/#/list", how="hash", title=""),
            ],
            0,
        )
    )
    assert visits.kinds(slow) == visits.kinds(anchors) == visits.kinds(redirect) == []
    assert visits.kinds(hash_routes) == ["quick_back"]


def test_excessive_scrolling_on_the_window_only_and_not_across_clicks(visits: Visits) -> None:
    sid = visits.session((page() + reversing_scrolls(1_000), 0))
    [signal] = visits.signals(sid)
    assert signal["kind"] == "excessive_scroll" and signal["x"] is None and signal["y"] > 0
    carousel = visits.session((page() + reversing_scrolls(1_000, target=CAROUSEL), 0))
    events = reversing_scrolls(1_000)
    events.insert(3, click_event(1_900))  # reversals split by a click: two short bursts
    clicked = visits.session((page() + events, 0))
    jitter = visits.session(
        (page() + [scroll(1_000 + i * 200, 500 + (40 if i % 2 else 0)) for i in range(20)], 0)
    )
    assert visits.kinds(carousel) == visits.kinds(clicked) == visits.kinds(jitter) == []


def test_thrashed_cursor_but_not_while_drawing_or_moving_slowly(visits: Visits) -> None:
    sid = visits.session((page() + shaking(1_000), 0))
    [signal] = visits.signals(sid)
    assert signal["kind"] == "thrash" and 200 <= signal["x"] <= 500 and signal["y"] == 300
    drawing = visits.session((page() + shaking(1_000, target=CANVAS), 0))
    slow = visits.session((page() + shaking(1_000, step=20), 0))  # 400 px/s
    assert visits.kinds(drawing) == visits.kinds(slow) == []


def test_form_errors_after_a_submit_attempt(visits: Visits) -> None:
    at_submit = visits.session(
        (page() + [make_event("submit", t=1_000, target=5, form="signup", invalid=[[9, "Email"]])], 0)
    )
    [signal] = visits.signals(at_submit)
    assert (signal["kind"], signal["selector"], signal["label"]) == ("form_error", "signup", "signup: Email")
    after = visits.session(
        (
            page()
            + [
                make_event("submit", t=1_000, target=5, form="signup", invalid=[]),
                make_event("invalid", t=1_400, target=9, field="Password", reason="error-text"),
                make_event("invalid", t=1_500, target=9, field="Password", reason="aria-invalid"),
            ],
            0,
        )
    )
    assert [s["label"] for s in visits.signals(after)] == ["signup: Password"]
    typing = visits.session(  # shown invalid while typing, no submit attempt: not a form error
        (page() + [make_event("invalid", t=800, target=9, field="Email", reason="invalid")], 0)
    )
    late = visits.session(  # an error shown long after the attempt is not its answer
        (
            page()
            + [
                make_event("submit", t=1_000, target=5, form="signup", invalid=[]),
                make_event("invalid", t=9_000, target=9, field="Email", reason="invalid"),
            ],
            0,
        )
    )
    assert visits.kinds(typing) == visits.kinds(late) == []


def test_counts_and_score_order_sessions_as_scripted(visits: Visits, index: Index, store: LocalStore) -> None:
    rage = [click_event(5_000 + i * 150) for i in range(4)]  # 4 rage (and dead) clicks
    worst = visits.session(
        (page(f"{ORIGIN}/products") + reversing_scrolls(1_000) + shaking(3_000) + rage, 0),
        (page(f"{ORIGIN}/product/1"), 20_000),
        (page(f"{ORIGIN}/products"), 22_000),
    )
    middle = visits.session(
        (
            page()
            + shaking(1_000)
            + [make_event("submit", t=3_000, target=5, form="f", invalid=[[9, "Email"]])],
            0,
        )
    )
    mild = visits.session((page() + reversing_scrolls(1_000), 0))
    calm_sid = visits.session((page() + calm(), 0))
    rows = {sid: index.session(sid) for sid in (worst, middle, mild, calm_sid)}
    w = rows[worst]
    assert (w["rage_clicks"], w["quick_backs"], w["excessive_scrolls"], w["thrashes"]) == (4, 1, 1, 1)
    assert w["dead_clicks"] == 4 and w["form_errors"] == 0
    counts = {"rage": 4, "dead": 4, "quick_back": 1, "excessive_scroll": 1, "thrash": 1}
    assert w["frustration_score"] == frustration_score(counts)
    scores = [rows[s]["frustration_score"] for s in (worst, middle, mild, calm_sid)]
    assert scores == sorted(scores, reverse=True) and scores[-1] == 0 and len(set(scores)) == 4
    assert all(0 <= s <= 100 for s in scores)
    before = {
        t: sorted(map(str, index.query(f"SELECT * FROM {t}")))
        for t in ("session_signals", "sessions", "page_views")
    }  # noqa: S608
    reindex(store, index)
    after = {
        t: sorted(map(str, index.query(f"SELECT * FROM {t}")))
        for t in ("session_signals", "sessions", "page_views")
    }  # noqa: S608
    assert after == before


def test_score_is_bounded_and_monotone() -> None:
    assert frustration_score({}) == 0
    assert frustration_score({"dead": 1}) < frustration_score({"rage": 1}) < frustration_score({"rage": 2})
    assert (
        frustration_score({k: 10**9 for k in ("rage", "dead", "error_click", "quick_back", "thrash")}) <= 100
    )
    assert frustration_score({"rage": -5}) == 0
