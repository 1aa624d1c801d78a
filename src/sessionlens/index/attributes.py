"""Derived rows of a page view beside its clicks: frustration signals, custom events and
their properties, the session's traits, props and experiment buckets (migration 0008);
and the session's signal counts and frustration score, recounted after each page view.

Written by the derivation pass (src/sessionlens/derivation/clicks.py), by the worker
after ingest and by `reindex` alike, so both leave the same rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sessionlens.facts import index_text
from sessionlens.heatmap.frustration import (
    COUNT_COLUMNS,
    QUICK_BACK,
    Signal,
    frustration_score,
    quick_backs_between_pages,
)
from sessionlens.index.dialect import LOCK_SESSION

if TYPE_CHECKING:
    from sessionlens.index.database import Index

# A quick back between two full page loads is found per session (selector 'page');
# one inside a page view (SPA routes) with the page view's other signals (selector 'route').
PAGE_QUICK_BACK = "page"


@dataclass
class PageViewAttributes:
    """What a page view's events say about the session (filled by derivation/attributes.py)."""

    customs: list[tuple[int, str]] = field(default_factory=list)  # (t, name)
    custom_props: list[tuple[int, str, str, str]] = field(default_factory=list)  # (t, name, key, value)
    # (scope, key) -> (t, value): the page view's last setting of each
    attrs: dict[tuple[str, str], tuple[int, str]] = field(default_factory=dict)
    # on-page survey events (t, survey, action, question, value): table survey_responses (0015)
    surveys: list[tuple[int, str, str, str, str]] = field(default_factory=list)


def write_page_view(
    index: Index,
    view: tuple[str, str, str],
    t0: int,
    signals: Sequence[Signal],
    attributes: PageViewAttributes,
    quick_back_ms: int,
) -> None:
    """Replace the page view's rows, then recount the session's signals and score."""
    site, sid, pid = view
    lock = index.dialect.lock_key_sql(LOCK_SESSION)

    def write(conn: Any) -> None:
        if lock:  # the session's own lock: its page views and counts are written one after the other
            conn.execute(lock, (f"{site}/{sid}",))
        conn.execute(
            "DELETE FROM session_signals WHERE site = ? AND sid = ? AND pid = ?"
            " AND NOT (kind = ? AND selector = ?)",
            (site, sid, pid, QUICK_BACK, PAGE_QUICK_BACK),
        )
        conn.executemany(
            "INSERT INTO session_signals (site, sid, pid, t, kind, x, y, url, selector, label, target)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (site, sid, pid, s.t, s.kind, s.x, s.y, _t(s.url), _t(s.selector), _t(s.label), _t(s.target))
                for s in signals
            ],
        )
        conn.execute("DELETE FROM custom_events WHERE site = ? AND sid = ? AND pid = ?", (site, sid, pid))
        conn.executemany(
            "INSERT INTO custom_events (site, sid, pid, t, name) VALUES (?, ?, ?, ?, ?)",
            [(site, sid, pid, t, _t(name)) for t, name in attributes.customs],
        )
        conn.execute(
            "DELETE FROM custom_event_props WHERE site = ? AND sid = ? AND pid = ?", (site, sid, pid)
        )
        conn.executemany(
            "INSERT INTO custom_event_props (site, sid, pid, t, name, key, value) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                (site, sid, pid, t, _t(name), _t(key), _t(value))
                for t, name, key, value in attributes.custom_props
            ],
        )
        conn.execute("DELETE FROM survey_responses WHERE site = ? AND sid = ? AND pid = ?", (site, sid, pid))
        conn.executemany(
            "INSERT INTO survey_responses (site, sid, pid, t, survey, action, question, value)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (site, sid, pid, t, _t(survey), action, _t(question), _t(value))
                for t, survey, action, question, value in attributes.surveys
            ],
        )
        # The latest setting of a key wins, whichever page view is derived last.
        conn.executemany(
            "INSERT INTO session_attrs (site, sid, scope, key, value, pid, at) VALUES (?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (site, sid, scope, key) DO UPDATE SET"
            " value = excluded.value, pid = excluded.pid, at = excluded.at"
            " WHERE excluded.at > session_attrs.at"
            " OR (excluded.at = session_attrs.at AND excluded.pid >= session_attrs.pid)",
            [
                (site, sid, scope, _t(key), _t(value), pid, t0 + t)
                for (scope, key), (t, value) in attributes.attrs.items()
            ],
        )
        refresh_session_signals(conn, site, sid, quick_back_ms)

    index.write(write)


