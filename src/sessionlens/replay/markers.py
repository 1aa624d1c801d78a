"""What the timeline marks in a recording: clicks, errors, custom events, navigations.

One definition for the derivation pass (which stores the markers in the
index) and the timeline (which reads a page view's chunks only while its
derivation is behind).
"""

from __future__ import annotations

from typing import Any

from sessionlens.contracts import field

MAX_LABEL = 200
_LABELS = {
    "click": field("click", "selector"),
    "error": field("error", "message"),
    "custom": field("custom", "name"),
    "nav": field("nav", "url"),
}
# Kinds stored in event_markers; clicks are in the clicks table.
EVENT_KINDS = ("error", "custom", "nav")


def event_marker(event: list[Any]) -> tuple[str, str] | None:
    """(kind, label) when the event is marked on the timeline, else None."""
    at = _LABELS.get(event[0])
    if at is None:
        return None
    label = event[at] if len(event) > at else ""
    return event[0], str(label)[:MAX_LABEL]
