"""A session's timeline: its page views on one clock, and markers to jump to."""

from __future__ import annotations

from typing import Any

from sessionlens.index import Index
from sessionlens.index import markers as marker_facts
from sessionlens.replay.markers import event_marker
from sessionlens.replay.pageview import PageViewReader

MAX_MARKERS = 5_000
SIGNALS = ("rage", "dead", "error")


def session_timeline(
    index: Index, reader: PageViewReader, site: str, sid: str, event_markers: bool = True
) -> dict[str, Any]:
    """Page views on the session's clock and markers to jump to.

    Event markers (clicks, errors, custom events, navigations, frustration
    signals) come from the facts the derivation pass keeps in the index
    (clicks, event_markers): no chunk is decoded, so a long session's
    markers cost a few queries. Only a page view whose latest chunks are not
    derived yet (in the derivation queue, seconds behind ingest) is read from
    its chunks. Without event markers the answer is the page views alone,
    which is what the player waits for before its first frame.
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
    if event_markers:
        offsets = {pv["pid"]: pv["offset"] for pv in page_views}
        markers += _event_markers(index, reader, site, sid, offsets)
    markers.sort(key=lambda m: m["t"])
    return {"session": session, "page_views": page_views, "markers": markers}


def _event_markers(
    index: Index, reader: PageViewReader, site: str, sid: str, offsets: dict[str, int]
) -> list[dict[str, Any]]:
    # Up to MAX_MARKERS in all: page views, then each page view's markers from its
    # start, then frustration signals while there is room.
    underived = marker_facts.underived_page_views(index, site, sid) & offsets.keys()
    plain: dict[str, list[tuple[int, str, str]]] = {pid: [] for pid in offsets}
    signals: list[dict[str, Any]] = []
    for c in marker_facts.session_clicks(index, site, sid):
        if c["pid"] not in offsets:
            continue
        if c["pid"] not in underived:
            plain[c["pid"]].append((c["t"], "click", c["selector"]))
        # Signals are marked after the page's clicks are derived (heatmap/signals.py), as before.
        signals += [
            {"pid": c["pid"], "t": c["t"], "kind": f"{k}-click", "label": c["selector"]}
            for k in SIGNALS
            if c[k]
        ]
    for m in marker_facts.session_markers(index, site, sid):
        if m["pid"] in offsets and m["pid"] not in underived:
            plain[m["pid"]].append((m["t"], m["kind"], m["label"]))
    for pid in underived:
        # Derivation is behind on this page view: its events as they are stored.
        plain[pid] = [
            (event[1], *marker)
            for _, event in reader.events(site, sid, pid)
            if (marker := event_marker(event))
        ]
    room = MAX_MARKERS - len(offsets)
    out: list[dict[str, Any]] = []
    for pid, offset in offsets.items():
        # Stream order within a page view (clicks and other events interleaved by time).
        for t, kind, label in sorted(plain[pid], key=lambda m: m[0])[: max(0, room - len(out))]:
            out.append({"pid": pid, "t": offset + t, "kind": kind, "label": label})
    for s in signals[: max(0, MAX_MARKERS - len(offsets) - len(out))]:
        out.append({**s, "t": offsets[s["pid"]] + s["t"]})
    return out
