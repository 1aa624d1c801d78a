"""Researcher-made documents (notes, collections, segments, funnels): stored, versioned, indexed.

The blob store is the truth: each version of a document is one object
(keys.saved_doc_key, codec-encoded), the highest version being the document.
A new version is created with put_if_absent, so two writers that both read
version n cannot both write n + 1: the loser gets DocConflict (409) when it
named the version it edited, or re-reads and applies its change again when it
did not (`expected_version=None`: its change is applied to the newest
version, so concurrent additions to a collection all land). The last
KEEP_VERSIONS versions are kept (a version number is never written twice),
then the index row is written (only if newer than the row). Deletion removes every object of the document, then
its row; an update racing a deletion notices its base is gone and removes
what it wrote, so a deletion wins.

The index rows (index/saved_docs.py) are only a way to list and search;
`resync` rebuilds them from the store (sessionlens reindex).
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import orjson

from sessionlens import codec, keys
from sessionlens.index import saved_docs as sql
from sessionlens.stores.base import BlobStore

KINDS = ("note", "collection", "segment", "funnel", "form", "survey")
SESSION_KINDS = ("note",)  # documents that belong to one session (erased with it)
MAX_NAME = 2_000  # characters of a document's searchable text (a note's text)
MAX_BODY_BYTES = 64 * 1024  # the kind-specific JSON, encoded
MAX_SESSIONS = 5_000  # sessions one document lists (a collection's members)
MAX_RETRIES = 8  # re-reads of a document changed underneath an unversioned change
# Versions kept behind the newest. A version number must never be written twice: a writer that
# read a version from a listing that missed newer ones could otherwise re-create a deleted
# number and branch the history. Keeping the last versions makes its write fail instead
# (it would have to be this many versions behind), and tells a deletion (every version gone)
# from a newer version (ours still there).
KEEP_VERSIONS = 16
EMPTY_LISTINGS = 3  # listings in a row without a version that mean a document is deleted
_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class DocError(ValueError):
    """A document or a change to it is not valid (400); the message names the field."""


class DocNotFound(KeyError):
    """No such document (404)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "no such document"


class DocConflict(RuntimeError):
    """The document changed since the version the caller edited (409)."""

    def __init__(self, current: int) -> None:
        super().__init__(f"the document is at version {current}: reload it and apply the change again")
        self.current = current


def _now_ms() -> int:
    return int(time.time() * 1000)


@dataclass(frozen=True, slots=True)
class SavedDoc:
    id: str
    kind: str
    site: str
    author: str
    created: int
    updated: int
    version: int
    name: str
    sid: str | None = None
    sessions: list[str] = field(default_factory=list)
    body: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def key(self) -> str:
        return keys.saved_doc_key(self.site, self.kind, self.id, self.version, self.sid)

    @property
    def prefix(self) -> str:
        return keys.saved_doc_prefix(self.site, self.kind, self.id, self.sid)

    def index_row(self) -> tuple[Any, ...]:
        return (
            self.site, self.kind, self.id, self.sid, self.author, self.created, self.updated, self.version,
            self.name, self.name.lower(), orjson.dumps(self.as_json()).decode(),
        )  # fmt: skip

    @classmethod
    def from_dict(cls, value: Any) -> SavedDoc:
        if not isinstance(value, dict):
            raise DocError("a stored document is not an object")
        try:
            doc = cls(
                id=value["id"], kind=value["kind"], site=value["site"], author=value["author"],
                created=int(value["created"]), updated=int(value["updated"]), version=int(value["version"]),
                name=value["name"], sid=value.get("sid"), sessions=list(value.get("sessions") or []),
                body=dict(value.get("body") or {}),
            )  # fmt: skip
        except (KeyError, TypeError, ValueError) as exc:
            raise DocError(f"a stored document lacks or mistypes {exc}") from exc
        validate(doc)
        return doc


def _check_id(name: str, value: Any, optional: bool = False) -> None:
    if value is None and optional:
        return
    if not isinstance(value, str) or not _ID.match(value):
        raise DocError(f"{name} must be 1-64 letters, digits, '_' or '-'")


