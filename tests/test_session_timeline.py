"""The player's timeline: page views from the index alone, markers from derived facts.

The player asks with markers=0 first so its first frame waits for nothing
but the page views; the markers (clicks, errors, custom events,
navigations, frustration signals) follow, read from what the derivation
pass keeps in the index (clicks, event_markers), so even a 60-minute
session's timeline decodes no chunk. A page view whose derivation is behind
is read from its chunks. Both index backends.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from starlette.testclient import TestClient

from sessionlens.app import create_app
from sessionlens.auth.users import Accounts
from sessionlens.contracts import make_event
from sessionlens.index import Index
from sessionlens.settings import Settings
from sessionlens.sites import SiteRegistry, new_site
from sessionlens.stores.local import LocalStore
from tests.helpers import batch, click_event, meta_event, new_id, settings_with, snapshot_event

ORIGIN = "https://shop.example"


def _events() -> list[list[Any]]:
    return [
        meta_event(0, f"{ORIGIN}/"),
        snapshot_event(),
        click_event(100),
        make_event(
            "error",
            t=200,
            how="error",
            message="TypeError: x is undefined",
            source="",
            line=1,
            col=2,
            stack="",
        ),  # fmt: skip
        make_event("custom", t=300, name="checkout", props={}),
        make_event("nav", t=400, url=f"{ORIGIN}/cart", how="push", title="Cart"),
    ]


@pytest.fixture()
def viewer(settings: Settings, store: LocalStore, index: Index) -> Iterator[dict[str, Any]]:
    # The derivation worker is driven by the test (drain), so "not derived yet" is a state it controls.
    quiet = settings_with(settings, derivation_worker=False)
    site = new_site("Shop", [ORIGIN])
    SiteRegistry(store).save(site)
    accounts = Accounts(store)
    accounts.add_user("timeline", "timeline-password-1")
    token = accounts.create_token("timeline", "timeline test")
    app = create_app(quiet, store=store, index=index)
    with TestClient(app, headers={"Origin": ORIGIN, "User-Agent": "pytest-browser/1.0"}) as client:
        sid, pid = new_id(), new_id()
        body = orjson.dumps(batch(sid, pid, 0, _events()))
        assert client.post(f"/ingest/{site.key}", content=body).status_code == 200
        client.headers["Authorization"] = f"Bearer {token}"
        yield {"client": client, "sid": sid, "pid": pid, "app": app, "site": site.key, "index": index}


def _no_chunk_reads(app: Any) -> None:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the timeline read a chunk")

    app.state.reader.events = refuse
    app.state.reader.chunk = refuse


def test_markers_0_answers_from_the_index_without_reading_chunks(viewer: dict[str, Any]) -> None:
    client, sid = viewer["client"], viewer["sid"]
    full = client.get(f"/api/sessions/{sid}").json()
    assert "click" in {m["kind"] for m in full["markers"]}
    _no_chunk_reads(viewer["app"])
    quick = client.get(f"/api/sessions/{sid}?markers=0").json()
    assert quick["page_views"] == full["page_views"] and quick["session"] == full["session"]
    assert [m["kind"] for m in quick["markers"]] == ["pageview"]


def test_a_derived_session_s_markers_decode_no_chunk(viewer: dict[str, Any]) -> None:
    client, sid, app = viewer["client"], viewer["sid"], viewer["app"]
    # Not derived yet: the page view's markers are read from its chunks.
    before = client.get(f"/api/sessions/{sid}").json()["markers"]
    assert [m["kind"] for m in before] == ["pageview", "click", "error", "custom", "nav"]
    assert [m["label"] for m in before[1:]] == [
        "#buy",
        "TypeError: x is undefined",
        "checkout",
        f"{ORIGIN}/cart",
    ]
    assert app.state.derivation.drain() == 1
    _no_chunk_reads(app)
    after = client.get(f"/api/sessions/{sid}").json()["markers"]
    # The same markers, and the click's frustration signal derived with it (an error followed).
    assert [m for m in after if not m["kind"].endswith("-click")] == before
    assert [m["kind"] for m in after if m["kind"].endswith("-click")] == ["error-click"]


def test_a_page_view_derived_behind_its_last_chunk_is_read_from_its_chunks(viewer: dict[str, Any]) -> None:
    client, sid, pid, app = viewer["client"], viewer["sid"], viewer["pid"], viewer["app"]
    assert app.state.derivation.drain() == 1
    late = [make_event("custom", t=900, name="late", props={})]
    assert (
        client.post(f"/ingest/{viewer['site']}", content=orjson.dumps(batch(sid, pid, 1, late))).status_code
        == 200
    )
    kinds = [
        m["label"] for m in client.get(f"/api/sessions/{sid}").json()["markers"] if m["kind"] == "custom"
    ]
    assert kinds == ["checkout", "late"]
    assert app.state.derivation.drain() == 1
    _no_chunk_reads(app)
    kinds = [
        m["label"] for m in client.get(f"/api/sessions/{sid}").json()["markers"] if m["kind"] == "custom"
    ]
    assert kinds == ["checkout", "late"]


def test_markers_of_page_views_derived_before_the_markers_table_are_derived_again(
    viewer: dict[str, Any], index_location: dict[str, Any]
) -> None:
    # Migration 7 queues page views that have errors, custom events or navigations.
    app, index = viewer["app"], viewer["index"]
    assert app.state.derivation.drain() == 1
    index.write(lambda conn: conn.execute("DELETE FROM schema_migrations WHERE version = 7"))
    index.write(lambda conn: conn.execute("DROP TABLE event_markers"))
    assert index.query("SELECT * FROM derivation_queue") == []
    reopened = Index(**index_location)
    try:
        queued = reopened.query("SELECT sid, pid FROM derivation_queue")
        assert queued == [{"sid": viewer["sid"], "pid": viewer["pid"]}]
    finally:
        reopened.close()


def test_markers_must_be_0_or_1(viewer: dict[str, Any]) -> None:
    r = viewer["client"].get(f"/api/sessions/{viewer['sid']}?markers=2")
    assert r.status_code == 400 and "markers" in r.json()["error"]
