"""A page view's replay state kept in memory between derivation passes (derivation/clicks.py,
derivation/funnel_facts.py), so a page view growing by one chunk is read from that chunk only.

The kept state is used only while the chunks it was fed are still the first chunks of the
page view; otherwise (a late chunk filling a gap, a rebuild) every chunk is read again, so the
rows written equal those of a pass from scratch.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Generic, Protocol, TypeVar

from sessionlens.replay.pageview import PageViewReader

PageView = tuple[str, str, str]


class Cursor(Protocol):
    seqs: list[int]  # chunks fed, in order

    def add(self, events: list[Any]) -> None: ...


C = TypeVar("C", bound=Cursor)
T = TypeVar("T")


class KeptReplays(Generic[C]):
    """Per page view cursors (new ones made by `make`), the `cache_size` most recent kept."""

    def __init__(self, make: Callable[[], C], cache_size: int = 64) -> None:
        self.make, self.cache_size = make, cache_size
        self._cursors: OrderedDict[PageView, C] = OrderedDict()
        self._lock = threading.Lock()

    def run(
        self,
        reader: PageViewReader,
        view: PageView,
        write: Callable[[C, int], T],
        *,
        rebuild: bool = False,
        on_chunk: Callable[[int], None] = lambda seq: None,
    ) -> T | None:
        """Feed the page view's chunks not yet fed to its cursor, then `write(cursor, t0)` (t0:
        its first chunk's); None without chunks. A rebuild starts over and keeps nothing."""
        seqs = reader.chunk_seqs(*view)
        if not seqs:
            return None
        with self._lock:
            cursor = None if rebuild else self._cursors.pop(view, None)
        if cursor is None or seqs[: len(cursor.seqs)] != cursor.seqs:
            cursor = self.make()
        # Taken out of the cache while in use: if this pass fails half-way,
        # the half-fed replay is dropped and the next pass starts over.
        for seq in seqs[len(cursor.seqs) :]:
            on_chunk(seq)
            cursor.add(reader.chunk(*view, seq)["events"])
            cursor.seqs.append(seq)
        on_chunk(seqs[0])
        out = write(cursor, reader.chunk(*view, seqs[0])["t0"])
        if not rebuild:
            with self._lock:
                self._cursors[view] = cursor
                while len(self._cursors) > self.cache_size:
                    self._cursors.popitem(last=False)
        return out
