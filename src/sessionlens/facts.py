"""Facts of one chunk, derived from its events alone.

Kept pure and per chunk so ingest and `reindex` compute exactly the same
rows, and a retried chunk replaces its own facts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sessionlens.contracts import activity_kinds
from sessionlens.contracts import field as f

# Gaps between user actions longer than this count as idle, not active time.
ACTIVE_GAP_MS = 5_000
# The visitor's own actions: the schema's x-activity, shared with the recorder and the player.
_ACTIVITY_KINDS = activity_kinds()
_KIND, _T = f("meta", "kind"), f("meta", "t")  # every kind starts [kind, t, ...]

_META_URL = f("meta", "url")
_META_TITLE = f("meta", "title")
_META_REFERRER = f("meta", "referrer")
_META_VW = f("meta", "vw")
_META_VH = f("meta", "vh")
_META_UA = f("meta", "ua")
_RESIZE_VW = f("resize", "vw")
_RESIZE_VH = f("resize", "vh")
_NAV_URL = f("nav", "url")
_SCROLL_TARGET = f("scroll", "target")
_SCROLL_Y = f("scroll", "y")
_SCROLL_SH = f("scroll", "sh")
_CLICK_PH = f("click", "ph")
_IDENTIFY_USER = f("identify", "user")


@dataclass(slots=True)
class ChunkFacts:
    events: int = 0
    t_first: int | None = None
    t_last: int | None = None
    act_first: int | None = None
    act_last: int | None = None
    active_ms: int = 0
    clicks: int = 0
    inputs: int = 0
    errors: int = 0
    customs: int = 0
    navs: int = 0
    max_scroll_y: float | None = None
    page_height: float | None = None
    has_snapshot: bool = False
    url: str | None = None
    title: str | None = None
    referrer: str | None = None
    ua: str | None = None
    vw: float | None = None
    vh: float | None = None
    urls: list[str] = field(default_factory=list)
    user_id: str | None = None  # the last sessionlens.identify() of the chunk


def _max(current: float | None, value: float) -> float:
    return value if current is None or value > current else current


def chunk_facts(events: list[list[Any]]) -> ChunkFacts:
    facts = ChunkFacts(events=len(events))
    last_activity: int | None = None
    for event in events:
        kind, t = event[_KIND], event[_T]
        if facts.t_first is None or t < facts.t_first:
            facts.t_first = t
        if facts.t_last is None or t > facts.t_last:
            facts.t_last = t
        if kind in _ACTIVITY_KINDS:
            if last_activity is not None:
                facts.active_ms += min(max(t - last_activity, 0), ACTIVE_GAP_MS)
            else:
                facts.act_first = t
            last_activity = t
            facts.act_last = t
        if kind == "click":
            facts.clicks += 1
            facts.page_height = _max(facts.page_height, event[_CLICK_PH])
        elif kind == "input":
            facts.inputs += 1
        elif kind == "error":
            facts.errors += 1
        elif kind == "custom":
            facts.customs += 1
        elif kind == "scroll" and event[_SCROLL_TARGET] is None:
            facts.max_scroll_y = _max(facts.max_scroll_y, event[_SCROLL_Y])
            facts.page_height = _max(facts.page_height, event[_SCROLL_SH])
        elif kind == "nav":
            facts.navs += 1
            facts.urls.append(event[_NAV_URL])
        elif kind == "snapshot":
            facts.has_snapshot = True
        elif kind == "resize":
            facts.vw, facts.vh = event[_RESIZE_VW], event[_RESIZE_VH]
        elif kind == "identify":
            facts.user_id = event[_IDENTIFY_USER]
        elif kind == "meta":
            facts.url = event[_META_URL]
            facts.title = event[_META_TITLE]
            facts.referrer = event[_META_REFERRER]
            facts.ua = event[_META_UA]
            facts.vw, facts.vh = event[_META_VW], event[_META_VH]
            facts.urls.append(event[_META_URL])
            facts.max_scroll_y = _max(facts.max_scroll_y, 0.0)
    return facts
