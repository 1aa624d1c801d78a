"""The batches-per-session limit, decided atomically.

Counting stored batches and then writing raced: forty concurrent posts
against a limit of five all counted fewer than five. Here the check and
the reservation are one transaction (Index.reserve_batch_slot): on SQLite
on the index's single writer thread, on PostgreSQL under the session's
lock in the database, so requests are decided one after another even when
they reach different collector processes.

A reserved key stays reserved even when its chunk write then fails: the
recorder retries the same key, and the retry finds its slot.
"""

from __future__ import annotations

from concurrent.futures import Future

from sessionlens.index import Index
from sessionlens.index.queries import Slot

__all__ = ["Slot", "reserve"]


def reserve(index: Index, site: str, sid: str, pid: str, seq: int, limit: int) -> Future[Slot]:
    """Reserve (site, sid, pid, seq) unless the session already has ``limit`` batches.

    Returns the writer's future, so the caller can prepare the chunk while
    the reservation waits its turn.
    """
    return index.reserve_batch_slot(site, sid, pid, seq, limit)
