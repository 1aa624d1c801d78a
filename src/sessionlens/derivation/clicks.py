"""Click and move facts of a page view in the index, kept up to date as chunks arrive,
and the page view's timeline markers (errors, custom events, navigations) read in the same pass.

Each page view's replay (PageViewFacts) is kept in memory between passes,
so a page view that grows by one chunk is not replayed from its first chunk
again. The kept replay is used only when the chunks it was fed are still the
first chunks of the page view (a late chunk that fills a gap, or a rebuild,
starts over), so the rows are the same as a replay from scratch.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from sessionlens.derivation.attributes import AttributeCollector, click_signals
from sessionlens.heatmap.signals import PageViewFacts, Thresholds
from sessionlens.index import Index
from sessionlens.index.attributes import write_page_view
from sessionlens.index.markers import Marker, replace_markers
from sessionlens.replay.markers import EVENT_KINDS, event_marker
from sessionlens.replay.pageview import PageViewReader

PageView = tuple[str, str, str]
# Markers kept per page view (a recording sending errors in a loop stays bounded).
MAX_MARKERS = 5_000


@dataclass
class _Cursor:
    facts: PageViewFacts = field(default_factory=PageViewFacts)
    seqs: list[int] = field(default_factory=list)  # chunks fed, in order
    markers: list[Marker] = field(default_factory=list)
    attributes: AttributeCollector = field(default_factory=AttributeCollector)

    def add(self, events: list) -> None:
        self.facts.add(events)
        self.attributes.add(events)
        for event in events:
            marker = event_marker(event)
            if marker and marker[0] in EVENT_KINDS and len(self.markers) < MAX_MARKERS:
                self.markers.append((event[1], *marker))


class ClickDeriver:
    def __init__(self, cache_size: int = 64) -> None:
        self.cache_size = cache_size
        self._cursors: OrderedDict[PageView, _Cursor] = OrderedDict()
        self._lock = threading.Lock()

    def derive(
        self,
        index: Index,
        reader: PageViewReader,
        th: Thresholds,
        view: PageView,
        *,
        rebuild: bool = False,
        on_chunk: Callable[[int], None] = lambda seq: None,
    ) -> int:
        """Replace the page view's click, move, marker, signal, custom event and attribute rows
        (and recount the session's signals); returns how many clicks it has."""
        seqs = reader.chunk_seqs(*view)
        if not seqs:
            return 0
        with self._lock:
            cursor = None if rebuild else self._cursors.pop(view, None)
        if cursor is None or seqs[: len(cursor.seqs)] != cursor.seqs:
            cursor = _Cursor()
        # Taken out of the cache while in use: if this pass fails half-way,
        # the half-fed replay is dropped and the next pass starts over.
        for seq in seqs[len(cursor.seqs) :]:
            on_chunk(seq)
            cursor.add(reader.chunk(*view, seq)["events"])
            cursor.seqs.append(seq)
        on_chunk(seqs[0])
        t0 = reader.chunk(*view, seqs[0])["t0"]
        clicks, moves = cursor.facts.result(th)
        index.replace_clicks(*view, t0, clicks, moves)
        replace_markers(index, *view, cursor.markers)
        signals = click_signals(clicks) + cursor.facts.frustration(th)
        write_page_view(index, view, t0, signals, cursor.attributes.attributes, th.quick_back_ms)
        if not rebuild:
            with self._lock:
                self._cursors[view] = cursor
                while len(self._cursors) > self.cache_size:
                    self._cursors.popitem(last=False)
        return len(clicks)
