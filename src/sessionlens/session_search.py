"""The session list's filters: parsed from a query string, turned into SQL.

Every filter is checked and a bad one is refused with a message naming it,
so a typo in a shared link is an error, not an empty list.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sessionlens.index import Index
from sessionlens.params import SESSIONS as SESSION_PARAMS
from sessionlens.responses import ParamError

DEVICES = ("desktop", "tablet", "mobile", "bot", "unknown")


class FilterError(ParamError):
    pass


@dataclass(slots=True)
class SessionFilter:
    site: str | None = None
    start: int | None = None  # epoch ms, inclusive
    end: int | None = None  # epoch ms, exclusive
    url: str | None = None  # substring, or a pattern with * wildcards
    min_duration_ms: int | None = None
    max_duration_ms: int | None = None
    device: str | None = None
    browser: str | None = None
    has_errors: bool = False
    signals: tuple[str, ...] = ()  # "rage", "dead", "error": has at least one such click
    limit: int = 50
    before: tuple[int, str] | None = None  # keyset cursor: (start_time, sid) of the last row shown

    @classmethod
    def from_query(cls, q: Mapping[str, str]) -> SessionFilter:
        known = {"site", "from", "to", "url", "min_duration", "max_duration", "device", "browser",
                 "has_errors", "limit", "before", "rage", "dead", "error_clicks"}  # fmt: skip
        unknown = sorted(set(q) - known)
        if unknown:
            raise FilterError(f"unknown filter {unknown[0]!r}; known: {', '.join(sorted(known))}")
        numbers = SESSION_PARAMS.parse(q)
        f = cls()
        f.site = q.get("site") or None
        f.start, f.end = numbers["from"], numbers["to"]
        f.url = q.get("url") or None
        f.min_duration_ms = _ms(numbers["min_duration"])
        f.max_duration_ms = _ms(numbers["max_duration"])
        if q.get("device"):
            if q["device"] not in DEVICES:
                raise FilterError(f"device must be one of {', '.join(DEVICES)}")
            f.device = q["device"]
        f.browser = q.get("browser") or None
        f.has_errors = q.get("has_errors", "") in ("1", "true", "yes", "on")
        f.signals = tuple(
            column
            for name, column in (("rage", "rage"), ("dead", "dead"), ("error_clicks", "error"))
            if q.get(name, "") in ("1", "true", "yes", "on")
        )
        f.limit = numbers["limit"]
        if q.get("before"):
            match = re.fullmatch(r"([0-9]{1,16}):([A-Za-z0-9_-]{1,64})", q["before"])
            if not match:
                raise FilterError("before must be a cursor from a previous page (start_time:sid)")
            f.before = (int(match[1]), match[2])
        return f


def search_sessions(index: Index, f: SessionFilter) -> dict[str, Any]:
    """One page of sessions, newest first, and the cursor of the next page."""
    rows = index.search_sessions(f)
    more = len(rows) > f.limit
    rows = rows[: f.limit]
    cursor = f"{rows[-1]['start_time']}:{rows[-1]['sid']}" if more and rows else None
    return {"sessions": rows, "next": cursor}


def _ms(seconds: float | None) -> int | None:
    return None if seconds is None else round(seconds * 1000)
