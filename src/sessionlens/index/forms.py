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


# Columns of form_session_rows, in order (the report reads them by position: 100,000 rows).
SESSION_COLUMNS = (
    "form_key", "sid", "segment", "start_time", "viewed_at", "started_at", "attempts", "first_submit_at",
    "clean_at", "nav_at", "next_url", "last_field", "last_at", "appeared", "later_view",
)  # fmt: skip


def _selection(index: Index, f: Any, form_key: str | None, by: str | None) -> tuple[str, str, list[Any]]:
    """(segment expression, FROM ... WHERE ... of the filter's form views, params)."""
    where, params = session_conditions(index.dialect, f)
    segment, join, join_params = _segment(by)
    if form_key is not None:
        where.append("fv.form_key = ?")
        params.append(form_key)
    sql = f" FROM form_views fv JOIN sessions s ON s.site = fv.site AND s.sid = fv.sid{join}"
    if where:
        sql += " WHERE " + " AND ".join(where)
    return segment, sql, [*join_params, *params]


def form_session_rows(index: Index, f: Any, form_key: str | None = None, by: str | None = None) -> list[Any]:
    """The filter's form view rows as tuples (SESSION_COLUMNS), with the session's start, its
    segment value and whether a later page view of the session followed the clean attempt
    (completion by navigation)."""
    segment, selection, params = _selection(index, f, form_key, by)
    sql = (
        f"SELECT fv.form_key, fv.sid, {segment}, s.start_time, fv.viewed_at, fv.started_at,"  # noqa: S608 - fixed
        " fv.attempts, fv.first_submit_at, fv.clean_at, fv.nav_at, fv.next_url, fv.last_field, fv.last_at,"
        " fv.appeared, CASE WHEN fv.clean_at IS NOT NULL AND EXISTS (SELECT 1 FROM page_views p"
        "  WHERE p.site = fv.site AND p.sid = fv.sid AND p.t0 > fv.clean_at) THEN 1 ELSE 0 END"
        f"{selection}"
    )
    return index.read(lambda conn: [tuple(r) for r in conn.execute(sql, params).fetchall()])


def form_names(index: Index, f: Any, form_key: str | None = None) -> dict[str, dict[str, Any]]:
    """form key -> ident, name, path, spa of the filter's form views (one form key has one ident;
    the least name when a page's heading changed)."""
    _, selection, params = _selection(index, f, form_key, None)
    rows = index.query(
        "SELECT fv.form_key, MIN(fv.ident) AS ident, MIN(fv.name) AS name, MIN(fv.path) AS path,"  # noqa: S608
        f" MIN(fv.spa) AS spa{selection} GROUP BY fv.form_key",
        params,
    )
    return {
        r["form_key"]: {"ident": r["ident"], "name": r["name"], "path": r["path"], "spa": bool(r["spa"])}
        for r in rows
    }


_SUMMED = (
    "interactions", "time_sum", "hes_sum", "hes_n", "corrections", "correction_sessions", "returns",
    "return_sessions", "blank_submit", "errors", "error_sessions",
)  # fmt: skip


