"""Which moment of a page view a heatmap is drawn over, and which others a designer may pick.

The backdrop used to be the page at the end of the first upload batch, seconds
in, with menus already open. The default now is the page **as first seen
after load settled**:

1. the snapshot is complete (its last part arrived);
2. the window runs until the visitor's first click, input or scroll, but at
   most SETTLE_MS after the snapshot (a page that never stops changing, a
   ticker or a carousel, still gets a moment);
3. the moment is the last DOM change or canvas bitmap inside that window
   (the state just before the first interaction, or SETTLE_MS after the
   snapshot).

A lazily built page may still be growing then (the rest is added as the
visitor scrolls, or a few seconds later). When the DOM later reaches more
than 1 / GROWN_SHARE of its size at that moment, the default moves to the
first moment it holds GROWN_SHARE of its largest size, as long as that is
before the first click or input: scrolling only reveals, clicking may open a
menu that would cover what was clicked.

Candidate moments for the viewer's picker: page loaded, load settled, page
at full size, before the first click on each element, and after each large
DOM change (LARGE_CHANGE nodes or more within one burst).

The same scan also notes where inner scroll containers (a sidebar, a table
scrolled sideways) stood when the visitor clicked inside them, so the
backdrop can show them scrolled as they were used.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import asdict, dataclass, field
from typing import Any

from sessionlens.contracts import field as wire_field
from sessionlens.replay.dom import DomState
from sessionlens.replay.element_paths import ElementPaths
from sessionlens.replay.pageview import PageViewReader

SETTLE_MS = 3_000
GROWN_SHARE = 0.9
LARGE_CHANGE = 50
BURST_GAP_MS = 300
MAX_MOMENTS = 16
_INTERACTIONS = frozenset({"click", "input", "scroll"})
_DOM_CHANGES = frozenset({"snapshot", "mutation", "toplayer"})
_SNAP_LAST = wire_field("snapshot", "last")
_CLICK_TARGET = wire_field("click", "target")
_CLICK_SELECTOR = wire_field("click", "selector")
_SCROLL_TARGET = wire_field("scroll", "target")
_MUT_ADDS = wire_field("mutation", "adds")
_MUT_REMOVES = wire_field("mutation", "removes")


@dataclass(frozen=True, slots=True)
class Moment:
    at: int  # ms on the page view's clock: the DOM state at `at` (events with t <= at applied)
    kind: str  # loaded | settled | complete | before-click | after-change
    label: str  # what a designer reads under the thumbnail
    nodes: int = 0  # nodes in the DOM then
    default: bool = False

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(slots=True)
class PageViewScan:
    moments: list[Moment] = field(default_factory=list)
    default: int = 0
    # node id of an inner scroll container -> [x, y] when a click inside it happened last
    inner_scrolls: dict[int, list[float]] = field(default_factory=dict)
    meta: list[Any] | None = None  # the page view's meta event (device settings)


_SCANS: OrderedDict[tuple[Any, ...], PageViewScan] = OrderedDict()
_SCANS_LOCK = threading.Lock()
_SCANS_KEPT = 64


def scan(reader: PageViewReader, site: str, sid: str, pid: str) -> PageViewScan:
    """One pass over the page view's stream: its candidate moments and the scroll of clicked containers.

    Kept per page view and chunk list (a page view still being recorded is scanned again when it grows).
    """
    key = (id(reader.store), site, sid, pid, tuple(reader.chunk_seqs(site, sid, pid)))
    with _SCANS_LOCK:
        if key in _SCANS:
            _SCANS.move_to_end(key)
            return _SCANS[key]
    found = _scan(reader, site, sid, pid)
    with _SCANS_LOCK:
        _SCANS[key] = found
        while len(_SCANS) > _SCANS_KEPT:
            _SCANS.popitem(last=False)
    return found


def _scan(reader: PageViewReader, site: str, sid: str, pid: str) -> PageViewScan:
    paths = ElementPaths()  # clicks named from the DOM where the recorder left them unnamed
    state = paths.state
    out = PageViewScan()
    snapshot_done: int | None = None
    first_interaction: int | None = None
    first_click_or_input: int | None = None
    sizes: list[tuple[int, int]] = []  # (t, nodes) after each DOM change
    drawn: list[int] = []  # canvas bitmaps' times
    bursts: list[tuple[int, int, int]] = []  # (start, end, weight)
    clicked: set[str] = set()
    before_clicks: list[Moment] = []
    for _, raw in reader.events(site, sid, pid):
        event = paths.enrich(raw)
        kind, t = event[0], event[1]
        if kind == "meta" and out.meta is None:
            out.meta = event
        if kind in _INTERACTIONS and snapshot_done is not None:
            if first_interaction is None:
                first_interaction = t
            if kind != "scroll" and first_click_or_input is None:
                first_click_or_input = t
        if kind == "click":
            _note_click(state, event, out.inner_scrolls)
            selector = event[_CLICK_SELECTOR]
            if selector not in clicked and len(before_clicks) < MAX_MOMENTS:
                clicked.add(selector)
                before_clicks.append(Moment(max(0, t - 1), "before-click", f"before the first click on {selector}"[:160], len(state.nodes)))  # fmt: skip
        paths.apply(event)
        if kind == "canvas":
            drawn.append(t)
        if kind in _DOM_CHANGES:
            sizes.append((t, len(state.nodes)))
            weight = _weight(event)
            if bursts and t - bursts[-1][1] <= BURST_GAP_MS:
                start, _, w = bursts[-1]
                bursts[-1] = (start, t, w + weight)
            else:
                bursts.append((t, t, weight))
            if kind == "snapshot" and event[_SNAP_LAST] and snapshot_done is None:
                snapshot_done = t
    if snapshot_done is None:
        # Never got a whole snapshot: the latest state is all there is.
        at = sizes[-1][0] if sizes else state.t
        out.default = at
        out.moments = [Moment(at, "loaded", "page as recorded (snapshot incomplete)", len(state.nodes), True)]
        return out
    window_end = snapshot_done + SETTLE_MS
    if first_interaction is not None:
        window_end = min(window_end, first_interaction - 1)
    window_end = max(window_end, snapshot_done)
    settled = max((t for t, _ in sizes if t <= window_end), default=snapshot_done)
    # Canvas bitmaps come after the snapshot (the recorder's canvas chunk sends them once it
    # loaded): the load has not settled before the ones inside the window are shown.
    settled = max([settled, *(t for t in drawn if t <= window_end)])
    nodes_at = _nodes_at(sizes)
    moments = [Moment(snapshot_done, "loaded", "page loaded (snapshot complete)", nodes_at(snapshot_done))]
    moments.append(
        Moment(settled, "settled", "load settled, before the first interaction", nodes_at(settled))
    )
    default = settled
    peak = max((n for _, n in sizes), default=0)
    if peak and nodes_at(settled) < GROWN_SHARE * peak:
        grown = next((t for t, n in sizes if t > settled and n >= GROWN_SHARE * peak), None)
        if grown is not None:
            moments.append(Moment(grown, "complete", f"page at full size ({peak} nodes)", nodes_at(grown)))
            if first_click_or_input is None or grown < first_click_or_input:
                default = grown
    moments.extend(before_clicks)
    for start, end, weight in bursts:
        if weight >= LARGE_CHANGE and start > snapshot_done:
            moments.append(Moment(end, "after-change", f"after a change of {weight} nodes", nodes_at(end)))
    out.default = default
    out.moments = _unique(moments, default)
    return out


def _note_click(state: DomState, event: list[Any], inner: dict[int, list[float]]) -> None:
    """Where each scrolled ancestor of the click target stood at the click (inner containers only)."""
    node = state.nodes.get(event[_CLICK_TARGET]) if event[_CLICK_TARGET] is not None else None
    while node is not None:
        pos = state.scroll.get(node.id)
        if pos is not None:
            inner[node.id] = list(pos)
        node = node.parent


def _weight(event: list[Any]) -> int:
    if event[0] == "mutation":
        return len(event[_MUT_ADDS]) + len(event[_MUT_REMOVES])
    if event[0] == "snapshot":
        return 0  # the snapshot is the page, not a change of it
    return 1


def _nodes_at(sizes: list[tuple[int, int]]):  # noqa: ANN202 - a small closure
    def at(t: int) -> int:
        n = 0
        for when, count in sizes:
            if when > t:
                break
            n = count
        return n

    return at


def _unique(moments: list[Moment], default: int) -> list[Moment]:
    """In time order, one per ms, the default marked; at most MAX_MOMENTS (the default always kept)."""
    by_at: dict[int, Moment] = {}
    for m in moments:
        by_at.setdefault(m.at, m)
    ordered = sorted(by_at.values(), key=lambda m: m.at)
    out = [Moment(m.at, m.kind, m.label, m.nodes, m.at == default) for m in ordered]
    if len(out) > MAX_MOMENTS:
        keep = [m for m in out if m.default or m.kind in ("loaded", "settled", "complete")]
        rest = [m for m in out if m not in keep][: MAX_MOMENTS - len(keep)]
        out = sorted(keep + rest, key=lambda m: m.at)
    return out


def candidate_moments(reader: PageViewReader, site: str, sid: str, pid: str) -> list[Moment]:
    return scan(reader, site, sid, pid).moments


def default_moment(reader: PageViewReader, site: str, sid: str, pid: str) -> int:
    return scan(reader, site, sid, pid).default
