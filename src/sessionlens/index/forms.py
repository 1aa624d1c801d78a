"""Form analytics rows (migration 0011): written per page view by the derivation pass, read per
site and form for the form reports (src/sessionlens/forms/report.py computes the metrics).

Reads are restricted by the session list's filter (session_search.SessionFilter) through the
same WHERE terms as the list (queries.session_conditions), bots excluded unless it says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sessionlens.facts import index_text
from sessionlens.index.dialect import LOCK_SESSION
from sessionlens.index.queries import session_conditions

if TYPE_CHECKING:
    from sessionlens.forms.track import FormFacts
    from sessionlens.index.database import Index

# Segment fields a breakdown may use: session columns (fixed names, never user text).
BY_COLUMNS = frozenset({"device", "browser", "os", "channel", "country", "language", "timezone", "visitor"})
BY_SCOPES = frozenset({"experiment", "trait", "prop"})


def write_forms(index: Index, view: tuple[str, str, str], t0: int, forms: Sequence[FormFacts]) -> None:
    """Replace the page view's form rows (times made epoch ms with the page view's t0)."""
    site, sid, pid = view
    lock = index.dialect.lock_key_sql(LOCK_SESSION)

    def at(t: int | None) -> int | None:
        return None if t is None else t0 + t

    views, fields = [], []
    for form in forms:
        views.append((
            site, sid, pid, form.key, _t(form.ident), _t(form.name), _t(form.path), int(form.spa),
            at(form.viewed_at), at(form.started_at), len(form.attempts),
            at(form.attempts[0][0]) if form.attempts else None, at(form.clean_at), at(form.nav_at),
            _t(form.next_url), _t(form.last_field) if form.last_field else None, at(form.last_at),
            _t(" " + " ".join(form.appeared) + " " if form.appeared else ""),
        ))  # fmt: skip
        for f in form.fields.values():
            fields.append((
                site, sid, pid, form.key, _t(f.key), _t(f.label), _t(f.tag), f.position, int(f.touched),
                at(f.first_at), f.time_ms, f.hesitation_ms, f.corrections, f.returns, f.blank_submit,
                len(f.error_rounds),
            ))  # fmt: skip

    def write(conn: Any) -> None:
        if lock:
            conn.execute(lock, (f"{site}/{sid}",))
        conn.execute("DELETE FROM form_views WHERE site = ? AND sid = ? AND pid = ?", (site, sid, pid))
        conn.execute("DELETE FROM form_fields WHERE site = ? AND sid = ? AND pid = ?", (site, sid, pid))
        conn.executemany(
            "INSERT INTO form_views (site, sid, pid, form_key, ident, name, path, spa, viewed_at, started_at,"
            " attempts, first_submit_at, clean_at, nav_at, next_url, last_field, last_at, appeared)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            views,
        )
        conn.executemany(
            "INSERT INTO form_fields (site, sid, pid, form_key, field_key, label, tag, position, touched,"
            " first_at, time_ms, hesitation_ms, corrections, returns, blank_submit, errors)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            fields,
        )

    index.write(write)


def _t(value: str) -> str:
    return index_text(value, 2048)


def _segment(by: str | None) -> tuple[str, str, list[Any]]:
    """(select expression, join, params) giving each session's segment value for `by`."""
    if not by:
        return "''", "", []
    if by == "visitor":
        return (
            "CASE WHEN s.visit_number IS NULL THEN '' WHEN s.visit_number = 1 THEN 'new' ELSE 'returning' END",
            "",
            [],
        )
    if by in BY_COLUMNS:
        return f"COALESCE(s.{by}, '')", "", []
    scope, _, key = by.partition(":")
    if scope in BY_SCOPES and key:
        return (
            "COALESCE(a.value, '')",
            " LEFT JOIN session_attrs a ON a.site = s.site AND a.sid = s.sid AND a.scope = ? AND a.key = ?",
            [scope, key],
        )
    raise ValueError(f"unknown breakdown {by!r}")


def form_view_rows(
    index: Index, f: Any, form_key: str | None = None, by: str | None = None
) -> list[dict[str, Any]]:
    """Form view rows of the filter's sessions with the session's start, its segment value and the
    next page view after the clean attempt (for completion by navigation or URL)."""
    where, params = session_conditions(index.dialect, f)
    segment, join, join_params = _segment(by)
    if form_key is not None:
        where.append("fv.form_key = ?")
        params.append(form_key)
    sql = (
        f"SELECT fv.*, s.start_time, {segment} AS segment,"  # noqa: S608 - fixed expressions
        " (SELECT MIN(p.t0) FROM page_views p WHERE p.site = fv.site AND p.sid = fv.sid"
        "  AND p.t0 > fv.clean_at) AS next_view_at"
        f" FROM form_views fv JOIN sessions s ON s.site = fv.site AND s.sid = fv.sid{join}"
    )
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY fv.sid, fv.viewed_at, fv.pid"
    return index.query(sql, [*join_params, *params])


def page_view_urls(index: Index, site: str, sids: Sequence[str]) -> list[dict[str, Any]]:
    """(sid, t0, url) of the page views of these sessions (success by URL)."""
    out: list[dict[str, Any]] = []
    for i in range(0, len(sids), 500):
        part = list(sids[i : i + 500])
        out += index.query(
            f"SELECT sid, t0, url FROM page_views WHERE site = ? AND sid IN ({', '.join('?' * len(part))})",  # noqa: S608
            [site, *part],
        )
    return out


def custom_event_times(index: Index, site: str, name: str, sids: Sequence[str]) -> list[dict[str, Any]]:
    """(sid, at) of the custom events named `name` in these sessions (success by event)."""
    out: list[dict[str, Any]] = []
    for i in range(0, len(sids), 500):
        part = list(sids[i : i + 500])
        out += index.query(
            "SELECT c.sid, p.t0 + c.t AS at FROM custom_events c JOIN page_views p"
            " ON p.site = c.site AND p.sid = c.sid AND p.pid = c.pid"
            f" WHERE c.site = ? AND c.name = ? AND c.sid IN ({', '.join('?' * len(part))})",  # noqa: S608
            [site, name, *part],
        )
    return out


def form_field_rows(index: Index, site: str, form_key: str, sids: Sequence[str]) -> list[dict[str, Any]]:
    """Field rows of one form in these sessions."""
    out: list[dict[str, Any]] = []
    for i in range(0, len(sids), 500):
        part = list(sids[i : i + 500])
        out += index.query(
            "SELECT * FROM form_fields WHERE site = ? AND form_key = ?"
            f" AND sid IN ({', '.join('?' * len(part))}) ORDER BY sid, first_at, pid",  # noqa: S608
            [site, form_key, *part],
        )
    return out
