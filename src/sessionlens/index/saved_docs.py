"""The index of saved documents (notes, collections, segments): rows in saved_docs and
saved_doc_sessions (migration 0009), kept in step with the blob store by sessionlens.saved_docs.

The store is the truth. A row is written after its object, and only when its version is
newer than the row's (a slow writer never puts an older version back); `resync` makes the
rows match the store again (reindex).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sessionlens.index.dialect import Dialect

DOC_COLUMNS = (
    "site",
    "kind",
    "id",
    "sid",
    "author",
    "created",
    "updated",
    "version",
    "name",
    "lower_name",
    "body",
)
_UPSERT = (
    f"INSERT INTO saved_docs ({', '.join(DOC_COLUMNS)}) VALUES ({', '.join('?' * len(DOC_COLUMNS))})"
    " ON CONFLICT (site, kind, id) DO UPDATE SET sid = excluded.sid, author = excluded.author,"
    " created = excluded.created, updated = excluded.updated, version = excluded.version,"
    " name = excluded.name, lower_name = excluded.lower_name, body = excluded.body"
    " WHERE excluded.version > saved_docs.version"
)


def like_param(text: str) -> str:
    """`text` as a LIKE pattern matching it anywhere, its own %, _ and \\ taken literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _write_rows(conn: Any, row: tuple[Any, ...], sessions: Iterable[str]) -> bool:
    written = conn.execute(_UPSERT, row).rowcount
    if not written:
        return False  # the index holds this version or a newer one already
    site, kind, doc_id = row[0], row[1], row[2]
    conn.execute(
        "DELETE FROM saved_doc_sessions WHERE site = ? AND kind = ? AND id = ?", (site, kind, doc_id)
    )
    conn.executemany(
        "INSERT INTO saved_doc_sessions (site, kind, id, sid) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
        [(site, kind, doc_id, sid) for sid in dict.fromkeys(sessions)],
    )
    return True


def upsert(index: Any, row: tuple[Any, ...], sessions: Iterable[str]) -> bool:
    """Write a document's row (DOC_COLUMNS order) and its sessions unless the index is as new."""
    listed = list(sessions)
    return bool(index.write(lambda conn: _write_rows(conn, row, listed)))


def delete(index: Any, site: str, kind: str, doc_id: str) -> int:
    def remove(conn: Any) -> int:
        conn.execute(
            "DELETE FROM saved_doc_sessions WHERE site = ? AND kind = ? AND id = ?", (site, kind, doc_id)
        )
        return conn.execute(
            "DELETE FROM saved_docs WHERE site = ? AND kind = ? AND id = ?", (site, kind, doc_id)
        ).rowcount

    return int(index.write(remove))


def get(index: Any, kind: str, doc_id: str, site: str | None = None) -> dict[str, Any] | None:
    sql = "SELECT * FROM saved_docs WHERE kind = ? AND id = ?"
    params: list[Any] = [kind, doc_id]
    if site:
        sql += " AND site = ?"
        params.append(site)
    rows = index.query(sql + " ORDER BY site LIMIT 1", params)
    return rows[0] if rows else None


def list_docs(
    index: Any, kind: str, site: str | None = None, sid: str | None = None, limit: int = 500,
    order: str = "updated",
) -> list[dict[str, Any]]:  # fmt: skip
    """Documents of a kind (on one site, on one session), newest first (or in `t` order for notes,
    which keep their moment in the body: callers sort those)."""
    sql = "SELECT * FROM saved_docs WHERE kind = ?"
    params: list[Any] = [kind]
    if site:
        sql += " AND site = ?"
        params.append(site)
    if sid:
        sql += " AND sid = ?"
        params.append(sid)
    sql += " ORDER BY updated DESC, id LIMIT ?" if order == "updated" else " ORDER BY name, id LIMIT ?"
    return index.query(sql, [*params, limit])


def search(
    index: Any, kind: str, text: str, site: str | None = None, limit: int = 100
) -> list[dict[str, Any]]:
    """Documents whose name contains `text` (case-insensitive; no wildcard is the searcher's)."""
    sql = "SELECT * FROM saved_docs WHERE kind = ? AND lower_name LIKE ? ESCAPE '\\'"
    params: list[Any] = [kind, like_param(text.lower())]
    if site:
        sql += " AND site = ?"
        params.append(site)
    return index.query(sql + " ORDER BY updated DESC, id LIMIT ?", [*params, limit])


def docs_listing(index: Any, site: str, kind: str, sid: str) -> list[dict[str, Any]]:
    """Documents of a kind that list this session (the collections a session is in)."""
    return index.query(
        "SELECT d.* FROM saved_docs d JOIN saved_doc_sessions m ON m.site = d.site AND m.kind = d.kind"
        " AND m.id = d.id WHERE m.site = ? AND m.kind = ? AND m.sid = ? ORDER BY d.name, d.id",
        (site, kind, sid),
    )


def listed_sessions(index: Any, site: str, kind: str, doc_id: str, limit: int = 1000) -> list[dict[str, Any]]:
    """The session rows a document lists (those still indexed), newest first."""
    return index.query(
        "SELECT s.* FROM sessions s JOIN saved_doc_sessions m ON m.site = s.site AND m.sid = s.sid"
        " WHERE m.site = ? AND m.kind = ? AND m.id = ? ORDER BY s.start_time DESC, s.sid DESC LIMIT ?",
        (site, kind, doc_id, limit),
    )


def docs_of_sessions(index: Any, kind: str, sessions: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """(site, id) of the documents of a kind listing any of these sessions (erasure)."""
    found: set[tuple[str, str]] = set()
    for site, sid in sessions:
        rows = index.query(
            "SELECT DISTINCT site, id FROM saved_doc_sessions WHERE site = ? AND sid = ? AND kind = ?",
            (site, sid, kind),
        )
        found.update((r["site"], r["id"]) for r in rows)
    return sorted(found)


def all_keys(index: Any) -> list[tuple[str, str, str, int]]:
    """(site, kind, id, version) of every indexed document (resync)."""
    rows = index.query("SELECT site, kind, id, version FROM saved_docs")
    return [(r["site"], r["kind"], r["id"], r["version"]) for r in rows]


# -- conditions for the session search (session_search / queries.py) ----------------------


def note_condition(dialect: Dialect, text: str, alias: str = "s") -> tuple[str, list[Any]]:
    """Sessions with a note containing `text` (case-insensitive substring), as an SQL condition
    over the sessions alias, and its params."""
    del dialect  # LIKE ... ESCAPE is the same in both databases; names are lower-cased in Python
    return (
        f"EXISTS (SELECT 1 FROM saved_docs nd WHERE nd.site = {alias}.site AND nd.sid = {alias}.sid"
        " AND nd.kind = 'note' AND nd.lower_name LIKE ? ESCAPE '\\')",
        [like_param(text.lower())],
    )


def collection_condition(collection_id: str, alias: str = "s") -> tuple[str, list[Any]]:
    """Sessions listed in the collection `collection_id`, as an SQL condition and its params."""
    return (
        f"EXISTS (SELECT 1 FROM saved_doc_sessions cm WHERE cm.site = {alias}.site AND cm.sid = {alias}.sid"
        " AND cm.kind = 'collection' AND cm.id = ?)",
        [collection_id],
    )
