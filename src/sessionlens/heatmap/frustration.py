"""Frustration signals beside rage, dead and error clicks (docs/signals.md).

Pure functions over samples that PageViewFacts (signals.py) collects while
it replays a page view, so ingest-time derivation and `reindex` find the
same signals, and thresholds can change and old sessions be re-scored:

- excessive scrolling: EXCESSIVE_SCROLL_REVERSALS window scroll direction
  reversals (each a move of at least SCROLL_REVERSAL_MIN_PX the other way)
  within EXCESSIVE_SCROLL_WINDOW_MS, with no click, input, submit, focus
  change or navigation between them;
- thrashed cursor: THRASH_DIRECTION_CHANGES sharp (over 90 degree) pointer
  turns within THRASH_WINDOW_MS, the pointer moving at THRASH_MIN_SPEED_PX_S
  or faster both sides of each turn;
- quick back (inside a page view: SPA routes): a route B entered from A,
  then A entered again within QUICK_BACK_MS (full page loads: frustration.py
  quick_backs over page views, run per session);
- form error: fields shown invalid at, or within FORM_ERROR_MS after, a
  submit attempt.
Known false positives left out are listed at each detector.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

# Signal kinds in session_signals (the click kinds are written from clicks).
RAGE, DEAD, ERROR_CLICK = "rage", "dead", "error_click"
QUICK_BACK, EXCESSIVE_SCROLL, THRASH, FORM_ERROR = "quick_back", "excessive_scroll", "thrash", "form_error"
KINDS = (RAGE, DEAD, ERROR_CLICK, QUICK_BACK, EXCESSIVE_SCROLL, THRASH, FORM_ERROR)
# Session column counting each kind.
COUNT_COLUMNS = {
    RAGE: "rage_clicks", DEAD: "dead_clicks", ERROR_CLICK: "error_clicks", QUICK_BACK: "quick_backs",
    EXCESSIVE_SCROLL: "excessive_scrolls", THRASH: "thrashes", FORM_ERROR: "form_errors",
}  # fmt: skip
# The frustration score (docs/signals.md): S = sum(weight * min(count, SCORE_CAP)),
# score = 100 * (1 - exp(-S / SCORE_SCALE)), rounded to one decimal: 0 with no signal,
# rising fast for the first signals and never past 100.
WEIGHTS = {RAGE: 12, ERROR_CLICK: 12, FORM_ERROR: 12, QUICK_BACK: 10, EXCESSIVE_SCROLL: 8, THRASH: 8, DEAD: 5}
SCORE_CAP = 5
SCORE_SCALE = 40.0
# A move sample this long after the previous one starts a new stroke (the pointer rested).
MOVE_GAP_MS = 250
MAX_LABEL = 200
MAX_PATH = 1000  # an element path (Signal.target)
# Signals kept per page view and kind (a page stuck in a loop stays bounded).
MAX_PER_KIND = 500


@dataclass(frozen=True, slots=True)
class Signal:
    t: int  # ms into the page view
    kind: str
    x: float | None = None  # page coordinates, when the signal has a place
    y: float | None = None
    url: str = ""
    selector: str = ""
    label: str = ""
    target: str = ""  # path of the element it is about (form_error: the first invalid field), '' none


def frustration_score(counts: dict[str, int]) -> float:
    total = sum(WEIGHTS[k] * min(max(counts.get(k, 0), 0), SCORE_CAP) for k in WEIGHTS)
    return round(100 * (1 - math.exp(-total / SCORE_SCALE)), 1)


# -- excessive scrolling -------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ScrollSample:
    t: int
    y: float  # window scroll top
    vh: float  # viewport height at the time
    url: str


def excessive_scrolls(
    samples: Sequence[ScrollSample], resets: Sequence[int], reversals: int, window_ms: int, min_px: float
) -> list[Signal]:
    """Window scrolls only: inner scrollers and carousels (scroll events with a target) are
    not passed in. `resets`: times of clicks, inputs, submits, focus changes and navigations,
    after which counting starts over (a click on an anchor or a tab that scrolls is intended)."""
    found: list[Signal] = []
    resets = sorted(resets)
    r = 0
    direction = 0  # 1 down, -1 up, 0 not yet known
    extreme: float | None = None  # where the current stroke is furthest (or started)
    turns: list[int] = []
    episode_end = -1  # reversals until then continue excessive scrolling already found
    for s in samples:
        reset = False
        while r < len(resets) and resets[r] <= s.t:
            reset, r = True, r + 1
        if reset or extreme is None:
            direction, extreme, turns, episode_end = 0, s.y, [], -1
            continue
        if direction == 0:
            if abs(s.y - extreme) >= min_px:
                direction, extreme = (1 if s.y > extreme else -1), s.y
            continue
        if (s.y - extreme) * direction > 0:
            extreme = s.y  # further the same way
        elif abs(s.y - extreme) >= min_px:
            direction, extreme = -direction, s.y
            if s.t <= episode_end:
                episode_end = s.t + window_ms
                continue
            turns = [t for t in turns if t >= s.t - window_ms] + [s.t]
            if len(turns) >= reversals:
                episode_end = s.t + window_ms
                label = f"{len(turns)} reversals"
                found.append(Signal(turns[0], EXCESSIVE_SCROLL, None, s.y + s.vh / 2, s.url, "", label))
                turns = []
    return found[:MAX_PER_KIND]


# -- thrashed cursor -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MoveSample:
    t: int
    x: float  # page coordinates
    y: float
    url: str
    excluded: bool  # over a canvas, SVG, slider or draggable element: drawing or dragging


def thrashes(samples: Sequence[MoveSample], changes: int, window_ms: int, min_speed: float) -> list[Signal]:
    """Excluded: moves over canvases, SVG drawings, sliders, draggable elements (drawing and
    dragging turn sharply on purpose), and strokes broken by a pause (MOVE_GAP_MS)."""
    found: list[Signal] = []
    turns: list[tuple[int, float, float]] = []  # (t, x, y) of each sharp turn
    episode_end = -1  # turns until then continue a thrash already found (one signal per episode)
    prev: MoveSample | None = None
    prev_v: tuple[float, float] | None = None  # velocity into prev (px/s), None when slow or unknown
    for s in samples:
        if s.excluded:
            prev, prev_v, turns = None, None, []
            continue
        if prev is None or s.t - prev.t > MOVE_GAP_MS or s.t <= prev.t:
            prev, prev_v = s, None
            continue
        dt = (s.t - prev.t) / 1000
        v = ((s.x - prev.x) / dt, (s.y - prev.y) / dt)
        fast = math.hypot(*v) >= min_speed
        if fast and prev_v is not None and v[0] * prev_v[0] + v[1] * prev_v[1] < 0:
            if prev.t <= episode_end:
                episode_end = prev.t + window_ms
                prev, prev_v = s, v
                continue
            turns = [p for p in turns if p[0] >= s.t - window_ms] + [(prev.t, prev.x, prev.y)]
            if len(turns) >= changes:
                episode_end = prev.t + window_ms
                cx = sum(p[1] for p in turns) / len(turns)
                cy = sum(p[2] for p in turns) / len(turns)
                found.append(Signal(turns[0][0], THRASH, cx, cy, s.url, "", f"{len(turns)} sharp turns"))
                turns = []
        prev, prev_v = s, (v if fast else None)
    return found[:MAX_PER_KIND]


# -- quick back -----------------------------------------------------------------------


def same_page_url(url: str) -> str:
    """A URL as a page: without its fragment (an in-page anchor is the same page), except
    hash routes (#/ and #!) which are pages of their own; cut to 2048 characters."""
    url = (url or "")[:2048]
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    fragment = parts.fragment if parts.fragment.startswith(("/", "!")) else ""
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path or "/", parts.query, fragment))


