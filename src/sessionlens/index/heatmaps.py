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

from sessionlens.index.url_keys import page_url_condition

if TYPE_CHECKING:
    from sessionlens.index.database import Index

# The element a click counts for: its control (nearest interactive ancestor), else its own target.
ELEMENT = "COALESCE(NULLIF(c.control, ''), c.selector)"
_SIGNALS = {"rage": " AND c.rage = 1", "dead": " AND c.dead = 1", "error": " AND c.error = 1"}
CLICK_COLUMNS = "c.sid, c.pid, c.t, c.url, c.selector, c.fx, c.fy, c.px, c.py, c.vw, c.rage, c.dead, c.error, c.anchor, c.ax, c.ay"


def _view_filters(sel: Any, alias: str) -> tuple[str, list[Any], bool]:
    """The selection's site and page-view conditions; True when page_views `p` must be joined."""
    parts = [f"{alias}.site = ?"]
    params: list[Any] = [sel.site]
    joined = False
    for column, value, op in (("device", sel.device, "="), ("vw", sel.min_width, ">="), ("vw", sel.max_width, "<="),
                              ("t0", sel.start, ">="), ("t0", sel.end, "<")):  # fmt: skip
        if value is None:
            continue
        if column == "t0" and alias != "p":
            # The facts carry their page view's t0: filter there (and prune partitions).
            parts.append(f"{alias}.t0 {op} ?")
        else:
            parts.append(f"p.{column} {op} ?")
            joined = joined or alias != "p"
        params.append(value)
    return " AND ".join(parts), params, joined


def _facts(
    index: Index, sel: Any, table: str, alias: str, columns: str, extra: str = "", joins: str = ""
) -> tuple[str, list[Any]]:
    """SELECT `columns` of the selection's facts; `joins` (fixed SQL, no parameters) follow the facts table."""
    where, params, joined = _view_filters(sel, alias)
    join = (
        f" JOIN page_views p ON p.site = {alias}.site AND p.sid = {alias}.sid AND p.pid = {alias}.pid"
        if joined
        else ""
    )
    match, match_params = page_url_condition(index.dialect, sel.pattern)
    sql = (
        f"SELECT {columns} FROM {table} {alias}{joins}{join} WHERE {where}"  # noqa: S608 - fixed names
        f" AND {alias}.url IN (SELECT k.url FROM url_keys k WHERE k.site = ? AND {match}){extra}"
    )
    return sql, [*params, sel.site, *match_params]


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


def page_views(index: Index, sel: Any) -> list[dict[str, Any]]:
    """The page views that showed the selected page, newest first."""
    where, params, _ = _view_filters(sel, "p")
    match, match_params = page_url_condition(index.dialect, sel.pattern)
    sql = (
        f"SELECT p.* FROM page_views p WHERE {where} AND EXISTS (SELECT 1 FROM page_urls u"  # noqa: S608
        " JOIN url_keys k ON k.site = u.site AND k.url = u.url"
        f" WHERE u.site = p.site AND u.sid = p.sid AND u.pid = p.pid AND {match})"
        " ORDER BY p.t0 DESC"
    )
    return index.query(sql, [*params, *match_params])
