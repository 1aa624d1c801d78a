"""Saved documents: the store is the truth, versions are compare-and-swapped, the index follows
and is rebuilt from the store by reindex (both index backends)."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from sessionlens import codec, keys
from sessionlens.index import Index
from sessionlens.index import saved_docs as rows
from sessionlens.reindex import reindex
from sessionlens.saved_docs import (
    KEEP_VERSIONS,
    MAX_NAME,
    DocConflict,
    DocError,
    DocNotFound,
    SavedDoc,
    SavedDocs,
)
from sessionlens.sites import Site
from sessionlens.stores.local import LocalStore


def _objects(store: LocalStore, site: str) -> list[str]:
    return [k for k in store.list(keys.site_prefix(site)) if "docs/" in k]


def test_create_get_list_update_delete_round_trip(store: LocalStore, index: Index, site: Site) -> None:
    docs = SavedDocs(store, index)
    doc = docs.create(
        "segment", site.key, "ada", name="Signup abandoners", body={"filters": {"url": ["/signup"]}}
    )
    assert doc.version == 1 and doc.author == "ada" and doc.created == doc.updated
    assert _objects(store, site.key) == [keys.saved_doc_key(site.key, "segment", doc.id, 1)]
    assert codec.decode(store.get(doc.key)) == doc.as_json()  # what the store holds is the document
    assert docs.get("segment", site.key, doc.id) == doc
    assert docs.get("segment", None, doc.id) == doc
    assert [d.id for d in docs.list("segment", site.key)] == [doc.id]
    assert docs.list("collection", site.key) == []

    new = docs.update("segment", site.key, doc.id, expected_version=1, name="Renamed")
    assert new.version == 2 and new.name == "Renamed" and new.body == doc.body and new.created == doc.created
    # Each version is an object; the newest is the document.
    assert _objects(store, site.key) == [keys.saved_doc_key(site.key, "segment", doc.id, v) for v in (1, 2)]
    assert docs.get("segment", site.key, doc.id).name == "Renamed"

    with pytest.raises(DocConflict) as stale:
        docs.update("segment", site.key, doc.id, expected_version=1, name="Lost edit")
    assert stale.value.current == 2 and docs.get("segment", site.key, doc.id).name == "Renamed"
    assert docs.update("segment", site.key, doc.id, name="Last write wins").version == 3
    for _ in range(KEEP_VERSIONS + 2):
        docs.update("segment", site.key, doc.id, body={"n": _})
    assert len(_objects(store, site.key)) == KEEP_VERSIONS  # older versions are pruned
    last = docs.get("segment", site.key, doc.id)
    assert last.version == 3 + KEEP_VERSIONS + 2 and last.name == "Last write wins"

    with pytest.raises(DocConflict):
        docs.delete("segment", site.key, doc.id, expected_version=2)
    docs.delete("segment", site.key, doc.id, expected_version=last.version)
    assert _objects(store, site.key) == []
    with pytest.raises(DocNotFound):
        docs.get("segment", site.key, doc.id)
    assert (
        index.query("SELECT * FROM saved_docs") == []
        and index.query("SELECT * FROM saved_doc_sessions") == []
    )


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"kind": "virus"}, "kind"),
        ({"site": "../x"}, "site"),
        ({"author": "a b"}, "author"),
        ({"name": "x" * (MAX_NAME + 1)}, "name"),
        ({"sessions": ["ok", "not ok/.."]}, "session"),
        ({"body": {"big": "x" * 70_000}}, "body"),
        ({"body": {"bad": {1, 2}}}, "body"),
        ({"sid": "abc"}, "sid"),  # a collection is not on one session
    ],
)
def test_invalid_documents_are_refused_and_nothing_is_stored(
    store: LocalStore, index: Index, site: Site, changes: dict[str, Any], field: str
) -> None:
    args: dict[str, Any] = {"kind": "collection", "site": site.key, "author": "ada", "name": "ok", **changes}
    kind, site_key, author = args.pop("kind"), args.pop("site"), args.pop("author")
    with pytest.raises(DocError) as refused:
        SavedDocs(store, index).create(kind, site_key, author, **args)
    assert field in str(refused.value)
    assert list(store.list("v1/")) == [] and index.query("SELECT * FROM saved_docs") == []


def test_a_note_needs_its_session(store: LocalStore, index: Index, site: Site) -> None:
    with pytest.raises(DocError, match="sid"):
        SavedDocs(store, index).create("note", site.key, "ada", name="x")
    note = SavedDocs(store, index).create("note", site.key, "ada", name="x", sid="s1", body={"t": 5})
    assert note.key.startswith(keys.saved_doc_root(site.key, "s1"))  # erased with the session by prefix


def test_concurrent_unversioned_changes_all_land(store: LocalStore, index: Index, site: Site) -> None:
    """Eight writers adding a session each to one collection: compare-and-swap retries keep them all."""
    docs = SavedDocs(store, index)
    doc = docs.create("collection", site.key, "ada", name="Watch later")
    errors: list[BaseException] = []

    def add(sid: str) -> None:
        try:
            docs.modify("collection", site.key, doc.id, lambda d: {"sessions": [*d.sessions, sid]})
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=add, args=(f"s{i}",)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    final = docs.get("collection", site.key, doc.id)
    assert sorted(final.sessions) == [f"s{i}" for i in range(8)] and final.version == 9
    assert docs.stored("collection", site.key, doc.id) == final
    listed = index.query("SELECT sid FROM saved_doc_sessions WHERE id = ? ORDER BY sid", (doc.id,))
    assert [r["sid"] for r in listed] == [f"s{i}" for i in range(8)]


def test_a_deletion_wins_over_an_update_built_on_the_deleted_version(
    store: LocalStore, index: Index, site: Site
) -> None:
    docs = SavedDocs(store, index)
    doc = docs.create("collection", site.key, "ada", name="A")

    def delete_meanwhile(current: SavedDoc) -> dict[str, Any]:
        # Another process deletes the document between this writer's read and its write.
        SavedDocs(store, index).delete("collection", site.key, doc.id)
        return {"name": "B"}

    with pytest.raises(DocNotFound):
        docs.modify("collection", site.key, doc.id, delete_meanwhile)
    assert _objects(store, site.key) == [] and index.query("SELECT * FROM saved_docs") == []


def test_an_older_version_never_overwrites_a_newer_row(store: LocalStore, index: Index, site: Site) -> None:
    docs = SavedDocs(store, index)
    doc = docs.create("segment", site.key, "ada", name="v1")
    docs.update("segment", site.key, doc.id, name="v2")
    assert not rows.upsert(index, doc.index_row(), [])  # a slow writer of version 1
    assert docs.get("segment", site.key, doc.id).name == "v2"


def test_reindex_rebuilds_the_documents_from_the_store(
    store: LocalStore, index: Index, index_location: dict[str, Any], site: Site
) -> None:
    docs = SavedDocs(store, index)
    note = docs.create(
        "note", site.key, "ada", name="Checkout BUG here", sid="s1", body={"pid": "p1", "t": 10}
    )
    coll = docs.create("collection", site.key, "ada", name="Bugs", sessions=["s1", "s2"])
    seg = docs.create("segment", site.key, "bob", name="Mobile", body={"filters": {"device": ["mobile"]}})
    docs.update("segment", site.key, seg.id, name="Mobile visitors")
    gone = docs.create("segment", site.key, "bob", name="Deleted in the store only")
    store.delete_prefix(gone.prefix)
    # An older version left behind by a writer that stopped between its write and its delete.
    store.put(keys.saved_doc_key(site.key, "collection", coll.id, 1).replace("0001.mpz", "0000.mpz"), b"junk")

    def answers(idx: Index) -> Any:
        d = SavedDocs(store, idx)
        return (
            [x.as_json() for x in d.list("segment", site.key)],
            [x.as_json() for x in d.list("collection", site.key)],
            [x.as_json() for x in d.list("note", site.key, sid="s1")],
            [x.id for x in d.search("note", "bug", site.key)],
            [x.id for x in d.listing("collection", site.key, "s2")],
        )

    # Wipe every saved-document row, as an index lost and created anew would be.
    index.write(
        lambda conn: (conn.execute("DELETE FROM saved_docs"), conn.execute("DELETE FROM saved_doc_sessions"))
    )
    assert answers(index) == ([], [], [], [], [])
    result = reindex(store, index)
    assert result.documents["documents"] == 3 and result.documents["rows_written"] == 3
    segments, collections, notes, found, listing = answers(index)
    assert [s["name"] for s in segments] == ["Mobile visitors"] and segments[0]["version"] == 2
    assert collections == [coll.as_json()] and notes == [note.as_json()]
    assert found == [note.id] and listing == [coll.id]
    # A row whose object is gone is removed by the next reindex.
    rows.upsert(index, gone.index_row(), [])
    assert reindex(store, index).documents["rows_removed"] == 1
    assert answers(index)[0] == segments
    # A brand-new index (another file or schema) gets the same answers from the store alone.
    before = answers(index)
    index.write(lambda conn: conn.execute("DELETE FROM saved_docs"))
    reindex(store, index)
    assert answers(index) == before


def test_damaged_objects_are_skipped_by_reindex(store: LocalStore, index: Index, site: Site) -> None:
    docs = SavedDocs(store, index)
    good = docs.create("collection", site.key, "ada", name="Good")
    bad_key = keys.saved_doc_key(site.key, "collection", "damaged", 1)
    store.put(bad_key, b"not zstd at all")
    store.put(
        keys.saved_doc_key(site.key, "collection", "forged", 1), codec.encode({"id": "forged", "kind": 1})
    )
    index.write(lambda conn: conn.execute("DELETE FROM saved_docs"))
    result = reindex(store, index)
    assert result.documents["documents"] == 1
    assert [d.id for d in docs.list("collection", site.key)] == [good.id]
    assert store.get(bad_key) == b"not zstd at all"  # never deleted, only skipped
