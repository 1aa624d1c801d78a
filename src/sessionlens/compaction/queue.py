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
import threading
import time
from dataclasses import dataclass
from typing import Any

from sessionlens.compaction.compact import PACK_LEVEL, CompactionResult, compact_page_view
from sessionlens.compaction.source import ChunkSource
from sessionlens.index import Index, compaction_queue
from sessionlens.stores.base import BlobStore

log = logging.getLogger(__name__)
PageView = tuple[str, str, str]
MAX_RETRY_SECONDS = 3600
RESCHEDULE_SHARE = 10  # a page view may be compacted up to idle/10 early: later chunks are packed next time
CLAIM_INTERVAL_MS = 5_000
SCHEDULED_MEMORY = 100_000


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


def _row(item: CompactionItem) -> compaction_queue.ClaimedRow:
    return item.site, item.sid, item.pid, item.generation, item.attempts


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
        # Both kept off the index's writer thread, which ingest shares: a page view's due
        # time is pushed at most every idle/RESCHEDULE_SHARE, and an empty queue is looked
        # at again only after CLAIM_INTERVAL_MS (not on every idle pass of the worker).
        self._scheduled: dict[PageView, int] = {}
        self._next_claim = 0
        self._lock = threading.Lock()

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
        now = now_ms if now_ms is not None else _now_ms()
        again_after = self.idle_ms // RESCHEDULE_SHARE
        with self._lock:
            if len(self._scheduled) > SCHEDULED_MEMORY:
                self._scheduled.clear()  # forgetting only costs a write per page view
            pushed = [v for v in views if v not in self._scheduled or now - self._scheduled[v] >= again_after]
            for view in pushed:
                self._scheduled[view] = now
        if pushed:
            compaction_queue.schedule(self.index, pushed, now + self.idle_ms)

    def claim(self, worker: str, now_ms: int, limit: int = 1) -> list[CompactionItem]:
        rows = compaction_queue.claim(self.index, worker, now_ms, self.lease_ms, self.max_attempts, limit)
        return [CompactionItem(*row) for row in rows]

    def finish(self, item: CompactionItem, worker: str, now_ms: int) -> None:
        # A chunk that came meanwhile keeps the row: compacted again once the page view is idle.
        compaction_queue.finish(self.index, _row(item), worker, now_ms + self.idle_ms)

    def fail(self, item: CompactionItem, worker: str, retry_at_ms: int, error: str) -> None:
        compaction_queue.fail(self.index, _row(item), worker, retry_at_ms, error)

    def backlog(self) -> list[dict[str, Any]]:
        """Queued page views with their due time, attempts and last error (tests and tools)."""
        return compaction_queue.backlog(self.index)

    # -- doing the work -----------------------------------------------------------------

    def compact(self, view: PageView) -> CompactionResult:
        from sessionlens.lifecycle.holds import assets_held

        dictionary = self.source.objects.latest_dictionary(view[0])
        # While the site's assets are held, erasure and retention delete none of them (lifecycle/holds.py).
        with assets_held(self.index, view[0]):
            return compact_page_view(
                self.store, *view, level=self.level, dictionary=dictionary, source=self.source
            )

    def run_due(self, worker: str, limit: int = 1, now_ms: int | None = None) -> int:
        """Claim and compact up to `limit` due page views; returns how many were claimed."""
        now = now_ms if now_ms is not None else _now_ms()
        with self._lock:
            if now_ms is None and now < self._next_claim:
                return 0
        items = self.claim(worker, now, limit)
        if not items:
            with self._lock:
                self._next_claim = now + CLAIM_INTERVAL_MS
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
