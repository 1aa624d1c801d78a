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
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from sessionlens.contracts import field
from sessionlens.replay.dom import ELEMENT, TEXT, DomState, Node
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

    @classmethod
    def from_settings(cls, settings: Settings) -> Thresholds:
        return cls(
            rage_count=settings.rage_click_count,
            rage_radius_px=settings.rage_click_radius_px,
            rage_interval_ms=settings.rage_click_interval_ms,
            dead_ms=settings.dead_click_ms,
            error_ms=settings.error_click_ms,
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
    the signals on copies, so more events can be added after it.
    """

    def __init__(self) -> None:
        self.state = DomState()
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

    def add(self, events: Iterable[list[Any]]) -> PageViewFacts:
        state, moves = self.state, self.moves
        for event in events:
            position = self.position
            self.position += 1
            kind, t = event[0], event[1]
            self.last_t = max(self.last_t, t)
            vw = self.vw
            if kind == "click":
                target = state.nodes.get(event[_C["target"]]) if event[_C["target"]] is not None else None
                self.clicks.append(
                    ClickFact(
                        t=t, url=state.url, selector=event[_C["selector"]], fx=event[_C["fx"]], fy=event[_C["fy"]],
                        px=event[_C["px"]], py=event[_C["py"]], vw=vw or state.viewport[0], pw=event[_C["pw"]],
                        ph=event[_C["ph"]], tag=event[_C["tag"]], flags=event[_C["flags"]], label=_label(target),
                        **{name: event[i] if len(event) > i else default for name, i, default in _LATER},
                    )
                )  # fmt: skip
                self.positions.append(position)
            elif kind == "move" and (not moves or t - moves[-1].t >= MOVE_SAMPLE_MS):
                sx, sy = state.scroll.get(None, [0, 0])
                moves.append(MoveFact(t, state.url, event[2] + sx, event[3] + sy, vw or state.viewport[0]))
            elif kind == "error":
                self.errors.append((position, t))
            elif kind in _CHANGE_KINDS:
                self.changes.append((position, t))
            if kind in ("meta", "resize"):
                self.vw = event[5] if kind == "meta" else event[2]
            state.apply(event)
        return self

    def result(self, th: Thresholds = Thresholds()) -> tuple[list[ClickFact], list[MoveFact]]:
        clicks = [replace(c) for c in self.clicks]
        errors, changes, last_t = self.errors, self.changes, self.last_t
        for click, at in zip(clicks, self.positions, strict=True):
            click.error = any(p > at and t <= click.t + th.error_ms for p, t in errors)
            if not (click.is_text_input or "x" in click.flags or click.is_stepper):
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
