"""Queries built from parameters: session search and batch slots."""

from __future__ import annotations

import enum
from typing import Any

from sessionlens.index.aggregate import lock_sessions
from sessionlens.index.dialect import Dialect
from sessionlens.index.saved_docs import collection_condition, note_condition
from sessionlens.index.url_keys import session_url_condition


class Slot(enum.Enum):
    """What reserving a batch's key decided (batch_slots.py)."""

    RESERVED = "reserved"  # a new key, now counted
    KNOWN = "known"  # the key was reserved or stored before (a retry or a re-send)
    FULL = "full"  # a new key and the session is at its limit


# Session columns a filter may compare or sort by (fixed names, never user text).
SIGNAL_COLUMNS = frozenset(
    {
        "rage_clicks",
        "dead_clicks",
        "error_clicks",
        "quick_backs",
        "excessive_scrolls",
        "thrashes",
        "form_errors",
    }
)
SORT_COLUMNS = frozenset({"start_time", "duration_ms", "active_ms", "frustration_score"})
ATTR_SCOPES = frozenset({"trait", "prop", "experiment"})
UTM_COLUMNS = frozenset({"utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content"})


def ascii_lower(text: str) -> str:
    """A-Z to a-z and nothing else: what both databases' lower() does in session search."""
    return text.translate(_ASCII_LOWER)


_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def _one(condition: tuple[str, list[Any]]) -> list[Any]:
    return [condition[0], *condition[1]]


def _marks(n: int) -> str:
    return ", ".join("?" * n)


def _url_test(d: Dialect, column: str, pattern: str) -> tuple[str, list[Any]]:
    """`column` (a URL of a row joined to url_keys `k` on it) matches a researcher's URL filter:
    a pattern with * the whole URL (or path and query, for "/..."), plain text a substring."""
    if "*" in pattern:
        return session_url_condition(d, pattern)
    return d.contains(column), [pattern]


