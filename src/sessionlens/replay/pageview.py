"""Reading one page view's stored stream: its chunks and its keyframes.

Keyframes are taken at chunk boundaries, so "the state at T" is always a
keyframe (all chunks up to its `seq`) plus the events of later chunks with
t <= T. Chunks of a page view are in time order by sequence number. A
chunk is read loose or from its page view's pack (sessionlens.compaction),
whichever holds it; both read the same.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

from sessionlens import keys
from sessionlens.compaction.source import ChunkSource
from sessionlens.replay.dom import DomState
from sessionlens.replay.recorded_urls import RecordedUrls, has_relative_urls
from sessionlens.stores.base import BlobStore

Event = list[Any]


class PageViewNotFound(LookupError):
    pass


class _LRU:
    """Decoded objects by key; chunks never change (first write wins, compaction keeps content)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[str, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str, load: Any) -> Any:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        value = load()
        with self._lock:
            self._items[key] = value
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return value


class PageViewReader:
    def __init__(self, store: BlobStore, cache_size: int = 256) -> None:
        self.store = store
        self.source = ChunkSource(store)
        self._cache = _LRU(cache_size)
        # (first t, last t) of every chunk seen: tiny, and lets a time window
        # skip chunks without decoding them again.
        self._ranges: dict[tuple[str, str, str, int], tuple[int, int]] = {}

    def chunk_seqs(self, site: str, sid: str, pid: str) -> list[int]:
        return self.source.seqs(site, sid, pid)

    def _existing_seqs(self, site: str, sid: str, pid: str) -> list[int]:
        seqs = self.chunk_seqs(site, sid, pid)
        if not seqs:
            raise PageViewNotFound(f"no page view {pid} in session {sid}")
        return seqs

    def chunk(self, site: str, sid: str, pid: str, seq: int) -> dict[str, Any]:
        key = keys.chunk_key(keys.ChunkAddress(site, sid, pid, seq))
        return self._cache.get(key, lambda: self.source.chunk(site, sid, pid, seq))

    def events(self, site: str, sid: str, pid: str, after_seq: int = -1) -> Iterator[tuple[int, Event]]:
        """(seq, event) of every chunk after `after_seq`, in order."""
        for seq in self.chunk_seqs(site, sid, pid):
            if seq > after_seq:
                for event in self.chunk(site, sid, pid, seq)["events"]:
                    yield seq, event

    def keyframe_times(self, site: str, sid: str, pid: str) -> list[int]:
        times = []
        for key in self.store.list(keys.keyframe_prefix(site, sid, pid)):
            t = keys.keyframe_time(key)
            if t is not None:
                times.append(t)
        return sorted(times)

    def keyframe(self, site: str, sid: str, pid: str, t: int) -> dict[str, Any]:
        key = keys.keyframe_key(site, sid, pid, t)
        # Keyframes are rewritten by compaction, always to the same content.
        return self._cache.get(key, lambda: self.source.objects.decode(site, self.store.get(key)))

    def keyframe_before(self, site: str, sid: str, pid: str, at: int) -> dict[str, Any] | None:
        best = None
        for t in self.keyframe_times(site, sid, pid):
            if t <= at:
                best = t
        return self.keyframe(site, sid, pid, best) if best is not None else None

    def state_at(self, site: str, sid: str, pid: str, at: int) -> tuple[dict[str, Any], list[Event]]:
        """A keyframe at or before `at` and the events after it up to `at`, their URLs absolute.

        With no stored keyframe yet (a page view still being ingested), the
        keyframe is built here from the start of the stream.
        """
        frame, rest, _ = self._state_at(site, sid, pid, at, keep=True)
        return frame, rest

    def _state_at(
        self, site: str, sid: str, pid: str, at: int, *, keep: bool
    ) -> tuple[dict[str, Any], list[Event], RecordedUrls]:
        """state_at (events kept only with `keep`), and the URL bases as they were at `at`
        (replay/recorded_urls.py)."""
        seqs = self._existing_seqs(site, sid, pid)
        frame = self.keyframe_before(site, sid, pid, at)
        after_seq = frame["seq"] if frame else -1
        if frame is None:
            frame = {**DomState().keyframe(), "seq": -1}
        urls = RecordedUrls.from_keyframe(frame)
        rest: list[Event] = []
        for seq in seqs:
            if seq <= after_seq:
                continue
            events = self.chunk(site, sid, pid, seq)["events"]
            if events and events[0][1] > at:
                break  # chunks are in time order: nothing later can be <= at
            if keep:
                rest.extend(urls.event(e) for e in events if e[1] <= at)
            else:
                for e in events:
                    if e[1] <= at:
                        urls.follow(e)
        return frame, rest, urls

    def dom_at(self, site: str, sid: str, pid: str, at: int) -> DomState:
        frame, rest = self.state_at(site, sid, pid, at)
        return DomState.from_keyframe(frame).apply_all(rest)

    def _span(self, site: str, sid: str, pid: str, seq: int) -> tuple[int, int]:
        """(earliest t, latest t) of a chunk's events, (0, 0) when it has none (a chunk is not
        sorted by t: a `request` event carries its request's start, after events of later ms)."""
        span = self._ranges.get((site, sid, pid, seq))
        if span is None:
            events = self.chunk(site, sid, pid, seq)["events"]
            times = [e[1] for e in events]
            span = (min(times), max(times)) if times else (0, 0)
            self._ranges[(site, sid, pid, seq)] = span
        return span

    def events_between(
        self, site: str, sid: str, pid: str, after: int, until: int, limit: int
    ) -> tuple[list[Event], bool, int]:
        """Events with after < t <= until (at most `limit`), whether more remain, and the last t.

        Chunks are in time order, so the window's first chunk is found by
        bisection and reading stops past `until`: a window of a long page
        view decodes a few chunks, not every chunk before it (a 60-minute
        page view's first window used to decode all 720, seconds of work).
        """
        seqs = self._existing_seqs(site, sid, pid)

        def span(seq: int) -> tuple[int, int]:
            return self._span(site, sid, pid, seq)

        lo, hi = 0, len(seqs)
        while lo < hi:  # the first chunk with an event after `after`, chunks in time order
            mid = (lo + hi) // 2
            if span(seqs[mid])[1] <= after:
                lo = mid + 1
            else:
                hi = mid
        # Chunks are in the order they were sent, not strictly by t: an event can be back-dated
        # (a `request` carries its start, t=0 for the page's own document, and is sent when it
        # ends), so a chunk holding only such events ends earlier than the chunk before it and
        # the bisection can land past a chunk it should read (a page view opened at its first ms
        # lost its snapshot: a white frame). Step back over such out-of-order chunks.
        j = lo - 1
        while j >= 0:
            if span(seqs[j])[1] > after:
                lo = j
            elif j == 0 or span(seqs[j - 1])[1] <= span(seqs[j])[1]:
                break  # in order: nothing before it is later
            j -= 1
        # The page view's last t: from its last chunk with events.
        end = next((last for seq in reversed(seqs) if (last := span(seq)[1])), 0)
        out: list[Event] = []
        more = False
        for seq in seqs[lo:]:
            if span(seq)[0] > until or more:
                break
            for event in self.chunk(site, sid, pid, seq)["events"]:
                if after < event[1] <= until:
                    # Never cut between events of the same ms: the next
                    # request asks for t > the last one it got.
                    if len(out) >= limit and event[1] != out[-1][1]:
                        more = True
                        break
                    out.append(event)
        if has_relative_urls(out):
            # Joined to the page's bases as they were at `after`: found from the keyframe before
            # it, so only when a URL in the window needs one (most windows are pointer and scroll).
            out = self._state_at(site, sid, pid, after, keep=False)[2].events(out)
        return out, more, end
