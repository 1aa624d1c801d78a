"""Form analytics rows (migration 0011): written per page view by the derivation pass, read per
site and form for the form reports (src/sessionlens/forms/report.py computes the metrics).

Reads are restricted by the session list's filter (session_search.SessionFilter) through the
same WHERE terms as the list (queries.session_conditions), bots excluded unless it says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sessionlens.facts import index_text
from sessionlens.index.dialect import LOCK_SESSION, Dialect
from sessionlens.index.queries import session_conditions
from sessionlens.url_patterns import page_matches

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


# Columns of form_outcomes, in order (one row per form, segment value and abandon field).
OUTCOME_COLUMNS = (
    "form_key", "segment", "abandoned", "last_field", "views", "starters", "completions", "submitters",
    "durations", "ident", "name", "path", "spa",
)  # fmt: skip

# A session's last touched field of a form (report: the abandon field): its started page view
# with the latest last_at (NULL taken as 0), as one text that sorts by that moment so MAX picks
# the row: 16 digits of last_at + 10**15, "1" or "0" (last_at NULL), then "1" + the field key or
# "0" (none). NULL when no page view started the form.
_LAST_OFFSET = 10**15


def _last_key(d: Dialect) -> str:
    moment = f"COALESCE(fv.last_at, 0) + {_LAST_OFFSET}"
    digits = f"lpad(CAST({moment} AS TEXT), 16, '0')" if d.is_postgresql else f"printf('%016d', {moment})"
    return (
        f"CASE WHEN fv.started_at IS NOT NULL THEN {digits}"
        " || CASE WHEN fv.last_at IS NULL THEN '0' ELSE '1' END"
        " || CASE WHEN fv.last_field IS NULL THEN '0' ELSE '1' || fv.last_field END END"
    )


_LAST_AT = f"CASE WHEN substr(o.last_key, 17, 1) = '1' THEN CAST(substr(o.last_key, 1, 16) AS BIGINT) - {_LAST_OFFSET} END"
_LAST_FIELD = "CASE WHEN substr(o.last_key, 18, 1) = '1' THEN substr(o.last_key, 19) END"
_ABANDONED = "CASE WHEN o.started_at IS NOT NULL AND o.completed_at IS NULL THEN 1 ELSE 0 END"


def _matching_urls(index: Index, site: str, form_key: str, pattern: str) -> tuple[list[str], list[str]]:
    """(next_url values, page view URLs) that a URL success rule matches, among those that could
    count for this form (after one of its submit attempts): matched in Python with
    url_patterns.page_matches, the reference, once per distinct URL."""
    nexts = index.query(
        "SELECT DISTINCT next_url AS url FROM form_views WHERE site = ? AND form_key = ? AND nav_at IS NOT NULL",
        [site, form_key],
    )
    pages = index.query(
        "SELECT DISTINCT p.url FROM form_views fv JOIN page_views p ON p.site = fv.site AND p.sid = fv.sid"
        " AND p.t0 > fv.first_submit_at WHERE fv.site = ? AND fv.form_key = ? AND fv.first_submit_at IS NOT NULL",
        [site, form_key],
    )
    return (
        [r["url"] for r in nexts if page_matches(r["url"], pattern)],
        [r["url"] for r in pages if page_matches(r["url"], pattern)],
    )


def _success(index: Index, site: str, form_key: str, rule: dict[str, str]) -> tuple[str, list[Any]]:
    """(SQL, params): the moment form view row `fv` counted as completed under `rule`, or NULL.
    nav: a clean attempt followed by an SPA navigation or a later page view; element: a clean
    attempt after which the element appeared; url: the first navigation or later page view to a
    matching URL after the first attempt; event: the first such custom event at or after it."""
    d = index.dialect
    kind, value = rule.get("kind", "nav"), rule.get("value", "")
    if kind == "nav":
        return (
            "CASE WHEN fv.clean_at IS NOT NULL AND (fv.nav_at IS NOT NULL OR EXISTS (SELECT 1 FROM page_views p"
            " WHERE p.site = fv.site AND p.sid = fv.sid AND p.t0 > fv.clean_at)) THEN fv.clean_at END",
            [],
        )
    if kind == "element":
        return (
            "CASE WHEN fv.first_submit_at IS NOT NULL AND fv.clean_at IS NOT NULL"
            f" AND {d.contains('fv.appeared')} THEN fv.clean_at END",
            [f" {value} "],
        )
    if kind == "event":
        return (
            "CASE WHEN fv.first_submit_at IS NOT NULL THEN (SELECT MIN(p.t0 + c.t) FROM custom_events c"
            " JOIN page_views p ON p.site = c.site AND p.sid = c.sid AND p.pid = c.pid WHERE c.site = fv.site"
            " AND c.sid = fv.sid AND c.name = ? AND p.t0 + c.t >= fv.first_submit_at) END",
            [value],
        )
    if kind == "url":
        nexts, pages = _matching_urls(index, site, form_key, value)
        # typed NULLs: PostgreSQL takes an untyped one for text
        sql, params = "CASE WHEN fv.first_submit_at IS NULL THEN CAST(NULL AS BIGINT)", []
        if nexts:
            sql += f" WHEN fv.nav_at IS NOT NULL AND fv.next_url IN ({_marks(len(nexts))}) THEN fv.nav_at"
            params += nexts
        if pages:
            sql += (
                " ELSE (SELECT MIN(p.t0) FROM page_views p WHERE p.site = fv.site AND p.sid = fv.sid"
                f" AND p.t0 > fv.first_submit_at AND p.url IN ({_marks(len(pages))}))"
            )
            params += pages
        return sql + " END", params
    return "CAST(NULL AS BIGINT)", []


def _marks(n: int) -> str:
    return ", ".join("?" * n)


def _per_session(
    index: Index, f: Any, site: str, rules: dict[str, dict[str, str]], form_key: str | None, by: str | None
) -> tuple[str, list[Any]]:
    """(SQL, params): one row `o` per form and session of the filter (a session counts once per
    form, its page views showing the form merged): segment value, session start, first view,
    start and attempt, the moment it completed under the form's success rule (`rules`: form key
    -> rule; others nav) or NULL, whether it tried to submit, its last field (_last_key)."""
    segment, selection, params = _selection(index, f, form_key, by)
    keys = [k for k, r in rules.items() if r.get("kind", "nav") != "nav" and form_key in (None, k)]
    success, success_params = _success(index, site, "", {"kind": "nav"})
    if keys:
        cases, cases_params = "", []
        for key in keys:
            sql, p = _success(index, site, key, rules[key])
            cases += f" WHEN fv.form_key = ? THEN {sql}"
            cases_params += [key, *p]
        success, success_params = f"CASE{cases} ELSE {success} END", [*cases_params, *success_params]
    return (
        f"SELECT fv.form_key, fv.site, fv.sid, MIN({segment}) AS segment, MIN(s.start_time) AS start_time,"  # noqa: S608 - fixed
        " MIN(fv.viewed_at) AS viewed_at, MIN(fv.started_at) AS started_at,"
        f" MIN(CASE WHEN fv.started_at IS NOT NULL THEN {success} END) AS completed_at,"
        " MAX(CASE WHEN fv.attempts > 0 THEN 1 ELSE 0 END) AS submitted,"
        f" MIN(fv.first_submit_at) AS first_submit_at, MAX({_last_key(index.dialect)}) AS last_key,"
        " MIN(fv.ident) AS ident, MIN(fv.name) AS name, MIN(fv.path) AS path, MIN(fv.spa) AS spa"
        f"{selection} GROUP BY fv.form_key, fv.site, fv.sid",
        [*success_params, *params],
    )


def form_outcomes(
    index: Index,
    f: Any,
    site: str,
    rules: dict[str, dict[str, str]],
    form_key: str | None = None,
    by: str | None = None,
) -> list[tuple[Any, ...]]:
    """The filter's sessions per form (and segment value) counted by the index (OUTCOME_COLUMNS):
    one row per form, segment value, abandoned or not and abandon field (the last field touched
    by an abandoning session), with the counts of sessions that viewed, started, completed and
    tried to submit, the start-to-completion times as "ms,ms,..." (for the median), and the
    form's ident, name, path and spa flag (MIN: one key has one ident, a heading may change)."""
    inner, params = _per_session(index, f, site, rules, form_key, by)
    sql = (
        f"SELECT o.form_key, o.segment, {_ABANDONED}, CASE WHEN {_ABANDONED} = 1 THEN {_LAST_FIELD} END,"  # noqa: S608
        " COUNT(*), COUNT(o.started_at), COUNT(o.completed_at), SUM(o.submitted),"
        f" {index.dialect.int_list_agg('o.completed_at - o.started_at')},"
        f" MIN(o.ident), MIN(o.name), MIN(o.path), MIN(o.spa) FROM ({inner}) o GROUP BY 1, 2, 3, 4"
    )
    return index.read(lambda conn: [tuple(r) for r in conn.execute(sql, params).fetchall()])


