"""A session's timeline: its page views on one clock, and markers to jump to."""

from __future__ import annotations

from typing import Any

from sessionlens.contracts import field
from sessionlens.index import Index
from sessionlens.replay.pageview import PageViewReader

MAX_MARKERS = 5_000
_CLICK_SELECTOR = field("click", "selector")
_ERROR_MESSAGE = field("error", "message")
_CUSTOM_NAME = field("custom", "name")
_NAV_URL = field("nav", "url")


def session_timeline(
    index: Index, reader: PageViewReader, site: str, sid: str, event_markers: bool = True
) -> dict[str, Any]:
    """Page views on the session's clock and markers to jump to.

    Event markers (clicks, errors, custom events, navigations, frustration
    signals) need every chunk read; without them the answer comes from the
    index alone, which is what the player waits for before its first frame.
    """
    session = index.session(sid, site)
    if session is None:
        raise KeyError(sid)
    start = session["start_time"]
    page_views = []
    markers: list[dict[str, Any]] = []
    for pv in index.page_views(site, sid):
        offset = pv["t0"] - start
        page_views.append(
            {
                "pid": pv["pid"],
                "t0": pv["t0"],
                "offset": offset,
                "duration_ms": pv["duration_ms"],
                "url": pv["url"],
                "title": pv["title"],
                "urls": pv["urls"],
                "vw": pv["vw"],
                "vh": pv["vh"],
                "errors": pv["errors"],
                "clicks": pv["clicks"],
            }
        )
        markers.append({"pid": pv["pid"], "t": offset, "kind": "pageview", "label": pv["url"] or ""})
        if not event_markers:
            continue
        for _, event in reader.events(site, sid, pv["pid"]):
            marker = _marker(event)
            if marker and len(markers) < MAX_MARKERS:
                kind, label = marker
                markers.append({"pid": pv["pid"], "t": offset + event[1], "kind": kind, "label": label[:200]})
    # Frustration signals from the derived click facts (heatmap/signals.py).
    offsets = {pv["pid"]: pv["offset"] for pv in page_views}
    for c in index.signal_clicks(site, sid) if event_markers else ():
        for kind in ("rage", "dead", "error"):
            if c[kind] and c["pid"] in offsets and len(markers) < MAX_MARKERS:
                markers.append(
                    {
                        "pid": c["pid"],
                        "t": offsets[c["pid"]] + c["t"],
                        "kind": f"{kind}-click",
                        "label": c["selector"],
                    }
                )
    markers.sort(key=lambda m: m["t"])
    return {"session": session, "page_views": page_views, "markers": markers}


def _marker(event: list[Any]) -> tuple[str, str] | None:
    kind = event[0]
    if kind == "click":
        return "click", str(event[_CLICK_SELECTOR])
    if kind == "error":
        return "error", str(event[_ERROR_MESSAGE])
    if kind == "custom":
        return "custom", str(event[_CUSTOM_NAME])
    if kind == "nav":
        return "nav", str(event[_NAV_URL])
    return None
