"""Chunk rows, and the page views and sessions aggregated from them.

Each function takes a connection inside a write transaction (a sqlite3
connection on the writer thread, or a PgTx) and uses only SQL both
databases run. On PostgreSQL several processes write at once, so a writer
first takes the session's lock (Dialect.lock_key_sql): two chunks of one
session arriving at two collectors are aggregated one after the other,
each seeing the other's row.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson

from sessionlens.device import classify
from sessionlens.facts import ACTIVE_GAP_MS, ChunkFacts
from sessionlens.index.dialect import LOCK_SESSION, Dialect
from sessionlens.index.url_keys import INSERT_URL_KEYS, url_key_rows

_UTM = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")


class ChunkRow:
    """What the index needs to know of one stored chunk."""

    __slots__ = ("site", "sid", "pid", "seq", "t0", "received", "stored_bytes", "facts", "header_ua", "visitor_id")

    def __init__(
        self,
        site: str,
        sid: str,
        pid: str,
        seq: int,
        t0: int,
        received: int,
        stored_bytes: int,
        facts: ChunkFacts,
        header_ua: str,
        visitor_id: str | None = None,
    ) -> None:
        self.site, self.sid, self.pid, self.seq = site, sid, pid, seq
        self.t0, self.received, self.stored_bytes = t0, received, stored_bytes
        self.facts, self.header_ua = facts, header_ua
        self.visitor_id = visitor_id  # the batch envelope's `vid`, kept in the chunk


def upsert_sql(table: str, columns: Iterable[str], key: Iterable[str]) -> str:
    """INSERT that replaces the row with the same key (SQLite and PostgreSQL both run it)."""
    columns, key = list(columns), list(key)
    updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c not in key)
    return (
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"  # noqa: S608
        f" ON CONFLICT ({', '.join(key)}) DO UPDATE SET {updates}"
    )


def lock_sessions(conn: Any, dialect: Dialect, sessions: Iterable[tuple[str, str]]) -> None:
    """Serialise writers of these sessions across processes (in sorted order: no deadlock)."""
    statement = dialect.lock_key_sql(LOCK_SESSION)
    if statement is None:
        return
    for site, sid in sorted(set(sessions)):
        conn.execute(statement, (f"{site}/{sid}",))


def record_chunks(conn: Any, dialect: Dialect, rows: list[ChunkRow]) -> None:
    lock_sessions(conn, dialect, ((r.site, r.sid) for r in rows))
    for row in rows:
        insert_chunk(conn, row)
    views = list(dict.fromkeys((r.site, r.sid, r.pid) for r in rows))
    for site, sid, pid in views:
        refresh_page_view(conn, site, sid, pid)
    # The page view's derived data is now behind its chunks: record the work
    # in this same transaction, so an acknowledged chunk is always derived.
    enqueue(conn, views)
    for site, sid in dict.fromkeys((r.site, r.sid) for r in rows):
        refresh_session(conn, site, sid)


_CHUNK_KEY = ("site", "sid", "pid", "seq")


def chunk_values(row: ChunkRow) -> dict[str, Any]:
    facts = asdict(row.facts)
    facts["urls"] = orjson.dumps(facts["urls"]).decode()
    facts["has_snapshot"] = int(facts["has_snapshot"])
    facts["ua"] = facts["ua"] or row.header_ua
    return {
        "site": row.site,
        "sid": row.sid,
        "pid": row.pid,
        "seq": row.seq,
        "t0": row.t0,
        "received": row.received,
        "stored_bytes": row.stored_bytes,
        "visitor_id": row.visitor_id,
        **facts,
    }


def insert_chunk(conn: Any, row: ChunkRow) -> None:
    values = chunk_values(row)
    conn.execute(upsert_sql("chunks", values, _CHUNK_KEY), tuple(values.values()))


def insert_chunk_values(conn: Any, values: dict[str, Any]) -> None:
    conn.execute(upsert_sql("chunks", values, _CHUNK_KEY), tuple(values.values()))


def enqueue(conn: Any, page_views: list[tuple[str, str, str]]) -> None:
    # A row being worked on keeps its lease: the worker sees the new
    # generation when it finishes and frees the row for another pass.
    conn.executemany(
        """INSERT INTO derivation_queue (site, sid, pid) VALUES (?, ?, ?)
           ON CONFLICT (site, sid, pid) DO UPDATE SET
               generation = derivation_queue.generation + 1, attempts = 0, last_error = NULL,
               available_at = CASE WHEN derivation_queue.claimed_by IS NULL THEN 0
                                   ELSE derivation_queue.available_at END""",
        page_views,
    )


_PAGE_VIEW_COLUMNS = (
    "site", "sid", "pid", "t0", "end_time", "duration_ms", "active_ms", "url", "title", "referrer",
    "vw", "vh", "device", "browser", "os", "chunks", "events", "clicks", "inputs", "errors",
    "customs", "navs", "max_scroll_y", "page_height", "stored_bytes",
)  # fmt: skip
_UPSERT_PAGE_VIEW = upsert_sql("page_views", _PAGE_VIEW_COLUMNS, ("site", "sid", "pid"))


def refresh_page_view(conn: Any, site: str, sid: str, pid: str) -> None:
    chunks = conn.execute(
        "SELECT * FROM chunks WHERE site = ? AND sid = ? AND pid = ? ORDER BY seq", (site, sid, pid)
    ).fetchall()
    t0 = chunks[0]["t0"]
    active = 0
    previous_last: int | None = None
    urls: list[str] = []
    first = {"url": None, "title": None, "referrer": None, "ua": None, "vw": None, "vh": None}
    for c in chunks:
        active += c["active_ms"]
        if c["act_first"] is not None:
            if previous_last is not None:
                active += min(max(c["act_first"] - previous_last, 0), ACTIVE_GAP_MS)
            previous_last = c["act_last"]
        for url in orjson.loads(c["urls"]):
            if url not in urls:
                urls.append(url)
        for key in first:
            if first[key] is None and c[key] is not None:
                first[key] = c[key]
    t_last = max((c["t_last"] or 0) for c in chunks)
    device = classify(first["ua"] or "", first["vw"])

    def total(name: str) -> int:
        return sum(c[name] for c in chunks)

    def highest(name: str) -> float | None:
        values = [c[name] for c in chunks if c[name] is not None]
        return max(values) if values else None

    values = {
        "site": site,
        "sid": sid,
        "pid": pid,
        "t0": t0,
        "end_time": t0 + t_last,
        "duration_ms": t_last,
        "active_ms": active,
        "url": first["url"] or (urls[0] if urls else None),
        "title": first["title"],
        "referrer": first["referrer"],
        "vw": first["vw"],
        "vh": first["vh"],
        "device": device.device,
        "browser": device.browser,
        "os": device.os,
        "chunks": len(chunks),
        "events": total("events"),
        "clicks": total("clicks"),
        "inputs": total("inputs"),
        "errors": total("errors"),
        "customs": total("customs"),
        "navs": total("navs"),
        "max_scroll_y": highest("max_scroll_y"),
        "page_height": highest("page_height"),
        "stored_bytes": total("stored_bytes"),
    }
    conn.execute(_UPSERT_PAGE_VIEW, tuple(values[c] for c in _PAGE_VIEW_COLUMNS))
    conn.execute("DELETE FROM page_urls WHERE site = ? AND sid = ? AND pid = ?", (site, sid, pid))
    conn.executemany(
        "INSERT INTO page_urls (site, sid, pid, url) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
        [(site, sid, pid, u) for u in urls],
    )
    conn.executemany(INSERT_URL_KEYS, url_key_rows((site, u) for u in urls))


_SESSION_COLUMNS = (
    "site", "sid", "start_time", "end_time", "duration_ms", "active_ms", "entry_url", "exit_url",
    "page_count", "device", "browser", "os", "vw", "vh", "referrer", "utm_source", "utm_medium",
    "utm_campaign", "utm_term", "utm_content", "clicks", "inputs", "errors", "customs",
    "batches", "stored_bytes", "visitor_id", "user_id",
)  # fmt: skip
_UPSERT_SESSION = upsert_sql("sessions", _SESSION_COLUMNS, ("site", "sid"))


def refresh_session(conn: Any, site: str, sid: str) -> None:
    views = conn.execute(
        "SELECT * FROM page_views WHERE site = ? AND sid = ? ORDER BY t0, pid", (site, sid)
    ).fetchall()
    entry, exit_ = views[0], views[-1]
    # The exit URL: the first URL of the exit page view's last chunk that entered one.
    last_urls = conn.execute(
        "SELECT urls FROM chunks WHERE site = ? AND sid = ? AND pid = ? AND urls <> '[]'"
        " ORDER BY seq DESC LIMIT 1",
        (site, sid, exit_["pid"]),
    ).fetchone()
    exit_urls = orjson.loads(last_urls[0]) if last_urls else []
    # Who: the first visitor id sent, and the last user id identified (in chunk order).
    who = conn.execute(
        "SELECT visitor_id, user_id FROM chunks WHERE site = ? AND sid = ?"
        " AND (visitor_id IS NOT NULL OR user_id IS NOT NULL) ORDER BY t0, pid, seq",
        (site, sid),
    ).fetchall()
    visitor_id = next((w[0] for w in who if w[0] is not None), None)
    user_id = next((w[1] for w in reversed(who) if w[1] is not None), None)
    query = parse_qs(urlsplit(entry["url"] or "").query)
    utm = {k: (query.get(k) or [None])[0] for k in _UTM}
    start = min(v["t0"] for v in views)
    end = max(v["end_time"] for v in views)

    def total(name: str) -> int:
        return sum(v[name] for v in views)

    values = {
        "site": site,
        "sid": sid,
        "start_time": start,
        "end_time": end,
        "duration_ms": end - start,
        "active_ms": total("active_ms"),
        "entry_url": entry["url"],
        "exit_url": exit_urls[0] if exit_urls else exit_["url"],
        "page_count": len(views),
        "device": entry["device"],
        "browser": entry["browser"],
        "os": entry["os"],
        "vw": entry["vw"],
        "vh": entry["vh"],
        "referrer": entry["referrer"],
        **utm,
        "clicks": total("clicks"),
        "inputs": total("inputs"),
        "errors": total("errors"),
        "customs": total("customs"),
        "batches": total("chunks"),
        "stored_bytes": total("stored_bytes"),
        "visitor_id": visitor_id,
        "user_id": user_id,
    }
    conn.execute(_UPSERT_SESSION, tuple(values[c] for c in _SESSION_COLUMNS))