def session_conditions(d: Dialect, f: Any) -> tuple[list[str], list[Any]]:
    """WHERE terms (ANDed) on sessions `s` for a session_search.SessionFilter, without its cursor."""
    where: list[str] = []
    params: list[Any] = []

    def add(sql: str, *values: Any) -> None:
        where.append(sql)
        params.extend(values)

    def any_of(expr: str, values: tuple[Any, ...]) -> None:
        if values:
            add(f"{expr} IN ({_marks(len(values))})", *values)

    if f.site:
        add("s.site = ?", f.site)
    if f.start is not None:
        add("s.start_time >= ?", f.start)
    if f.end is not None:
        add("s.start_time < ?", f.end)
    if f.bots == "exclude":
        add("s.is_bot = 0")
    elif f.bots == "only":
        add("s.is_bot = 1")
    for column, low, high in (
        ("duration_ms", f.min_duration_ms, f.max_duration_ms),
        ("active_ms", f.min_active_ms, f.max_active_ms),
        ("page_count", f.min_pages, f.max_pages),
        ("visit_number", f.min_visits, f.max_visits),
    ):
        if low is not None:
            add(f"s.{column} >= ?", low)
        if high is not None:
            add(f"s.{column} <= ?", high)
    any_of("s.device", f.devices)
    any_of(d.ascii_lower("s.browser"), tuple(ascii_lower(b) for b in f.browsers))
    any_of("s.channel", f.channels)
    any_of("s.country", f.countries)
    any_of("s.timezone", f.timezones)
    any_of("s.user_id", f.users)
    for column, values in f.utm.items():
        if column not in UTM_COLUMNS:
            raise ValueError(f"unknown UTM column {column!r}")
        any_of(d.ascii_lower(f"s.{column}"), tuple(ascii_lower(v) for v in values))
    if f.languages:
        # "de" is German whatever the region: de, de-DE, de-AT.
        language = d.ascii_lower("s.language")
        terms = []
        for tag in f.languages:
            tag = ascii_lower(tag)
            terms.append(f"({language} = ? OR substr({language}, 1, ?) = ?)")
            params.extend((tag, len(tag) + 1, tag + "-"))
        where.append("(" + " OR ".join(terms) + ")")
    if f.referrer:
        add(d.contains(d.ascii_lower("s.referrer")), ascii_lower(f.referrer))
    if f.visitor == "new":
        add("s.visit_number = 1")
    elif f.visitor == "returning":
        add("s.visit_number > 1")
    for column, pattern in (("entry_url", f.landing), ("exit_url", f.exit)):
        if pattern is None:
            continue
        if "*" in pattern:
            test, extra = session_url_condition(d, pattern)
            add(
                f"EXISTS (SELECT 1 FROM url_keys k WHERE k.site = s.site AND k.url = s.{column} AND {test})",
                *extra,
            )
        else:
            add(d.contains(f"s.{column}"), pattern)
    for pattern, wanted in [(p, True) for p in f.visited] + [(p, False) for p in f.not_visited]:
        test, extra = _url_test(d, "u.url", pattern)
        keys = " JOIN url_keys k ON k.site = u.site AND k.url = u.url" if "*" in pattern else ""
        exists = (
            f"EXISTS (SELECT 1 FROM page_urls u{keys} WHERE u.site = s.site AND u.sid = s.sid AND {test})"
        )
        add(exists if wanted else f"NOT {exists}", *extra)
    for scope, key, value in f.attrs:
        if scope not in ATTR_SCOPES:
            raise ValueError(f"unknown attribute scope {scope!r}")
        # A point lookup on the table's key (site, sid, scope, key) per session.
        sql = "EXISTS (SELECT 1 FROM session_attrs a WHERE a.site = s.site AND a.sid = s.sid AND a.scope = ? AND a.key = ?"
        if value is None:
            add(sql + ")", scope, key)
        else:
            add(sql + " AND a.value = ?)", scope, key, value)
    # Custom events are indexed by (site, name): the matching sessions are found once, from that side.
    site_term = " AND e.site = ?" if f.site else ""
    site_param = [f.site] if f.site else []
    for name in f.events:
        add(f"(s.site, s.sid) IN (SELECT e.site, e.sid FROM custom_events e WHERE e.name = ?{site_term})",
            name, *site_param)  # fmt: skip
    for name, key, value in f.event_props:
        value_term = " AND e.value = ?" if value is not None else ""
        add(f"(s.site, s.sid) IN (SELECT e.site, e.sid FROM custom_event_props e WHERE e.name = ? AND e.key = ?"
            f"{value_term}{site_term})", name, key, *([value] if value is not None else []), *site_param)  # fmt: skip
    # Clicks of the session's page views, found by (site, sid). On PostgreSQL the session's time
    # span lets each probe skip the day partitions it cannot be in; SQLite would take that range
    # for an index on (site, t0) instead and read every click of the site in the span.
    span = " AND c.t0 >= s.start_time AND c.t0 <= s.end_time" if d.is_postgresql else ""
    for text in f.clicked:
        add(f"EXISTS (SELECT 1 FROM clicks c WHERE c.site = s.site AND c.sid = s.sid{span}"
            f" AND {d.contains(d.ascii_lower('c.text'))})", ascii_lower(text))  # fmt: skip
    for text in f.notes:
        add(*_one(note_condition(d, text)))
    for collection in f.collections:
        add(*_one(collection_condition(collection)))
    if f.has_errors:
        add("s.errors > 0")
    for column in f.signals:
        if column not in SIGNAL_COLUMNS:
            raise ValueError(f"unknown signal column {column!r}")
        add(f"s.{column} > 0")
    if f.min_frustration is not None:
        add("s.frustration_score >= ?", f.min_frustration)
    if f.lcp_over_ms is not None:
        add("s.lcp_ms > ?", f.lcp_over_ms)
    return where, params


