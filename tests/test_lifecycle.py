"""Data lifecycle (issue 11 item 5): visitor and user ids, erasure, retention, access; both index backends."""

from __future__ import annotations

import io
import threading
import time
import types
import zipfile
from typing import Any

import orjson
import pytest
from starlette.testclient import TestClient

from sessionlens import codec, ingest, keys
from sessionlens.app import create_app
from sessionlens.auth.users import Accounts
from sessionlens.compaction.compact import compact_page_view
from sessionlens.compaction.objects import SiteObjects
from sessionlens.contracts import make_event, make_node
from sessionlens.index import Index
from sessionlens.index import lifecycle as sql
from sessionlens.lifecycle.access import access_zip
from sessionlens.lifecycle.audit import audit_records
from sessionlens.lifecycle.erasure import Subject, erase
from sessionlens.lifecycle.holds import AssetsBusy, assets_held
from sessionlens.lifecycle.refs import assets_referenced, references
from sessionlens.lifecycle.retention import RetentionJob
from sessionlens.replay.pageview import PageViewReader
from sessionlens.sites import Site, SiteRegistry
from sessionlens.stores.local import LocalStore
from tests.conftest import SITE_ORIGIN
from tests.helpers import batch, click_event, meta_event, new_id, settings_with

# A stylesheet every visitor's page links: one shared asset after compaction.
SHARED_CSS = "body{margin:0}" + "".join(f".s{i}{{padding:{i}px}}" for i in range(200))
PASSWORD = "correct horse battery"
OWN_ORIGIN = {"Origin": "http://testserver"}


def _snapshot(marker: str, own_css: str) -> list[Any]:
    nodes = [
        make_node("document", id=1),
        make_node("doctype", id=2, parent=1, name="html", publicId="", systemId=""),
        make_node("element", id=3, parent=1, tag="html", attrs={}),
        make_node("element", id=4, parent=3, tag="head", attrs={}),
        make_node("element", id=5, parent=4, tag="link", attrs={"rel": "stylesheet"}, props={"css": SHARED_CSS}),
        make_node("element", id=6, parent=4, tag="link", attrs={"rel": "stylesheet"}, props={"css": own_css}),
        make_node("element", id=7, parent=3, tag="body", attrs={"data-who": marker}),
        make_node("element", id=8, parent=7, tag="button", attrs={"id": "buy"}),
        make_node("text", id=9, parent=8, text=f"Hello {marker}"),
    ]
    return make_event("snapshot", t=5, part=0, last=True, nodes=nodes)


class Visitor:
    """One recorded visitor: unique strings that must vanish on erasure."""

    def __init__(self, name: str) -> None:
        self.vid = f"vid{name}{new_id()[:10]}"
        self.user = f"user-{name}-{new_id()[:8]}"
        self.marker = f"MARKER{name}{new_id()[:12]}"
        self.css = f"/*{self.marker}css*/" + "".join(f".{name}{i}{{margin:{i}px}}" for i in range(120))
        self.sid = new_id()
        self.pids: list[str] = []

    @property
    def secrets(self) -> list[str]:
        return [self.vid, self.user, self.marker]


def record(client: TestClient, site: Site, v: Visitor, t0: int | None = None, pages: int = 2) -> None:
    t0 = t0 or int(time.time() * 1000) - 60_000
    for p in range(pages):
        pid = new_id()
        v.pids.append(pid)
        first = [meta_event(0, f"https://shop.example/{v.marker}/p{p}"), _snapshot(v.marker, v.css), click_event(100)]
        later = [click_event(5000, 120, 220)]
        if p == 1:  # identified in the second page view only
            later.append(make_event("identify", t=5001, user=v.user, traits={"plan": "pro", "ref": v.marker}))
        for seq, events in enumerate((first, later)):
            body = {**batch(v.sid, pid, seq, events, t0 + p * 20_000), "vid": v.vid}
            r = client.post(f"/ingest/{site.key}", json=body)
            assert r.status_code == 200, r.text


def settle(client: TestClient, store: LocalStore, site: Site, visitors: list[Visitor]) -> None:
    """Derive (keyframes, facts) and compact every page view: packs, assets, re-encoded keyframes."""
    assert client.app.state.derivation.wait_idle(30)
    for v in visitors:
        for pid in v.pids:
            compact_page_view(store, site.key, v.sid, pid)


