"""The session list's filters and pagination, through the API."""

from __future__ import annotations

import time

import orjson
from starlette.testclient import TestClient

from sessionlens.auth.users import Accounts
from sessionlens.sites import Site
from sessionlens.stores.local import LocalStore
from sessionlens.url_patterns import url_matches
from tests.helpers import batch, click_event, meta_event, new_id, snapshot_event


def test_url_patterns() -> None:
    assert url_matches("https://shop.example/product/7?ref=x", "/product/*")
    assert url_matches("https://shop.example/product/7", "https://shop.example/product/*")
    assert not url_matches("https://shop.example/products", "/product/*")
    assert not url_matches("https://shop.example/a/product/7", "/product/*")
    assert url_matches("https://shop.example/a.b", "/a.b") and not url_matches(
        "https://shop.example/axb", "/a.b"
    )


def test_filters_and_pages(client: TestClient, site: Site, store: LocalStore) -> None:
    accounts = Accounts(store)
    accounts.add_user("r", "password-123")
    auth = {"Authorization": f"Bearer {accounts.create_token('r', 'test')}"}
    # Yesterday noon (UTC): within the collector's t0 window, and the three
    # sessions fall on one calendar day.
    t0 = (int(time.time()) // 86_400 * 86_400 - 43_200) * 1000
    day = time.strftime("%Y-%m-%d", time.gmtime(t0 / 1000))
    day_before = time.strftime("%Y-%m-%d", time.gmtime(t0 / 1000 - 86_400))
    sessions = {}
    for i, (path, length, error) in enumerate(
        [("/", 1_000, False), ("/product/1", 90_000, True), ("/product/2", 30_000, False)]
    ):
        sid = new_id()
        events = [meta_event(0, f"https://shop.example{path}"), snapshot_event(), click_event(length)]
        if error:
            events.append(["error", length, "error", "boom", "https://shop.example/app.js", 1, 1, ""])
        r = client.post(
            f"/ingest/{site.key}", content=orjson.dumps(batch(sid, new_id(), 0, events, t0=t0 + i * 60_000))
        )
        assert r.status_code == 200
        sessions[path] = sid

    def sids(query: str) -> list[str]:
        r = client.get(f"/api/sessions?{query}", headers=auth)
        assert r.status_code == 200, r.text
        return [s["sid"] for s in r.json()["sessions"]]

    assert sids("") == [sessions["/product/2"], sessions["/product/1"], sessions["/"]]  # newest first
    assert set(sids("url=/product/*")) == {sessions["/product/1"], sessions["/product/2"]}
    assert sids("url=product/2") == [sessions["/product/2"]]
    assert sids("has_errors=1") == [sessions["/product/1"]]
    assert sids("min_duration=20&max_duration=60") == [sessions["/product/2"]]
    assert sids("device=desktop&browser=chrome") == sids("")
    assert sids(f"from={day}&to={day}") == sids("")
    assert sids(f"to={day_before}") == []
    assert sids(f"site={site.key}") == sids("") and sids("site=other") == []
    first = client.get("/api/sessions?limit=2", headers=auth).json()
    assert len(first["sessions"]) == 2 and first["next"]
    rest = client.get(f"/api/sessions?limit=2&before={first['next']}", headers=auth).json()
    assert [s["sid"] for s in rest["sessions"]] == [sessions["/"]] and rest["next"] is None
    for bad, word in [("limit=0", "limit"), ("device=toaster", "device"), ("min_duration=-1", "min_duration"),
                      ("from=soon", "from"), ("before=x", "before"), ("colour=red", "colour")]:  # fmt: skip
        r = client.get(f"/api/sessions?{bad}", headers=auth)
        assert r.status_code == 400 and word in r.json()["error"], bad
