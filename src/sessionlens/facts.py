"""Facts of one chunk, derived from its events alone.

Kept pure and per chunk so ingest and `reindex` compute exactly the same
rows, and a retried chunk replaces its own facts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sessionlens.contracts import activity_kinds, event_fields
from sessionlens.contracts import field as f
from sessionlens.replay.stream_fields import timing_value

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
_META_LANG = f("meta", "lang")
_META_TZ = f("meta", "tz")
_TIMING_NAME = f("timing", "name")
_TIMING_VALUE = f("timing", "value")
# Bot hints recorders added later (trailing, optional): absent in older meta events.
_META_FIELDS = event_fields()["meta"]
_META_WEBDRIVER = _META_FIELDS.index("webdriver") if "webdriver" in _META_FIELDS else None
_META_BRANDS = _META_FIELDS.index("brands") if "brands" in _META_FIELDS else None
# A person's own input: what automation that only loads pages never sends.
HUMAN_KINDS = frozenset({"click", "move", "input", "scroll", "submit"})
# Page speed metrics kept per page view (timing name -> ChunkFacts field); the worst value wins.
_SPEED = {"lcp": "lcp_ms", "cls": "cls", "inp": "inp_ms"}
_MAX_LANG, _MAX_TZ = 35, 64  # BCP 47 tags and IANA zone names are shorter; longer values are cut


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
    lang: str | None = None  # navigator.language from the meta event
    tz: str | None = None  # the IANA time zone from the meta event
    webdriver: int | None = None  # 1: the meta event's bot hints said automation; None: no meta
    human: int = 0  # human input events (HUMAN_KINDS)
    lcp_ms: float | None = None
    cls: float | None = None
    inp_ms: float | None = None


def index_text(value: object, limit: int) -> str:
    """Visitor text as the index keeps it: at most `limit` characters, without NUL
    (PostgreSQL text cannot hold it)."""
    return str(value)[: limit * 2].replace("\x00", "")[:limit]


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
        if kind in HUMAN_KINDS:
            facts.human += 1
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
            facts.lang = index_text(event[_META_LANG], _MAX_LANG) or None
            facts.tz = index_text(event[_META_TZ], _MAX_TZ) or None
            facts.webdriver = int(_meta_says_automation(event))
        elif kind == "timing" and event[_TIMING_NAME] in _SPEED:
            name = _SPEED[event[_TIMING_NAME]]
            # Recorders since issue 12 send it as measured (replay/stream_fields.py).
            value = timing_value(event[_TIMING_NAME], float(event[_TIMING_VALUE]))
            if value >= 0:  # a negative metric is a broken recorder, not a fast page
                setattr(facts, name, _max(getattr(facts, name), value))
    return facts


def _meta_says_automation(event: list[Any]) -> bool:
    """navigator.webdriver, or client hint brands naming a headless browser."""
    if _META_WEBDRIVER is not None and len(event) > _META_WEBDRIVER and event[_META_WEBDRIVER] == 1:
        return True
    if _META_BRANDS is not None and len(event) > _META_BRANDS:
        return "headless" in str(event[_META_BRANDS]).lower()
    return False