def every_object(store: LocalStore) -> dict[str, list[bytes]]:
    """Every stored object as raw bytes and, where it decodes, its decompressed msgpack."""
    objects = SiteObjects(store)
    out: dict[str, list[bytes]] = {}
    for key in store.list(""):
        blob = store.get(key)
        forms = [blob]
        site = key.split("/")[2] if key.startswith("v1/sites/") else ""
        try:
            forms.append(codec.decompress(blob, lambda i, site=site: objects.dictionary(site, i)))
        except Exception:
            pass  # PNG, JSON, config: raw is what there is
        out[key] = forms
    return out


def every_index_row(index: Index) -> list[str]:
    if index.dialect.is_postgresql:
        tables = [r["t"] for r in index.query(
            "SELECT table_name AS t FROM information_schema.tables WHERE table_schema = current_schema()"
        )]  # fmt: skip
    else:
        tables = [r["t"] for r in index.query("SELECT name AS t FROM sqlite_master WHERE type = 'table'")]
    return [repr(row) for t in tables for row in index.query(f"SELECT * FROM {t}")]  # noqa: S608


def assert_gone(store: LocalStore, index: Index, v: Visitor) -> None:
    for key, forms in every_object(store).items():
        for form in forms:
            for secret in v.secrets:
                assert secret.encode() not in form, f"{secret} still in {key}"
        assert v.sid not in key
    rows = every_index_row(index)
    for secret in [*v.secrets, v.sid]:
        assert not [r for r in rows if secret in r], f"{secret} still in the index"


def assert_replays(store: LocalStore, site: Site, v: Visitor) -> None:
    reader = PageViewReader(store)
    for pid in v.pids:
        events = [e for _, e in reader.events(site.key, v.sid, pid)]
        assert any(e[0] == "snapshot" for e in events)
        dom = repr(reader.dom_at(site.key, v.sid, pid, 200).keyframe())
        assert v.marker in dom and SHARED_CSS in dom


@pytest.fixture
def viewer(client: TestClient, store: LocalStore) -> TestClient:
    Accounts(store).add_user("ada", PASSWORD)
    return client


def test_ingest_keeps_visitor_and_user_ids_and_the_index_has_them(
    client: TestClient, index: Index, site: Site
) -> None:
    v = Visitor("A")
    record(client, site, v)
    row = index.session(v.sid)
    assert row is not None and row["visitor_id"] == v.vid and row["user_id"] == v.user
    assert sql.sessions_of(index, user=v.user) == [(site.key, v.sid)]


def test_identify_is_validated_and_its_traits_scrubbed(client: TestClient, store: LocalStore, site: Site) -> None:
    sid, pid = new_id(), new_id()
    bad = [
        (make_event("identify", t=1, user="", traits={}), "user"),
        (make_event("identify", t=1, user="u", traits={"nested": {"a": 1}}), "traits"),
        (make_event("identify", t=1, user="u", traits={f"k{i}": i for i in range(51)}), "traits"),
        (make_event("identify", t=1, user="u", traits={"long": "x" * 257}), "traits"),
        (make_event("identify", t=1, user="u" * 257, traits={}), "user"),
    ]
    for seq, (event, field) in enumerate(bad):
        r = client.post(f"/ingest/{site.key}", json=batch(sid, pid, seq, [event]))
        assert r.status_code == 422 and field in r.json()["error"], r.text
    r = client.post(f"/ingest/{site.key}", json={**batch(sid, pid, 0), "vid": "not a visitor id!"})
    assert r.status_code == 422 and "vid" in r.json()["error"]
    ok = make_event("identify", t=1, user="opaque-42", traits={"email": "ada@example.com", "n": 3, "b": True})
    assert client.post(f"/ingest/{site.key}", json=batch(sid, pid, 0, [ok])).status_code == 200
    stored = codec.decode(store.get(keys.chunk_key(keys.ChunkAddress(site.key, sid, pid, 0))))
    (event,) = stored["events"]
    assert event[2] == "opaque-42" and "@" not in event[3]["email"] and event[3]["n"] == 3


def test_every_table_holding_sessions_is_cleared(index: Index) -> None:
    if index.dialect.is_postgresql:
        rows = index.query(
            "SELECT DISTINCT table_name AS t FROM information_schema.columns"
            " WHERE table_schema = current_schema() AND column_name = 'sid'"
        )
        tables = {r["t"] for r in rows if "_d" not in r["t"]}  # day partitions belong to clicks/moves
    else:
        rows = index.query("SELECT name AS t FROM sqlite_master WHERE type = 'table'")
        tables = {r["t"] for r in rows if "sid" in index.columns(r["t"])}
    assert tables <= set(sql.SESSION_TABLES)


