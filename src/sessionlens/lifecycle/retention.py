"""Retention: sessions older than a site's retention_days are removed, once per period.

Any number of workers call RetentionJob.run_due; the job's lease row in the
index (job_leases 'retention') lets one of them run it per period, and a
worker killed mid-run leaves a lease that expires, after which another
worker runs the job again (removal is idempotent). `sessionlens retention
run` runs it at once, under the same lease.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from sessionlens.index import lifecycle as sql
from sessionlens.lifecycle.audit import write_audit
from sessionlens.lifecycle.erase import remove_sessions
from sessionlens.sites import SiteRegistry
from sessionlens.stores.base import BlobStore

log = logging.getLogger(__name__)
JOB = "retention"
DAY_MS = 86_400_000
LEASE_MS = 60 * 60_000


def _now_ms() -> int:
    return int(time.time() * 1000)


def run_retention(store: BlobStore, index: Any, now_ms: int, requested_by: str = "retention job") -> dict[str, Any]:
    """Remove every site's sessions whose last chunk was received more than retention_days ago."""
    report: dict[str, Any] = {"sites": {}}
    for site in SiteRegistry(store).all():
        days = getattr(site, "retention_days", 0) or 0
        if days <= 0:
            continue
        old = sql.sessions_received_before(index, site.key, now_ms - days * DAY_MS)
        if not old:
            continue
        removal = remove_sessions(store, index, old)
        report["sites"][site.key] = {"retention_days": days, **removal.as_dict()}
    if report["sites"]:
        report["audit"] = write_audit(store, "retention", now_ms, {"requested_by": requested_by, **report})
    return report


class RetentionJob:
    def __init__(self, store: BlobStore, index: Any, period_seconds: float) -> None:
        self.store, self.index = store, index
        self.period_ms = int(period_seconds * 1000)
        self._next_look = 0.0  # monotonic: an idle worker looks at the lease at most once a minute

    def __call__(self, holder: str) -> dict[str, Any] | None:
        """The worker's periodic hook: look at most once a minute (or period), then run_due."""
        now = time.monotonic()
        if now < self._next_look:
            return None
        self._next_look = now + min(60.0, self.period_ms / 1000)
        return self.run_due(holder)

    def run_due(self, holder: str, force: bool = False) -> dict[str, Any] | None:
        """Run the job if this holder takes its lease (and, unless forced, a period has passed)."""
        now = _now_ms()
        if not sql.take_lease(self.index, JOB, holder, now, LEASE_MS, 0 if force else self.period_ms):
            return None
        try:
            report = run_retention(self.store, self.index, now, f"{'operator' if force else 'worker'} {holder}")
        except BaseException:
            sql.finish_lease(self.index, JOB, holder, None, ran=False)
            raise
        sql.finish_lease(self.index, JOB, holder, _now_ms())
        return report
