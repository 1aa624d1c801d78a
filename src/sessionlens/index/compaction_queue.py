"""The compaction queue's statements (table compaction_queue, migration 0004).

Claimed like the derivation queue: on PostgreSQL the claim's SELECT takes
its rows FOR UPDATE SKIP LOCKED, so workers in many processes never lease
the same page view; on SQLite the single writer thread and its write lock
make the claiming UPDATE atomic. The policy (when, how often, what a
failure means) is sessionlens.compaction.queue's.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sessionlens.index.database import Index

# (site, sid, pid, generation, attempts) of a claimed row.
ClaimedRow = tuple[str, str, str, int, int]


def schedule(index: Index, views: Iterable[tuple[str, str, str]], due_ms: int) -> None:
    """Queue each page view at `due_ms`; a queued one gets a new generation (a claim under way keeps
    its lease, and its finish sees the new generation and leaves the row for another pass)."""
    views = list(views)

    def write(conn: Any) -> None:
        for site, sid, pid in views:
            conn.execute(
                """INSERT INTO compaction_queue (site, sid, pid, available_at) VALUES (?, ?, ?, ?)
                   ON CONFLICT (site, sid, pid) DO UPDATE SET
                       generation = compaction_queue.generation + 1, attempts = 0, last_error = NULL,
                       available_at = CASE WHEN compaction_queue.claimed_by IS NULL
                                           THEN excluded.available_at
                                           ELSE compaction_queue.available_at END""",
                (site, sid, pid, due_ms),
            )

    index.write(write)


def claim(index: Index, worker: str, now_ms: int, lease_ms: int, max_attempts: int, limit: int) -> list[ClaimedRow]:
    """Lease up to `limit` due page views to `worker` until now + lease."""
    sql = (
        "UPDATE compaction_queue SET claimed_by = ?, available_at = ?, attempts = attempts + 1"
        " WHERE (site, sid, pid) IN ("
        " SELECT site, sid, pid FROM compaction_queue WHERE available_at <= ? AND attempts < ?"
        f" ORDER BY available_at LIMIT ?{index.dialect.lock_for_update()})"
        " RETURNING site, sid, pid, generation, attempts"
    )

    def write(conn: Any) -> list[ClaimedRow]:
        rows = conn.execute(sql, (worker, now_ms + lease_ms, now_ms, max_attempts, limit)).fetchall()
        return [tuple(row) for row in rows]

    return index.write(write)


def finish(index: Index, row: ClaimedRow, worker: str, again_at_ms: int) -> None:
    """Drop the row compacted at its generation; if a chunk came since, free it until `again_at_ms`."""
    site, sid, pid, generation, _ = row

    def write(conn: Any) -> None:
        done = conn.execute(
            "DELETE FROM compaction_queue WHERE site = ? AND sid = ? AND pid = ? AND generation = ?",
            (site, sid, pid, generation),
        ).rowcount
        if not done:
            conn.execute(
                "UPDATE compaction_queue SET claimed_by = NULL, available_at = ? "
                "WHERE site = ? AND sid = ? AND pid = ? AND claimed_by = ?",
                (again_at_ms, site, sid, pid, worker),
            )

    index.write(write)


def fail(index: Index, row: ClaimedRow, worker: str, retry_at_ms: int, error: str) -> None:
    """Free a claim that failed; it becomes due again at `retry_at_ms`."""
    site, sid, pid = row[:3]
    index.write(
        lambda conn: conn.execute(
            "UPDATE compaction_queue SET claimed_by = NULL, available_at = ?, last_error = ? "
            "WHERE site = ? AND sid = ? AND pid = ? AND claimed_by = ?",
            (retry_at_ms, error[:2000], site, sid, pid, worker),
        )
    )


def backlog(index: Index) -> list[dict[str, Any]]:
    """Queued page views with their due time, lease holder, attempts and last error."""
    return index.query(
        "SELECT site, sid, pid, available_at, claimed_by, attempts, last_error FROM compaction_queue"
    )