def validate(doc: SavedDoc) -> None:
    """Raise DocError naming the first field that is wrong."""
    if doc.kind not in KINDS:
        raise DocError(f"kind must be one of {', '.join(KINDS)}")
    _check_id("site", doc.site)
    _check_id("id", doc.id)
    _check_id("author", doc.author)
    _check_id("sid", doc.sid, optional=doc.kind not in SESSION_KINDS)
    if doc.kind not in SESSION_KINDS and doc.sid is not None:
        raise DocError(f"a {doc.kind} is not on one session (no sid)")
    if not isinstance(doc.name, str) or len(doc.name) > MAX_NAME:
        raise DocError(f"name/text must be a string of at most {MAX_NAME} characters")
    if not isinstance(doc.sessions, list) or len(doc.sessions) > MAX_SESSIONS:
        raise DocError(f"sessions must be a list of at most {MAX_SESSIONS} session ids")
    for sid in doc.sessions:
        _check_id("each listed session", sid)
    if not isinstance(doc.body, dict):
        raise DocError("body must be a JSON object")
    try:
        size = len(orjson.dumps(doc.body))
    except TypeError as exc:
        raise DocError(f"body is not JSON: {exc}") from exc
    if size > MAX_BODY_BYTES:
        raise DocError(f"body is larger than {MAX_BODY_BYTES} bytes of JSON")


