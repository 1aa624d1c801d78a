"""`reindex` never loses what it cannot read (issue 8, item 2).

A chunk that cannot be decoded, indexed or derived is named with its key and
the reason and skipped; everything else is rebuilt, keyframes included; the
old index is replaced only when the rebuild has finished, in one transaction.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest
from starlette.testclient import TestClient

from sessionlens import codec, keys
from sessionlens.index import Index
from sessionlens.reindex import chunk_keys, reindex
from sessionlens.replay.pageview import PageViewReader
from sessionlens.settings import Settings
from sessionlens.sites import Site
from sessionlens.stores.local import LocalStore
from tests.helpers import batch, click_event, meta_event, new_id, snapshot_event

DERIVED = ("chunks", "page_views", "page_urls", "sessions", "clicks", "moves")


def rows_of(index: Index) -> dict[str, list]:
    out = {}
    for table in DERIVED:
        rows = index.query(f"SELECT * FROM {table}")  # noqa: S608 - fixed names
        out[table] = sorted(tuple(str(v) for v in r.values()) for r in rows)
    return out


def ingest_sessions(client: TestClient, site: Site, n: int) -> list[tuple[str, str]]:
    """n sessions of one page view with two batches each; returns (sid, pid)."""
    views = []
    for _ in range(n):
        sid, pid = new_id(), new_id()
        t0 = int(time.time() * 1000) - 60_000
        first = [meta_event(0), snapshot_event(5), click_event(100), click_event(150, 300, 40)]
        for seq, events in enumerate((first, [click_event(6000), ["mutation", 6100, [], [], [[5, "class", "x"]], []]])):
            r = client.post(f"/ingest/{site.key}", content=orjson.dumps(batch(sid, pid, seq, events, t0)))
            assert r.status_code == 200, r.text
        views.append((sid, pid))
    assert client.app.state.derivation.wait_idle(60)
    return views


def put_chunk(store: LocalStore, site: str, sid: str, pid: str, seq: int, t0: int, events: list) -> str:
    key = keys.chunk_key(keys.ChunkAddress(site, sid, pid, seq))
    chunk = {"v": 1, "site": site, "sid": sid, "pid": pid, "seq": seq, "t0": t0,
             "received": int(time.time() * 1000), "ua": "", "events": events}  # fmt: skip
    store.put(key, codec.encode(chunk))
    return key


@pytest.fixture
def poisoned(client: TestClient, site: Site, store: LocalStore) -> dict:
    views = ingest_sessions(client, site, 4)
    now = int(time.time() * 1000)
    # Stored before ingest checked numbers: an index write overflows SQLite.
    overflow = put_chunk(store, site.key, new_id(), new_id(), 0, 2**63, [meta_event(0), click_event(10)])
    # A damaged object beside a good chunk of the same page view.
    sid, pid = views[1]
    corrupt = keys.chunk_key(keys.ChunkAddress(site.key, sid, pid, 2))
    store.put(corrupt, b"\x28\xb5\x2f\xfd not really zstd")
    # Indexable, but its events make the DOM replay of derivation raise.
    bad_sid, bad_pid = new_id(), new_id()
    put_chunk(store, site.key, bad_sid, bad_pid, 0, now, [meta_event(0), snapshot_event(5), click_event(50)])
    underived = put_chunk(store, site.key, bad_sid, bad_pid, 1, now, [["mutation", 900, "x", "y", "z", "w"]])
    return {"views": views, "overflow": overflow, "corrupt": corrupt, "underived": underived,
            "underived_view": (bad_sid, bad_pid)}  # fmt: skip


def test_reindex_names_each_poisoned_chunk_and_rebuilds_everything_else(
    poisoned: dict, site: Site, store: LocalStore, index: Index
) -> None:
    index.clear()
    result = reindex(store, index)
    reasons = {s.key: s.reason for s in result.skipped}
    assert set(reasons) == {poisoned["overflow"], poisoned["corrupt"], poisoned["underived"]}, reasons
    assert "cannot be indexed" in reasons[poisoned["overflow"]]
    assert "keyframes" in reasons[poisoned["underived"]] and "clicks" not in reasons[poisoned["underived"]]
    # Every other session is back, with its click facts and keyframes.
    reader = PageViewReader(store)
    for sid, pid in poisoned["views"]:
        assert index.session(sid, site.key)["page_count"] == 1
        assert len(index.query("SELECT * FROM clicks WHERE sid = ? AND pid = ?", (sid, pid))) == 3

        assert reader.keyframe_times(site.key, sid, pid)
    # The page view whose later chunk cannot be replayed keeps its rows.
    bad_sid, _ = poisoned["underived_view"]
    assert index.session(bad_sid, site.key)["batches"] == 2
    assert result.sessions == 5
    # Nothing stored was deleted.
    assert store.get(poisoned["corrupt"]).startswith(b"\x28\xb5\x2f\xfd")
    assert codec.decode(store.get(poisoned["overflow"]))["t0"] == 2**63


def test_reindex_cli_prints_skipped_keys_with_reasons_and_exits_1(
    poisoned: dict, settings: Settings, index_env: dict[str, str]
) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "sessionlens.cli", "reindex", "--data-dir", settings.data_dir],
        capture_output=True, text=True, timeout=120, env={"PATH": "/usr/bin:/bin", **index_env},
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    for name in ("overflow", "corrupt", "underived"):
        assert f"skipped {poisoned[name]}: " in proc.stderr
    assert "indexed" in proc.stdout


def test_an_interrupted_reindex_leaves_the_old_index_intact(
    client: TestClient, site: Site, store: LocalStore, index: Index, settings: Settings
) -> None:
    ingest_sessions(client, site, 4)
    before = rows_of(index)
    seen = []

    def stop_midway() -> None:
        seen.append(1)
        if len(seen) == 5:
            raise KeyboardInterrupt("operator pressed ctrl-c")

    with pytest.raises(KeyboardInterrupt):
        reindex(store, index, on_chunk=stop_midway)
    assert rows_of(index) == before
    assert not rebuild_leftovers(index, settings)

    def broken(*args: object) -> int:
        raise OSError("disk full")

    original = Index.adopt_rebuild
    try:
        Index.adopt_rebuild = broken  # type: ignore[method-assign]
        with pytest.raises(OSError):
            reindex(store, index)
    finally:
        Index.adopt_rebuild = original  # type: ignore[method-assign]
    assert rows_of(index) == before
    assert not rebuild_leftovers(index, settings)


def rebuild_leftovers(index: Index, settings: Settings) -> list[str]:
    """What a rebuild left beside the live index: SQLite files, or PostgreSQL staging schemas."""
    if index.dialect.is_postgresql:
        rows = index.query(
            "SELECT schema_name AS name FROM information_schema.schemata WHERE schema_name LIKE ?",
            (index.query("SELECT current_schema() AS s")[0]["s"] + "_rebuild_%",),
        )
        return [r["name"] for r in rows]
    return [p.name for p in Path(settings.resolved_index_path).parent.glob("*.rebuild-*")]


def test_a_running_server_sees_the_rebuilt_index_and_keeps_what_arrived_meanwhile(
    client: TestClient, site: Site, store: LocalStore, index: Index, settings: Settings, index_location: dict
) -> None:
    views = ingest_sessions(client, site, 3)
    listed = chunk_keys(store)  # the rebuild's listing, taken before the last session arrives
    late_sid, late_pid = ingest_sessions(client, site, 1)[0]
    r = client.post(f"/ingest/{site.key}", content=orjson.dumps(batch(late_sid, late_pid, 2, [click_event(9000)])))
    assert r.status_code == 200, r.text
    other = Index(**index_location)  # as `sessionlens reindex` opens it, beside the server
    try:
        result = reindex(store, other, listed)
    finally:
        other.close()
    assert result.kept == 3  # the late session's three chunk rows survive the swap
    # ... and its derived rows, replaced by the rebuild's, are derived again by the server's worker.
    assert client.app.state.derivation.wait_idle(60)
    sids = {s["sid"] for s in index.sessions(limit=100)}
    assert sids == {sid for sid, _ in views} | {late_sid}
    assert len(index.query("SELECT * FROM clicks WHERE sid = ?", (late_sid,))) == 4


def test_reindex_rebuilds_keyframes_unless_told_not_to(
    client: TestClient, site: Site, store: LocalStore, index: Index
) -> None:
    (sid, pid), = ingest_sessions(client, site, 1)
    reader = PageViewReader(store)
    written = reader.keyframe_times(site.key, sid, pid)
    assert written
    store.delete_prefix(keys.keyframe_prefix(site.key, sid, pid))
    # A stale keyframe that no chunk justifies any more is removed.
    store.put(keys.keyframe_key(site.key, sid, pid, 99_999), codec.encode({"t": 99_999, "seq": 7}))
    reindex(store, index, keyframes=False)
    assert reader.keyframe_times(site.key, sid, pid) == [99_999]
    reindex(store, index)
    assert reader.keyframe_times(site.key, sid, pid) == written
