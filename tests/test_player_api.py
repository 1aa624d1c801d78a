"""The player's data: summary, one event-list entry per interaction, console/network/typing per page view.

Both index backends; real ingest, derivation and HTTP through the app.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from starlette.testclient import TestClient

from sessionlens.app import create_app
from sessionlens.auth.users import Accounts
from sessionlens.index import Index
from sessionlens.settings import Settings, load_settings
from sessionlens.sites import SiteRegistry, new_site
from sessionlens.stores.local import LocalStore
from tests import player_recording as rec


@pytest.fixture()
def player(settings: Settings, store: LocalStore, index: Index) -> Iterator[dict[str, Any]]:
    quiet = load_settings(overrides={"data_dir": settings.data_dir, "derivation_worker": False}, environ={})
    site = new_site("Quote", [rec.ORIGIN])
    SiteRegistry(store).save(site)
    accounts = Accounts(store)
    accounts.add_user("player", "player-password-1")
    token = accounts.create_token("player", "player test")
    app = create_app(quiet, store=store, index=index)
    with TestClient(app, headers={"Origin": rec.ORIGIN, "User-Agent": "Mozilla/5.0 Chrome/120"}) as client:
        sid, pids, batches = rec.session_batches(int(time.time() * 1000) - 60_000)
        for body in batches:
            assert client.post(f"/ingest/{site.key}", content=orjson.dumps(body)).status_code == 200
        client.headers["Authorization"] = f"Bearer {token}"
        yield {"client": client, "sid": sid, "pids": pids, "app": app, "index": index}


def _session(player: dict[str, Any]) -> dict[str, Any]:
    r = player["client"].get(f"/api/sessions/{player['sid']}")
    assert r.status_code == 200, r.text
    return r.json()


@pytest.mark.parametrize("derived", [False, True], ids=["from-chunks", "derived"])
def test_one_entry_per_interaction_labelled_by_what_the_visitor_saw(
    player: dict[str, Any], derived: bool
) -> None:
    if derived:
        assert player["app"].state.derivation.drain() == 2
    body = _session(player)
    one, two = player["pids"]
    labels = [(e["pid"], e["kind"], e["label"]) for e in body["entries"]]
    clicks = [x for x in labels if x[0] == one and "lick" in x[2]]
    # One entry for the button click; the three rage clicks are one entry once signals are derived.
    assert clicks[0] == (one, "click", "Clicked 'Get my quote'")
    retry = [x for x in clicks if "Retry" in x[2]]
    if derived:
        assert retry == [(one, "rage", "Rage click on 'Retry' ×3")]
    else:
        assert len(retry) == 3 and {x[1] for x in retry} == {"click"}
    assert (one, "error", "Error: Error: Payment provider unavailable") in labels
    assert (one, "custom", "Event: quote_requested") in labels
    assert (one, "nav", "Navigated to /pricing/done") in labels
    # Page views head their groups, first at their time.
    heads = [(e["pid"], e["label"]) for e in body["entries"] if e["kind"] == "pageview"]
    assert heads == [(one, "Visited /pricing"), (two, "Visited /signup")]
    assert body["entries"][0]["kind"] == "pageview"
    two_at = next(p["offset"] for p in body["page_views"] if p["pid"] == two)
    assert all(e["t"] >= two_at for e in body["entries"] if e["pid"] == two)
    # The raw markers keep their shape (one per click and per signal).
    assert body["markers"][0]["kind"] == "pageview"


def test_summary_has_the_session_s_values_and_dashes_nothing(player: dict[str, Any]) -> None:
    assert player["app"].state.derivation.drain() == 2
    s = _session(player)["summary"]
    assert s["user_id"] == "u-42"
    assert s["browser"] == "Chrome" and s["device"] == "desktop"
    assert s["viewport"] == [1280, 800]
    assert s["landing_url"] == f"{rec.ORIGIN}/pricing" and s["exit_url"] == f"{rec.ORIGIN}/signup"
    assert s["page_count"] == 2
    assert s["utm"] == {"source": None, "medium": None, "campaign": None, "term": None, "content": None}
    assert [p["url"] for p in s["page_speed"]] == [f"{rec.ORIGIN}/pricing", f"{rec.ORIGIN}/signup"]
    cols = player["index"].columns("page_views")
    if "lcp_ms" in cols:
        assert s["page_speed"][0]["lcp_ms"] == 1234.0 and s["page_speed"][1]["lcp_ms"] is None
    if player["index"].columns("session_attrs"):
        # As the derivation pass stored them (H-D's session_attrs): traits and experiment buckets.
        rows = player["index"].query(
            "SELECT scope, key, value FROM session_attrs WHERE sid = ?", (player["sid"],)
        )
        assert s["traits"] == {r["key"]: r["value"] for r in rows if r["scope"] == "trait"}
        assert s["experiments"] == {r["key"]: r["value"] for r in rows if r["scope"] == "experiment"}
        if rows:
            assert s["traits"] == {"plan": "pro"} and s["experiments"] == {"checkout_button": "green"}
    # Every documented key is there, present or None.
    for key in ("country", "language", "channel", "visit_number", "frustration_score", "signals", "referrer"):
        assert key in s


def test_inspect_gives_console_with_stack_network_and_typing_never_the_value(player: dict[str, Any]) -> None:
    one, two = player["pids"]
    client, sid = player["client"], player["sid"]
    r = client.get(f"/api/sessions/{sid}/pages/{one}/inspect")
    assert r.status_code == 200, r.text
    assert rec.EMAIL_VALUE not in r.text and rec.EMAIL_VALUE[:5] not in r.text
    body = r.json()
    errors = [c for c in body["console"] if c["uncaught"]]
    assert errors[0]["message"] == "Error: Payment provider unavailable"
    assert errors[0]["stack"] == rec.ERROR_STACK and errors[0]["t"] == 3_000
    assert errors[1]["message"] == rec.HOSTILE  # as text: the player shows it with textContent
    # Typing in one field is one entry, named by its <label>.
    assert [(i["t"], i["label"]) for i in body["inputs"]] == [(1_300, "Typed in 'Email'")]
    # A submit attempt is one entry naming the form and the field that blocked it.
    assert body["submits"] == [
        {"t": 1_500, "label": "Submit of form 'quote' blocked: 1 invalid field ('Email')"}
    ]
    if rec.has_kind("console"):
        assert ("warn", "Slow response from /api/pay") in [
            (c["level"], c["message"]) for c in body["console"]
        ]
    if rec.has_kind("request"):
        failed = [n for n in body["network"] if n["failed"]]
        assert failed[0] == {
            "t": 2_900, "how": "fetch", "method": "POST", "url": rec.FAILED_URL, "status": 503,
            "duration": 812, "size": 0, "failed": True,
        }  # fmt: skip
        assert [n["status"] for n in body["network"]] == [200, 503, 404]
    assert client.get(f"/api/sessions/{sid}/pages/{two}/inspect").json()["console"] == []
    assert client.get(f"/api/sessions/{sid}/pages/nope/inspect").status_code == 404
    assert client.get(f"/api/sessions/nope/pages/{one}/inspect").status_code == 404