def _t(value: str) -> str:
    return index_text(value, 4096)


def refresh_session_signals(conn: Any, site: str, sid: str, quick_back_ms: int) -> None:
    """Quick backs between page views, each page view's quick_back flag, the session's counts and score."""
    views = conn.execute(
        "SELECT pid, t0, duration_ms, url, exit_url FROM page_views WHERE site = ? AND sid = ? ORDER BY t0, pid",
        (site, sid),
    ).fetchall()
    pages = [
        (r["pid"], r["t0"], r["duration_ms"], r["url"] or "", r["exit_url"] or r["url"] or "") for r in views
    ]
    conn.execute(
        "DELETE FROM session_signals WHERE site = ? AND sid = ? AND kind = ? AND selector = ?",
        (site, sid, QUICK_BACK, PAGE_QUICK_BACK),
    )
    conn.executemany(
        "INSERT INTO session_signals (site, sid, pid, t, kind, x, y, url, selector, label)"
        " VALUES (?, ?, ?, ?, ?, NULL, NULL, ?, ?, ?)",
        [
            (site, sid, pid, s.t, s.kind, _t(s.url), PAGE_QUICK_BACK, _t(s.label))
            for pid, s in quick_backs_between_pages(pages, quick_back_ms)
        ],
    )
    conn.execute(
        "UPDATE page_views SET quick_back = CASE WHEN EXISTS (SELECT 1 FROM session_signals AS s"
        " WHERE s.site = page_views.site AND s.sid = page_views.sid AND s.pid = page_views.pid AND s.kind = ?)"
        " THEN 1 ELSE 0 END WHERE site = ? AND sid = ?",
        (QUICK_BACK, site, sid),
    )
    rows = conn.execute(
        "SELECT kind, COUNT(*) AS n FROM session_signals WHERE site = ? AND sid = ? GROUP BY kind",
        (site, sid),
    ).fetchall()
    counts = {r["kind"]: int(r["n"]) for r in rows if r["kind"] in COUNT_COLUMNS}
    columns = list(COUNT_COLUMNS.values())
    conn.execute(
        f"UPDATE sessions SET {', '.join(f'{c} = ?' for c in columns)}, frustration_score = ?"  # noqa: S608
        " WHERE site = ? AND sid = ?",
        (*(counts.get(k, 0) for k in COUNT_COLUMNS), frustration_score(counts), site, sid),
    )


def session_signals(
    index: Index, site: str, sid: str, kinds: Iterable[str] | None = None
) -> list[dict[str, Any]]:
    """A session's frustration signals: pid, t, kind, x, y, url, selector, label (timeline, player)."""
    rows = index.query(
        "SELECT pid, t, kind, x, y, url, selector, label FROM session_signals WHERE site = ? AND sid = ?"
        " ORDER BY pid, t, kind",
        (site, sid),
    )
    wanted = set(kinds) if kinds is not None else None
    return [r for r in rows if wanted is None or r["kind"] in wanted]


def session_attrs(index: Index, site: str, sid: str) -> dict[str, dict[str, str]]:
    """scope -> {key: value} of a session (traits, props, experiments); '' is a null / unset value."""
    out: dict[str, dict[str, str]] = {}
    for r in index.query(
        "SELECT scope, key, value FROM session_attrs WHERE site = ? AND sid = ? ORDER BY scope, key",
        (site, sid),
    ):
        out.setdefault(r["scope"], {})[r["key"]] = r["value"]
    return out


def session_custom_events(index: Index, site: str, sid: str) -> list[dict[str, Any]]:
    """pid, t, name of each custom event of a session."""
    return index.query(
        "SELECT pid, t, name FROM custom_events WHERE site = ? AND sid = ? ORDER BY pid, t", (site, sid)
    )
