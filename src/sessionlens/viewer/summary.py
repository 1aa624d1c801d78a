"""The player's summary panel: who the visitor was, where they came from, how the visit went.

Read from the session's index row, its page views and its attributes
(identify traits, set props, experiment buckets). Columns that a migration
adds later may be missing: every value is None when unknown, never an error,
and the player shows "—" for it.
"""

from __future__ import annotations

from typing import Any

from sessionlens.index import Index
from sessionlens.index import player as player_facts

UTM = ("source", "medium", "campaign", "term", "content")
SIGNAL_COUNTS = (
    "rage_clicks", "dead_clicks", "error_clicks", "quick_backs", "excessive_scrolls", "thrashes", "form_errors",
)  # fmt: skip
# Kept as they are in the index; the player formats them.
SESSION_FIELDS = (
    "user_id", "visitor_id", "visit_number", "device", "browser", "os", "country", "language", "timezone",
    "referrer", "channel", "page_count", "duration_ms", "active_ms", "frustration_score", "is_bot", "bot_reason",
    "lcp_ms", "cls", "inp_ms", "start_time", "end_time",
)  # fmt: skip


def session_summary(
    index: Index, session: dict[str, Any], page_views: list[dict[str, Any]]
) -> dict[str, Any]:
    """The summary object of GET /api/sessions/{sid} (documented in docs/viewer.md)."""
    out: dict[str, Any] = {name: session.get(name) for name in SESSION_FIELDS}
    vw, vh = session.get("vw"), session.get("vh")
    out["viewport"] = [int(vw), int(vh)] if vw and vh else None
    out["landing_url"] = session.get("entry_url")
    out["exit_url"] = session.get("exit_url")
    out["utm"] = {name: session.get(f"utm_{name}") for name in UTM}
    out["signals"] = {name: session.get(name) for name in SIGNAL_COUNTS}
    traits: dict[str, str] = {}
    props: dict[str, str] = {}
    experiments: dict[str, str] = {}
    by_scope = {"trait": traits, "prop": props, "experiment": experiments}
    for row in player_facts.session_attributes(index, session["site"], session["sid"]):
        target = by_scope.get(row["scope"])
        if target is not None:
            target[row["key"]] = row["value"]
    out["traits"], out["props"], out["experiments"] = traits, props, experiments
    out["page_speed"] = [
        {
            "pid": pv["pid"],
            "url": pv.get("url"),
            "lcp_ms": pv.get("lcp_ms"),
            "cls": pv.get("cls"),
            "inp_ms": pv.get("inp_ms"),
        }
        for pv in page_views
    ]
    return out
