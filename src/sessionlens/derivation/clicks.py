"""Click and move facts of a page view in the index, kept up to date as chunks arrive,
and the page view's timeline markers (errors, custom events, navigations) read in the same pass.

Each page view's replay (PageViewFacts) is kept in memory between passes
(derivation/kept_replay.py), so a page view that grows by one chunk is not
replayed from its first chunk again; the rows are the same as a replay from scratch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from sessionlens.derivation.attributes import AttributeCollector, click_signals
from sessionlens.derivation.kept_replay import KeptReplays, PageView
from sessionlens.heatmap.signals import PageViewFacts, Thresholds
from sessionlens.index import Index
from sessionlens.index.attributes import write_page_view
from sessionlens.index.markers import Marker, replace_markers
from sessionlens.replay.markers import EVENT_KINDS, event_marker
from sessionlens.replay.pageview import PageViewReader

# Markers kept per page view (a recording sending errors in a loop stays bounded).
MAX_MARKERS = 5_000


@dataclass
class _Cursor:
    facts: PageViewFacts = field(default_factory=PageViewFacts)
    seqs: list[int] = field(default_factory=list)  # chunks fed, in order
    markers: list[Marker] = field(default_factory=list)
    attributes: AttributeCollector = field(default_factory=AttributeCollector)

    def weight(self) -> int:
        return len(self.facts.state.nodes)

    def add(self, events: list) -> None:
        events = self.facts.feed(events)  # clicks named from the replayed DOM (element_paths.py)
        self.attributes.add(events)
        for event in events:
            marker = event_marker(event)
            if marker and marker[0] in EVENT_KINDS and len(self.markers) < MAX_MARKERS:
                self.markers.append((event[1], *marker))


class ClickDeriver:
    def __init__(self, cache_size: int = 64) -> None:
        self._replays = KeptReplays(_Cursor, cache_size)

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

        def write(cursor: _Cursor, t0: int) -> int:
            clicks, moves = cursor.facts.result(th)
            index.replace_clicks(*view, t0, clicks, moves)
            replace_markers(index, *view, cursor.markers)
            signals = click_signals(clicks) + cursor.facts.frustration(th)
            write_page_view(index, view, t0, signals, cursor.attributes.attributes, th.quick_back_ms)
            return len(clicks)

        return self._replays.run(reader, view, write, rebuild=rebuild, on_chunk=on_chunk) or 0
