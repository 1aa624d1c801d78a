"""Funnel SQL: the facts a funnel step matches, and the derived rows funnels add (migration 0010).

Each step is one statement returning (sid, at) rows: the sessions of a site where the
step happened and when (epoch ms). The ordering, windows and counting are done by
sessionlens.funnels.compute over these rows; the session filter is one statement over
`sessions` (the session list's conditions). Every visitor-typed value is a parameter;
column names and fragments come from fixed tables here.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from sessionlens.facts import index_text
from sessionlens.index.dialect import LOCK_PAGE_VIEW, Dialect
from sessionlens.index.queries import ascii_lower, session_conditions
from sessionlens.index.url_keys import session_url_condition

if TYPE_CHECKING:
    from sessionlens.index.database import Index

MAX_TEXT = 4096
# Segment fields read from the sessions row (name -> expression over `s`; fixed, never user text).
SESSION_SEGMENTS = {
    "device": "s.device",
    "browser": "s.browser",
    "os": "s.os",
    "channel": "s.channel",
    "country": "s.country",
    "language": "s.language",
    "utm_source": "s.utm_source",
    "utm_medium": "s.utm_medium",
    "utm_campaign": "s.utm_campaign",
    "visitor": "CASE WHEN s.visit_number IS NULL THEN NULL WHEN s.visit_number = 1 THEN 'new' ELSE 'returning' END",
}
# Segment fields read from session_attrs: name -> scope.
ATTR_SEGMENTS = {"experiment": "experiment", "trait": "trait", "prop": "prop"}


# -- derived rows (the derivation pass) ----------------------------------------------


def replace_page_view_facts(
    index: Index,
    view: tuple[str, str, str],
    t0: int,
    routes: Sequence[tuple[int, str]],
    submits: Sequence[tuple[int, str, int]],
) -> None:
    """Replace one page view's route changes (t, url) and form submits (t, form, invalid fields)."""
    site, sid, pid = view
    lock = index.dialect.lock_key_sql(LOCK_PAGE_VIEW)

    def write(conn: Any) -> None:
        if lock:  # two workers deriving one page view write one after the other
            conn.execute(lock, (f"{site}/{sid}/{pid}",))
        conn.execute("DELETE FROM route_changes WHERE site = ? AND sid = ? AND pid = ?", (site, sid, pid))
        conn.executemany(
            "INSERT INTO route_changes (site, sid, pid, t0, t, url) VALUES (?, ?, ?, ?, ?, ?)",
            [(site, sid, pid, t0, int(t), index_text(url, MAX_TEXT)) for t, url in routes],
        )
        conn.execute("DELETE FROM form_submits WHERE site = ? AND sid = ? AND pid = ?", (site, sid, pid))
        conn.executemany(
            "INSERT INTO form_submits (site, sid, pid, t0, t, form, invalid) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [(site, sid, pid, t0, int(t), index_text(form, MAX_TEXT), int(bad)) for t, form, bad in submits],
        )

    index.write(write)


# -- step statements -------------------------------------------------------------------


def _url_match(d: Dialect, alias: str, site: str, pattern: str) -> tuple[str, list[Any]]:
    """(condition, params) for `alias.url` matching a researcher's pattern the way the session
    list's `url`/`visited` filter does: with `*` the whole URL (or path and query for "/..."),
    through url_keys; without, a substring of the URL as recorded.

    The `*` form finds the few matching URLs first, then their rows by URL (the covering
    indexes of migration 0012), instead of looking url_keys up for every page view."""
    if "*" in pattern:
        test, params = session_url_condition(d, pattern)
        return f"{alias}.url IN (SELECT k.url FROM url_keys k WHERE k.site = ? AND {test})", [site, *params]
    return d.contains(f"{alias}.url"), [pattern]


def url_step(d: Dialect, site: str, pattern: str) -> tuple[str, list[Any]]:
    """Page views that opened on a matching URL (at their start) and SPA routes to one."""
    test_p, params_p = _url_match(d, "p", site, pattern)
    test_r, params_r = _url_match(d, "r", site, pattern)
    sql = (
        f"SELECT p.sid, p.t0 AS at FROM page_views p WHERE p.site = ? AND {test_p}"
        f" UNION ALL SELECT r.sid, r.t0 + r.t AS at FROM route_changes r WHERE r.site = ? AND {test_r}"
    )
    return sql, [site, *params_p, site, *params_r]


