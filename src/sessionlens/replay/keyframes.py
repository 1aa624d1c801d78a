"""Writing keyframes after ingest, so a seek loads one keyframe, not the stream.

A keyframe is written at the end of a chunk once enough has happened since
the last one: KEYFRAME_MS of recorded time with DOM changes, or
KEYFRAME_MUTATIONS changed nodes. Keyframes are derived data: losing them
only makes seeks slower, and `sessionlens reindex --keyframes` rewrites them.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

from sessionlens import codec, keys
from sessionlens.contracts import field
from sessionlens.replay.dom import DomState
from sessionlens.replay.pageview import PageViewReader
from sessionlens.stores.base import BlobStore

KEYFRAME_MS = 5_000
KEYFRAME_MUTATIONS = 2_000
_DOM_KINDS = frozenset({"snapshot", "mutation", "scroll", "input", "resize", "nav"})
_MUT = [field("mutation", n) for n in ("removes", "adds", "attrs", "texts")]
log = logging.getLogger(__name__)

PageViewKey = tuple[str, str, str]


def _weight(event: list[Any]) -> int:
    if event[0] == "mutation":
        return sum(len(event[i]) for i in _MUT)
    if event[0] == "snapshot":
        return len(event[field("snapshot", "nodes")])
    return 1


def write_keyframes(store: BlobStore, reader: PageViewReader, site: str, sid: str, pid: str) -> int:
    """Bring one page view's keyframes up to date; returns how many were written."""
    times = reader.keyframe_times(site, sid, pid)
    if times:
        last = reader.keyframe(site, sid, pid, times[-1])
        state, last_seq, last_t = DomState.from_keyframe(last), last["seq"], last["t"]
    else:
        state, last_seq, last_t = DomState(), -1, None
    written = 0
    changed = 0
    seqs = [s for s in reader.chunk_seqs(site, sid, pid) if s > last_seq]
    expected = last_seq + 1
    for seq in seqs:
        if seq != expected:
            break  # a batch is still missing (being retried): keyframe only a complete prefix
        expected += 1
        for event in reader.chunk(site, sid, pid, seq)["events"]:
            state.apply(event)
            if event[0] in _DOM_KINDS:
                changed += _weight(event)
        due = last_t is None or state.t - last_t >= KEYFRAME_MS or changed >= KEYFRAME_MUTATIONS
        if changed and due and state.root is not None and (last_t is None or state.t > last_t):
            frame = state.keyframe()
            frame["seq"] = seq
            store.put(keys.keyframe_key(site, sid, pid, state.t), codec.encode(frame))
            last_t, changed = state.t, 0
            written += 1
    return written


class Keyframer:
    """One background thread that keyframes page views as their chunks arrive."""

    def __init__(
        self, store: BlobStore, reader: PageViewReader, also: Callable[[str, str, str], None] | None = None
    ) -> None:
        self.store = store
        self.reader = reader
        # Other per-page-view derivations (click facts) ride on the same thread.
        self.also = also
        self._queue: queue.Queue[PageViewKey | None] = queue.Queue()
        self._pending: set[PageViewKey] = set()
        self._lock = threading.Lock()
        self._idle = threading.Event()
        self._idle.set()
        self._thread = threading.Thread(target=self._run, name="keyframer", daemon=True)
        self._thread.start()

    def schedule(self, site: str, sid: str, pid: str) -> None:
        key = (site, sid, pid)
        with self._lock:
            if key in self._pending:
                return
            self._pending.add(key)
            self._idle.clear()
        self._queue.put(key)

    def wait_idle(self, timeout: float = 30.0) -> bool:
        return self._idle.wait(timeout)

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while True:
            key = self._queue.get()
            if key is None:
                return
            with self._lock:
                self._pending.discard(key)
            try:
                write_keyframes(self.store, self.reader, *key)
                if self.also is not None:
                    self.also(*key)
            except Exception:  # derived data: log and carry on, reindex repairs it
                log.exception("keyframes for %s failed", "/".join(key))
            with self._lock:
                if not self._pending:
                    self._idle.set()
