"""When page views are compacted: a durable queue in the index, claimed like the derivation queue.

Every derivation pass of a page view (one per new chunk) schedules its
compaction `idle` from now, so a page view is compacted once no chunk has
arrived for that long. A worker claims due rows with a lease; a worker
killed mid-way leaves a row whose lease expires and that is claimed again,
and compaction run again finishes the same work. A row is deleted only once
its compaction is verified and done; a chunk that arrived meanwhile keeps
the row for another pass.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from sessionlens.compaction.compact import PACK_LEVEL, CompactionResult, compact_page_view
from sessionlens.compaction.source import ChunkSource
from sessionlens.index import Index
from sessionlens.stores.base import BlobStore

log = logging.getLogger(__name__)
PageView = tuple[str, str, str]
MAX_RETRY_SECONDS = 3600


def _now_ms() -> int:
    return int(time.time() * 1000)


@dataclass(frozen=True, slots=True)
class CompactionItem:
    site: str
    sid: str
    pid: str
    generation: int
    attempts: int

    @property
    def page_view(self) -> PageView:
        return self.site, self.sid, self.pid


class Compactor:
    def __init__(
        self,
        store: BlobStore,
        index: Index,
        *,
        idle_ms: int = 30 * 60_000,
        level: int = PACK_LEVEL,
        lease_ms: int = 10 * 60_000,
        max_attempts: int = 5,
        source: ChunkSource | None = None,
    ) -> None:
        self.store = store
        self.index = index
        self.idle_ms = idle_ms
        self.level = level
        self.lease_ms = lease_ms
        self.max_attempts = max_attempts
        self.source = source or ChunkSource(store)

    @classmethod
    def from_settings(
        cls, store: BlobStore, index: Index, settings: Any, source: ChunkSource | None = None
    ) -> Compactor | None:
        """None when compaction is turned off (compaction_idle_seconds = 0)."""
        if settings.compaction_idle_seconds <= 0:
            return None
        return cls(
            store, index, idle_ms=int(settings.compaction_idle_seconds * 1000), level=settings.compaction_level,
            source=source,
        )  # fmt: skip

    # -- the queue -------------------------------------------------------------------

    def schedule(self, views: list[PageView], now_ms: int | None = None) -> None:
        due = (now_ms if now_ms is not None else _now_ms()) + self.idle_ms

        def schedule(conn: Any) -> None:
            for site, sid, pid in views:
                conn.execute(
                    """INSERT INTO compaction_queue (site, sid, pid, available_at) VALUES (?, ?, ?, ?)
                       ON CONFLICT (site, sid, pid) DO UPDATE SET
                           generation = compaction_queue.generation + 1, attempts = 0, last_error = NULL,
                           available_at = CASE WHEN compaction_queue.claimed_by IS NULL
                                               THEN excluded.available_at
                                               ELSE compaction_queue.available_at END""",
                    (site, sid, pid, due),
                )

        self.index.write(schedule)

    def claim(self, worker: str, now_ms: int, limit: int = 1) -> list[CompactionItem]:
        def claim(conn: Any) -> list[CompactionItem]:
            rows = conn.execute(
                """UPDATE compaction_queue
                   SET claimed_by = ?, available_at = ?, attempts = attempts + 1
                   WHERE (site, sid, pid) IN (
                       SELECT site, sid, pid FROM compaction_queue
                       WHERE available_at <= ? AND attempts < ?
                       ORDER BY available_at LIMIT ?)
                   RETURNING site, sid, pid, generation, attempts""",
                (worker, now_ms + self.lease_ms, now_ms, self.max_attempts, limit),
            ).fetchall()
            return [CompactionItem(*row) for row in rows]

        return self.index.write(claim)

    def finish(self, item: CompactionItem, worker: str, now_ms: int) -> None:
        def finish(conn: Any) -> None:
            done = conn.execute(
                "DELETE FROM compaction_queue WHERE site = ? AND sid = ? AND pid = ? AND generation = ?",
                (item.site, item.sid, item.pid, item.generation),
            ).rowcount
            if not done:  # a chunk came meanwhile: compact again once the page view is idle
                conn.execute(
                    "UPDATE compaction_queue SET claimed_by = NULL, available_at = ? "
                    "WHERE site = ? AND sid = ? AND pid = ? AND claimed_by = ?",
                    (now_ms + self.idle_ms, item.site, item.sid, item.pid, worker),
                )

        self.index.write(finish)

    def fail(self, item: CompactionItem, worker: str, retry_at_ms: int, error: str) -> None:
        self.index.write(
            lambda conn: conn.execute(
                "UPDATE compaction_queue SET claimed_by = NULL, available_at = ?, last_error = ? "
                "WHERE site = ? AND sid = ? AND pid = ? AND claimed_by = ?",
                (retry_at_ms, error[:2000], item.site, item.sid, item.pid, worker),
            )
        )

    def backlog(self) -> list[dict[str, Any]]:
        """Queued page views with their due time, attempts and last error (tests and tools)."""
        return self.index.query(
            "SELECT site, sid, pid, available_at, claimed_by, attempts, last_error FROM compaction_queue"
        )

    # -- doing the work -----------------------------------------------------------------

    def compact(self, view: PageView) -> CompactionResult:
        dictionary = self.source.objects.latest_dictionary(view[0])
        return compact_page_view(
            self.store, *view, level=self.level, dictionary=dictionary, source=self.source
        )

    def run_due(self, worker: str, limit: int = 1, now_ms: int | None = None) -> int:
        """Claim and compact up to `limit` due page views; returns how many were claimed."""
        now = now_ms if now_ms is not None else _now_ms()
        items = self.claim(worker, now, limit)
        for item in items:
            try:
                self.compact(item.page_view)
            except Exception as exc:
                retry = min(60 * 2**item.attempts, MAX_RETRY_SECONDS)
                log.warning("compaction of %s failed (attempt %d): %s", item.page_view, item.attempts, exc)
                self.fail(item, worker, _now_ms() + retry * 1000, f"{type(exc).__name__}: {exc}")
            else:
                self.finish(item, worker, _now_ms())
        return len(items)
