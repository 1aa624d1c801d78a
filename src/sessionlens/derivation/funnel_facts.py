"""A page view's SPA route changes and form submit attempts, for funnel steps (index/funnels.py).

Read from the page view's stored events like the other derivations, and kept
between passes (derivation/kept_replay.py, as derivation/clicks.py keeps its replay)
so a page view growing by one chunk is read from that chunk only; the rows equal a
fresh pass.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sessionlens.contracts import field as position
from sessionlens.derivation.kept_replay import KeptReplays, PageView
from sessionlens.index import Index
from sessionlens.index.funnels import replace_page_view_facts
from sessionlens.replay.element_paths import ElementPaths
from sessionlens.replay.pageview import PageViewReader

MAX_ROWS = 5_000  # route changes, and submits, kept per page view (a looping page stays bounded)
_NAV_URL = position("nav", "url")
_SUBMIT_FORM, _SUBMIT_INVALID = position("submit", "form"), position("submit", "invalid")


@dataclass
class _Cursor:
    seqs: list[int] = field(default_factory=list)
    routes: list[tuple[int, str]] = field(default_factory=list)
    submits: list[tuple[int, str, int]] = field(default_factory=list)
    # Follows the DOM so a submit the recorder left unnamed is named as the form showed then.
    paths: ElementPaths = field(default_factory=ElementPaths)

    def weight(self) -> int:
        return len(self.paths.state.nodes)

    def add(self, events: list[list[Any]]) -> None:
        for event in self.paths.stream(events):
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
        self._replays = KeptReplays(_Cursor, cache_size)

    def derive(
        self,
        index: Index,
        reader: PageViewReader,
        view: PageView,
        *,
        rebuild: bool = False,
        on_chunk: Callable[[int], None] = lambda seq: None,
    ) -> None:
        def write(cursor: _Cursor, t0: int) -> None:
            replace_page_view_facts(index, view, t0, cursor.routes, cursor.submits)

        self._replays.run(reader, view, write, rebuild=rebuild, on_chunk=on_chunk)
