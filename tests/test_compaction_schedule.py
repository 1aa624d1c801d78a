"""Compaction scheduling stays off ingest's index writer: a page view's due time is pushed at most
every compaction_idle / RESCHEDULE_SHARE (docs/operating.md, "Compaction")."""

from __future__ import annotations

from sessionlens.compaction.queue import RESCHEDULE_SHARE, Compactor
from sessionlens.index import Index
from sessionlens.stores.local import LocalStore

IDLE = 60_000


def _due(c: Compactor) -> dict[tuple[str, str, str], int]:
    return {(r["site"], r["sid"], r["pid"]): r["available_at"] for r in c.backlog()}


def test_a_page_view_is_rescheduled_at_most_every_tenth_of_the_idle_time(store: LocalStore, index: Index) -> None:
    c = Compactor(store, index, idle_ms=IDLE)
    view, other = ("site1234", "sid1", "pid1"), ("site1234", "sid1", "pid2")
    c.schedule([view], now_ms=1_000)
    c.schedule([view, other], now_ms=2_000)  # view: too soon, left as it was; other: new
    assert _due(c) == {view: 1_000 + IDLE, other: 2_000 + IDLE}
    later = 1_000 + IDLE // RESCHEDULE_SHARE
    c.schedule([view], now_ms=later)
    assert _due(c)[view] == later + IDLE
