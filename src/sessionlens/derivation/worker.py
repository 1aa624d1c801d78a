"""The derivation worker: takes page views from the durable queue and derives them.

The queue lives in the index (`derivation_queue`): a row is written in the
same transaction as the chunk row, so every acknowledged chunk has its work
recorded. The worker claims rows with a lease (available_at = now + lease);
a worker killed mid-way leaves rows whose lease expires and that any worker
then claims again. A row is deleted only after every derivation of the list
has written its data. `sessionlens serve` runs one worker thread in-process;
`sessionlens worker` runs the same loop on its own.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable

from sessionlens.derivation.derivations import Context, DerivationError, derive_page_view
from sessionlens.index import IndexClosed, WorkItem

log = logging.getLogger(__name__)
# A nudge wakes the worker at once; without one it looks for due rows (new
# work from another collector, expired leases, retries) this often.
POLL_SECONDS = 1.0
MAX_RETRY_SECONDS = 300


def _now_ms() -> int:
    return int(time.time() * 1000)


class Worker:
    def __init__(
        self,
        ctx: Context,
        *,
        lease_seconds: float = 30,
        max_attempts: int = 5,
        batch: int = 8,
        poll_seconds: float = POLL_SECONDS,
    ) -> None:
        self.ctx = ctx
        self.lease_ms = int(lease_seconds * 1000)
        self.max_attempts = max_attempts
        self.batch = batch
        self.poll_seconds = poll_seconds
        self.name = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        self._lock = threading.Lock()
        self._nudges = 0
        self._wake = threading.Event()
        self._idle = threading.Event()
        self._stop = threading.Event()
        # Scheduled jobs run when idle, e.g. retention (lifecycle/retention.py); each takes its own lease.
        self.periodic: list[Callable[[str], object]] = []
        self._thread: threading.Thread | None = None

    # -- control ---------------------------------------------------------------

    def start(self) -> Worker:
        self._thread = threading.Thread(target=self.run_forever, name="derivation-worker", daemon=True)
        self._thread.start()
        return self

    def nudge(self) -> None:
        """New work was recorded: look now instead of at the next poll."""
        with self._lock:
            self._nudges += 1
            self._idle.clear()
        self._wake.set()

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """For tests and tools: wait until the queue has nothing due (True) or timeout (False)."""
        if self._thread is None:
            return self.ctx.index.work_backlog(self.max_attempts)["pending"] == 0
        self.nudge()
        return self._idle.wait(timeout)

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    # -- the loop ----------------------------------------------------------------

    def run_forever(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                seen = self._nudges
            try:
                done = self.run_once()
            except IndexClosed:
                return  # shut down under us (an app closed without stopping its worker)
            except Exception:  # e.g. the index is busy: log and look again later
                log.exception("derivation worker could not claim work")
                done = 0
            if done:
                continue
            with self._lock:
                if self._nudges == seen:
                    self._idle.set()
            self._wake.wait(self.poll_seconds)
            self._wake.clear()

    def run_once(self) -> int:
        """Claim up to `batch` due page views and derive them; returns how many were claimed.

        With nothing to derive, compacts one idle page view (derivation comes first: it is
        what a replay of a live session waits for)."""
        items = self.ctx.index.claim_work(self.name, _now_ms(), self.lease_ms, self.max_attempts, self.batch)
        for item in items:
            if self._stop.is_set():
                break  # the rest of the claim expires and is taken again
            self._derive(item)
        if not items and self.ctx.compactor is not None and not self._stop.is_set():
            if compacted := self.ctx.compactor.run_due(self.name):
                return compacted
        if not items and not self._stop.is_set():
            for job in self.periodic:
                try:
                    job(self.name)
                except Exception:  # the job's lease expires and it is tried again later
                    log.exception("scheduled job %s failed", getattr(job, "__qualname__", job))
        return len(items)

    def drain(self) -> int:
        """Derive until nothing is due; returns how many page views were claimed."""
        total = 0
        while n := self.run_once():
            total += n
        return total

    def _derive(self, item: WorkItem) -> None:
        try:
            derive_page_view(self.ctx, item.page_view)
        except DerivationError as exc:
            retry = min(2**item.attempts, MAX_RETRY_SECONDS)
            given_up = item.attempts >= self.max_attempts
            log.warning(
                "derivation of %s failed (attempt %d%s): %s",
                exc.key, item.attempts, ", giving up until a new chunk arrives" if given_up else "", exc,
            )  # fmt: skip
            self.ctx.index.fail_work(item, self.name, _now_ms() + retry * 1000, f"{exc.key}: {exc}")
        else:
            self.ctx.index.finish_work(item, self.name)