def session_search(d: Dialect, f: Any) -> tuple[str, list[Any]]:
    """SQL for one page of a session_search.SessionFilter in its order, limit + 1 rows.

    Keyset pagination on (sort key, sid): every sort column is NOT NULL, so
    the order is total and a page never repeats or skips a row.
    """
    where, params = session_conditions(d, f)
    column = f.sort_column
    if column not in SORT_COLUMNS:
        raise ValueError(f"unknown sort column {column!r}")
    direction = "DESC" if f.order == "desc" else "ASC"
    if f.cursor is not None:
        op = "<" if f.order == "desc" else ">"
        where.append(f"(s.{column} {op} ? OR (s.{column} = ? AND s.sid {op} ?))")
        params += [f.cursor[0], f.cursor[0], f.cursor[1]]
    sql = "SELECT s.* FROM sessions s"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += f" ORDER BY s.{column} {direction}, s.sid {direction} LIMIT ?"
    params.append(f.limit + 1)
    return sql, params


def session_count(d: Dialect, f: Any, cap: int) -> tuple[str, list[Any]]:
    """SQL counting the filter's sessions (all pages), stopping at cap + 1: a count past the cap
    would cost a scan of every match for a number nobody reads exactly."""
    where, params = session_conditions(d, f)
    inner = "SELECT 1 FROM sessions s" + (" WHERE " + " AND ".join(where) if where else "")
    return f"SELECT COUNT(*) FROM ({inner} LIMIT ?) matching", [*params, cap + 1]


def search_sessions(conn: Any, d: Dialect, f: Any, cap: int) -> dict[str, Any]:
    """One page, the capped count and the page's experiment buckets, in one read transaction."""
    for (
        statement
    ) in d.bulk_read_settings():  # a rare filter scans every session: JIT costs more than it saves
        conn.execute(statement)
    rows = [dict(r) for r in conn.execute(*session_search(d, f)).fetchall()]
    # The count is for the first page (shown before the list); later pages skip its scan.
    total: int | None = None
    if f.cursor is None and len(rows) <= f.limit:
        total = len(rows)  # the first page holds every match: no second scan (rare filters scan everything)
    elif f.cursor is None:
        total = int(conn.execute(*session_count(d, f, cap)).fetchone()[0])
    if rows:
        keys = [(r["site"], r["sid"]) for r in rows]
        found = conn.execute(
            "SELECT site, sid, key, value FROM session_attrs WHERE scope = 'experiment'"
            f" AND (site, sid) IN (VALUES {', '.join(['(?, ?)'] * len(keys))}) ORDER BY key",
            [v for k in keys for v in k],
        ).fetchall()
        buckets: dict[tuple[str, str], dict[str, str]] = {}
        for r in found:
            buckets.setdefault((r[0], r[1]), {})[r[2]] = r[3]
        for r in rows:
            r["experiments"] = buckets.get((r["site"], r["sid"]), {})
    return {"rows": rows, "total": total}


def reserve_batch_slot(conn: Any, d: Dialect, site: str, sid: str, pid: str, seq: int, limit: int) -> Slot:
    """Count and reserve in one transaction.

    On SQLite the single writer thread decides requests one after another;
    on PostgreSQL the session's lock (taken first) does, across processes.
    """
    lock_sessions(conn, d, [(site, sid)])
    key = (site, sid, pid, seq)
    # One statement in the common case: insert the slot while the session is
    # under its limit. Slots cover every stored chunk except after the index
    # was rebuilt from storage (reindex fills `chunks`, not this table), so
    # both are counted.
    inserted = conn.execute(
        "INSERT INTO batch_slots (site, sid, pid, seq) SELECT ?, ?, ?, ? "
        "WHERE (SELECT COUNT(*) FROM batch_slots WHERE site = ? AND sid = ?) < ? "
        "AND (SELECT COUNT(*) FROM chunks WHERE site = ? AND sid = ?) < ? "
        "ON CONFLICT DO NOTHING",
        (*key, site, sid, limit, site, sid, limit),
    )
    if inserted.rowcount == 1:
        return Slot.RESERVED
    # Not inserted: the key was reserved or stored before (a retry), or the
    # session is full.
    known = conn.execute(
        "SELECT 1 FROM batch_slots WHERE site = ? AND sid = ? AND pid = ? AND seq = ? "
        "UNION ALL SELECT 1 FROM chunks WHERE site = ? AND sid = ? AND pid = ? AND seq = ?",
        key + key,
    ).fetchone()
    return Slot.KNOWN if known else Slot.FULL