class SavedDocs:
    """Documents of every kind in one store and one index (stateless; cheap to make)."""

    def __init__(self, store: BlobStore, index: Any) -> None:
        self.store = store
        self.index = index

    # -- reading (the index) ---------------------------------------------------------

    def get(self, kind: str, site: str | None, doc_id: str) -> SavedDoc:
        """The document as indexed (site None: any site; ids are random, so unique in practice)."""
        if not isinstance(doc_id, str) or not _ID.match(doc_id):
            raise DocNotFound(f"no {kind} {doc_id!r}")
        row = sql.get(self.index, kind, doc_id, site)
        if row is None:
            raise DocNotFound(f"no {kind} {doc_id}")
        return SavedDoc.from_dict(orjson.loads(row["body"]))

    def list(
        self, kind: str, site: str | None = None, *, sid: str | None = None, limit: int = 500
    ) -> list[SavedDoc]:
        rows = sql.list_docs(self.index, kind, site, sid, limit)
        return [SavedDoc.from_dict(orjson.loads(r["body"])) for r in rows]

    def search(self, kind: str, text: str, site: str | None = None, limit: int = 100) -> list[SavedDoc]:
        rows = sql.search(self.index, kind, text, site, limit)
        return [SavedDoc.from_dict(orjson.loads(r["body"])) for r in rows]

    def listing(self, kind: str, site: str, sid: str) -> list[SavedDoc]:
        """Documents of a kind that list the session (the collections it is in)."""
        return [
            SavedDoc.from_dict(orjson.loads(r["body"])) for r in sql.docs_listing(self.index, site, kind, sid)
        ]

    # -- reading (the store: the truth) -------------------------------------------------

    def stored(self, kind: str, site: str, doc_id: str, sid: str | None = None) -> SavedDoc | None:
        """The highest stored version, or None when the document has no object."""
        return _latest(self.store, keys.saved_doc_prefix(site, kind, doc_id, sid))

    # -- writing ---------------------------------------------------------------------

    def create(
        self, kind: str, site: str, author: str, *, name: str, body: dict[str, Any] | None = None,
        sid: str | None = None, sessions: Iterable[str] = (),
    ) -> SavedDoc:  # fmt: skip
        now = _now_ms()
        doc = SavedDoc(
            id=secrets.token_urlsafe(12), kind=kind, site=site, author=author, created=now, updated=now,
            version=1, name=name, sid=sid, sessions=list(dict.fromkeys(sessions)), body=dict(body or {}),
        )  # fmt: skip
        validate(doc)
        if not self.store.put_if_absent(doc.key, codec.encode(doc.as_json())):
            raise DocConflict(1)  # 96 random bits collided: never in practice
        self._index(doc)
        return doc

    def update(self, kind: str, site: str | None, doc_id: str, *, expected_version: int | None = None,
               **changes: Any) -> SavedDoc:  # fmt: skip
        """Apply `changes` (name, body, sessions) as a new version. With expected_version, a
        document at another version is refused (DocConflict); without, the change is applied to
        whatever version is current (last write wins)."""
        return self.modify(kind, site, doc_id, lambda _doc: changes, expected_version=expected_version)

    def modify(
        self, kind: str, site: str | None, doc_id: str, change: Callable[[SavedDoc], dict[str, Any] | None],
        *, expected_version: int | None = None,
    ) -> SavedDoc:  # fmt: skip
        """Read the stored document, compute changes from it with `change` (None: nothing to do),
        write them as the next version; on a concurrent write, read again and retry (unless
        expected_version pins the version the caller saw)."""
        located = self.get(kind, site, doc_id)  # the index knows the site and session of the id
        for _ in range(MAX_RETRIES):
            current = self.stored(kind, located.site, doc_id, located.sid)
            if current is None:
                sql.delete(self.index, located.site, kind, doc_id)
                raise DocNotFound(f"no {kind} {doc_id}")
            if expected_version is not None and current.version != expected_version:
                raise DocConflict(current.version)
            changes = change(current)
            if not changes:
                return current
            unknown = set(changes) - {"name", "body", "sessions"}
            if unknown:
                raise DocError(f"cannot change {sorted(unknown)[0]}")
            if "sessions" in changes:
                changes["sessions"] = list(dict.fromkeys(changes["sessions"]))
            new = replace(
                current, **changes, version=current.version + 1, updated=max(_now_ms(), current.updated)
            )
            validate(new)
            if not self.store.put_if_absent(new.key, codec.encode(new.as_json())):
                if expected_version is not None:
                    raise DocConflict(current.version + 1)
                continue  # another writer made this version: apply the change to theirs
            try:
                self.store.get(current.key)
            except KeyError:
                # Only a deletion removes the version we built on (an updater would have lost
                # the put above): the deletion wins, and what we wrote goes too.
                self.store.delete_prefix(new.prefix)
                sql.delete(self.index, new.site, kind, doc_id)
                raise DocNotFound(f"no {kind} {doc_id}") from None
            self._prune(new, KEEP_VERSIONS)
            self._index(new)
            return new
        raise DocConflict(-1)

    def delete(
        self, kind: str, site: str | None, doc_id: str, *, expected_version: int | None = None
    ) -> SavedDoc:
        """Remove every stored version, then the index rows; returns the document as it was."""
        located = self.get(kind, site, doc_id)
        current = self.stored(kind, located.site, doc_id, located.sid) or located
        if expected_version is not None and current.version != expected_version:
            raise DocConflict(current.version)
        self.store.delete_prefix(current.prefix)
        sql.delete(self.index, current.site, kind, doc_id)
        return current

    def _prune(self, doc: SavedDoc, keep: int) -> None:
        """Delete the versions more than `keep` behind `doc` (0: every older version)."""
        for version, key in _versions(self.store, doc.prefix):
            if version <= doc.version - max(keep, 1) or (keep == 0 and version < doc.version):
                self.store.delete_prefix(key)  # a whole key: that version only

    def _index(self, doc: SavedDoc) -> None:
        listed = [*doc.sessions, *([doc.sid] if doc.sid else [])]
        sql.upsert(self.index, doc.index_row(), listed)
        # A deletion that ran between our object and our row removed every version: remove the
        # row. (Our version alone may be gone because a newer one replaced it: the row stays.)
        if _latest(self.store, doc.prefix) is None:
            sql.delete(self.index, doc.site, doc.kind, doc.id)

    # -- sessions going away (erasure, retention) ------------------------------------------

    def forget_sessions(self, sessions: list[tuple[str, str]]) -> dict[str, int]:
        """Delete the documents on these sessions (notes) and drop them from every document that
        lists them (collections). The store first, found by prefix (the index may be behind)."""
        removed = 0
        for site, sid in sessions:
            root = keys.saved_doc_root(site, sid)
            found = list(self.store.list(root))
            for key in found:
                self.store.delete_prefix(key)
            removed += len({k.rsplit("/", 1)[0] for k in found})
        gone = set(sessions)
        edited = 0
        for kind in KINDS:
            if kind in SESSION_KINDS:
                continue
            for site, doc_id in sql.docs_of_sessions(self.index, kind, sessions):

                def drop(doc: SavedDoc, site: str = site) -> dict[str, Any] | None:
                    kept = [s for s in doc.sessions if (site, s) not in gone]
                    return {"sessions": kept} if len(kept) != len(doc.sessions) else None

                try:
                    new = self.modify(kind, site, doc_id, drop)
                except DocNotFound:
                    continue
                self._prune(new, 0)  # older versions still list the erased sessions
                edited += 1
        return {"documents_removed": removed, "documents_edited": edited}

    # -- reindex -------------------------------------------------------------------------

    def resync(self, sites: Iterable[str]) -> dict[str, int]:
        """Make the index rows of these sites' documents match the store (sessionlens reindex)."""
        written = removed = 0
        stored: set[tuple[str, str, str]] = set()
        for site in sites:
            for root in (keys.saved_doc_root(site), f"{keys.site_prefix(site)}session-docs/"):
                for prefix in _doc_prefixes(self.store, root):
                    doc = _latest(self.store, prefix)
                    if doc is None or doc.site != site:
                        continue
                    stored.add((doc.site, doc.kind, doc.id))
                    listed = [*doc.sessions, *([doc.sid] if doc.sid else [])]
                    if sql.upsert(self.index, doc.index_row(), listed):
                        written += 1
        for site, kind, doc_id, _version in sql.all_keys(self.index):
            if (site, kind, doc_id) in stored:
                continue
            row = sql.get(self.index, kind, doc_id, site)
            doc = SavedDoc.from_dict(orjson.loads(row["body"])) if row else None
            # Rows whose object is gone (looked at again: it may have been created meanwhile).
            if doc is None or _latest(self.store, doc.prefix) is None:
                removed += sql.delete(self.index, site, kind, doc_id)
        return {"documents": len(stored), "rows_written": written, "rows_removed": removed}


