"""A session's timeline: its page views on one clock, markers to jump to, and the event list.

`markers` are the raw facts (one per click and per frustration signal, as
the heatmap and search tests know them); `entries` are what the player's
event list and timeline show: one per interaction, labelled by what the
visitor saw (viewer/entries.py). `summary` is the player's summary panel
(viewer/summary.py).
"""

from __future__ import annotations

from typing import Any

from sessionlens.contracts import field
from sessionlens.index import Index
from sessionlens.index import markers as marker_facts
from sessionlens.index import player as player_facts
from sessionlens.replay.element_paths import enriched_events
from sessionlens.replay.markers import event_marker
from sessionlens.replay.pageview import PageViewReader
from sessionlens.viewer import entries as entry_labels
from sessionlens.viewer.summary import session_summary

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
    rows = index.page_views(site, sid)
    for pv in rows:
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
    entries = [entry_labels.page_entry(pv) for pv in page_views]
    if event_markers:
        offsets = {pv["pid"]: pv["offset"] for pv in page_views}
        markers += _event_markers(index, reader, site, sid, offsets)
        entries += _entries(index, reader, site, sid, offsets)
    markers.sort(key=lambda m: m["t"])
    # Page view headers first at equal times: the list groups entries under them.
    entries.sort(key=lambda e: (e["t"], e["kind"] != "pageview"))
    return {
        "session": session,
        "summary": session_summary(index, session, rows),
        "page_views": page_views,
        "markers": markers,
        "entries": entries,
    }


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
            for _, event in enriched_events(reader.events(site, sid, pid))
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


_CLICK_FIELDS = ("selector", "control", "text", "tag")


def _entries(
    index: Index, reader: PageViewReader, site: str, sid: str, offsets: dict[str, int]
) -> list[dict[str, Any]]:
    """The event list: one entry per interaction (viewer/entries.py), at most MAX_MARKERS."""
    underived = marker_facts.underived_page_views(index, site, sid) & offsets.keys()
    clicks: dict[str, list[dict[str, Any]]] = {pid: [] for pid in offsets}
    others: dict[str, list[dict[str, Any]]] = {pid: [] for pid in offsets}
    for c in player_facts.click_entries(index, site, sid):
        if c["pid"] in offsets and c["pid"] not in underived:
            clicks[c["pid"]].append(c)
    for m in marker_facts.session_markers(index, site, sid):
        pid = m["pid"]
        if pid in offsets and pid not in underived:
            entry = entry_labels.marker_entry(pid, offsets[pid], m["t"], m["kind"], m["label"])
            if entry:
                others[pid].append(entry)
    for row in player_facts.session_signals(index, site, sid):
        pid = row["pid"]
        if pid in offsets and (entry := entry_labels.signal_entry(pid, offsets[pid], row)):
            others[pid].append(entry)
    for pid in underived:
        # Derivation is behind on this page view: its clicks and markers as they are stored
        # (frustration signals follow once it is derived).
        positions = {name: field("click", name) for name in _CLICK_FIELDS}
        for _, event in enriched_events(reader.events(site, sid, pid)):
            if event[0] == "click":
                row = {name: event[at] if len(event) > at else "" for name, at in positions.items()}
                clicks[pid].append({**row, "t": event[1]})
            elif (marker := event_marker(event)) and (
                entry := entry_labels.marker_entry(pid, offsets[pid], event[1], *marker)
            ):
                others[pid].append(entry)
    out: list[dict[str, Any]] = []
    for pid, offset in offsets.items():
        out += entry_labels.click_entries(pid, offset, clicks[pid])
        out += others[pid]
    out.sort(key=lambda e: e["t"])
    return out[: max(0, MAX_MARKERS - len(offsets))]
