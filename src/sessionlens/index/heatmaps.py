"""Heatmap selections (heatmap/render.py's Selection) as SQL on both backends.

A selection is a site, a page (exact URL, path, or a pattern with `*`) and
optional page-view filters (device class, window width, dates). Pages are
matched on `url_keys` (normalised URL and path, see url_keys.py), so facts
tables are filtered by `url IN (the matching URLs of the site)`; clicks and
moves tables are partitioned by day on PostgreSQL, and a date filter on the
page view start (`t0`) is applied to the facts' own `t0` too, so only those
days' partitions are read.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sessionlens.index.queries import session_conditions
from sessionlens.index.url_keys import page_url_condition

if TYPE_CHECKING:
    from sessionlens.index.database import Index

# The element a click counts for: its control (nearest interactive ancestor), else its own target.
ELEMENT = "COALESCE(NULLIF(c.control, ''), c.selector)"
_SIGNALS = {"rage": " AND c.rage = 1", "dead": " AND c.dead = 1", "error": " AND c.error = 1"}
CLICK_COLUMNS = "c.sid, c.pid, c.t, c.url, c.selector, c.fx, c.fy, c.px, c.py, c.vw, c.rage, c.dead, c.error, c.anchor, c.ax, c.ay"


# Facts tables carrying their page view's columns (click_arrays: migration 18): filtered there.
_VIEW_COLUMNS = {"click_arrays": ("device", "vw")}


def _view_filters(sel: Any, alias: str, own: tuple[str, ...] = ()) -> tuple[str, list[Any], bool]:
    """The selection's site and page-view conditions; True when page_views `p` must be joined
    (`own`: the page-view columns the facts table `alias` carries)."""
    parts = [f"{alias}.site = ?"]
    params: list[Any] = [sel.site]
    joined = False
    device = None if sel.device == "any" else sel.device
    for column, value, op in (("device", device, "="), ("vw", sel.min_width, ">="), ("vw", sel.max_width, "<="),
                              ("t0", sel.start, ">="), ("t0", sel.end, "<")):  # fmt: skip
        if value is None:
            continue
        if alias != "p" and (column == "t0" or column in own):
            # The facts carry their page view's t0 (and `own`): filter there (and prune partitions).
            parts.append(f"{alias}.{column} {op} ?")
        else:
            parts.append(f"p.{column} {op} ?")
            joined = joined or alias != "p"
        params.append(value)
    return " AND ".join(parts), params, joined


def _bots(sel: Any, alias: str, where: str, params: list[Any]) -> tuple[str, list[Any]]:
    """Bots' sessions (sessions.is_bot, migration 0008) left out, unless the selection's `bots`
    is "include" (or "only": nothing else)."""
    bots = getattr(sel, "bots", "exclude")
    if bots == "include":
        return where, params
    sids = f"{alias}.sid IN (SELECT b.sid FROM sessions b WHERE b.site = ? AND b.is_bot = 1)"
    return f"{where} AND {'' if bots == 'only' else 'NOT '}{sids}", [*params, sel.site]


def _segment(index: Index, sel: Any, alias: str, where: str, params: list[Any]) -> tuple[str, list[Any]]:
    """Only the facts of sessions the selection's session-list filters keep (experiment variant,
    channel, country, a saved segment, ...): the session list's own SQL (queries.session_conditions)
    as a subquery over sessions `s`."""
    f = getattr(sel, "sessions", None)
    if f is None:
        return where, params
    terms, values = session_conditions(index.dialect, f)
    if not terms:
        return where, params
    sql = f"{alias}.sid IN (SELECT s.sid FROM sessions s WHERE {' AND '.join(terms)})"  # noqa: S608 - fixed SQL
    return f"{where} AND {sql}", [*params, *values]


def _facts(
    index: Index, sel: Any, table: str, alias: str, columns: str, extra: str = "", joins: str = "",
    urls: list[str] | None = None,
) -> tuple[str, list[Any]]:  # fmt: skip
    """SELECT `columns` of the selection's facts; `joins` (fixed SQL, no parameters) follow the facts table.

    `urls`: the selection's URLs found already (selection_urls), matched as one array parameter
    (PostgreSQL only: a hashed `= ANY` filter on the scan, where the subquery's hash join cost
    0.3 s of a 1,000,000-click read)."""
    where, params, joined = _view_filters(sel, alias, _VIEW_COLUMNS.get(table, ()))
    only = getattr(sel, "bots", "exclude") == "only"
    source, url = f"{table} {alias}", f"{alias}.url"
    if only:
        # The bots' sessions first (sessions_bots), their facts by session (clicks_page); the URL
        # tested on each (SQLite's `+`: else it reads every fact of the URLs by clicks_heatmap).
        source = f"sessions bs CROSS JOIN {table} {alias}"
        url = url if index.dialect.is_postgresql else f"+{url}"
        where = f"bs.site = ? AND bs.is_bot = 1 AND {alias}.sid = bs.sid AND {where}"
        params = [sel.site, *params]
    else:
        where, params = _bots(sel, alias, where, params)
    where, params = _segment(index, sel, alias, where, params)
    join = (
        f" JOIN page_views p ON p.site = {alias}.site AND p.sid = {alias}.sid AND p.pid = {alias}.pid"
        if joined
        else ""
    )
    sql = f"SELECT {columns} FROM {source}{joins}{join} WHERE {where}"  # noqa: S608 - fixed names
    if urls is not None and index.dialect.is_postgresql:
        return f"{sql} AND {alias}.url = ANY(?){extra}", [*params, urls]
    match, match_params = page_url_condition(index.dialect, sel.pattern)
    sql += f" AND {url} IN (SELECT k.url FROM url_keys k WHERE k.site = ? AND {match}){extra}"
    return sql, [*params, sel.site, *match_params]


# Frustration signals with a place (session_signals, migration 0008) drawn as heatmap types.
SIGNAL_KINDS = ("thrash", "form_error", "excessive_scroll")


def _signal_facts(index: Index, sel: Any, kind: str, columns: str, extra: str = "") -> tuple[str, list[Any]]:
    """SELECT `columns` of the selection's signals of `kind` (session_signals `g`, its page view `p`
    joined for the window's size): the same site, page, page-view, bot and session filters as
    _facts (dates on the page view's t0: signals carry no t0 of their own)."""
    if kind not in SIGNAL_KINDS:
        raise ValueError(f"not a signal heatmap kind: {kind!r}")
    where, params, _ = _view_filters(sel, "p")
    where, params = _bots(sel, "g", where, params)
    where, params = _segment(index, sel, "g", where, params)
    match, match_params = page_url_condition(index.dialect, sel.pattern)
    sql = (
        f"SELECT {columns} FROM session_signals g"  # noqa: S608 - fixed names
        " JOIN page_views p ON p.site = g.site AND p.sid = g.sid AND p.pid = g.pid"
        f" WHERE g.site = ? AND g.kind = ? AND {where}"
        f" AND g.url IN (SELECT k.url FROM url_keys k WHERE k.site = ? AND {match}){extra}"
    )
    return sql, [sel.site, kind, *params, sel.site, *match_params]


def signal_rows(index: Index, sel: Any, kind: str) -> list[dict[str, Any]]:
    """The selection's signals of `kind` as rows (the reference the array reads are tested against)."""
    sql, params = _signal_facts(
        index, sel, kind, "g.sid, g.pid, g.t, g.x, g.y, g.target, p.vw, p.vh", " ORDER BY g.sid, g.pid, g.t"
    )
    return index.query(sql, params)


def selection_urls(conn: Any, index: Index, sel: Any) -> list[str] | None:
    """The URLs (of url_keys) the selection's page pattern matches, read on `conn`, for _facts; None on
    SQLite, whose IN subquery drives its covering index by URL already."""
    if not index.dialect.is_postgresql:
        return None
    match, params = page_url_condition(index.dialect, sel.pattern)
    rows = conn.execute(f"SELECT k.url FROM url_keys k WHERE k.site = ? AND {match}", [sel.site, *params])  # noqa: S608
    return [row[0] for row in rows.fetchall()]


def matching_urls(index: Index, sel: Any, table: str = "clicks") -> list[str]:
    """The distinct URLs of a facts table (clicks, moves) the selection's page pattern selects."""
    if table not in ("clicks", "moves"):
        raise ValueError(f"not a facts table: {table!r}")
    match, params = page_url_condition(index.dialect, sel.pattern)
    rows = index.query(
        f"SELECT k.url FROM url_keys k WHERE k.site = ? AND {match}"  # noqa: S608 - fixed names
        f" AND EXISTS (SELECT 1 FROM {table} f WHERE f.site = k.site AND f.url = k.url) ORDER BY k.url",
        [sel.site, *params],
    )
    return [r["url"] for r in rows]


def moves(index: Index, sel: Any) -> list[dict[str, Any]]:
    return index.query(*_facts(index, sel, "moves", "m", "m.x, m.y, m.vw"))


def clicks(index: Index, sel: Any, kind: str, selector: str | None = None) -> list[dict[str, Any]]:
    """Clicks of the selection (of one signal `kind`); with `selector`, those on that element."""
    tail = _SIGNALS.get(kind, "") + (f" AND ({ELEMENT} = ? OR c.selector = ?)" if selector else "")
    sql, params = _facts(index, sel, "clicks", "c", CLICK_COLUMNS, tail)
    return index.query(sql, [*params, selector, selector] if selector else params)


def element_parts(index: Index, sel: Any, kind: str) -> list[dict[str, Any]]:
    """Clicks counted per (element, inner target): element, inner, text, n, rage, dead, error."""
    sql, params = _facts(
        index, sel, "clicks", "c",
        f"{ELEMENT} AS element, c.selector AS inner, MAX(c.text) AS text, COUNT(*) AS n,"
        " SUM(c.rage) AS rage, SUM(c.dead) AS dead, SUM(c.error) AS error",
        _SIGNALS.get(kind, "") + f" GROUP BY {ELEMENT}, c.selector",
    )  # fmt: skip
    return index.query(sql, params)


def _views(index: Index, sel: Any, columns: str, extra: str = "") -> tuple[str, list[Any]]:
    """SELECT `columns` of the page views that showed the selected page (`extra`: fixed SQL after WHERE)."""
    where, params, _ = _view_filters(sel, "p")
    # Page views follow the same session filters as the facts: bots, segment, variant.
    where, params = _bots(sel, "p", where, params)
    where, params = _segment(index, sel, "p", where, params)
    match, match_params = page_url_condition(index.dialect, sel.pattern)
    # Not correlated: the matching URLs' page views are found once (a correlated EXISTS probed
    # every matching URL for every page view of the site: seconds at 100,000 page views).
    sql = (
        f"SELECT {columns} FROM page_views p WHERE {where} AND (p.site, p.sid, p.pid) IN ("  # noqa: S608
        " SELECT u.site, u.sid, u.pid FROM page_urls u WHERE u.site = ? AND u.url IN ("
        f" SELECT k.url FROM url_keys k WHERE k.site = ? AND {match})){extra}"
    )
    return sql, [*params, sel.site, sel.site, *match_params]


def page_views(index: Index, sel: Any) -> list[dict[str, Any]]:
    """The page views that showed the selected page, newest first."""
    sql, params = _views(index, sel, "p.*", " ORDER BY p.t0 DESC")
    return index.query(sql, params)


def backdrop_view(index: Index, sel: Any, width: int, pid: str | None = None) -> dict[str, Any] | None:
    """The page view a heatmap is drawn over: the newest recorded at the window width closest to
    `width` (only `pid`, when given); None when the selection has none."""
    sql, params = _views(
        index, sel, "p.site, p.sid, p.pid, p.t0, p.vw, p.vh, p.device",
        (" AND p.pid = ?" if pid else "") + " ORDER BY abs(COALESCE(p.vw, 0) - ?), p.t0 DESC LIMIT 1",
    )  # fmt: skip
    rows = index.query(sql, [*params, *([pid] if pid else []), width])
    return rows[0] if rows else None


def median_view_height(index: Index, sel: Any, device: str | None) -> float | None:
    """The median recorded viewport height (vh > 0) of the selection's page views of a device class
    (statistics.median's value: the middle one, or the mean of the middle two); None when none."""
    same = " AND p.device = ?" if device is not None else " AND p.device IS NULL"
    device_params = [device] if device is not None else []
    # A recorded number above 0 (NaN, which PostgreSQL sorts above all, is left out, as Python's `h > 0` does).
    valid = " AND p.vh > 0 AND p.vh <= 9007199254740991"
    # One pass: the heights counted per value, in order (a few hundred distinct values), the
    # middle read off that; was a COUNT then an ORDER BY ... OFFSET, two passes over the selection.
    sql, params = _views(
        index, sel, "p.vh AS vh, COUNT(*) AS n", same + valid + " GROUP BY p.vh ORDER BY p.vh"
    )
    counts = [(float(r["vh"]), int(r["n"])) for r in index.query(sql, [*params, *device_params])]
    n = sum(c for _, c in counts)
    if not n:
        return None
    lower, upper = _nth(counts, (n - 1) // 2), _nth(counts, n // 2)
    return lower if lower == upper else (lower + upper) / 2


def _nth(counts: list[tuple[float, int]], k: int) -> float:
    """The k-th (from 0) of the values counted in `counts` (value, count), in their order."""
    seen = 0
    for value, count in counts:
        seen += count
        if k < seen:
            return value
    raise IndexError(k)


def count_page_views(index: Index, sel: Any) -> int:
    """How many page views showed the selected page (the legend's "% of page views")."""
    sql, params = _views(index, sel, "COUNT(*) AS n")
    return int(index.query(sql, params)[0]["n"])


def spot_clicks(index: Index, sel: Any, kind: str, selector: str, limit: int = 500) -> list[dict[str, Any]]:
    """Clicks on one element (a control or an inner target), newest first, each with its moment on
    the session's clock (`st`: ms since the session's start, the player's ?t=)."""
    tail = _SIGNALS.get(kind, "") + f" AND ({ELEMENT} = ? OR c.selector = ?)"
    sql, params = _facts(
        index,
        sel,
        "clicks",
        "c",
        "c.sid, c.pid, c.t, c.t0, c.selector, c.text, c.rage, c.dead, c.error",
        tail,
    )
    rows = index.query(f"{sql} ORDER BY c.t0 DESC, c.t DESC LIMIT ?", [*params, selector, selector, limit])
    sids = sorted({r["sid"] for r in rows})
    starts: dict[str, int] = {}
    for i in range(0, len(sids), 200):
        part = sids[i : i + 200]
        marks = ", ".join("?" * len(part))
        for r in index.query(
            f"SELECT sid, start_time FROM sessions WHERE site = ? AND sid IN ({marks})",  # noqa: S608 - marks only
            [sel.site, *part],
        ):
            starts[r["sid"]] = r["start_time"]
    for r in rows:
        r["st"] = int(r["t0"] - starts.get(r["sid"], r["t0"]) + r["t"])
    return rows