def _doc_prefixes(store: BlobStore, root: str) -> list[str]:
    """The folders of the documents under a root (one per document, each holding its versions)."""
    return sorted({key.rsplit("/", 1)[0] + "/" for key in store.list(root) if keys.saved_doc_version(key)})


def _latest(store: BlobStore, prefix: str) -> SavedDoc | None:
    """The highest readable version under a document's folder. An older version left by a writer
    that stopped between its write and its delete stays until the next change or deletion: removing
    it here could make a writer in flight take it for a deletion."""
    empty = 0
    for _ in range(MAX_RETRIES):
        versions = _versions(store, prefix)
        if not versions:
            # A directory listing taken while a writer renames its version in and deletes the
            # older one can miss both (local store): only empty listings in a row mean gone.
            empty += 1
            if empty >= EMPTY_LISTINGS:
                return None
            continue
        empty = 0
        for _, key in versions:
            try:
                return SavedDoc.from_dict(codec.decode(store.get(key)))
            except KeyError:
                continue  # replaced since the listing
            except (codec.CodecError, DocError, ValueError, TypeError):
                continue  # damaged or forged: skipped, never deleted (an operator looks at it)
        if all(_readable(store, key) is False for _, key in versions):
            return None  # only damaged versions
        # Every version listed was replaced meanwhile (a writer's put, then its delete): list again.
    return None


def _readable(store: BlobStore, key: str) -> bool | None:
    """True when the object decodes, False when it is there but damaged, None when it is gone."""
    try:
        SavedDoc.from_dict(codec.decode(store.get(key)))
        return True
    except KeyError:
        return None
    except (codec.CodecError, DocError, ValueError, TypeError):
        return False


def _versions(store: BlobStore, prefix: str) -> list[tuple[int, str]]:
    """(version, key) of a document's stored versions, highest first."""
    return sorted(
        ((v, key) for key in store.list(prefix) if (v := keys.saved_doc_version(key))), reverse=True
    )