def test_erasure_leaves_nothing_of_the_visitor_and_others_replay(
    client: TestClient, store: LocalStore, index: Index, site: Site
) -> None:
    a, b = Visitor("A"), Visitor("B")
    record(client, site, a)
    record(client, site, b)
    settle(client, store, site, [a, b])
    objects = SiteObjects(store)
    shared = keys.asset_key(site.key, _sha(SHARED_CSS))
    a_only = keys.asset_key(site.key, _sha(a.css))
    assert shared in set(store.list(keys.asset_prefix(site.key))) and store.get(a_only)

    removal, audit = erase(store, index, Subject(visitor=a.vid), "test:ada")

    assert sorted(removal.sessions) == [(site.key, a.sid)]
    assert a_only in removal.assets_removed and shared in removal.assets_kept
    assert_gone(store, index, a)
    # B is whole: its rows, its objects, its replay, and the stylesheet asset it shares with A.
    assert index.session(b.sid) is not None and len(index.page_views(site.key, b.sid)) == 2
    assert _sha(SHARED_CSS) in assets_referenced(store, objects, site.key, only={b.sid})
    # Packs alone hold the reference too (their chunks are msgpack bytes of their own).
    b_packs = [k for k in store.list(keys.session_prefix(site.key, b.sid)) if keys.parse_pack_key(k)]
    assert b_packs and any(_sha(SHARED_CSS) in references(objects, site.key, store.get(k)) for k in b_packs)
    assert_replays(store, site, b)
    (record_,) = audit_records(store)
    assert record_["requested_by"] == "test:ada" and record_["subject"]["kind"] == "visitor"
    assert audit.startswith(keys.AUDIT_PREFIX) and a.vid not in orjson.dumps(record_).decode()
    # Running it again finds nothing and breaks nothing.
    again, _ = erase(store, index, Subject(visitor=a.vid), "test:ada")
    assert again.sessions == [] and index.session(b.sid) is not None


