"""Click facts of one page view, with the frustration signals researchers filter on.

Derived from the stored stream (after ingest, and again by `reindex`), so
thresholds can change and old sessions be re-scored. The DOM is replayed
alongside so a click knows its target's label (to exclude +/- and
next/previous controls) and the URL it happened on (SPA routes).

- rage click: RAGE_COUNT or more clicks, each within RAGE_RADIUS_PX and
  RAGE_INTERVAL_MS of the previous one;
- dead click: a click on something that is not a form control, followed by
  no DOM change, scroll, navigation, focus change or top-layer change
  within DEAD_MS;
- error click: a click followed by a JS error within ERROR_MS.
Excluded as known false positives: text inputs and clicks while text is
selected (rage and dead), +/- and next/previous controls (rage and dead),
links that navigate (dead).

The other frustration signals (quick back, excessive scrolling, thrashed
cursor, form errors) are found in heatmap/frustration.py from samples this
replay collects (PageViewFacts.frustration).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from sessionlens.contracts import field
from sessionlens.heatmap.frustration import (
    MoveSample,
    ScrollSample,
    Signal,
    Submit,
    excessive_scrolls,
    form_errors,
    quick_backs,
    thrashes,
)
from sessionlens.replay.dom import ELEMENT, TEXT, DomState, Node
from sessionlens.replay.element_paths import ElementPaths
from sessionlens.settings import Settings

_C = {name: field("click", name) for name in ("target", "selector", "fx", "fy", "px", "py", "cx", "cy", "pw", "ph", "tag", "flags")}  # fmt: skip
# Fields recorders added later; a click recorded before them stops after flags.
_LATER = tuple((name, field("click", name), default) for name, default in (("control", ""), ("text", ""), ("anchor", ""), ("ax", 0.0), ("ay", 0.0)))  # fmt: skip
_CHANGE_KINDS = frozenset({"mutation", "scroll", "nav", "focus", "blur", "snapshot", "toplayer", "input"})
_STEPPER = re.compile(
    r"^\s*([+\-−–×<>‹›«»]|plus|minus|next|prev(ious)?|increase|decrease|increment|decrement|more|less)\s*$",
    re.I,
)
_STEPPER_CLASS = re.compile(
    r"(^|[\s_-])(next|prev|previous|increment|decrement|plus|minus|stepper|carousel)", re.I
)


MOVE_SAMPLE_MS = 250
# Events after which excessive-scroll counting starts over: the visitor did something else.
_SCROLL_RESETS = frozenset({"click", "input", "submit", "focus", "nav", "meta"})
# Move targets where sharp turns are intended (drawing, dragging, sliders): no thrash there.
_DRAW_TAGS = frozenset({"canvas", "svg", "path", "g", "rect", "circle", "line", "polyline", "video"})
_MAX_SAMPLES = 200_000  # scroll or move samples kept per page view


_MOVE_X, _MOVE_Y, _MOVE_TARGET = field("move", "x"), field("move", "y"), field("move", "target")
_META_URL, _META_VW, _RESIZE_VW = field("meta", "url"), field("meta", "vw"), field("resize", "vw")
_INVALID_TARGET = field("invalid", "target")
_SCROLL_TARGET, _SCROLL_Y = field("scroll", "target"), field("scroll", "y")
_NAV_URL, _NAV_HOW = field("nav", "url"), field("nav", "how")
_SUBMIT_FORM, _SUBMIT_INVALID = field("submit", "form"), field("submit", "invalid")
_INVALID_FIELD = field("invalid", "field")


_SIMPLE_ID = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,99}")


def element_path(state: DomState, node_id: Any) -> str:
    """A path (heatmap/click_paths.py) of a node of the top document as the DOM is now: `#id`
    when it has a plain one, else tag:nth-of-type steps from the nearest ancestor with one (or
    html). '' when unknown or inside a shadow root or frame (the backdrop could not find it)."""
    node = state.nodes.get(node_id) if isinstance(node_id, int) else None
    parts: list[str] = []
    while node is not None and node.type == ELEMENT and len(parts) < 64:
        ident = node.attrs.get("id", "")
        if _SIMPLE_ID.fullmatch(ident):
            parts.append(f"#{ident}")
            return ">".join(reversed(parts))
        parent = node.parent
        if parent is None or parent.type != ELEMENT:
            if node.tag != "html" or (parent is not None and parent.parent is not None):
                return ""  # a shadow root's or frame's child: not reachable by a plain path
            parts.append("html")
            return ">".join(reversed(parts))
        same = [c for c in parent.children if c.type == ELEMENT and c.tag == node.tag]
        parts.append(f"{node.tag}:nth-of-type({same.index(node) + 1})")
        node = parent
    return ""


@dataclass(slots=True)
class MoveFact:
    t: int
    url: str
    x: float
    y: float
    vw: float


@dataclass(frozen=True, slots=True)
class Thresholds:
    rage_count: int = 3
    rage_radius_px: float = 30.0
    rage_interval_ms: int = 1_000
    dead_ms: int = 2_500
    error_ms: int = 1_000
    quick_back_ms: int = 7_000
    excessive_scroll_reversals: int = 4
    excessive_scroll_window_ms: int = 10_000
    scroll_reversal_min_px: float = 150.0
    thrash_direction_changes: int = 6
    thrash_window_ms: int = 1_500
    thrash_min_speed_px_s: float = 1_000.0
    form_error_ms: int = 3_000

    @classmethod
    def from_settings(cls, settings: Settings) -> Thresholds:
        return cls(
            rage_count=settings.rage_click_count,
            rage_radius_px=settings.rage_click_radius_px,
            rage_interval_ms=settings.rage_click_interval_ms,
            dead_ms=settings.dead_click_ms,
            error_ms=settings.error_click_ms,
            quick_back_ms=settings.quick_back_ms,
            excessive_scroll_reversals=settings.excessive_scroll_reversals,
            excessive_scroll_window_ms=settings.excessive_scroll_window_ms,
            scroll_reversal_min_px=settings.scroll_reversal_min_px,
            thrash_direction_changes=settings.thrash_direction_changes,
            thrash_window_ms=settings.thrash_window_ms,
            thrash_min_speed_px_s=settings.thrash_min_speed_px_s,
            form_error_ms=settings.form_error_ms,
        )


@dataclass(slots=True)
class ClickFact:
    t: int
    url: str
    selector: str
    fx: float
    fy: float
    px: float
    py: float
    vw: float
    pw: float
    ph: float
    tag: str
    flags: str
    label: str
    control: str = ""  # path of the interactive ancestor-or-self the click counts for ('' none)
    text: str = ""  # that control's (else the target's) visible text, masked as recorded
    anchor: str = ""  # path of the target's nearest anchored ancestor ('' none)
    ax: float = 0.0  # click offset from the anchor's top-left, CSS px
    ay: float = 0.0
    rage: bool = False
    dead: bool = False
    error: bool = False

    @property
    def is_text_input(self) -> bool:
        return "f" in self.flags or self.tag in ("input", "textarea", "select", "option")

    @property
    def is_stepper(self) -> bool:
        return bool(_STEPPER.match(self.label))


def _no_nul(value: Any) -> Any:
    """Recorded text as the index can keep it: PostgreSQL text cannot hold NUL, and a forged
    batch (or a page's script) can put one in a path, a label or a URL."""
    return value.replace("\x00", "") if isinstance(value, str) else value


def _label(node: Node | None) -> str:
    """Short visible label of a click target: aria-label, title, or its text."""
    if node is None or node.type != ELEMENT:
        return ""
    for name in ("aria-label", "title"):
        if node.attrs.get(name):
            return node.attrs[name][:40]
    if _STEPPER_CLASS.search(node.attrs.get("class", "")):
        return "next"  # named like a stepper/carousel control
    out: list[str] = []
    stack = [node]
    while stack and sum(len(s) for s in out) < 40:
        n = stack.pop()
        if n.type == TEXT:
            out.append(n.text)
        stack.extend(reversed(n.children))
    return "".join(out).strip()[:40]


def page_view_clicks(events: Iterable[list[Any]], th: Thresholds = Thresholds()) -> list[ClickFact]:
    return page_view_facts(events, th)[0]


def page_view_facts(
    events: Iterable[list[Any]], th: Thresholds = Thresholds()
) -> tuple[list[ClickFact], list[MoveFact]]:
    """Clicks with their signals, and pointer positions sampled for move maps."""
    return PageViewFacts().add(events).result(th)


class PageViewFacts:
    """page_view_facts fed chunk by chunk: a growing page view is not replayed from its start.

    `add` keeps the replayed DOM and what the signals need; `result` marks
    the signals on copies, so more events can be added after it. Clicks,
    submits and invalid fields the recorder left unnamed are named from the
    replayed DOM first (replay/element_paths.py); `feed` returns the events so named.
    """

    def __init__(self) -> None:
        self.state = DomState()
        self.paths = ElementPaths(self.state)
        self.moves: list[MoveFact] = []
        self.clicks: list[ClickFact] = []
        self.positions: list[int] = []  # stream position of each click
        # (stream position, t): what answered a click must come after it in the
        # stream, not merely in the same millisecond (the focus of its mousedown).
        self.changes: list[tuple[int, int]] = []
        self.errors: list[tuple[int, int]] = []
        self.last_t = 0
        self.vw = 0.0
        self.position = 0
        # Samples of the other frustration signals (heatmap/frustration.py).
        self.scrolls: list[ScrollSample] = []
        self.pointer: list[MoveSample] = []
        self.resets: list[int] = []
        self.routes: list[tuple[int, str]] = []
        self.submits: list[Submit] = []
        self.invalids: list[tuple[int, str]] = []

    def add(self, events: Iterable[list[Any]]) -> PageViewFacts:
        self.feed(events)
        return self

    def feed(self, events: Iterable[list[Any]]) -> list[list[Any]]:
        """Add the events; returns them as read (named by element_paths where they were not)."""
        paths = self.paths
        out: list[list[Any]] = []
        for event in events:
            event = paths.enrich(event)
            self._take(event, out)
            # Fields the change showed invalid (aria-invalid, error text: replay/form_errors.py).
            for shown in paths.apply(event):
                self._take(shown, out)
        return out

    def _take(self, event: list[Any], out: list[list[Any]]) -> None:
        state, moves = self.state, self.moves
        out.append(event)
        position = self.position
        self.position += 1
        kind, t = event[0], event[1]
        self.last_t = max(self.last_t, t)
        vw = self.vw
        if kind == "click":
            target = state.nodes.get(event[_C["target"]]) if event[_C["target"]] is not None else None
            self.clicks.append(
                ClickFact(
                    t=t, url=_no_nul(state.url), selector=_no_nul(event[_C["selector"]]), fx=event[_C["fx"]],
                    fy=event[_C["fy"]], px=event[_C["px"]], py=event[_C["py"]], vw=vw or state.viewport[0],
                    pw=event[_C["pw"]], ph=event[_C["ph"]], tag=_no_nul(event[_C["tag"]]),
                    flags=_no_nul(event[_C["flags"]]), label=_no_nul(_label(target)),
                    **{name: _no_nul(event[i]) if len(event) > i else default for name, i, default in _LATER},
                )
            )  # fmt: skip
            self.positions.append(position)
        elif kind == "move":
            sx, sy = state.scroll.get(None, [0, 0])
            if not moves or t - moves[-1].t >= MOVE_SAMPLE_MS:
                moves.append(
                    MoveFact(t, state.url, event[_MOVE_X] + sx, event[_MOVE_Y] + sy, vw or state.viewport[0])
                )
            if len(self.pointer) < _MAX_SAMPLES:
                target = event[_MOVE_TARGET] if len(event) > _MOVE_TARGET else None
                drawing = _drawing(state.nodes.get(target) if target is not None else None)
                self.pointer.append(MoveSample(t, event[_MOVE_X] + sx, event[_MOVE_Y] + sy, state.url, drawing))
        elif kind == "error":
            self.errors.append((position, t))
        elif kind in _CHANGE_KINDS:
            self.changes.append((position, t))
        if kind in ("meta", "resize"):
            self.vw = event[_META_VW] if kind == "meta" else event[_RESIZE_VW]
        self._frustration_samples(kind, t, event)

    def _frustration_samples(self, kind: str, t: int, event: list[Any]) -> None:
        state = self.state
        if kind in _SCROLL_RESETS:
            self.resets.append(t)
        if kind == "scroll" and event[_SCROLL_TARGET] is None and len(self.scrolls) < _MAX_SAMPLES:
            # Window scrolls only: inner scrollers and carousels are not the page.
            vh = float(state.viewport[1] or 0)
            self.scrolls.append(ScrollSample(t, float(event[_SCROLL_Y]), vh, state.url))
        elif kind == "meta":
            self.routes.append((t, str(event[_META_URL])))
        elif kind == "nav" and len(self.routes) < _MAX_SAMPLES:
            url = str(event[_NAV_URL])
            if event[_NAV_HOW] == "replace" and self.routes:
                self.routes[-1] = (self.routes[-1][0], url)  # a redirect: the same visit, not a new one
            else:
                self.routes.append((t, url))
        elif kind == "submit" and len(self.submits) < _MAX_SAMPLES:
            form = event[_SUBMIT_FORM] if len(event) > _SUBMIT_FORM else ""
            invalid = event[_SUBMIT_INVALID] if len(event) > _SUBMIT_INVALID else []
            fields = [
                f for f in (invalid if isinstance(invalid, list) else [])
                if isinstance(f, list) and len(f) > 1 and f[1]
            ]  # fmt: skip
            names = tuple(str(f[1])[:100] for f in fields)
            paths = tuple(element_path(state, f[0]) for f in fields)
            self.submits.append(Submit(t, str(form or "")[:256], names, state.url, paths))
        elif kind == "invalid" and len(self.invalids) < _MAX_SAMPLES and len(event) > _INVALID_FIELD:
            self.invalids.append((t, str(event[_INVALID_FIELD])[:100], element_path(state, event[_INVALID_TARGET])))

    def frustration(self, th: Thresholds = Thresholds()) -> list[Signal]:
        """Quick backs inside the page view, excessive scrolling, thrashed cursor and form errors."""
        return [
            *quick_backs(self.routes, th.quick_back_ms, "route"),
            *excessive_scrolls(
                self.scrolls, self.resets, th.excessive_scroll_reversals, th.excessive_scroll_window_ms,
                th.scroll_reversal_min_px,
            ),
            *thrashes(self.pointer, th.thrash_direction_changes, th.thrash_window_ms, th.thrash_min_speed_px_s),
            *form_errors(self.submits, self.invalids, th.form_error_ms),
        ]  # fmt: skip

    def result(self, th: Thresholds = Thresholds()) -> tuple[list[ClickFact], list[MoveFact]]:
        clicks = [replace(c) for c in self.clicks]
        errors, changes, last_t = self.errors, self.changes, self.last_t
        for click, at in zip(clicks, self.positions, strict=True):
            click.error = any(p > at and t <= click.t + th.error_ms for p, t in errors)
            # 'b' (a blocked region, element_paths._classify): its changes are never recorded.
            if not (click.is_text_input or "x" in click.flags or "b" in click.flags or click.is_stepper):
                changed = any(p > at and t <= click.t + th.dead_ms for p, t in changes)
                # A link whose page view ends right after: it navigated away.
                left = "a" in click.flags and last_t <= click.t + th.dead_ms
                click.dead = not changed and not left
        _mark_rage(clicks, th)
        return clicks, list(self.moves)


def _mark_rage(clicks: list[ClickFact], th: Thresholds) -> None:
    run: list[ClickFact] = []
    for click in clicks:
        eligible = not (click.is_text_input or "x" in click.flags or click.is_stepper)
        if (
            run
            and eligible
            and click.t - run[-1].t <= th.rage_interval_ms
            and ((click.px - run[-1].px) ** 2 + (click.py - run[-1].py) ** 2) ** 0.5 <= th.rage_radius_px
        ):
            run.append(click)
        else:
            _close(run, th)
            run = [click] if eligible else []
    _close(run, th)


def _close(run: list[ClickFact], th: Thresholds) -> None:
    if len(run) >= th.rage_count:
        for click in run:
            click.rage = True


def _drawing(node: Node | None) -> bool:
    """Is the pointer over something where sharp turns are the point (drawing, dragging, a slider)?"""
    for _ in range(4):  # the target and a few ancestors (an SVG's path, a slider's thumb)
        if node is None or node.type != ELEMENT:
            return False
        if (
            node.tag in _DRAW_TAGS
            or node.attrs.get("draggable") == "true"
            or node.attrs.get("role") in ("slider", "scrollbar")
            or (node.tag == "input" and node.attrs.get("type") == "range")
        ):
            return True
        node = node.parent
    return False
