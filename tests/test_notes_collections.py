"""Notes and collections over HTTP: round trips, login, CSRF and scopes, hostile text, reindex and
erasure (both index backends)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from sessionlens.app import create_app
from sessionlens.auth.users import Accounts
from sessionlens.index import Index
from sessionlens.lifecycle.erasure import Subject, erase
from sessionlens.reindex import reindex
from sessionlens.settings import Settings
from sessionlens.sites import Site
from sessionlens.stores.local import LocalStore
from tests.conftest import SITE_ORIGIN
from tests.helpers import batch, new_id

PASSWORD = "correct horse battery"
OWN_ORIGIN = {"Origin": "http://testserver"}


@pytest.fixture
def viewer(settings: Settings, store: LocalStore, index: Index, site: Site) -> Iterator[TestClient]:
    accounts = Accounts(store)
    accounts.add_user("ada", PASSWORD)
    accounts.add_user("bob", PASSWORD)
    with TestClient(create_app(settings, store=store, index=index), follow_redirects=False) as c:
        yield c


def login(client: TestClient, name: str = "ada") -> dict[str, str]:
    client.cookies.clear()
    r = client.post("/login", data={"name": name, "password": PASSWORD, "next": "/"}, headers=OWN_ORIGIN)
    assert r.status_code == 303, r.text
    return {"X-CSRF-Token": client.get("/api/me").json()["csrf"]}


def record(client: TestClient, site: Site, vid: str | None = None) -> tuple[str, str]:
    sid, pid = new_id(), new_id()
    body: dict[str, Any] = batch(sid, pid, 0)
    if vid:
        body["vid"] = vid
    r = client.post(f"/ingest/{site.key}", json=body, headers={"Origin": SITE_ORIGIN})
    assert r.status_code == 200, r.text
    return sid, pid


def test_notes_round_trip(viewer: TestClient, site: Site) -> None:
    sid, pid = record(viewer, site)
    csrf = login(viewer)
    assert viewer.get(f"/api/sessions/{sid}/notes").json() == {"notes": []}
    r = viewer.post(
        f"/api/sessions/{sid}/notes", json={"t": 1500, "pid": pid, "text": "  Checkout froze  "}, headers=csrf
    )
    assert r.status_code == 201, r.text
    note = r.json()
    assert note["text"] == "Checkout froze" and note["t"] == 1500 and note["pid"] == pid
    assert note["author"] == "ada" and note["sid"] == sid and note["version"] == 1
    viewer.post(f"/api/sessions/{sid}/notes", json={"t": 200, "pid": pid, "text": "earlier"}, headers=csrf)
    listed = viewer.get(f"/api/sessions/{sid}/notes").json()["notes"]
    assert [n["text"] for n in listed] == ["earlier", "Checkout froze"]  # in time order

    r = viewer.patch(
        f"/api/notes/{note['id']}", json={"text": "Checkout froze at pay", "version": 1}, headers=csrf
    )
    assert r.status_code == 200 and r.json()["version"] == 2
    r = viewer.patch(f"/api/notes/{note['id']}", json={"text": "stale", "version": 1}, headers=csrf)
    assert r.status_code == 409 and r.json()["version"] == 2

    found = viewer.get("/api/notes", params={"q": "FROZE AT"}).json()["notes"]
    assert [n["id"] for n in found] == [note["id"]]
    assert viewer.get("/api/notes", params={"q": "50%"}).json()["notes"] == []  # % is literal
    assert viewer.get("/api/notes", params={"q": "_"}).json()["notes"] == []

    # Another user may read but not change or delete it.
    csrf_bob = login(viewer, "bob")
    assert len(viewer.get(f"/api/sessions/{sid}/notes").json()["notes"]) == 2
    r = viewer.patch(f"/api/notes/{note['id']}", json={"text": "mine now"}, headers=csrf_bob)
    assert r.status_code == 403 and "author" in r.json()["error"]
    assert viewer.delete(f"/api/notes/{note['id']}", headers=csrf_bob).status_code == 403
    csrf = login(viewer)
    assert viewer.delete(f"/api/notes/{note['id']}", headers=csrf).status_code == 204
    assert viewer.get(f"/api/notes/{note['id']}").status_code == 404
    assert [n["text"] for n in viewer.get(f"/api/sessions/{sid}/notes").json()["notes"]] == ["earlier"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"t": -1, "pid": "P", "text": "x"}, "t"),
        ({"t": True, "pid": "P", "text": "x"}, "t"),
        ({"t": 10**15, "pid": "P", "text": "x"}, "t"),
        ({"t": 1, "pid": "not-a-page-view", "text": "x"}, "pid"),
        ({"t": 1, "pid": "P", "text": "   "}, "text"),
        ({"t": 1, "pid": "P", "text": "x" * 2001}, "text"),
        ({"t": 1, "pid": "P", "text": "nul\u0000byte"}, "text"),
        ({"t": 1, "pid": "P", "text": ["x"]}, "text"),
        ({"t": 1, "pid": "P", "text": "x", "html": "<b>"}, "html"),
    ],
)
def test_bad_notes_are_refused_naming_the_field(
    viewer: TestClient, site: Site, body: dict[str, Any], field: str
) -> None:
    sid, pid = record(viewer, site)
    csrf = login(viewer)
    body = {k: (pid if v == "P" else v) for k, v in body.items()}
    r = viewer.post(f"/api/sessions/{sid}/notes", json=body, headers=csrf)
    assert r.status_code == 400 and field in r.json()["error"], r.text
    assert viewer.get(f"/api/sessions/{sid}/notes").json()["notes"] == []


def test_hostile_text_is_kept_as_text(viewer: TestClient, site: Site) -> None:
    sid, pid = record(viewer, site)
    csrf = login(viewer)
    texts = [
        "<script>alert(1)</script><img src=x onerror=alert(2)>",
        "日本語 ✓ 🙂 e\u0301",
        "x" * 2000,
        "a\nb\tc",
    ]
    for i, text in enumerate(texts):
        r = viewer.post(f"/api/sessions/{sid}/notes", json={"t": i, "pid": pid, "text": text}, headers=csrf)
        assert r.status_code == 201, r.text
    r = viewer.get(f"/api/sessions/{sid}/notes")
    assert r.headers["content-type"].startswith("application/json")
    assert [n["text"] for n in r.json()["notes"]] == texts  # returned exactly, as JSON strings
    assert [n["text"] for n in viewer.get("/api/notes", params={"q": "<SCRIPT>"}).json()["notes"]] == [
        texts[0]
    ]
    assert viewer.get("/api/notes", params={"q": "🙂"}).json()["notes"][0]["text"] == texts[1]
    r = viewer.post(
        f"/api/sessions/{sid}/notes", content=b'{"t": 1, "pid": "x", "text": "\xff"}', headers=csrf
    )
    assert r.status_code == 400
    r = viewer.post(f"/api/sessions/{sid}/notes", content=b"x" * 40_000, headers=csrf)
    assert r.status_code == 400 and "larger" in r.json()["error"]


def test_login_csrf_and_scopes(viewer: TestClient, store: LocalStore, site: Site) -> None:
    sid, pid = record(viewer, site)
    note_body = {"t": 1, "pid": pid, "text": "hello"}
    for method, path in [
        ("GET", f"/api/sessions/{sid}/notes"), ("POST", f"/api/sessions/{sid}/notes"), ("GET", "/api/notes?q=x"),
        ("GET", "/api/collections"), ("POST", "/api/collections"), ("PUT", f"/api/collections/x/sessions/{sid}"),
    ]:  # fmt: skip
        assert viewer.request(method, path, json=note_body).status_code == 401
    assert viewer.get("/collections").status_code == 303  # the page sends to the login form
    login(viewer)
    r = viewer.post(f"/api/sessions/{sid}/notes", json=note_body)
    assert r.status_code == 403 and "CSRF" in r.json()["error"]
    r = viewer.post(
        "/api/collections", json={"name": "x", "site": site.key}, headers={"X-CSRF-Token": "0" * 64}
    )
    assert r.status_code == 403
    viewer.cookies.clear()
    read = {"Authorization": f"Bearer {Accounts(store).create_token('ada', 'script', 'read')}"}
    admin = {"Authorization": f"Bearer {Accounts(store).create_token('bob', 'moderator', 'admin')}"}
    assert viewer.get(f"/api/sessions/{sid}/notes", headers=read).status_code == 200
    r = viewer.post(f"/api/sessions/{sid}/notes", json=note_body, headers=read)
    assert r.status_code == 403 and "read-only" in r.json()["error"]
    assert (
        viewer.post("/api/collections", json={"name": "x", "site": site.key}, headers=read).status_code == 403
    )
    # A note made by ada; an admin-scope token (an operator) may moderate it.
    csrf = login(viewer)
    note = viewer.post(f"/api/sessions/{sid}/notes", json=note_body, headers=csrf).json()
    viewer.cookies.clear()
    assert viewer.patch(f"/api/notes/{note['id']}", json={"text": "x"}, headers=read).status_code == 403
    assert viewer.delete(f"/api/notes/{note['id']}", headers=admin).status_code == 204


def test_collections_round_trip(viewer: TestClient, site: Site) -> None:
    (s1, _), (s2, _), (s3, _) = record(viewer, site), record(viewer, site), record(viewer, site)
    csrf = login(viewer)
    r = viewer.post("/api/collections", json={"name": "Checkout bugs", "site": site.key}, headers=csrf)
    assert r.status_code == 201, r.text
    cid = r.json()["id"]
    assert (
        viewer.post("/api/collections", json={"name": "x", "site": "nope"}, headers=csrf).status_code == 400
    )
    for sid in (s1, s3, s1):  # adding twice changes nothing
        r = viewer.put(f"/api/collections/{cid}/sessions/{sid}", headers=csrf)
        assert r.status_code == 200
    assert r.json()["sessions"] == [s1, s3] and r.json()["count"] == 2
    assert viewer.put(f"/api/collections/{cid}/sessions/unknown", headers=csrf).status_code == 404
    rows = viewer.get(f"/api/collections/{cid}/sessions").json()["sessions"]
    assert sorted(r["sid"] for r in rows) == sorted([s1, s3]) and {"start_time", "site"} <= rows[0].keys()
    assert [c["id"] for c in viewer.get(f"/api/sessions/{s3}/collections").json()["collections"]] == [cid]
    assert viewer.get(f"/api/sessions/{s2}/collections").json()["collections"] == []
    listed = viewer.get("/api/collections", params={"site": site.key}).json()["collections"]
    assert [(c["name"], c["count"]) for c in listed] == [("Checkout bugs", 2)]
    # Another user sees and changes the shared collection.
    csrf = login(viewer, "bob")
    assert viewer.delete(f"/api/collections/{cid}/sessions/{s1}", headers=csrf).json()["sessions"] == [s3]
    r = viewer.patch(f"/api/collections/{cid}", json={"name": "Bugs", "version": 1}, headers=csrf)
    assert r.status_code == 409
    r = viewer.patch(f"/api/collections/{cid}", json={"name": "Bugs"}, headers=csrf)
    assert r.status_code == 200 and r.json()["name"] == "Bugs"
    assert viewer.get("/collections").status_code == 200
    assert viewer.delete(f"/api/collections/{cid}", headers=csrf).status_code == 204
    assert viewer.get(f"/api/collections/{cid}").status_code == 404


def test_reindex_and_a_new_index_give_the_same_answers(
    viewer: TestClient, store: LocalStore, index: Index, site: Site
) -> None:
    sid, pid = record(viewer, site)
    csrf = login(viewer)
    viewer.post(f"/api/sessions/{sid}/notes", json={"t": 5, "pid": pid, "text": "Rage at pay"}, headers=csrf)
    cid = viewer.post("/api/collections", json={"name": "Pay", "site": site.key}, headers=csrf).json()["id"]
    viewer.put(f"/api/collections/{cid}/sessions/{sid}", headers=csrf)

    def answers() -> Any:
        return (
            viewer.get(f"/api/sessions/{sid}/notes").json(),
            viewer.get("/api/notes", params={"q": "rage"}).json(),
            viewer.get("/api/collections").json(),
            [r["sid"] for r in viewer.get(f"/api/collections/{cid}/sessions").json()["sessions"]],
        )

    before = answers()
    assert before[3] == [sid]
    index.write(
        lambda conn: (conn.execute("DELETE FROM saved_docs"), conn.execute("DELETE FROM saved_doc_sessions"))
    )
    index.clear()  # every derived table too: the index as good as new
    assert viewer.get(f"/api/collections/{cid}").status_code == 404
    reindex(store, index)
    assert answers() == before


def test_erasure_removes_the_notes_of_the_visitors_sessions_only(
    viewer: TestClient, store: LocalStore, index: Index, site: Site
) -> None:
    gone_sid, gone_pid = record(viewer, site, vid="vid-erased-visitor")
    kept_sid, kept_pid = record(viewer, site, vid="vid-kept-visitor")
    csrf = login(viewer)
    for sid, pid in ((gone_sid, gone_pid), (kept_sid, kept_pid)):
        r = viewer.post(
            f"/api/sessions/{sid}/notes", json={"t": 1, "pid": pid, "text": f"note on {sid}"}, headers=csrf
        )
        assert r.status_code == 201
    cid = viewer.post("/api/collections", json={"name": "Both", "site": site.key}, headers=csrf).json()["id"]
    for sid in (gone_sid, kept_sid):
        viewer.put(f"/api/collections/{cid}/sessions/{sid}", headers=csrf)

    removal, _ = erase(store, index, Subject(visitor="vid-erased-visitor"), "test")
    assert removal.sessions == [(site.key, gone_sid)] and removal.documents["documents_removed"] == 1

    assert all(gone_sid not in key for key in store.list(""))  # no object names it, or holds it:
    for key in store.list(f"v1/sites/{site.key}/"):
        if "docs/" in key:
            assert gone_sid.encode() not in __import__("zstandard").ZstdDecompressor().decompress(
                store.get(key)
            )
    rows = index.query("SELECT * FROM saved_docs") + index.query("SELECT * FROM saved_doc_sessions")
    assert not [r for r in rows if gone_sid in repr(r)]
    assert [n["text"] for n in viewer.get(f"/api/sessions/{kept_sid}/notes").json()["notes"]] == [
        f"note on {kept_sid}"
    ]
    assert viewer.get(f"/api/collections/{cid}").json()["sessions"] == [kept_sid]
    assert viewer.get("/api/notes", params={"q": "note on"}).json()["notes"][0]["sid"] == kept_sid
    # Reindex does not bring anything back.
    reindex(store, index)
    assert len(viewer.get("/api/notes", params={"q": "note on"}).json()["notes"]) == 1


def test_cli_lists_notes_and_collections(
    viewer: TestClient, settings: Settings, site: Site, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sessionlens.cli import main

    if settings.index_url:  # the command reads its index from the environment, as when run
        monkeypatch.setenv("SESSIONLENS_INDEX_URL", settings.index_url)

    sid, pid = record(viewer, site)
    csrf = login(viewer)
    viewer.post(
        f"/api/sessions/{sid}/notes", json={"t": 61_000, "pid": pid, "text": "two\nlines"}, headers=csrf
    )
    cid = viewer.post("/api/collections", json={"name": "Later", "site": site.key}, headers=csrf).json()["id"]
    viewer.put(f"/api/collections/{cid}/sessions/{sid}", headers=csrf)
    capsys.readouterr()
    base = ["--data-dir", settings.data_dir]
    assert main(["notes", "list", sid, *base]) == 0
    (line,) = capsys.readouterr().out.splitlines()
    assert line.startswith("1:01\tada\t") and line.endswith("\ttwo\\nlines")  # one line per note
    assert main(["collections", "list", *base]) == 0
    assert capsys.readouterr().out.split("\t")[:3] == [cid, site.key, "1 sessions"]
    assert main(["notes", "list", "no-such-session", *base]) == 1
