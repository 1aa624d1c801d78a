"""The batches-per-session limit, decided atomically.

Counting stored batches and then writing raced: forty concurrent posts
against a limit of five all counted fewer than five. Here the check and
the reservation are one transaction on the index's single writer thread
(Index.submit), so requests are decided one after another.

A reserved key stays reserved even when its chunk write then fails: the
recorder retries the same key, and the retry finds its slot.
"""

from __future__ import annotations

import enum
import sqlite3

from sessionlens.index import Index


class Slot(enum.Enum):
    RESERVED = "reserved"  # a new key, now counted
    KNOWN = "known"  # the key was reserved or stored before (a retry or a re-send)
    FULL = "full"  # a new key and the session is at its limit


def reserve(index: Index, site: str, sid: str, pid: str, seq: int, limit: int) -> Slot:
    """Reserve (site, sid, pid, seq) unless the session already has ``limit`` batches."""
    return index.submit(lambda conn: _reserve(conn, site, sid, pid, seq, limit)).result(timeout=30)


def _reserve(conn: sqlite3.Connection, site: str, sid: str, pid: str, seq: int, limit: int) -> Slot:
    key = (site, sid, pid, seq)
    known = conn.execute(
        "SELECT 1 FROM batch_slots WHERE site = ? AND sid = ? AND pid = ? AND seq = ? "
        "UNION ALL SELECT 1 FROM chunks WHERE site = ? AND sid = ? AND pid = ? AND seq = ? LIMIT 1",
        key + key,
    ).fetchone()
    if known:
        return Slot.KNOWN
    (count,) = conn.execute(
        "SELECT COUNT(*) FROM (SELECT pid, seq FROM batch_slots WHERE site = ? AND sid = ? "
        "UNION SELECT pid, seq FROM chunks WHERE site = ? AND sid = ?)",
        (site, sid, site, sid),
    ).fetchone()
    if count >= limit:
        return Slot.FULL
    conn.execute("INSERT INTO batch_slots (site, sid, pid, seq) VALUES (?, ?, ?, ?)", key)
    return Slot.RESERVED
