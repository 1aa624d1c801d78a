"""A page view's SPA route changes and form submit attempts, for funnel steps (index/funnels.py).

Read from the page view's stored events like the other derivations, and kept
between passes (as derivation/clicks.py keeps its replay) so a page view growing by
one chunk is read from that chunk only. The kept rows are used only when the chunks
they came from are still the first chunks of the page view; otherwise (a late chunk
filling a gap, a rebuild) every chunk is read again, so the rows equal a fresh pass.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sessionlens.contracts import field as position
from sessionlens.index import Index
from sessionlens.index.funnels import replace_page_view_facts
from sessionlens.replay.pageview import PageViewReader

PageView = tuple[str, str, str]
MAX_ROWS = 5_000  # route changes, and submits, kept per page view (a looping page stays bounded)
_NAV_URL = position("nav", "url")
_SUBMIT_FORM, _SUBMIT_INVALID = position("submit", "form"), position("submit", "invalid")


@dataclass
class _Cursor:
    seqs: list[int] = field(default_factory=list)
    routes: list[tuple[int, str]] = field(default_factory=list)
    submits: list[tuple[int, str, int]] = field(default_factory=list)

    def add(self, events: list[list[Any]]) -> None:
        for event in events:
            kind = event[0]
            if kind == "nav" and len(self.routes) < MAX_ROWS and isinstance(event[_NAV_URL], str):
                self.routes.append((int(event[1]), event[_NAV_URL]))
            elif kind == "submit" and len(self.submits) < MAX_ROWS:
                form = event[_SUBMIT_FORM] if len(event) > _SUBMIT_FORM else None
                invalid = event[_SUBMIT_INVALID] if len(event) > _SUBMIT_INVALID else None
                bad = len(invalid) if isinstance(invalid, list) else 0
                self.submits.append((int(event[1]), form if isinstance(form, str) else "", bad))


class FunnelFactDeriver:
    def __init__(self, cache_size: int = 64) -> None:
        self.cache_size = cache_size
        self._cursors: OrderedDict[PageView, _Cursor] = OrderedDict()
        self._lock = threading.Lock()

    def derive(
        self,
        index: Index,
        reader: PageViewReader,
        view: PageView,
        *,
        rebuild: bool = False,
        on_chunk: Callable[[int], None] = lambda seq: None,
    ) -> None:
        seqs = reader.chunk_seqs(*view)
        if not seqs:
            return
        with self._lock:
            cursor = None if rebuild else self._cursors.pop(view, None)
        if cursor is None or seqs[: len(cursor.seqs)] != cursor.seqs:
            cursor = _Cursor()
        for seq in seqs[len(cursor.seqs) :]:
            on_chunk(seq)
            cursor.add(reader.chunk(*view, seq)["events"])
            cursor.seqs.append(seq)
        on_chunk(seqs[0])
        t0 = reader.chunk(*view, seqs[0])["t0"]
        replace_page_view_facts(index, view, t0, cursor.routes, cursor.submits)
        if not rebuild:
            with self._lock:
                self._cursors[view] = cursor
                while len(self._cursors) > self.cache_size:
                    self._cursors.popitem(last=False)
