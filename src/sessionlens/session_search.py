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

    def sql(self) -> tuple[str, list[Any]]:
        where, params = [], []
        if self.site:
            where.append("s.site = ?")
            params.append(self.site)
        if self.start is not None:
            where.append("s.start_time >= ?")
            params.append(self.start)
        if self.end is not None:
            where.append("s.start_time < ?")
            params.append(self.end)
        if self.url:
            # A pattern (with *) must match a whole URL or path; plain text is a substring.
            test = "url_matches(u.url, ?)" if "*" in self.url else "instr(u.url, ?) > 0"
            where.append(
                f"EXISTS (SELECT 1 FROM page_urls u WHERE u.site = s.site AND u.sid = s.sid AND {test})"
            )
            params.append(self.url)
        if self.min_duration_ms is not None:
            where.append("s.duration_ms >= ?")
            params.append(self.min_duration_ms)
        if self.max_duration_ms is not None:
            where.append("s.duration_ms <= ?")
            params.append(self.max_duration_ms)
        if self.device:
            where.append("s.device = ?")
            params.append(self.device)
        if self.browser:
            where.append("s.browser = ? COLLATE NOCASE")
            params.append(self.browser)
        if self.has_errors:
            where.append("s.errors > 0")
        for column in self.signals:  # fixed names from the table above
            where.append(
                f"EXISTS (SELECT 1 FROM clicks c WHERE c.site = s.site AND c.sid = s.sid AND c.{column} = 1)"
            )
        if self.before:
            where.append("(s.start_time < ? OR (s.start_time = ? AND s.sid < ?))")
            params += [self.before[0], self.before[0], self.before[1]]
        sql = "SELECT s.* FROM sessions s"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY s.start_time DESC, s.sid DESC LIMIT ?"
        params.append(self.limit + 1)
        return sql, params


def search_sessions(index: Index, f: SessionFilter) -> dict[str, Any]:
    """One page of sessions, newest first, and the cursor of the next page."""
    sql, params = f.sql()
    rows = index.query(sql, params)
    more = len(rows) > f.limit
    rows = rows[: f.limit]
    cursor = f"{rows[-1]['start_time']}:{rows[-1]['sid']}" if more and rows else None
    return {"sessions": rows, "next": cursor}


def _ms(seconds: float | None) -> int | None:
    return None if seconds is None else round(seconds * 1000)
