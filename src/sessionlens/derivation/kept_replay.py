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


# Nodes of replayed DOMs kept in all of one KeptReplays' cursors: 64 page views of ordinary
# pages (a few thousand nodes) fit many times; a few 100,000-node pages do not crowd the
# worker's memory (a node and its attributes are a few hundred bytes).
MAX_KEPT_NODES = 1_000_000


def _weight(cursor: Any) -> int:
    """Nodes a cursor's replayed DOM holds (cursors without a DOM weigh nothing)."""
    weight = getattr(cursor, "weight", None)
    return int(weight()) if callable(weight) else 0


C = TypeVar("C", bound=Cursor)
T = TypeVar("T")


class KeptReplays(Generic[C]):
    """Per page view cursors (new ones made by `make`), the `cache_size` most recent kept."""

    def __init__(self, make: Callable[[], C], cache_size: int = 64, max_nodes: int = MAX_KEPT_NODES) -> None:
        self.make, self.cache_size, self.max_nodes = make, cache_size, max_nodes
        self._cursors: OrderedDict[PageView, C] = OrderedDict()
        self._weights: dict[PageView, int] = {}
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
            self._weights.pop(view, None)
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
            weight = _weight(cursor)
            with self._lock:
                self._cursors[view] = cursor
                self._weights[view] = weight
                # The least recently used go first; one page view bigger than the budget is not kept.
                while self._cursors and (
                    len(self._cursors) > self.cache_size or sum(self._weights.values()) > self.max_nodes
                ):
                    oldest, _ = self._cursors.popitem(last=False)
                    self._weights.pop(oldest, None)
        return out

    def kept(self) -> list[PageView]:
        """The page views whose cursors are kept, least recently used first."""
        with self._lock:
            return list(self._cursors)