def click_step(d: Dialect, site: str, text: str | None, selector: str | None) -> tuple[str, list[Any]]:
    """Clicks whose element's visible text contains `text` (ASCII case ignored, as the `clicked`
    filter), or whose target or control path is `selector` (`*` wildcards allowed)."""
    if text is not None:
        return (
            f"SELECT c.sid, c.t0 + c.t AS at FROM clicks c WHERE c.site = ? AND {d.contains(d.ascii_lower('c.text'))}",
            [site, ascii_lower(text)],
        )
    assert selector is not None
    if "*" in selector:
        value = d.wildcard_param(selector)
        test = f"({d.wildcard('c.selector')} OR {d.wildcard('c.control')})"
    else:
        value, test = selector, "(c.selector = ? OR c.control = ?)"
    return f"SELECT c.sid, c.t0 + c.t AS at FROM clicks c WHERE c.site = ? AND {test}", [site, value, value]


def event_step(d: Dialect, site: str, name: str, props: Iterable[tuple[str, str]]) -> tuple[str, list[Any]]:
    """Custom events of that name, each property (key, value as stored text) present on the event."""
    sql = (
        "SELECT e.sid, p.t0 + e.t AS at FROM custom_events e"
        " JOIN page_views p ON p.site = e.site AND p.sid = e.sid AND p.pid = e.pid"
        " WHERE e.site = ? AND e.name = ?"
    )
    params: list[Any] = [site, name]
    for key, value in props:
        sql += (
            " AND EXISTS (SELECT 1 FROM custom_event_props q WHERE q.site = e.site AND q.sid = e.sid"
            " AND q.pid = e.pid AND q.t = e.t AND q.name = e.name AND q.key = ? AND q.value = ?)"
        )
        params += [key, value]
    return sql, params


def submit_step(d: Dialect, site: str, form: str | None, valid_only: bool) -> tuple[str, list[Any]]:
    """Form submit attempts, of one form (its recorded name; `*` wildcards allowed) or any;
    `valid_only`: attempts with no field invalid."""
    sql = "SELECT f.sid, f.t0 + f.t AS at FROM form_submits f WHERE f.site = ?"
    params: list[Any] = [site]
    if form is not None:
        if "*" in form:
            sql += f" AND {d.wildcard('f.form')}"
            params.append(d.wildcard_param(form))
        else:
            sql += " AND f.form = ?"
            params.append(form)
    if valid_only:
        sql += " AND f.invalid = 0"
    return sql, params


def segment_select(by: tuple[str, str | None] | None) -> tuple[str, str, list[Any]]:
    """(select expression, join, params) giving a session's segment value as `seg`."""
    if by is None:
        return "NULL AS seg", "", []
    field, key = by
    if field in SESSION_SEGMENTS:
        return f"{SESSION_SEGMENTS[field]} AS seg", "", []
    scope = ATTR_SEGMENTS[field]
    join = " LEFT JOIN session_attrs a ON a.site = s.site AND a.sid = s.sid AND a.scope = ? AND a.key = ?"
    return "a.value AS seg", join, [scope, key]


def funnel_sessions(d: Dialect, f: Any, by: tuple[str, str | None] | None) -> tuple[str, list[Any]]:
    """The sessions a funnel counts (the session list's filter, bots excluded by default):
    sid, visitor_id, start_time and the segment value `seg`."""
    where, params = session_conditions(d, f)
    select, join, join_params = segment_select(by)
    # A funnel reads most of a site's sessions: on SQLite a scan of the table in its own order,
    # not a walk of one of the (site, ...) indexes that looks each row up at random (98,000
    # sessions: 56 ms scanned, 450 ms through an index in start order). A date range is
    # left to the planner (sessions_start narrows it).
    scan = " NOT INDEXED" if not d.is_postgresql and f.start is None and f.end is None else ""
    sql = f"SELECT s.sid, s.visitor_id, s.start_time, {select} FROM sessions s{scan}{join}"
    if where:
        sql += " WHERE " + " AND ".join(where)
    return sql, [*join_params, *params]


@dataclass
class SessionColumns:
    """The filter's sessions: sids, start times, visitor ids ("" = none) and, when the funnel
    is broken down, segment values ("" = none)."""

    sids: list[str]
    starts: np.ndarray
    visitors: list[str]
    segments: list[str] | None


@dataclass
class StepRows:
    """One step's moments: the session of each (sid) and when (epoch ms)."""

    sids: list[str]
    at: np.ndarray


# Rows travel as one joined text per column: 100,000 rows as Python tuples cost more than the
# queries (sqlite3 and psycopg build an object per value). Session and visitor ids are
# [A-Za-z0-9_-] (the batch schema's `id`), never a comma; segment values (any text) are
# joined by the unit separator, U+001F. A column whose pieces do not line up (a separator
# inside a value) is read again as rows (_rows_fallback): that costs time, never answers.
SEP = ","
SEGMENT_SEP = "\x1f"


