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
    rest = client.get(f"/api/sessions?limit=2&cursor={first['next']}", headers=auth).json()
    assert [s["sid"] for s in rest["sessions"]] == [sessions["/"]] and rest["next"] is None
    for bad, word in [("limit=0", "limit"), ("device=toaster", "device"), ("min_duration=-1", "min_duration"),
                      ("from=soon", "from"), ("before=x", "before"), ("colour=red", "colour")]:  # fmt: skip
        r = client.get(f"/api/sessions?{bad}", headers=auth)
        assert r.status_code == 400 and word in r.json()["error"], bad


def test_segments_are_shared_checked_and_protected(client: TestClient, site: Site, store: LocalStore) -> None:
    """Saved segments: made by one user (cookie + CSRF), listed for every user, applied as a query,
    renamed, refused when malformed, read-only tokens refused; deleted."""
    accounts = Accounts(store)
    accounts.add_user("ada", "password-123")
    accounts.add_user("bob", "password-456")
    read = {"Authorization": f"Bearer {accounts.create_token('bob', 'read')}"}
    admin = {"Authorization": f"Bearer {accounts.create_token('bob', 'admin', 'admin')}"}
    query = "country=DE&visited=/pricing*&not_visited=/signup/done*&trait=plan:pro&sort=frustration"
    r = client.post(
        "/login", data={"name": "ada", "password": "password-123", "next": "/"},
        headers={"Origin": "http://testserver"}, follow_redirects=False,
    )  # fmt: skip
    assert r.status_code == 303
    body = {"name": "Signup abandoners", "site": site.key, "query": query + "&cursor=x&limit=5"}
    assert client.post("/api/segments", json=body).status_code == 403  # no CSRF token
    csrf = client.get("/api/me").json()["csrf"]
    r = client.post("/api/segments", json=body, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 201, r.text
    made = r.json()
    assert made["query"] == query and made["author"] == "ada" and made["site"] == site.key
    client.cookies.clear()
    # Another user sees it and its query is a valid /api/sessions query.
    listed = client.get("/api/segments", headers=read).json()["segments"]
    assert [(s["id"], s["name"]) for s in listed] == [(made["id"], "Signup abandoners")]
    assert client.get(f"/api/sessions?site={site.key}&{listed[0]['query']}", headers=read).status_code == 200
    assert client.post("/api/segments", json=body, headers=read).status_code == 403
    for bad, word in [
        ({**body, "query": "colour=red"}, "colour"), ({**body, "query": "rage=2"}, "rage"),
        ({**body, "name": ""}, "name"), ({**body, "name": "x" * 201}, "name"),
        ({**body, "site": "nope"}, "site"), ({**body, "query": "site=other"}, "site"),
        ({**body, "extra": 1}, "extra"), ({**body, "query": 5}, "query"),
    ]:  # fmt: skip
        r = client.post("/api/segments", json=bad, headers=admin)
        assert r.status_code == 400 and word in r.json()["error"], (bad, r.text)
    r = client.patch(
        f"/api/segments/{made['id']}", json={"name": "Abandoned signup", "version": 1}, headers=admin
    )
    assert r.status_code == 200 and r.json()["name"] == "Abandoned signup" and r.json()["version"] == 2
    r = client.patch(f"/api/segments/{made['id']}", json={"name": "Stale", "version": 1}, headers=admin)
    assert r.status_code == 409
    r = client.patch(f"/api/segments/{made['id']}", json={"query": "channel=tv"}, headers=admin)
    assert r.status_code == 400 and "channel" in r.json()["error"]
    assert client.get(f"/api/segments/{made['id']}", headers=read).json()["name"] == "Abandoned signup"
    assert client.delete(f"/api/segments/{made['id']}", headers=read).status_code == 403
    assert client.delete(f"/api/segments/{made['id']}", headers=admin).status_code == 204
    assert client.get("/api/segments", headers=read).json()["segments"] == []
    assert client.get(f"/api/segments/{made['id']}", headers=read).status_code == 404
    assert client.delete("/api/segments/..%2F..", headers=admin).status_code == 404
