"""The session list's filters: parsed from a query string, turned into SQL.

Every filter is checked and a bad one is refused with a message naming it,
so a typo in a shared link is an error, not an empty list. Filters combine
with AND. A filter that names one value of a field (device, channel,
country, utm_*, user, ...) may be repeated and then means "any of these";
a filter that asks for a fact of the session (visited, not_visited, event,
event_prop, trait, prop, experiment, clicked) may be repeated and then
means "each of these". Anything else given twice is refused.

Numeric filters are parsed through the one bounds table (params.SESSIONS);
the SQL is built in sessionlens.index.queries.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sessionlens.index import Index
from sessionlens.params import SESSIONS as SESSION_PARAMS
from sessionlens.responses import ParamError

DEVICES = ("desktop", "tablet", "mobile", "bot", "unknown")
# Channel groups (the derivation's list, docs/api.md); kept here as the filter's vocabulary.
CHANNELS = ("direct", "organic_search", "paid_search", "social", "email", "referral", "internal", "display", "affiliate",
            "other")  # fmt: skip
UTM = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")
# Frustration signal filters -> the session's count column (fixed names, never user text).
SIGNALS = {
    "rage": "rage_clicks",
    "dead": "dead_clicks",
    "error_clicks": "error_clicks",
    "quick_back": "quick_backs",
    "excessive_scroll": "excessive_scrolls",
    "thrash": "thrashes",
    "form_error": "form_errors",
}
# Sort names -> column; every one is NOT NULL, so (key, sid) orders every row.
SORTS = {
    "start": "start_time",
    "duration": "duration_ms",
    "active": "active_ms",
    "frustration": "frustration_score",
}
BOTS = ("exclude", "include", "only")
# How many sessions `total` counts exactly; beyond it the answer says "at least" (total_capped).
COUNT_CAP = 10_000

MAX_TEXT = 500  # characters of one text value
MAX_REPEATS = 20  # values of one repeated filter
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")
_SID = r"[A-Za-z0-9_-]{1,64}"
_COUNTRY = re.compile(r"[A-Za-z]{2}|unknown")
_LANGUAGE = re.compile(r"[A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8}){0,3}")
_DOC_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_TIMEZONE = re.compile(r"[A-Za-z0-9_+\-/]{1,64}")
_FLOAT_KEY = r"-?[0-9]{1,20}(?:\.[0-9]{1,20})?(?:e[+-]?[0-9]{1,3})?"

ANY_OF = ("device", "browser", "channel", "country", "language", "timezone", *UTM, "user")
EACH_OF = ("url", "visited", "not_visited", "event", "event_prop", "trait", "prop", "experiment", "clicked", "note",
           "collection", "survey", "survey_answer")  # fmt: skip
SINGLE = ("site", "referrer", "landing", "exit", "visitor", "has_errors", *SIGNALS, "bots", "sort", "order",
          "cursor", "before")  # fmt: skip
NUMERIC = tuple(b.name for b in SESSION_PARAMS.bounds)
KNOWN = frozenset((*ANY_OF, *EACH_OF, *SINGLE, *NUMERIC))


class FilterError(ParamError):
    pass


@dataclass(slots=True)
class SessionFilter:
    site: str | None = None
    start: int | None = None  # epoch ms, inclusive
    end: int | None = None  # epoch ms, exclusive
    visited: tuple[str, ...] = ()  # URL substrings or * patterns: a page view showed each
    not_visited: tuple[str, ...] = ()  # ... and none of these
    landing: str | None = None  # entry page: substring or pattern
    exit: str | None = None  # exit page: substring or pattern
    min_duration_ms: int | None = None
    max_duration_ms: int | None = None
    min_active_ms: int | None = None
    max_active_ms: int | None = None
    min_pages: int | None = None
    max_pages: int | None = None
    devices: tuple[str, ...] = ()
    browsers: tuple[str, ...] = ()  # ASCII case ignored
    channels: tuple[str, ...] = ()
    countries: tuple[str, ...] = ()  # upper case, or "unknown"
    languages: tuple[str, ...] = ()  # "de" matches "de" and "de-*"; ASCII case ignored
    timezones: tuple[str, ...] = ()
    utm: dict[str, tuple[str, ...]] = field(default_factory=dict)  # column -> any of (ASCII case ignored)
    referrer: str | None = None  # substring, ASCII case ignored
    users: tuple[str, ...] = ()  # user ids, exact
    visitor: str | None = None  # "new" | "returning"
    min_visits: int | None = None
    max_visits: int | None = None
    attrs: tuple[tuple[str, str, str | None], ...] = ()  # (scope, key, value or None = has the key)
    events: tuple[str, ...] = ()  # custom event names, each seen
    event_props: tuple[tuple[str, str, str | None], ...] = ()  # (event, key, value or None)
    clicked: tuple[str, ...] = ()  # click text substrings (ASCII case ignored), each clicked
    notes: tuple[str, ...] = ()  # a researcher's note on the session contains each (saved_docs)
    collections: tuple[str, ...] = ()  # the session is in each of these collections (ids)
    surveys: tuple[str, ...] = ()  # on-page survey ids: the session answered at least one question of each
    survey_answers: tuple[tuple[str, str, str], ...] = ()  # (survey, question, value) each given
    has_errors: bool = False
    signals: tuple[str, ...] = ()  # session count columns that must be > 0 (SIGNALS values)
    min_frustration: float | None = None
    lcp_over_ms: float | None = None
    bots: str = "exclude"
    sort: str = "start"
    order: str = "desc"
    limit: int = 50
    cursor: tuple[float | int, str] | None = None  # (sort key, sid) of the last row shown

    @property
    def sort_column(self) -> str:
        return SORTS[self.sort]

    @classmethod
    def from_query(cls, q: Mapping[str, Any]) -> SessionFilter:
        """A filter from query parameters (a starlette QueryParams, or a dict of str or list of str)."""
        values = _multi(q)
        unknown = sorted(set(values) - KNOWN)
        if unknown:
            raise FilterError(f"unknown filter {unknown[0]!r}; known: {', '.join(sorted(KNOWN))}")
        for name, vs in values.items():
            if len(vs) > 1 and name not in ANY_OF and name not in EACH_OF:
                raise FilterError(f"{name} may be given once (got {len(vs)} values)")
            if len(vs) > MAX_REPEATS:
                raise FilterError(f"{name} may be given at most {MAX_REPEATS} times")
            for v in vs:
                if len(v) > MAX_TEXT:
                    raise FilterError(f"{name} is longer than {MAX_TEXT} characters")
                if "\x00" in v:
                    raise FilterError(f"{name} must not contain NUL characters")
        numbers = SESSION_PARAMS.parse({k: vs[0] for k, vs in values.items() if k in NUMERIC})
        one = {k: vs[0] for k, vs in values.items()}
        f = cls()
        f.site = one.get("site") or None
        f.start, f.end = numbers["from"], numbers["to"]
        f.visited = tuple(_text(values, "url") + _text(values, "visited"))
        f.not_visited = tuple(_text(values, "not_visited"))
        f.landing = _text(values, "landing")[0] if "landing" in values else None
        f.exit = _text(values, "exit")[0] if "exit" in values else None
        f.min_duration_ms, f.max_duration_ms = _ms(numbers["min_duration"]), _ms(numbers["max_duration"])
        f.min_active_ms, f.max_active_ms = _ms(numbers["min_active"]), _ms(numbers["max_active"])
        f.min_pages, f.max_pages = numbers["min_pages"], numbers["max_pages"]
        f.min_visits, f.max_visits = numbers["min_visits"], numbers["max_visits"]
        f.min_frustration, f.lcp_over_ms = numbers["min_frustration"], numbers["lcp_over"]
        f.limit = numbers["limit"]
        f.devices = _choices(values, "device", DEVICES)
        f.channels = _choices(values, "channel", CHANNELS)
        f.browsers = tuple(_text(values, "browser"))
        f.countries = tuple(_matching(values, "country", _COUNTRY, "a two-letter country code or unknown"))
        f.countries = tuple(c if c == "unknown" else c.upper() for c in f.countries)
        f.languages = tuple(_matching(values, "language", _LANGUAGE, "a language tag such as de or de-DE"))
        f.timezones = tuple(_matching(values, "timezone", _TIMEZONE, "a time zone such as Europe/Berlin"))
        f.utm = {name: tuple(_text(values, name)) for name in UTM if name in values}
        f.referrer = _text(values, "referrer")[0] if "referrer" in values else None
        f.users = tuple(_text(values, "user"))
        if "visitor" in values:
            f.visitor = _choices(values, "visitor", ("new", "returning"))[0]
        f.attrs = tuple(
            ("trait", *_key_value(v, "trait")) for v in _text(values, "trait")
        ) + tuple(("prop", *_key_value(v, "prop")) for v in _text(values, "prop")) + tuple(
            ("experiment", *_key_value(v, "experiment")) for v in _text(values, "experiment")
        )  # fmt: skip
        f.events = tuple(_text(values, "event"))
        f.event_props = tuple(_event_prop(v) for v in _text(values, "event_prop"))
        f.clicked = tuple(_text(values, "clicked"))
        f.notes = tuple(_text(values, "note"))
        f.collections = tuple(_matching(values, "collection", _DOC_ID, "a collection id"))
        f.surveys = tuple(_matching(values, "survey", _DOC_ID, "a survey id"))
        f.survey_answers = tuple(_survey_answer(v) for v in _text(values, "survey_answer"))
        f.has_errors = _flag(one, "has_errors")
        f.signals = tuple(column for name, column in SIGNALS.items() if _flag(one, name))
        if "bots" in values:
            f.bots = _choices(values, "bots", BOTS)[0]
        if "sort" in values:
            f.sort = _choices(values, "sort", tuple(SORTS))[0]
        if "order" in values:
            f.order = _choices(values, "order", ("desc", "asc"))[0]
        if "cursor" in values and "before" in values:
            raise FilterError("give cursor or before, not both")
        if "cursor" in values:
            f.cursor = _cursor(one["cursor"], f.sort, f.order)
        elif "before" in values:
            f.cursor = _legacy_cursor(one["before"], f)
        return f

    def without_cursor(self) -> SessionFilter:
        return dataclasses.replace(self, cursor=None)


def search_sessions(index: Index, f: SessionFilter) -> dict[str, Any]:
    """One page of sessions in the filter's order, the cursor of the next page, and how many match.

    `total` counts the matching sessions (all pages) up to COUNT_CAP, on the first page only
    (None with a cursor: the list shows it before the first page); `total_capped` says there are
    more than that.
    """
    page = index.search_sessions(f, COUNT_CAP)
    rows, total = page["rows"], page["total"]
    more = len(rows) > f.limit
    rows = rows[: f.limit]
    cursor = encode_cursor(f, rows[-1]) if more and rows else None
    return {
        "sessions": rows,
        "next": cursor,
        "total": None if total is None else min(total, COUNT_CAP),
        "total_capped": total is not None and total > COUNT_CAP,
        "sort": f.sort,
        "order": f.order,
    }


def encode_cursor(f: SessionFilter, row: Mapping[str, Any]) -> str:
    """sort:order:key:sid of the last row shown. The key is written so it reads back exactly."""
    key = row[f.sort_column]
    text = repr(float(key)) if f.sort == "frustration" else str(int(key))
    return f"{f.sort}:{f.order}:{text}:{row['sid']}"


def _cursor(raw: str, sort: str, order: str) -> tuple[float | int, str]:
    match = re.fullmatch(rf"([a-z]{{1,12}}):(asc|desc):({_FLOAT_KEY}):({_SID})", raw)
    if not match:
        raise FilterError("cursor must be the `next` value of a previous page")
    if (match[1], match[2]) != (sort, order):
        raise FilterError(
            f"cursor belongs to sort={match[1]}&order={match[2]}, not sort={sort}&order={order}; "
            "start again from the first page"
        )
    if sort == "frustration":
        key: float | int = float(match[3])
        if not math.isfinite(key):
            raise FilterError("cursor must be the `next` value of a previous page")
    elif re.fullmatch(r"-?[0-9]{1,16}", match[3]):
        key = int(match[3])
    else:
        raise FilterError("cursor must be the `next` value of a previous page")
    return key, match[4]


def _legacy_cursor(raw: str, f: SessionFilter) -> tuple[int, str]:
    # `before=start_time:sid`, from links made before sorting existed (start, newest first only).
    match = re.fullmatch(rf"([0-9]{{1,16}}):({_SID})", raw)
    if not match:
        raise FilterError("before must be a cursor from a previous page (start_time:sid); use cursor=")
    if (f.sort, f.order) != ("start", "desc"):
        raise FilterError("before only pages sort=start&order=desc; use cursor=")
    return int(match[1]), match[2]


def _multi(q: Mapping[str, Any]) -> dict[str, list[str]]:
    if hasattr(q, "multi_items"):
        out: dict[str, list[str]] = {}
        for k, v in q.multi_items():
            out.setdefault(k, []).append(v)
        return out
    return {k: (list(v) if isinstance(v, list | tuple) else [v]) for k, v in q.items()}


def _text(values: dict[str, list[str]], name: str) -> list[str]:
    """Non-empty text values of a filter (an empty one is refused: the form meant something)."""
    found = values.get(name, [])
    for v in found:
        if not v.strip():
            raise FilterError(f"{name} must not be empty (leave it out to not filter)")
    return found


def _choices(values: dict[str, list[str]], name: str, allowed: tuple[str, ...]) -> tuple[str, ...]:
    found = values.get(name, [])
    for v in found:
        if v not in allowed:
            raise FilterError(f"{name} must be one of {', '.join(allowed)}, got {_shown(v)}")
    return tuple(dict.fromkeys(found))


def _matching(values: dict[str, list[str]], name: str, pattern: re.Pattern[str], what: str) -> list[str]:
    found = values.get(name, [])
    for v in found:
        if not pattern.fullmatch(v):
            raise FilterError(f"{name} must be {what}, got {_shown(v)}")
    return found


def _flag(one: dict[str, str], name: str) -> bool:
    raw = one.get(name)
    if raw is None or raw.lower() in _FALSE:
        return False
    if raw.lower() in _TRUE:
        return True
    raise FilterError(f"{name} must be 1 or 0 (also true/false, yes/no, on/off), got {_shown(raw)}")


def _key_value(raw: str, name: str) -> tuple[str, str | None]:
    """`key:value` (split at the first colon), or `key` alone: the session has that key."""
    key, sep, value = raw.partition(":")
    if not key.strip():
        raise FilterError(f"{name} must be key:value or key, got {_shown(raw)}")
    if sep and value == "":
        raise FilterError(f"{name} has an empty value after ':' (give key alone to match any value)")
    return key, (value if sep else None)


def _event_prop(raw: str) -> tuple[str, str, str | None]:
    """`event.key:value` or `event.key`. The key is after the last dot before the colon, so event
    names may hold dots (checkout.started.plan:pro); keys may not."""
    left, sep, value = raw.partition(":")
    event, dot, key = left.rpartition(".")
    if not dot or not event.strip() or not key.strip():
        raise FilterError(f"event_prop must be event.key:value or event.key, got {_shown(raw)}")
    if sep and value == "":
        raise FilterError("event_prop has an empty value after ':' (give event.key alone to match any value)")
    return event, key, (value if sep else None)


def _survey_answer(raw: str) -> tuple[str, str, str]:
    """`survey:question:value` (ids hold no colon; the value may, and is matched exactly, or as
    one of the options of a multi-select answer)."""
    survey, _, rest = raw.partition(":")
    question, sep, value = rest.partition(":")
    if not _DOC_ID.fullmatch(survey) or not _DOC_ID.fullmatch(question) or not sep or value == "":
        raise FilterError(
            f"survey_answer must be survey:question:value (ids of letters, digits, _ and -), got {_shown(raw)}"
        )
    return survey, question, value


def _shown(raw: str) -> str:
    return repr(raw if len(raw) <= 40 else raw[:40] + "…")


def _ms(seconds: float | None) -> int | None:
    return None if seconds is None else round(seconds * 1000)