def _text_agg(d: Dialect, expr: str, separator: str = "','") -> str:
    return f"string_agg({expr}, {separator})" if d.is_postgresql else f"group_concat({expr}, {separator})"


def _split(text: str | None, separator: str = SEP) -> list[str]:
    return text.split(separator) if text is not None else []


def _ints(text: str | None) -> np.ndarray:
    # numpy's C parser; an empty aggregate is NULL.
    return np.fromstring(text, dtype=np.int64, sep=SEP) if text else np.zeros(0, dtype=np.int64)


def aggregated(
    d: Dialect, sessions: tuple[str, list[Any]], steps: Sequence[tuple[str, list[Any]]], segmented: bool
) -> list[tuple[str, list[Any]]]:
    """The statements read_funnel runs: the sessions as one row of texts (sids, starts,
    visitors, and segments when `segmented`), then each step as one row of (sids, ats)."""
    session_sql, session_params = sessions
    columns = [
        _text_agg(d, "x.sid"),
        d.int_list_agg("x.start_time"),
        _text_agg(d, "coalesce(x.visitor_id, '')"),
    ]
    if segmented:
        columns.append(_text_agg(d, "coalesce(x.seg, '')", "chr(31)" if d.is_postgresql else "char(31)"))
    out = [(f"SELECT {', '.join(columns)} FROM ({session_sql}) x", session_params)]  # noqa: S608
    for sql, params in steps:
        out.append((f"SELECT {_text_agg(d, 'x.sid')}, {d.int_list_agg('x.at')} FROM ({sql}) x", params))  # noqa: S608
    return out


def read_funnel(
    index: Index, sessions: tuple[str, list[Any]], steps: Sequence[tuple[str, list[Any]]], segmented: bool
) -> tuple[SessionColumns, list[StepRows]]:
    """The filter's sessions and each step's (sid, at) rows, in one read transaction."""
    d = index.dialect
    session_statement, *step_statements = aggregated(d, sessions, steps, segmented)

    def read(conn: Any) -> tuple[SessionColumns, list[StepRows]]:
        for statement in d.bulk_read_settings():
            conn.execute(statement)

        def fetch(sql: str, params: list[Any]) -> list[tuple]:
            if isinstance(conn, sqlite3.Connection):
                cursor = conn.cursor()
                cursor.row_factory = None  # plain tuples
                return cursor.execute(sql, params).fetchall()
            return [tuple(r) for r in conn.execute(sql, params).fetchall()]

        ((sids_text, starts_text, visitors_text, *segments_text),) = fetch(*session_statement)
        sids, starts, visitors = _split(sids_text), _ints(starts_text), _split(visitors_text)
        segments = _split(segments_text[0], SEGMENT_SEP) if segmented else None
        lengths = {len(sids), len(starts), len(visitors), len(sids if segments is None else segments)}
        if len(lengths) > 1:
            return _rows_fallback(fetch, sessions, steps, segmented)
        out = []
        for statement in step_statements:
            ((sids_text, at_text),) = fetch(*statement)
            step_sids, at = _split(sids_text), _ints(at_text)
            if len(step_sids) != len(at):
                return _rows_fallback(fetch, sessions, steps, segmented)
            out.append(StepRows(step_sids, at))
        return SessionColumns(sids, starts, visitors, segments), out

    return index.read(read)


def _rows_fallback(
    fetch: Any, sessions: tuple[str, list[Any]], steps: Sequence[tuple[str, list[Any]]], segmented: bool
) -> tuple[SessionColumns, list[StepRows]]:
    """The same answer read row by row (a separator inside a value)."""
    rows = fetch(*sessions)
    columns = SessionColumns(
        [r[0] for r in rows],
        np.array([r[2] for r in rows], dtype=np.int64),
        [r[1] or "" for r in rows],
        [str(r[3]) if r[3] is not None else "" for r in rows] if segmented else None,
    )
    out = []
    for statement in steps:
        step = fetch(*statement)
        out.append(StepRows([r[0] for r in step], np.array([r[1] for r in step], dtype=np.int64)))
    return columns, out


def session_rows(index: Index, site: str, sids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Session list rows of these sessions (a page of a drop-off list), by sid."""
    out: dict[str, dict[str, Any]] = {}
    for i in range(0, len(sids), 500):
        part = list(sids[i : i + 500])
        if not part:
            continue
        marks = ", ".join("?" * len(part))
        for r in index.query(f"SELECT * FROM sessions WHERE site = ? AND sid IN ({marks})", [site, *part]):  # noqa: S608
            out[r["sid"]] = r
    return out
