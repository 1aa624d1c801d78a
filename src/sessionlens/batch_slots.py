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
from concurrent.futures import Future

from sessionlens.index import Index


class Slot(enum.Enum):
    RESERVED = "reserved"  # a new key, now counted
    KNOWN = "known"  # the key was reserved or stored before (a retry or a re-send)
    FULL = "full"  # a new key and the session is at its limit


def reserve(index: Index, site: str, sid: str, pid: str, seq: int, limit: int) -> Future[Slot]:
    """Reserve (site, sid, pid, seq) unless the session already has ``limit`` batches.

    Returns the writer's future, so the caller can prepare the chunk while
    the reservation waits its turn on the writer thread.
    """
    return index.submit(lambda conn: _reserve(conn, site, sid, pid, seq, limit))


def _reserve(conn: sqlite3.Connection, site: str, sid: str, pid: str, seq: int, limit: int) -> Slot:
    key = (site, sid, pid, seq)
    # One statement in the common case: insert the slot while the session is
    # under its limit. Slots cover every stored chunk except after the index
    # was rebuilt from storage (reindex fills `chunks`, not this table), so
    # both are counted.
    inserted = conn.execute(
        "INSERT OR IGNORE INTO batch_slots (site, sid, pid, seq) SELECT ?, ?, ?, ? "
        "WHERE (SELECT COUNT(*) FROM batch_slots WHERE site = ? AND sid = ?) < ? "
        "AND (SELECT COUNT(*) FROM chunks WHERE site = ? AND sid = ?) < ?",
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