def quick_backs(routes: Sequence[tuple[int, str]], quick_back_ms: int, selector: str) -> list[Signal]:
    """routes: (time entered, URL) in order, each a page visit (a redirect that replaced the
    entry is not one: leave it out). B quick-backed: A, then B, then A again within
    quick_back_ms of entering B. Excluded: in-page anchors (same page URL), reloads of A."""
    found: list[Signal] = []
    pages = [(t, same_page_url(u), u) for t, u in routes]
    # Consecutive entries of one page (an anchor, a reload) are one visit.
    visits: list[tuple[int, str, str]] = []
    for p in pages:
        if not visits or visits[-1][1] != p[1]:
            visits.append(p)
    for a, b, c in zip(visits, visits[1:], visits[2:], strict=False):
        if c[1] == a[1] and 0 <= c[0] - b[0] <= quick_back_ms:
            found.append(Signal(c[0], QUICK_BACK, None, None, b[2][:2048], selector, a[2][:MAX_LABEL]))
    return found[:MAX_PER_KIND]


# -- form errors --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Submit:
    t: int
    form: str
    invalid: tuple[str, ...]  # fields invalid at the attempt
    url: str
    paths: tuple[str, ...] = ()  # the element path of each field in `invalid` ('' unknown)


def form_errors(
    submits: Sequence[Submit], invalids: Iterable[tuple[int, str] | tuple[int, str, str]], within_ms: int
) -> list[Signal]:
    """invalids: (time, field[, element path]) of fields shown invalid. One signal per submit attempt with
    invalid fields at the attempt or within `within_ms` after it (before the next attempt).
    Excluded: fields shown invalid with no submit attempt before (validation while typing,
    fields marked invalid when the page loads)."""
    found: list[Signal] = []
    invalids = sorted(invalids)
    # Each field's element path (the heatmap places the signal on the first field's box).
    paths: dict[str, str] = {}
    for s in submits:
        paths.update((f, p) for f, p in zip(s.invalid, s.paths, strict=False) if f and p)
    paths.update((i[1], i[2]) for i in invalids if len(i) > 2 and i[1] and i[2])
    ordered = sorted(submits, key=lambda s: s.t)
    for i, s in enumerate(ordered):
        end = s.t + within_ms
        if i + 1 < len(ordered):
            end = min(end, ordered[i + 1].t - 1)
        fields = list(
            dict.fromkeys(
                [*(f for f in s.invalid if f), *(i[1] for i in invalids if s.t <= i[0] <= end and i[1])]
            )
        )
        if fields or s.invalid:
            label = f"{s.form}: {', '.join(fields)}" if s.form else ", ".join(fields)
            target = next((paths[f] for f in fields if paths.get(f)), "")
            found.append(
                Signal(
                    s.t,
                    FORM_ERROR,
                    None,
                    None,
                    s.url,
                    s.form[:MAX_LABEL],
                    label[:MAX_LABEL],
                    target[:MAX_PATH],
                )
            )
    return found[:MAX_PER_KIND]


def quick_backs_between_pages(
    pages: Sequence[tuple[str, int, int, str, str]], quick_back_ms: int
) -> list[tuple[str, Signal]]:
    """pages: (pid, t0, duration_ms, entry URL, exit URL) of a session's page views by start.
    Page view B is quick-backed when the page view after it loads the URL the one before it
    left from, within quick_back_ms of B's start (back button or a link back alike).
    Returns (B's pid, signal at the moment of return, in B's time). Excluded: reloads and
    in-page anchors (same page URL), as in quick_backs."""
    found: list[tuple[str, Signal]] = []
    for a, b, c in zip(pages, pages[1:], pages[2:], strict=False):
        left = same_page_url(a[4])
        if same_page_url(c[3]) == left and same_page_url(b[3]) != left and 0 <= c[1] - b[1] <= quick_back_ms:
            t = max(min(c[1] - b[1], b[2]), 0)
            found.append((b[0], Signal(t, QUICK_BACK, None, None, b[3][:2048], "page", a[4][:MAX_LABEL])))
    return found[:MAX_PER_KIND]
