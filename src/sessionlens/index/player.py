"""Statements for the player's summary and event list (viewer/summary.py, viewer/timeline.py).

Tables added by later migrations (session_attrs, session_signals: migration
0008) are read only when they exist, so the player works on an index that
has not been migrated that far and on one being rebuilt.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sessionlens.index.database import Index


def click_entries(index: Index, site: str, sid: str) -> list[dict[str, Any]]:
    """Every click of a session with what the visitor saw on it and its frustration signals."""
    return index.query(
        "SELECT pid, t, selector, control, text, tag, rage, dead, error FROM clicks"
        " WHERE site = ? AND sid = ? ORDER BY t0, t",
        (site, sid),
    )


def session_attributes(index: Index, site: str, sid: str) -> list[dict[str, Any]]:
    """The session's identify traits, set props and experiment buckets: scope, key, value."""
    if not index.columns("session_attrs"):
        return []
    return index.query(
        "SELECT scope, key, value FROM session_attrs WHERE site = ? AND sid = ? ORDER BY scope, key",
        (site, sid),
    )


def session_signals(index: Index, site: str, sid: str) -> list[dict[str, Any]]:
    """Frustration signals found beside the click signals (quick back, excessive scroll, ...)."""
    if not index.columns("session_signals"):
        return []
    return index.query(
        "SELECT pid, t, kind, url, selector, label FROM session_signals WHERE site = ? AND sid = ? ORDER BY pid, t",
        (site, sid),
    )