def form_seen(index: Index, f: Any, form_key: str) -> bool:
    """Whether a session of the filter viewed the form."""
    _, selection, params = _selection(index, f, form_key, None)
    return bool(index.query(f"SELECT 1 AS seen{selection} LIMIT 1", params))  # noqa: S608 - fixed


# When the replay of a session behind a field number opens: a field row passing the metric's test.
_FIELD_TESTS = {
    "interactions": "ff.touched = 1", "time": "ff.touched = 1", "hesitation": "ff.hesitation_ms IS NOT NULL",
    "corrections": "ff.corrections > 0", "returns": "ff.returns > 0", "blank_submit": "ff.blank_submit > 0",
    "errors": "ff.errors > 0",
}  # fmt: skip
_FORM_MOMENTS = {
    "views": ("o.viewed_at", "1 = 1"),
    "starters": ("o.started_at", "o.started_at IS NOT NULL"),
    "completions": ("o.completed_at", "o.completed_at IS NOT NULL"),
    "abandons": (_LAST_AT, f"{_ABANDONED} = 1"),
}


def outcome_sessions(
    index: Index,
    f: Any,
    site: str,
    rules: dict[str, dict[str, str]],
    form_key: str,
    field: str | None,
    metric: str,
) -> list[tuple[str, int]]:
    """(sid, moment - session start) of each session behind one number of the form report: a
    form metric (field None) or a field metric. The moment: the view, start, completion or
    last touch (abandons); for a field its first passing touch, except blank on submit and errors
    which open at the first attempt (a field left blank may never have been touched)."""
    inner, params = _per_session(index, f, site, rules, form_key, None)
    if field is None or metric == "abandons":
        moment, where = _FORM_MOMENTS[metric]
        sql = f"SELECT o.sid, {moment} - o.start_time AS t FROM ({inner}) o WHERE {where} AND {moment} IS NOT NULL"  # noqa: S608
        if field is not None:
            sql += f" AND {_LAST_FIELD} = ?"
            params = [*params, field]
    else:
        test = _FIELD_TESTS[metric]
        attempt = "o.first_submit_at IS NOT NULL" if metric in ("blank_submit", "errors") else "1 = 0"
        same_site = " AND ff.site = ?" if f.site else ""
        sql = (
            f"SELECT o.sid, CASE WHEN {attempt} THEN o.first_submit_at"  # noqa: S608
            " ELSE COALESCE(m.first_at, o.viewed_at) END - o.start_time AS t"
            f" FROM ({inner}) o JOIN (SELECT ff.site, ff.sid, MIN(ff.first_at) AS first_at FROM form_fields ff"
            f" WHERE ff.form_key = ? AND ff.field_key = ?{same_site} AND {test} GROUP BY ff.site, ff.sid) m"
            " ON m.site = o.site AND m.sid = o.sid"
        )
        params = [*params, form_key, field, *([f.site] if f.site else [])]
    return index.read(lambda conn: [(r[0], int(r[1])) for r in conn.execute(sql, params).fetchall()])


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