def test_no_worker_can_claim_an_erased_session_while_it_is_removed(
    settings: Any, store: LocalStore, index: Index, site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sessionlens.lifecycle import erase as erase_module

    app = create_app(settings_with(settings, derivation_worker=False), store=store, index=index)
    a = Visitor("A")
    with TestClient(app, headers={"Origin": SITE_ORIGIN}) as client:
        # Acknowledged and queued, not derived: no worker runs. (Inside the app's lifespan, which
        # closes the index at its end.)
        record(client, site, a)
        assert index.work_backlog(5)["pending"] == len(a.pids)
        # A worker that looks for work after erasure waited for claims and before it removed the rows
        # (here: while erasure notes the assets), and writes what it derived after the removal.
        claimed: list[Any] = []
        noting = erase_module.refs.assets_referenced

        def a_worker_claims(*args: Any, **kwargs: Any) -> Any:
            claimed.extend(index.claim_work("late-worker", int(time.time() * 1000), 60_000, 5, 10))
            return noting(*args, **kwargs)

        monkeypatch.setattr(erase_module.refs, "assets_referenced", a_worker_claims)
        removal, _ = erase(store, index, Subject(user=a.user), "test")
        assert removal.sessions == [(site.key, a.sid)]
        # Erasure dropped the queued work first: nothing left to claim, so nothing derived from
        # a's chunks (its traits among them) is written after the removal.
        assert claimed == []
        assert_gone(store, index, a)


def test_erasure_by_user_and_by_session(client: TestClient, store: LocalStore, index: Index, site: Site) -> None:
    a, b, c = Visitor("A"), Visitor("B"), Visitor("C")
    for v in (a, b, c):
        record(client, site, v)
    # Erasure waits only for claimed work: a page view claimed after it looked would write its
    # derived rows (a's traits among them) after the delete.
    assert client.app.state.derivation.wait_idle(60)
    removal, _ = erase(store, index, Subject(user=a.user), "test")
    assert removal.sessions == [(site.key, a.sid)]
    removal, _ = erase(store, index, Subject(session=b.sid, site=site.key), "test")
    assert removal.sessions == [(site.key, b.sid)]
    assert_gone(store, index, a)
    assert_gone(store, index, b)
    assert index.session(c.sid) is not None


def test_asset_deletion_waits_for_compaction_holds(
    client: TestClient, store: LocalStore, index: Index, site: Site
) -> None:
    a, b = Visitor("A"), Visitor("B")
    record(client, site, a)
    record(client, site, b)
    settle(client, store, site, [a])
    a_only = keys.asset_key(site.key, _sha(a.css))
    now = int(time.time() * 1000)
    assert sql.hold_assets(index, site.key, "compactor-1", now, 60_000)
    assert not sql.lock_assets(index, site.key, "eraser", now, 60_000)  # a hold keeps deletion out
    removal, _ = erase(store, index, Subject(visitor=a.vid), "test", asset_wait_s=0.3)
    assert a_only in removal.assets_pending and store.get(a_only)  # left for a later run, never guessed
    sql.release_assets(index, site.key, "compactor-1")
    assert sql.lock_assets(index, site.key, "eraser", now, 60_000)
    with pytest.raises(AssetsBusy), assets_held(index, site.key, wait_s=0.3):  # and the lease keeps holds out
        pass
    sql.unlock_assets(index, site.key, "eraser")
    with assets_held(index, site.key, wait_s=1):
        pass


def test_retention_removes_old_sessions_only(
    client: TestClient, store: LocalStore, index: Index, site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    old, new = Visitor("Old"), Visitor("New")
    long_ago = time.time() - 3 * 86_400
    monkeypatch.setattr(ingest, "time", types.SimpleNamespace(time=lambda: long_ago))
    record(client, site, old, t0=int(long_ago * 1000))
    monkeypatch.undo()
    record(client, site, new)
    other = Visitor("Other")  # a site without retention keeps its old sessions
    keep_site = Site(key="keepsite1", name="Keep", allowed_origins=["https://shop.example"])
    SiteRegistry(store).save(keep_site)
    monkeypatch.setattr(ingest, "time", types.SimpleNamespace(time=lambda: long_ago))
    record(client, keep_site, other, t0=int(long_ago * 1000), pages=1)
    monkeypatch.undo()
    settle(client, store, site, [old, new])
    site.retention_days = 2
    SiteRegistry(store).save(site)

    report = RetentionJob(store, index, 3600).run_due("worker-1", force=True)  # the app's worker may have run

    assert report is not None and [s["sid"] for s in report["sites"][site.key]["sessions"]] == [old.sid]
    assert_gone(store, index, old)
    assert_replays(store, site, new)
    assert index.session(other.sid) is not None
    assert [r["action"] for r in audit_records(store)] == ["retention"]


def test_an_idle_worker_runs_the_retention_job(
    client: TestClient, store: LocalStore, index: Index, site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = Visitor("Old")
    long_ago = time.time() - 3 * 86_400
    monkeypatch.setattr(ingest, "time", types.SimpleNamespace(time=lambda: long_ago))
    record(client, site, old, t0=int(long_ago * 1000), pages=1)
    monkeypatch.undo()
    site.retention_days = 1
    SiteRegistry(store).save(site)
    worker = client.app.state.derivation
    worker.periodic[:] = [RetentionJob(store, index, 0)]
    deadline = time.monotonic() + 20
    while index.session(old.sid) is not None and time.monotonic() < deadline:
        worker.wait_idle(5)
        time.sleep(0.05)
    assert index.session(old.sid) is None and not list(store.list(keys.session_prefix(site.key, old.sid)))


def test_the_retention_job_runs_once_when_two_workers_race(index_location: dict[str, Any], store: LocalStore) -> None:
    runs: list[str] = []
    barrier = threading.Barrier(2, timeout=30)
    # Two workers, each with its own index connections (PostgreSQL: its own pool; SQLite: its own writer).
    indexes = [Index(**index_location) for _ in range(2)]

    def worker(name: str, idx: Index) -> None:
        job = RetentionJob(store, idx, 3600)
        barrier.wait()
        if job.run_due(name) is not None:
            runs.append(name)

    threads = [threading.Thread(target=worker, args=(f"w{i}", idx)) for i, idx in enumerate(indexes)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    for idx in indexes:
        idx.close()
    assert len(runs) == 1
    idx = Index(**index_location)
    try:
        assert RetentionJob(store, idx, 3600).run_due("w3") is None  # ran within the period
        assert RetentionJob(store, idx, 3600).run_due("w3", force=True) is not None  # `retention run`
        lease = sql.lease(idx, "retention")
        assert lease is not None and lease["holder"] is None and lease["last_run"] > 0
    finally:
        idx.close()


def test_access_zip_holds_the_visitor_and_nothing_of_others(
    client: TestClient, store: LocalStore, index: Index, site: Site
) -> None:
    a, b = Visitor("A"), Visitor("B")
    record(client, site, a)
    record(client, site, b)
    settle(client, store, site, [a, b])
    data, count = access_zip(store, index, Subject(visitor=a.vid))
    assert count == 1
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        names = set(zf.namelist())
        assert {"sessions.jsonl", "page_views.jsonl", "events.jsonl", "index/clicks.jsonl"} <= names
        text = b"".join(zf.read(n) for n in names).decode()
        sessions = [orjson.loads(line) for line in zf.read("sessions.jsonl").splitlines()]
        events = [orjson.loads(line) for line in zf.read("events.jsonl").splitlines()]
    assert [s["sid"] for s in sessions] == [a.sid] and sessions[0]["user_id"] == a.user
    assert any(e["kind"] == "identify" and e["user"] == a.user for e in events)
    assert a.marker in text and a.vid in text
    for secret in [*b.secrets, b.sid]:
        assert secret not in text


def test_api_needs_login_csrf_and_admin_scope(viewer: TestClient, store: LocalStore, site: Site) -> None:
    a = Visitor("A")
    record(viewer, site, a)
    anonymous = viewer.post("/api/erasure", json={"visitor": a.vid})
    assert anonymous.status_code == 401
    assert viewer.get(f"/api/access?visitor={a.vid}").status_code == 401
    read_token = Accounts(store).create_token("ada", "reader")
    bearer = {"Authorization": f"Bearer {read_token}"}
    assert viewer.post("/api/erasure", json={"visitor": a.vid}, headers=bearer).status_code == 403
    assert viewer.get(f"/api/access?visitor={a.vid}", headers=bearer).status_code == 403
    r = viewer.post("/login", data={"name": "ada", "password": PASSWORD, "next": "/"}, headers=OWN_ORIGIN)
    assert r.status_code in (200, 303)
    assert viewer.post("/api/erasure", json={"visitor": a.vid}, headers=OWN_ORIGIN).status_code == 403  # no CSRF
    r = viewer.get(f"/api/access?visitor={a.vid}", headers=OWN_ORIGIN)
    assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
    assert viewer.get("/api/access?visitor=a&user=b", headers=OWN_ORIGIN).status_code == 400
    assert viewer.get("/api/access?nobody=x", headers=OWN_ORIGIN).status_code == 400
    csrf = {"X-CSRF-Token": viewer.get("/api/me").json()["csrf"], **OWN_ORIGIN}
    for body in ({}, {"visitor": 5}, {"visitor": "a", "user": "b"}, {"session": "../x"}, []):
        r = viewer.post("/api/erasure", json=body, headers=csrf)
        assert r.status_code == 400 and r.json()["error"], body
    r = viewer.post("/api/erasure", json={"visitor": a.vid}, headers=csrf)
    assert r.status_code == 200 and r.json()["sessions"] == 1
    assert audit_records(store)[0]["requested_by"] == "viewer:ada"
    admin = Accounts(store).create_token("ada", "script", scope="admin")
    viewer.cookies.clear()
    r = viewer.get(f"/api/access?user={a.user}", headers={"Authorization": f"Bearer {admin}"})
    assert r.status_code == 200


def test_cli_sites_set_erase_access_and_retention(
    client: TestClient, settings: Any, store: LocalStore, site: Site, tmp_path: Any, capsys: Any,
    index_in_environ: dict[str, str],
) -> None:
    from sessionlens.cli import main

    a = Visitor("A")
    record(client, site, a)
    base = ["--data-dir", settings.data_dir]
    assert main(["sites", "set", site.key, "--retention-days", "-1", *base]) == 2
    assert main(["sites", "set", site.key, "--retention-days", "30", *base]) == 0
    assert SiteRegistry(store, cache_seconds=0).get(site.key).retention_days == 30
    out = tmp_path / "a.zip"
    assert main(["access", "--visitor", a.vid, "-o", str(out), *base]) == 0
    assert zipfile.ZipFile(out).read("sessions.jsonl")
    # The app's worker runs retention on its idle passes: let it finish so the command gets the lease.
    assert client.app.state.derivation.wait_idle(60)
    assert main(["retention", "run", *base]) == 0
    assert main(["erase", "--user", a.user, "--by", "dpo", *base]) == 0
    assert "erased 1 session(s)" in capsys.readouterr().out


def _sha(text: str) -> str:
    import hashlib

    return hashlib.sha256(text.encode()).hexdigest()


_ = create_app  # the client fixture builds the app
