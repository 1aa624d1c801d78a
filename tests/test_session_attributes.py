"""Who the visitor was and where they came from: session attributes through ingest and
derivation (channel, country, language, time zone, visit number, bots, page speed,
traits, props, experiments, custom events), and `reindex` rebuilding the same rows.
Both index backends (conftest)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from starlette.testclient import TestClient

from sessionlens import codec, keys
from sessionlens.app import create_app
from sessionlens.contracts import make_event
from sessionlens.index import Index
from sessionlens.index.attributes import session_attrs, session_custom_events
from sessionlens.index.lifecycle import delete_sessions
from sessionlens.lifecycle.erase import remove_sessions
from sessionlens.reindex import reindex
from sessionlens.settings import Settings
from sessionlens.sites import Site
from sessionlens.stores.local import LocalStore
from tests.helpers import click_event, new_id, settings_with, snapshot_event

ORIGIN = "https://shop.example"
HUMAN_UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"
NEW_TABLES = ("session_attrs", "custom_events", "custom_event_props", "session_signals")


def meta(
    url: str = f"{ORIGIN}/",
    referrer: str = "",
    ua: str = HUMAN_UA,
    lang: str = "de-DE",
    tz: str = "Europe/Berlin",
    webdriver: int = 0,
    brands: str = "Chromium;Google Chrome",
) -> list[Any]:
    return make_event(
        "meta", t=0, url=url, referrer=referrer, title="Shop", vw=1280, vh=800, sw=1920, sh=1080, dpr=1,
        ua=ua, lang=lang, tz=tz, lw=1280, lh=800, vs=1, touch=0, webdriver=webdriver, brands=brands,
    )  # fmt: skip


class Visits:
    """Posts batches as a browser would, and drives the derivation worker."""

    def __init__(self, client: TestClient, site: Site, app: Any) -> None:
        self.client, self.site, self.app = client, site, app
        self.t0 = int(time.time() * 1000) - 3_600_000

    def page_view(
        self,
        sid: str,
        events: list[list[Any]],
        *,
        start: int = 0,
        vid: str | None = None,
        headers: dict[str, str] | None = None,
        pid: str | None = None,
        seq: int = 0,
    ) -> str:
        pid = pid or new_id()
        body: dict[str, Any] = {
            "v": 1,
            "sid": sid,
            "pid": pid,
            "seq": seq,
            "t0": self.t0 + start,
            "events": events,
        }
        if vid:
            body["vid"] = vid
        response = self.client.post(
            f"/ingest/{self.site.key}", content=orjson.dumps(body), headers=headers or {}
        )
        assert response.status_code == 200, response.text
        return pid

    def derive(self) -> None:
        self.app.state.derivation.drain()


@pytest.fixture
def visits(settings: Settings, store: LocalStore, index: Index, site: Site) -> Iterator[Visits]:
    quiet = settings_with(settings, derivation_worker=False, country_header="CF-IPCountry")
    app = create_app(quiet, store=store, index=index)
    with TestClient(app, headers={"Origin": ORIGIN, "User-Agent": HUMAN_UA}) as client:
        yield Visits(client, site, app)


def session(index: Index, sid: str) -> dict[str, Any]:
    row = index.session(sid)
    assert row is not None
    return row


def human(t: int = 100) -> list[list[Any]]:
    return [snapshot_event(5), click_event(t)]


def test_channel_language_timezone_landing_exit_and_page_speed(visits: Visits, index: Index) -> None:
    sid = new_id()
    landing = f"{ORIGIN}/?utm_source=google&utm_medium=cpc&utm_campaign=spring"
    first = visits.page_view(
        sid,
        [
            meta(landing, referrer="https://www.google.com/"),
            *human(),
            make_event("timing", t=900, name="lcp", value=1800),
            make_event("timing", t=950, name="cls", value=0.02),
            make_event("timing", t=2000, name="lcp", value=2400),  # a later, larger candidate
        ],
    )
    second = visits.page_view(
        sid,
        [
            meta(f"{ORIGIN}/cart", referrer=landing),
            *human(),
            make_event("timing", t=500, name="inp", value=350),
            make_event("timing", t=600, name="cls", value=0.31),
            make_event("nav", t=700, url=f"{ORIGIN}/checkout", how="push", title="Checkout"),
        ],
        start=5_000,
    )
    row = session(index, sid)
    assert row["channel"] == "paid_search"
    assert (row["language"], row["timezone"]) == ("de-DE", "Europe/Berlin")
    assert row["entry_url"] == landing and row["exit_url"] == f"{ORIGIN}/checkout"
    assert (row["lcp_ms"], row["cls"], row["inp_ms"]) == (2400, 0.31, 350)  # the worst page view's
    views = {v["pid"]: v for v in index.query("SELECT * FROM page_views WHERE sid = ?", (sid,))}
    assert (views[first]["lcp_ms"], views[first]["cls"], views[first]["inp_ms"]) == (2400, 0.02, None)
    assert (views[second]["lcp_ms"], views[second]["inp_ms"]) == (None, 350)
    assert views[second]["exit_url"] == f"{ORIGIN}/checkout"
    assert row["is_bot"] == 0 and row["bot_reason"] is None


def test_country_only_from_the_configured_header(
    visits: Visits, index: Index, store: LocalStore, settings: Settings, site: Site
) -> None:
    cases = {"de": "DE", "FR": "FR", "XX": "unknown", "ZZZ": "unknown", "1A": "unknown", "": "unknown"}
    for sent, expected in cases.items():
        sid = new_id()
        pid = visits.page_view(sid, [meta(), *human()], headers={"CF-IPCountry": sent})
        assert session(index, sid)["country"] == expected
        chunk = codec.decode(store.get(keys.chunk_key(keys.ChunkAddress(site.key, sid, pid, 0))))
        assert chunk["geo"] == {"country": expected}
    # No header configured: a header the visitor sends is not trusted, and nothing is stored.
    app = create_app(settings_with(settings, derivation_worker=False), store=store, index=index)
    with TestClient(app, headers={"Origin": ORIGIN, "User-Agent": HUMAN_UA}) as client:
        sid = new_id()
        pid = Visits(client, site, app).page_view(sid, [meta(), *human()], headers={"CF-IPCountry": "US"})
    assert session(index, sid)["country"] == "unknown"
    chunk = codec.decode(store.get(keys.chunk_key(keys.ChunkAddress(site.key, sid, pid, 0))))
    assert "geo" not in chunk


def test_visit_numbers_follow_start_time_also_when_an_earlier_session_arrives_late(
    visits: Visits, index: Index, store: LocalStore
) -> None:
    vid, other = new_id(), new_id()
    sids = [new_id() for _ in range(4)]
    # Arrival order 2, 0, 3, 1 (by start time 0 < 1 < 2 < 3).
    for i in (2, 0, 3, 1):
        visits.page_view(sids[i], [meta(), *human()], start=i * 60_000, vid=vid)
    visits.page_view(new_id(), [meta(), *human()], start=30_000, vid=other)
    no_vid = new_id()
    visits.page_view(no_vid, [meta(), *human()])
    assert [session(index, s)["visit_number"] for s in sids] == [1, 2, 3, 4]
    assert session(index, no_vid)["visit_number"] is None
    # A page view that moves a session's start earlier than another's renumbers both.
    visits.page_view(sids[3], [meta(), *human()], start=-60_000, vid=vid)
    assert [session(index, s)["visit_number"] for s in sids] == [2, 3, 4, 1]
    # Erasing a session renumbers the visitor's later ones (as reindex would count them).
    remove_sessions(store, index, [(visits.site.key, sids[0])])
    assert [session(index, s)["visit_number"] for s in sids[1:]] == [2, 3, 1]
    visits.derive()
    before = _rows(index)
    reindex(store, index)
    assert _rows(index) == before


@pytest.mark.parametrize(
    ("ua", "meta_changes", "events", "reason"),
    [
        (HUMAN_UA, {}, "human", None),
        (HUMAN_UA, {"webdriver": 1}, "human", "webdriver"),
        (HUMAN_UA, {"brands": "HeadlessChrome;Chromium"}, "human", "webdriver"),
        ("Mozilla/5.0 (X11; Linux x86_64) HeadlessChrome/120.0 Safari/537.36", {}, "human", "user_agent"),
        (
            "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
            {},
            "human",
            "user_agent",
        ),
        ("python-requests/2.31", {}, "human", "user_agent"),
        (HUMAN_UA, {}, "none", "no_input"),
    ],
)
def test_bots_are_flagged_with_their_reason(
    visits: Visits, index: Index, ua: str, meta_changes: dict[str, Any], events: str, reason: str | None
) -> None:
    sid = new_id()
    body = [meta(ua=ua, **meta_changes), snapshot_event(5)]
    if events == "human":
        body.append(make_event("move", t=50, x=10, y=10, target=None))
    visits.page_view(sid, body, headers={"User-Agent": ua})
    row = session(index, sid)
    assert (row["is_bot"], row["bot_reason"]) == (int(reason is not None), reason)


def test_a_session_without_input_stops_being_a_bot_when_input_arrives(visits: Visits, index: Index) -> None:
    sid, pid = new_id(), new_id()
    visits.page_view(sid, [meta(), snapshot_event(5)], pid=pid)
    assert session(index, sid)["bot_reason"] == "no_input"
    visits.page_view(
        sid, [make_event("scroll", t=900, target=None, x=0, y=300, sw=1280, sh=4000)], pid=pid, seq=1
    )
    assert session(index, sid)["is_bot"] == 0


def test_traits_props_experiments_and_custom_events(visits: Visits, index: Index, store: LocalStore) -> None:
    sid = new_id()
    later = visits.page_view(
        sid,
        [
            meta(f"{ORIGIN}/plans"),
            *human(),
            make_event("set", t=200, props={"plan": "pro", "seats": 5}),
            make_event("experiment", t=210, name="checkout-button", variant="green"),
            make_event(
                "custom", t=300, name="signup_completed", props={"plan": "pro", "trial": True, "n": 2.5}
            ),
        ],
        start=10_000,
    )
    visits.page_view(
        sid,
        [
            meta(),
            *human(),
            make_event(
                "identify", t=50, user="user-42", traits={"company": "Acme", "beta": False, "age": None}
            ),
            make_event("set", t=60, props={"plan": "free", "source": "ad"}),
            make_event("experiment", t=70, name="checkout-button", variant="blue"),
            make_event("custom", t=80, name="pricing_viewed", props={"nested": {"a": [1, 2]}}),
        ],
        start=0,
    )
    visits.derive()
    attrs = session_attrs(index, visits.site.key, sid)
    # The later page view's settings win although the earlier one arrived (and was derived) last.
    assert attrs["prop"] == {"plan": "pro", "seats": "5", "source": "ad"}
    assert attrs["experiment"] == {"checkout-button": "green"}
    assert attrs["trait"] == {"company": "Acme", "beta": "false", "age": ""}
    assert session(index, sid)["user_id"] == "user-42"
    events = session_custom_events(index, visits.site.key, sid)
    assert sorted((e["pid"] == later, e["name"]) for e in events) == [
        (False, "pricing_viewed"),
        (True, "signup_completed"),
    ]
    props = index.query(
        "SELECT name, key, value FROM custom_event_props WHERE sid = ? ORDER BY name, key", (sid,)
    )
    assert [(p["name"], p["key"], p["value"]) for p in props] == [
        ("pricing_viewed", "nested", '{"a":[1,2]}'),
        ("signup_completed", "n", "2.5"),
        ("signup_completed", "plan", "pro"),
        ("signup_completed", "trial", "true"),
    ]
    # Derived again (a new chunk): the same rows, not twice.
    visits.page_view(sid, [click_event(5_000)], pid=later, seq=1, start=10_000)
    visits.derive()
    assert len(session_custom_events(index, visits.site.key, sid)) == 2
    before = _rows(index)
    reindex(store, index)
    assert _rows(index) == before


def test_hostile_values_are_stored_bounded_and_never_break_aggregation(
    visits: Visits, index: Index, store: LocalStore
) -> None:
    sid = new_id()
    huge = 9_007_199_254_740_991
    visits.page_view(
        sid,
        [
            meta(
                f"{ORIGIN}/?utm_source={'x' * 3000}&utm_medium=%00%FF",
                referrer="android-app://" + "a." * 1500,
                lang="x" * 4000,
                tz="\u202e" * 300,
            ),
            *human(),
            make_event("timing", t=10, name="lcp", value=huge),
            make_event("timing", t=11, name="cls", value=-5),
            make_event("set", t=20, props={"k" * 64: "v" * 256, "big": huge, "neg": -huge, "f": 0.1 + 0.2}),
            make_event("custom", t=30, name="n" * 128, props={str(i): "y" * 5000 for i in range(80)}),
            make_event("experiment", t=40, name="e" * 100, variant="\u0000\u2028" * 50),
        ],
        headers={"CF-IPCountry": "DE\r\nX-Evil: 1"},
    )
    visits.derive()
    row = session(index, sid)
    assert row["channel"] in ("referral", "other")
    assert len(row["language"]) == 35 and len(row["timezone"]) == 64
    assert row["lcp_ms"] == huge and row["cls"] is None  # a negative metric is dropped
    assert row["country"] == "unknown"
    attrs = session_attrs(index, visits.site.key, sid)
    assert attrs["prop"]["big"] == str(huge) and attrs["prop"]["f"] == "0.30000000000000004"
    props = index.query("SELECT key, value FROM custom_event_props WHERE sid = ?", (sid,))
    assert len(props) == 50 and max(len(p["value"]) for p in props) == 500
    before = _rows(index)
    reindex(store, index)
    assert _rows(index) == before


def test_erasure_removes_the_new_rows(visits: Visits, index: Index) -> None:
    sid = new_id()
    visits.page_view(
        sid,
        [
            meta(),
            *human(),
            *[click_event(200 + i * 100) for i in range(3)],
            make_event("set", t=20, props={"plan": "pro"}),
            make_event("custom", t=30, name="x", props={"a": 1}),
        ],
    )
    visits.derive()
    assert all(
        index.query(f"SELECT COUNT(*) AS n FROM {t} WHERE sid = ?", (sid,))[0]["n"] for t in NEW_TABLES
    )  # noqa: S608
    delete_sessions(index, [(visits.site.key, sid)])
    for table in NEW_TABLES:
        assert index.query(f"SELECT COUNT(*) AS n FROM {table} WHERE sid = ?", (sid,))[0]["n"] == 0  # noqa: S608


def _rows(index: Index) -> dict[str, list[tuple]]:
    """Every row of the tables this feature writes, comparable across a reindex."""
    out = {}
    for table in ("sessions", "page_views", *NEW_TABLES):
        rows = index.query(f"SELECT * FROM {table}")  # noqa: S608
        out[table] = sorted(tuple(sorted((k, str(v)) for k, v in r.items())) for r in rows)
    return out


def test_bot_sessions_are_left_out_of_heatmaps_by_default(visits: Visits, index: Index) -> None:
    from dataclasses import dataclass

    from sessionlens.heatmap.render import Selection
    from sessionlens.index import fact_arrays, heatmaps

    people, bot = new_id(), new_id()
    visits.page_view(people, [meta(), snapshot_event(5), click_event(100, 10, 10)])
    visits.page_view(
        bot, [meta(webdriver=1), snapshot_event(5), *[click_event(200 + i, 500, 500) for i in range(5)]]
    )
    visits.derive()
    sel = Selection(visits.site.key, "/*")
    assert [c["sid"] for c in heatmaps.clicks(index, sel, "all")] == [people]
    assert fact_arrays.click_targets(index, sel, "all") == {("#buy", ""): 1}
    assert len(heatmaps.moves(index, sel)) == 0

    @dataclass
    class WithBots(Selection):
        bots: str = "include"

    everyone = WithBots(visits.site.key, "/*")
    assert sorted({c["sid"] for c in heatmaps.clicks(index, everyone, "all")}) == sorted([people, bot])
    only = WithBots(visits.site.key, "/*", bots="only")
    assert {c["sid"] for c in heatmaps.clicks(index, only, "all")} == {bot}
