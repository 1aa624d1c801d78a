"""Queries built from parameters: session search and batch slots."""

from __future__ import annotations

import enum
from typing import Any

from sessionlens.index.aggregate import lock_sessions
from sessionlens.index.dialect import Dialect
from sessionlens.index.url_keys import session_url_condition


class Slot(enum.Enum):
    """What reserving a batch's key decided (batch_slots.py)."""

    RESERVED = "reserved"  # a new key, now counted
    KNOWN = "known"  # the key was reserved or stored before (a retry or a re-send)
    FULL = "full"  # a new key and the session is at its limit


# Click signal columns a session filter may ask for (fixed names, never user text).
SIGNAL_COLUMNS = frozenset({"rage", "dead", "error"})


def session_search(d: Dialect, f: Any) -> tuple[str, list[Any]]:
    """SQL for one page of a session_search.SessionFilter: newest first, limit + 1 rows."""
    where: list[str] = []
    params: list[Any] = []
    if f.site:
        where.append("s.site = ?")
        params.append(f.site)
    if f.start is not None:
        where.append("s.start_time >= ?")
        params.append(f.start)
    if f.end is not None:
        where.append("s.start_time < ?")
        params.append(f.end)
    if f.url:
        # A pattern (with *) must match a whole URL or path; plain text is a substring.
        if "*" in f.url:
            test, extra = session_url_condition(d, f.url)
            where.append(
                "EXISTS (SELECT 1 FROM page_urls u JOIN url_keys k ON k.site = u.site AND k.url = u.url"
                f" WHERE u.site = s.site AND u.sid = s.sid AND {test})"
            )
            params += extra
        else:
            where.append(
                f"EXISTS (SELECT 1 FROM page_urls u WHERE u.site = s.site AND u.sid = s.sid AND {d.contains('u.url')})"
            )
            params.append(f.url)
    if f.min_duration_ms is not None:
        where.append("s.duration_ms >= ?")
        params.append(f.min_duration_ms)
    if f.max_duration_ms is not None:
        where.append("s.duration_ms <= ?")
        params.append(f.max_duration_ms)
    if f.device:
        where.append("s.device = ?")
        params.append(f.device)
    if f.browser:
        where.append(d.equals_ignoring_case("s.browser"))
        params.append(f.browser)
    if f.has_errors:
        where.append("s.errors > 0")
    for column in f.signals:
        if column not in SIGNAL_COLUMNS:
            raise ValueError(f"unknown click signal {column!r}")
        where.append(
            f"EXISTS (SELECT 1 FROM clicks c WHERE c.site = s.site AND c.sid = s.sid AND c.{column} = 1)"
        )
    if f.before:
        where.append("(s.start_time < ? OR (s.start_time = ? AND s.sid < ?))")
        params += [f.before[0], f.before[0], f.before[1]]
    sql = "SELECT s.* FROM sessions s"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY s.start_time DESC, s.sid DESC LIMIT ?"
    params.append(f.limit + 1)
    return sql, params


def reserve_batch_slot(conn: Any, d: Dialect, site: str, sid: str, pid: str, seq: int, limit: int) -> Slot:
    """Count and reserve in one transaction.

    On SQLite the single writer thread decides requests one after another;
    on PostgreSQL the session's lock (taken first) does, across processes.
    """
    lock_sessions(conn, d, [(site, sid)])
    key = (site, sid, pid, seq)
    # One statement in the common case: insert the slot while the session is
    # under its limit. Slots cover every stored chunk except after the index
    # was rebuilt from storage (reindex fills `chunks`, not this table), so
    # both are counted.
    inserted = conn.execute(
        "INSERT INTO batch_slots (site, sid, pid, seq) SELECT ?, ?, ?, ? "
        "WHERE (SELECT COUNT(*) FROM batch_slots WHERE site = ? AND sid = ?) < ? "
        "AND (SELECT COUNT(*) FROM chunks WHERE site = ? AND sid = ?) < ? "
        "ON CONFLICT DO NOTHING",
        (*key, site, sid, limit, site, sid, limit),
    )
    if inserted.rowcount == 1:
        return Slot.RESERVED
    # Not inserted: the key was reserved or stored before (a retry), or the
    # session is full.
    known = conn.execute(
        "SELECT 1 FROM batch_slots WHERE site = ? AND sid = ? AND pid = ? AND seq = ? "
        "UNION ALL SELECT 1 FROM chunks WHERE site = ? AND sid = ? AND pid = ? AND seq = ?",
        key + key,
    ).fetchone()
    return Slot.KNOWN if known else Slot.FULL
