"""The timeline's markers from derived facts (table event_markers, migration 0007; and clicks).

Statements for src/sessionlens/viewer/timeline.py and the derivation pass:
the timeline of a derived session is read from here, never from its chunks.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from sessionlens.index.dialect import LOCK_PAGE_VIEW

if TYPE_CHECKING:
    from sessionlens.index.database import Index

# (t ms into the page view, kind, label)
Marker = tuple[int, str, str]


def replace_markers(index: Index, site: str, sid: str, pid: str, markers: Iterable[Marker]) -> None:
    """Replace one page view's error, custom and navigation markers."""
    rows = [(site, sid, pid, t, kind, label) for t, kind, label in markers]
    lock = index.dialect.lock_key_sql(LOCK_PAGE_VIEW)

    def write(conn: Any) -> None:
        if lock:  # two workers deriving one page view write one after the other
            conn.execute(lock, (f"{site}/{sid}/{pid}",))
        conn.execute("DELETE FROM event_markers WHERE site = ? AND sid = ? AND pid = ?", (site, sid, pid))
        conn.executemany(
            "INSERT INTO event_markers (site, sid, pid, t, kind, label) VALUES (?, ?, ?, ?, ?, ?)", rows
        )

    index.write(write)


def session_markers(index: Index, site: str, sid: str) -> list[dict[str, Any]]:
    """A session's error, custom and navigation markers: pid, t, kind, label."""
    return index.query(
        "SELECT pid, t, kind, label FROM event_markers WHERE site = ? AND sid = ? ORDER BY pid, t",
        (site, sid),
    )


def session_clicks(index: Index, site: str, sid: str) -> list[dict[str, Any]]:
    """Every click of a session with its frustration signals: pid, t, selector, rage, dead, error."""
    return index.query(
        "SELECT pid, t, selector, rage, dead, error FROM clicks WHERE site = ? AND sid = ? ORDER BY t0, t",
        (site, sid),
    )


def underived_page_views(index: Index, site: str, sid: str) -> set[str]:
    """Page views of a session with chunks not derived yet (in the derivation queue)."""
    rows = index.query("SELECT pid FROM derivation_queue WHERE site = ? AND sid = ?", (site, sid))
    return {r["pid"] for r in rows}