def field_aggregates(index: Index, f: Any, form_key: str, by: str | None = None) -> list[dict[str, Any]]:
    """Per segment value and field, the session counts and sums of the field metrics (docs/forms.md).

    A session's rows of one field (one per page view showing the form) count as one: touched if
    any is, times and counts summed, blank if blank in any, the hesitation of its first page view
    that had one. Sessions that saw the form once (nearly all) are summed by the index in one
    GROUP BY; the few that saw it on several page views are merged here."""
    segment, selection, params = _selection(index, f, form_key, by)

    def sessions(having: str) -> str:
        return f"(SELECT fv.site, fv.sid, MIN({segment}) AS seg{selection} GROUP BY fv.site, fv.sid HAVING {having})"

    singles = (
        "SELECT v.seg AS segment, ff.field_key, MIN(ff.position) AS position, MIN(ff.label) AS label,"  # noqa: S608
        " SUM(ff.touched) AS interactions,"
        " SUM(CASE WHEN ff.touched = 1 THEN ff.time_ms ELSE 0 END) AS time_sum,"
        " SUM(CASE WHEN ff.touched = 1 AND ff.hesitation_ms IS NOT NULL THEN ff.hesitation_ms ELSE 0 END) AS hes_sum,"
        " SUM(CASE WHEN ff.touched = 1 AND ff.hesitation_ms IS NOT NULL THEN 1 ELSE 0 END) AS hes_n,"
        " SUM(CASE WHEN ff.touched = 1 THEN ff.corrections ELSE 0 END) AS corrections,"
        " SUM(CASE WHEN ff.touched = 1 AND ff.corrections > 0 THEN 1 ELSE 0 END) AS correction_sessions,"
        " SUM(CASE WHEN ff.touched = 1 THEN ff.returns ELSE 0 END) AS returns,"
        " SUM(CASE WHEN ff.touched = 1 AND ff.returns > 0 THEN 1 ELSE 0 END) AS return_sessions,"
        " SUM(CASE WHEN ff.blank_submit > 0 THEN 1 ELSE 0 END) AS blank_submit,"
        " SUM(ff.errors) AS errors, SUM(CASE WHEN ff.errors > 0 THEN 1 ELSE 0 END) AS error_sessions"
        f" FROM form_fields ff JOIN {sessions('COUNT(*) = 1')} v ON ff.site = v.site AND ff.sid = v.sid"
        " WHERE ff.form_key = ? GROUP BY v.seg, ff.field_key"
    )
    out = {(r["segment"], r["field_key"]): dict(r) for r in index.query(singles, [*params, form_key])}
    several = index.query(
        "SELECT v.seg AS segment, ff.sid, ff.field_key, ff.position, ff.label, ff.touched, ff.time_ms,"  # noqa: S608
        " ff.hesitation_ms, ff.corrections, ff.returns, ff.blank_submit, ff.errors"
        f" FROM form_fields ff JOIN {sessions('COUNT(*) > 1')} v ON ff.site = v.site AND ff.sid = v.sid"
        " WHERE ff.form_key = ? ORDER BY ff.sid, ff.field_key, ff.first_at, ff.pid",
        [*params, form_key],
    )
    merged: dict[tuple[str, str], dict[str, Any]] = {}
    for r in several:
        m = merged.setdefault((r["sid"], r["field_key"]), {**r, "touched": 0, "time_ms": 0, "hesitation_ms": None,
                                                            "corrections": 0, "returns": 0, "blank_submit": 0,
                                                            "errors": 0})  # fmt: skip
        m["touched"] |= r["touched"]
        m["time_ms"] += r["time_ms"]
        if m["hesitation_ms"] is None:
            m["hesitation_ms"] = r["hesitation_ms"]
        m["position"], m["label"] = min(m["position"], r["position"]), min(m["label"], r["label"])
        for k in ("corrections", "returns", "errors"):
            m[k] += r[k]
        m["blank_submit"] |= r["blank_submit"]
    for m in merged.values():
        used = bool(m["touched"])
        a = out.setdefault(
            (m["segment"], m["field_key"]),
            {"segment": m["segment"], "field_key": m["field_key"], "position": m["position"], "label": m["label"],
             **dict.fromkeys(_SUMMED, 0)},
        )  # fmt: skip
        a["position"], a["label"] = min(a["position"], m["position"]), min(a["label"], m["label"])
        hes = used and m["hesitation_ms"] is not None
        for k, v in (
            ("interactions", used), ("time_sum", m["time_ms"] if used else 0),
            ("hes_sum", m["hesitation_ms"] if hes else 0), ("hes_n", hes),
            ("corrections", m["corrections"] if used else 0), ("correction_sessions", used and m["corrections"] > 0),
            ("returns", m["returns"] if used else 0), ("return_sessions", used and m["returns"] > 0),
            ("blank_submit", m["blank_submit"] > 0), ("errors", m["errors"]), ("error_sessions", m["errors"] > 0),
        ):  # fmt: skip
            a[k] = (a[k] or 0) + int(v)
    return list(out.values())


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


def field_moment_rows(index: Index, f: Any, form_key: str, field_key: str) -> list[dict[str, Any]]:
    """One field's rows in the filter's sessions, each session's in page view order (replay moments)."""
    _, selection, params = _selection(index, f, form_key, None)
    return index.query(
        "SELECT ff.sid, ff.first_at, ff.touched, ff.hesitation_ms, ff.corrections, ff.returns,"  # noqa: S608
        " ff.blank_submit, ff.errors FROM form_fields ff"
        f" JOIN (SELECT DISTINCT fv.site, fv.sid{selection}) v ON ff.site = v.site AND ff.sid = v.sid"
        " WHERE ff.form_key = ? AND ff.field_key = ? ORDER BY ff.sid, ff.first_at, ff.pid",
        [*params, form_key, field_key],
    )
