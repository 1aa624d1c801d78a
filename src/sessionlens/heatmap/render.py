"""A heatmap from a selection: which clicks, placed where, drawn over what.

Each click is anchored to its element in the backdrop's layout (found by
its selector, placed at its recorded offset inside the box), so it lands
on the same element whatever the visitor's screen or the content above it.
Clicks whose element is absent from the backdrop fall back to their page
coordinates scaled to the backdrop width; elements present but hidden are
counted, not drawn.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import re
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import numpy as np
import orjson
from PIL import Image, ImageDraw

from sessionlens.heatmap import page_moments, raster
from sessionlens.heatmap.backdrop import Backdrop, BackdropConfig, default_moment, render_backdrop
from sessionlens.heatmap.device_profile import profile_for
from sessionlens.heatmap.png_strips import encode_strips
from sessionlens.heatmap.png_text import with_text
from sessionlens.index import Index, fact_arrays
from sessionlens.index import heatmaps as heatmap_queries
from sessionlens.index.fact_arrays import Grid, Placed
from sessionlens.params import HEATMAP_AT, RADIUS, SELECTION, WIDTH
from sessionlens.replay.pageview import PageViewReader
from sessionlens.session_search import BOTS, KNOWN, FilterError, SessionFilter
from sessionlens.stores.base import BlobStore
from sessionlens.text_cells import csv_cell as _cell

# Frustration signals with a place (docs/signals.md): quick_back has none, so no map.
SIGNAL_KINDS = ("thrash", "form_error", "excessive_scroll")
KINDS = ("click", "rage", "dead", "error", "move", "scroll", *SIGNAL_KINDS)
# Click-based types: the elements and sessions panels list the clicks behind them.
CLICK_KINDS = ("click", "rage", "dead", "error")
# What one fact of a signal type is called in legends (the title reads "N <name> on M page views").
SIGNAL_NAMES = {
    "thrash": "thrashed-cursor episodes",
    "form_error": "form errors (submit attempts with invalid fields)",
    "excessive_scroll": "excessive-scrolling episodes",
}
MAX_SELECTORS = 500
_SEGMENT_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


# Device classes a map is drawn for; "any" mixes them (scaled by window width, as before issue 13).
DEVICE_CLASSES = ("desktop", "tablet", "mobile")
DEVICE_CHOICES = (*DEVICE_CLASSES, "unknown", "any")
# Parameters the heatmap itself takes; every other known one is a session-list filter
# (session_search.KNOWN: experiment=, channel=, country=, visitor=, trait=, ...).
SELECTION_KEYS = frozenset(
    {"site", "url", "device", "from", "to", "min_width", "max_width", "bots", "segment"}
)
# Session-list parameters that mean something else here (url, device, from, to) or nothing (paging).
_NOT_SESSION_KEYS = frozenset(
    {"site", "url", "device", "from", "to", "bots", "sort", "order", "cursor", "before", "limit"}
)
SESSION_KEYS = frozenset(KNOWN - _NOT_SESSION_KEYS)
COMPARE_KEYS = ("compare_from", "compare_to", "compare_experiment", "compare_segment", "compare_device")

# (site, segment id) -> the saved segment's (name, value) pairs; raises LookupError when absent.
SegmentLookup = Callable[[str, str], list[tuple[str, str]]]


def query_pairs(q: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(name, value) pairs of a starlette QueryParams (repeats kept) or a dict of str / list of str."""
    multi = getattr(q, "multi_items", None)
    if multi is not None:
        return [(str(k), str(v)) for k, v in multi()]
    pairs: list[tuple[str, str]] = []
    for k, v in q.items():
        for one in v if isinstance(v, list | tuple) else [v]:
            if one is not None:
                pairs.append((str(k), str(one)))
    return pairs


@dataclass(slots=True)
class Selection:
    site: str
    pattern: str
    device: str | None = None  # None: the device class of the backdrop's page view (resolve_device)
    min_width: int | None = None
    max_width: int | None = None
    start: int | None = None
    end: int | None = None
    bots: str = "exclude"  # include | only (sessions.is_bot; index/heatmaps._bots)
    sessions: SessionFilter | None = None  # session-list filters: only these sessions' facts count
    filters: tuple[tuple[str, str], ...] = ()  # those filters as given (a saved segment's included)
    segment: str | None = None  # the saved segment's id, when one was applied
    device_auto: bool = False  # the device class was chosen, not asked for

    @classmethod
    def from_query(
        cls,
        q: Mapping[str, Any],
        segments: SegmentLookup | None = None,
        allowed: frozenset[str] = frozenset(),
    ) -> Selection:
        """A selection from query parameters: the page, its page-view filters, and any session-list
        filter (`experiment=name:variant`, `channel=`, ..., `segment=` a saved segment's id).
        `allowed`: the endpoint's own other parameters; anything else unknown is refused."""
        pairs = query_pairs(q)
        one: dict[str, str] = {}
        session_pairs: list[tuple[str, str]] = []
        for k, v in pairs:
            if k in SESSION_KEYS:
                session_pairs.append((k, v))
            elif k in SELECTION_KEYS:
                if k in one:
                    raise FilterError(f"{k} may be given once")
                one[k] = v
            elif k not in allowed:
                raise FilterError(f"unknown parameter {k!r}")
        if not one.get("site"):
            raise FilterError("site is required (a site key)")
        if not one.get("url"):
            raise FilterError("url is required: an exact URL, a path, or a pattern such as /product/*")
        n = SELECTION.parse(one)
        device = one.get("device") or None
        if device is not None and device not in DEVICE_CHOICES:
            raise FilterError(
                f"device must be one of {', '.join(DEVICE_CHOICES)} (or empty: the backdrop's class)"
            )
        bots = one.get("bots") or "exclude"
        if bots not in BOTS:
            raise FilterError(f"bots must be one of {', '.join(BOTS)}")
        segment = one.get("segment") or None
        if segment is not None:
            if segments is None:
                raise FilterError("segment= is not available here")
            if not _SEGMENT_ID.fullmatch(segment):
                raise FilterError("segment must be a saved segment's id")
            try:
                saved = segments(one["site"], segment)
            except LookupError:
                raise FilterError(f"segment {segment} is not a saved segment of this site") from None
            # The segment keeps its session-list meaning (url = visited, device = the session's).
            session_pairs = [(k, v) for k, v in saved if k not in _NOT_SESSION_KEYS or k in ("url", "device",
                             "from", "to")] + session_pairs  # fmt: skip
        sessions = None
        if session_pairs:
            merged: dict[str, list[str]] = {}
            for k, v in session_pairs:
                merged.setdefault(k, []).append(v)
            sessions = SessionFilter.from_query(merged)
            sessions.site, sessions.bots = one["site"], "include"  # bots: the selection's own filter
        return cls(
            site=one["site"], pattern=one["url"], device=device,
            start=n["from"], end=n["to"], min_width=n["min_width"], max_width=n["max_width"],
            bots=bots, sessions=sessions, filters=tuple(session_pairs), segment=segment,
        )  # fmt: skip

    def describe(self) -> dict[str, Any]:
        """The selection as a JSON object (a file's `filter` header, the empty state's message)."""
        out: dict[str, Any] = {"site": self.site, "url": self.pattern, "device": self.device or "auto"}
        if self.device_auto:
            out["device_chosen"] = True
        for name, value in (("min_width", self.min_width), ("max_width", self.max_width), ("from", self.start),
                            ("to", self.end), ("segment", self.segment)):  # fmt: skip
            if value is not None:
                out[name] = value
        out["bots"] = self.bots
        if self.filters:
            out["filters"] = [list(p) for p in self.filters]
        return out

    def query(self) -> str:
        """The selection as a readable query string (the PNG's and CSV's header)."""
        d = self.describe()
        pairs = [(k, str(v)) for k, v in d.items() if k not in ("filters", "device_chosen")]
        return urlencode(pairs + list(self.filters), safe="/*:,")

    # The SQL of a selection lives in the index package (sessionlens/index/heatmaps.py).

    def urls(self, index: Index, table: str = "clicks") -> list[str]:
        """The distinct URLs of the facts table (clicks, moves) the pattern selects."""
        return heatmap_queries.matching_urls(index, self, table)

    def moves(self, index: Index) -> list[dict[str, Any]]:
        return heatmap_queries.moves(index, self)

    def clicks(self, index: Index, kind: str, selector: str | None = None) -> list[dict[str, Any]]:
        """Clicks of the selection; with `selector`, those on that element (a control or an inner one)."""
        return heatmap_queries.clicks(index, self, kind, selector)

    def elements(self, index: Index, kind: str) -> list[dict[str, Any]]:
        """Top elements, aggregated in SQL: one row per control (the nearest interactive
        ancestor of the click target), with its visible text, clicks, share, rage, dead,
        error, and `inner`: the elements clicked inside it and how often."""
        # Per (control, inner element) first, then per control: a link clicked on its
        # icon, its caption and its padding is one row, its parts kept as detail.
        # (Merged here rather than by a JSON aggregate in SQL, which SQLite and PostgreSQL spell apart.)
        merged: dict[str, dict[str, Any]] = {}
        for part in heatmap_queries.element_parts(index, self, kind):
            row = merged.setdefault(part["element"], _element_row(part["element"]))
            row["text"] = max(row["text"], part["text"] or "")
            row["clicks"] += part["n"]
            for signal in ("rage", "dead", "error"):
                row[signal] += part[signal] or 0
            if part["inner"] != part["element"]:
                row["inner"].append({"selector": part["inner"], "clicks": part["n"]})
        rows = sorted(merged.values(), key=lambda r: (-r["clicks"], r["selector"]))
        total = max(sum(r["clicks"] for r in rows), 1)
        for r in rows:
            r["share"] = round(r["clicks"] / total, 4)
            r["inner"].sort(key=lambda p: (-p["clicks"], p["selector"]))
        return rows

    def page_views(self, index: Index) -> list[dict[str, Any]]:
        return heatmap_queries.page_views(index, self)


def compare_pairs(q: Mapping[str, Any]) -> list[tuple[str, str]] | None:
    """The query of the B side of a comparison: A's, with what the compare_* parameters change
    (None when none is given). compare_from / compare_to: another period; compare_experiment:
    name:variant in place of A's variant of that experiment (or added); compare_segment: another
    saved segment in place of A's; compare_device: another device class."""
    pairs = query_pairs(q)
    given = {k: v for k, v in pairs if k in COMPARE_KEYS}
    if not given:
        return None
    b = [(k, v) for k, v in pairs if k not in COMPARE_KEYS]
    if "compare_from" in given or "compare_to" in given:
        b = [(k, v) for k, v in b if k not in ("from", "to")]
        b += [
            (k[len("compare_") :], v) for k, v in given.items() if k in ("compare_from", "compare_to") and v
        ]
    if "compare_experiment" in given:
        name = given["compare_experiment"].split(":", 1)[0]
        b = [(k, v) for k, v in b if not (k == "experiment" and v.split(":", 1)[0] == name)]
        b.append(("experiment", given["compare_experiment"]))
    if "compare_segment" in given:
        b = [(k, v) for k, v in b if k != "segment"] + [("segment", given["compare_segment"])]
    if "compare_device" in given:
        b = [(k, v) for k, v in b if k != "device"] + [("device", given["compare_device"])]
    return b


def side_label(pairs: list[tuple[str, str]], other: list[tuple[str, str]]) -> str:
    """What sets one side of a comparison apart from the other, short ("experiment=checkout:B")."""
    mine = [f"{k}={v}" for k, v in pairs if (k, v) not in other and k not in ("width", "type", "radius")]
    return ", ".join(mine)[:60] or "all"


def resolve_device(index: Index, sel: Selection, width: int, pid: str | None = None) -> Selection:
    """The selection with its device class decided: the one asked for, else the class of the page
    view the map is drawn over (the newest at the width closest to `width`), so a phone's clicks
    are never scaled up into a desktop-wide map. "any" mixes every class (scaled by window width)."""
    return _resolved(index, sel, width, pid)[0]


def _resolved(index: Index, sel: Selection, width: int, pid: str | None) -> tuple[Selection, dict[str, Any] | None]:
    """resolve_device's selection, and the page view it chose by (None: a class was asked for). That
    page view is also the backdrop's: the newest at the closest width overall is so within its class."""
    if sel.device == "any":
        return dataclasses.replace(sel, device=None), None
    if sel.device is not None:
        return sel, None
    view = heatmap_queries.backdrop_view(index, sel, width, pid)
    if view is None or not view.get("device"):
        return sel, view
    return dataclasses.replace(sel, device=view["device"], device_auto=True), view


class NoData(LookupError):
    """Nothing to draw for this selection: the API's and the viewer's empty state names the filters."""

    def __init__(self, message: str, sel: Selection, kind: str) -> None:
        super().__init__(message)
        self.filter = {**sel.describe(), "type": kind}


@dataclass(slots=True)
class Heatmap:
    png: bytes
    kind: str
    width: int
    height: int  # of the page; the PNG is `band` px taller (the legend sits above the page)
    counted: int = 0
    drawn: int = 0
    hidden: int = 0
    by_position: int = 0
    values: np.ndarray | None = None  # normalised coarse grid (rows, cols), SCALE px a cell
    boxes: dict[str, list[float]] = field(default_factory=dict)
    backdrop: tuple[str, str, int] = ("", "", 0)  # sid, pid, at
    lines: dict[str, float] = field(default_factory=dict)  # scroll map: fold and 75/50/25 % depths
    band: int = 0  # rows above the page in the PNG (none: the legend is a strip under the page)
    strip: int = raster.LEGEND_BAND  # rows of the legend strip under the page
    legend: dict[str, Any] = field(default_factory=dict)  # the legend's title and numeric scale (JSON)
    lines_by_device: dict[str, dict[str, float]] = field(default_factory=dict)  # scroll map, per class
    filter: dict[str, Any] = field(default_factory=dict)  # the selection (Selection.describe)
    page_views: int = 0  # page views of the selection (the legend's % of page views)
    moment: str = ""  # why the backdrop shows that moment ("load settled, ...", "chosen")
    device: str = ""  # the browser settings the backdrop was laid out with
    page_height: int = 0  # the whole page (height is less when cut at backdrop_max_height)

    def hottest(self) -> tuple[float, float]:
        """Page coordinates (CSS px of the backdrop) of the hottest cell."""
        assert self.values is not None
        row, col = np.unravel_index(int(np.argmax(self.values)), self.values.shape)
        return (col + 0.5) * raster.SCALE, (row + 0.5) * raster.SCALE

    def headers(self) -> dict[str, str]:
        """The figures as response headers (the image endpoint sends them beside the PNG)."""
        return {
            "X-Heatmap-Moment": f"{self.backdrop[2]}; {self.moment}"[:200],
            "X-Heatmap-Device": self.device,
            "X-Heatmap-Page-Top": str(self.band),
            "X-Heatmap-Page-Height": str(self.height),
            "X-Heatmap-Legend-Top": str(self.band + self.height),
        }

    def summary(self) -> dict[str, Any]:
        """What the PNG shows, as JSON (the API's format=json, the viewer's legend and hot spots)."""
        return {
            "type": self.kind, "width": self.width, "height": self.height, "page_height": self.page_height,
            "page_top": self.band, "legend_top": self.band + self.height, "legend_height": self.strip,
            "counted": self.counted, "drawn": self.drawn, "hidden": self.hidden, "by_position": self.by_position,
            "page_views": self.page_views, "legend": self.legend, "lines": self.lines,
            "lines_by_device": self.lines_by_device, "filter": self.filter, "device": self.device,
            "moment": self.moment, "backdrop": {"sid": self.backdrop[0], "pid": self.backdrop[1], "at": self.backdrop[2]},
            "boxes": {k: [round(v, 1) for v in box[:4]] for k, box in self.boxes.items() if not box[4]},
            "hottest": [round(float(v), 1) for v in self.hottest()] if self._hot() else None,
        }  # fmt: skip

    def _hot(self) -> bool:
        return self.values is not None and self.values.size > 0 and float(np.max(self.values)) > 0


def choose_backdrop(
    sel: Selection,
    views: list[dict[str, Any]],
    reader: PageViewReader,
    width: int,
    pid: str | None,
    at: int | None,
) -> tuple[str, str, int]:
    """The page view a heatmap is drawn over and its moment: the page as first seen after load
    settled (page_moments), unless `at` names another."""
    view = _backdrop_view(views, width, pid)
    if at is None:
        at = default_moment(reader, sel.site, view["sid"], view["pid"])
    return view["sid"], view["pid"], at


def _backdrop_view_in(index: Index, sel: Selection, width: int, pid: str | None) -> dict[str, Any]:
    """As _backdrop_view, the choice made in SQL."""
    view = heatmap_queries.backdrop_view(index, sel, width, pid)
    if view is None and pid:
        raise FilterError(f"page view {pid} is not in this selection")
    if view is None:
        raise LookupError("no recorded page view matches this selection yet")
    return view


def _backdrop_view(views: list[dict[str, Any]], width: int, pid: str | None) -> dict[str, Any]:
    if pid:
        views = [v for v in views if v["pid"] == pid]
        if not views:
            raise FilterError(f"page view {pid} is not in this selection")
    if not views:
        raise LookupError("no recorded page view matches this selection yet")
    # The newest page view recorded at the width closest to the one asked for.
    return min(views, key=lambda v: (abs((v["vw"] or 0) - width), -v["t0"]))


def build_heatmap(
    index: Index, store: BlobStore, reader: PageViewReader, sel: Selection, kind: str, width: int,
    radius: float = 30, pid: str | None = None, at: int | None = None, compare: Selection | None = None,
    step: Callable[[str], None] | None = None, backdrops: BackdropConfig | None = None,
    labels: tuple[str, str] | None = None, backdrop_from: Selection | None = None,
) -> Heatmap:  # fmt: skip
    """The map of `sel` (minus `compare`'s, as a difference map, when given). `backdrop_from`: the
    selection whose page view the map is drawn over (the other side's, for side-by-side maps)."""
    if kind not in KINDS:
        raise FilterError(f"type must be one of {', '.join(KINDS)}")
    # The API and CLI checked these already; library callers get the same bounds.
    WIDTH.check(width)
    RADIUS.check(radius)
    if at is not None:
        HEATMAP_AT.check(at)
    step = step or (lambda _: None)
    step("selecting")
    # One device class per map unless "any" is asked for: the backdrop's class by default.
    sel, chosen = _resolved(index, sel, width, pid)
    if compare is not None and compare.device is None:
        compare = dataclasses.replace(compare, device=sel.device, device_auto=sel.device_auto)
    # Facts are read as arrays (index/fact_arrays.py), never as rows; clicks once, for the elements
    # the backdrop measures and to be placed on it.
    clicks = other_clicks = None
    if kind in CLICK_KINDS:
        clicks = fact_arrays.read_clicks(index, sel, kind, limit=MAX_SELECTORS)
        if compare is not None:
            other_clicks = fact_arrays.read_clicks(index, compare, kind, limit=MAX_SELECTORS)
        selectors = clicks.wanted if clicks.count or other_clicks is None else other_clicks.wanted
    else:
        targets = _targets(index, sel, kind)
        if compare is not None and not sum(targets.values()):
            targets = _targets(index, compare, kind)
        selectors = wanted_selectors(targets)
    # The backdrop's page view and its class's median height are chosen in SQL (not from every page view).
    over = resolve_device(index, backdrop_from, width, pid) if backdrop_from is not None else sel
    try:
        # The page view the device class was read from is the backdrop's (one query, not two).
        view = chosen if chosen is not None and over is sel else _backdrop_view_in(index, over, width, pid)
    except LookupError as exc:
        if isinstance(exc, FilterError):
            raise
        raise NoData("no data for this selection: no recorded page view matches", sel, kind) from None
    views = heatmap_queries.count_page_views(index, sel)
    sid, bpid = view["sid"], view["pid"]
    found = page_moments.scan(reader, sel.site, sid, bpid)
    moment = "chosen" if at is not None else next((m.label for m in found.moments if m.default), "")
    at = found.default if at is None else at
    # The device class's visitors: its median viewport height is the backdrop's.
    median_height = heatmap_queries.median_view_height(index, over, view.get("device"))
    device = profile_for(found.meta, [median_height] if median_height is not None else [], width)
    step("rendering backdrop")
    bd = render_backdrop(
        store, reader, sel.site, sid, bpid, at, width, selectors, config=backdrops, device=device,
        inner_scrolls=found.inner_scrolls,
    )  # fmt: skip
    step("rasterising")
    text = {"sessionlens:moment": f"{at}; {moment}", "sessionlens:device": device.describe()}
    grid = Grid(bd.width, bd.height, raster.SCALE, bd.inner_width or bd.width)
    if kind == "scroll":
        result = _scroll_map(sel.page_views(index), bd, text)
    elif kind == "move":
        result = _move_map(fact_arrays.placed_moves(index, sel, grid), bd, radius, text, views=views)
    elif kind == "excessive_scroll":
        result = _band_map(fact_arrays.scroll_bands(index, sel, grid), grid, bd, text, views=views)
    elif kind in ("thrash", "form_error"):
        place = fact_arrays.placed_thrashes if kind == "thrash" else fact_arrays.placed_form_errors

        def placed_of(s: Selection) -> Placed:
            return place(index, s, grid) if kind == "thrash" else place(index, s, bd.boxes, grid)

        result = _click_map(
            placed_of(sel), bd, radius, kind, placed_of(compare) if compare else None, text, views=views,
            labels=labels or ("A", "B"), name=SIGNAL_NAMES[kind],
            other_views=heatmap_queries.count_page_views(index, compare) if compare else 0,
        )  # fmt: skip
    else:
        assert clicks is not None
        placed = fact_arrays.place_clicks(clicks.clicks, bd.boxes, grid)
        other = fact_arrays.place_clicks(other_clicks.clicks, bd.boxes, grid) if other_clicks else None
        result = _click_map(
            placed, bd, radius, kind, other, text, views=views,
            labels=labels or ("A", "B"),
            other_views=heatmap_queries.count_page_views(index, compare) if compare else 0,
        )  # fmt: skip
    result.page_views = views
    result.filter = {**sel.describe(), "type": kind}
    if compare is not None:
        result.filter["compare"] = compare.describe()
    result.backdrop = (sid, bpid, at)
    result.boxes = bd.boxes
    result.moment, result.device, result.page_height = moment, device.describe(), bd.page_height
    # The file says which page view and moment it is drawn over (the moment picker's choice).
    result.png = with_text(
        result.png,
        {"sessionlens:backdrop": f"{sid}/{bpid}/{at}", "sessionlens:selection": _describe(sel, kind, width),
         "sessionlens:legend": orjson.dumps(result.legend).decode()},
    )  # fmt: skip
    return result


def _targets(index: Index, sel: Selection, kind: str) -> dict[tuple[str, str], int]:
    """The elements the backdrop must measure for `kind` other than clicks: the fields of form errors."""
    if kind == "form_error":
        return fact_arrays.signal_targets(index, sel, kind)
    return {}


def _describe(sel: Selection, kind: str, width: int) -> str:
    parts = {"site": sel.site, "url": sel.pattern, "type": kind, "width": width, "device": sel.device,
             "min_width": sel.min_width, "max_width": sel.max_width, "from": sel.start, "to": sel.end}  # fmt: skip
    described = "&".join(f"{k}={v}" for k, v in parts.items() if v is not None)
    return described + "".join(f"&{k}={v}" for k, v in sel.filters)


def wanted_selectors(targets: Mapping[tuple[str, str], int]) -> list[str]:
    """The elements whose boxes the backdrop measures: the most clicked targets, and anchors
    (fallbacks, when a target is gone), clicks per (selector, anchor) summed; ties by name."""
    wanted: Counter[str] = Counter()
    for (selector, anchor), n in targets.items():
        wanted[selector] += n
        if anchor:
            wanted[anchor] += n
    return [s for s, _ in sorted(wanted.items(), key=lambda item: (-item[1], item[0]))[:MAX_SELECTORS]]


def click_targets(clicks: list[dict[str, Any]]) -> dict[tuple[str, str], int]:
    """Clicks per (selector, anchor) of click rows (as index/fact_arrays.click_targets counts them)."""
    return dict(Counter((c["selector"], c.get(ANCHOR_COLUMN) or "") for c in clicks))


def _place(clicks: list[dict[str, Any]], bd: Backdrop) -> tuple[np.ndarray, np.ndarray, int, int]:
    """Each click at its offset inside its element's box in the backdrop.

    Boxes are measured with the window at the top and inner scroll containers where the
    visitors had them: a fixed element's box is its place in the first viewport (clicks on it
    at any scroll land there), an element inside a scrolled sidebar or table is where that
    container shows it. Elements hidden, or scrolled out of their container's view, are counted
    as hidden and not drawn. Clicks whose element is not in the backdrop go to the same offset
    from their nearest anchored ancestor (`anchor`, `ax`, `ay`) when that one is there, else to
    their page position, scaled from the visitor's window width to the backdrop's (the same when the
    backdrop was laid out like the visitor's browser).
    """
    xs, ys, hidden, by_position = [], [], 0, 0
    reference = bd.inner_width or bd.width
    for c in clicks:
        box = bd.boxes.get(c["selector"])
        anchor = bd.boxes.get(c.get(ANCHOR_COLUMN) or "") if box is None else None
        if box is not None:
            if box[4]:
                hidden += 1
                continue
            xs.append(box[0] + c["fx"] * box[2])
            ys.append(box[1] + c["fy"] * box[3])
        elif anchor is not None and not anchor[4]:
            # The target is not in the backdrop, its nearest anchored ancestor is: the same offset from it.
            xs.append(anchor[0] + c["ax"])
            ys.append(anchor[1] + c["ay"])
        else:
            ratio = reference / (c["vw"] or reference)
            xs.append(c["px"] * ratio)
            ys.append(c["py"] * ratio)
            by_position += 1
    return np.asarray(xs, dtype=np.float64), np.asarray(ys, dtype=np.float64), hidden, by_position


def _encode(
    bd: Backdrop, values: np.ndarray | None, legend: str, text: dict[str, str], *, ramp: np.ndarray = raster.HEAT,
    signed: bool = False, constant_alpha: int | None = None,
    decorate: Callable[[Image.Image, int], None] | None = None, ticks: list[tuple[float, str]] | None = None,
) -> bytes:  # fmt: skip
    """The PNG: the page with its layer, a tile at a time, then the legend strip under the page.

    Each tile is decoded, covered with its part of the layer and deflated on png_strips' thread
    pool (pillow and zlib release the GIL): on 2 cores, two tiles at once."""

    def tile(png: bytes, top: int, rows: int) -> Callable[[], np.ndarray]:
        def make() -> np.ndarray:
            page = _tile_rows(png, bd.width, rows)
            layer = raster.layer_strip(values, bd.width, bd.height, top, rows, ramp, signed, constant_alpha)
            if layer is None and decorate is None:
                return page
            image = Image.fromarray(page, "RGB")
            if layer is not None:
                image.paste(layer[0], (0, 0), layer[1])
            if decorate is not None:
                decorate(image, top)
            return np.asarray(image)

        return make

    strips: list[np.ndarray | Callable[[], np.ndarray]] = [
        tile(png, top, rows) for png, top, rows in _tiles(bd)
    ]
    strips.append(raster.legend_band(bd.width, legend, ramp, ticks, signed))
    return encode_strips(bd.width, bd.height + raster.LEGEND_BAND, strips, text)


def _tiles(bd: Backdrop) -> Iterator[tuple[bytes, int, int]]:
    """(PNG, top, rows) of each backdrop tile as Backdrop.strips cuts them, from the tiles' headers
    (nothing decoded: the tiles are decoded on the pool, each where it is encoded)."""
    top = 0
    for png in bd.tiles:
        with Image.open(io.BytesIO(png)) as tile:
            rows = max(0, min(tile.height, bd.height - top))
        yield png, top, rows
        top += rows


def _tile_rows(png: bytes, width: int, rows: int) -> np.ndarray:
    """A tile's first `rows` rows, `width` px wide (cut, or padded white as Backdrop.strips pads)."""
    with Image.open(io.BytesIO(png)) as tile:
        # A tile is RGB as Chromium's screenshots are: converted only when not (a copy of 9 MB).
        pixels = np.asarray(tile if tile.mode == "RGB" else tile.convert("RGB"))[:rows, :width]
    if pixels.shape[1] < width:
        pixels = np.pad(pixels, ((0, 0), (0, width - pixels.shape[1]), (0, 0)), constant_values=255)
    return pixels


def placed_rows(clicks: list[dict[str, Any]], bd: Backdrop) -> Placed:
    """Click rows placed by `_place` and binned (the row path; the index places in SQL the same way)."""
    xs, ys, hidden, by_position = _place(clicks, bd)
    cells = raster.cells(xs, ys, bd.width, bd.height)
    return Placed(cells, counted=len(clicks), drawn=len(xs), hidden=hidden, by_position=by_position)


def placed_move_rows(moves: list[dict[str, Any]], bd: Backdrop) -> Placed:
    # Moves carry no element: page coordinates scaled from the visitor's window to the backdrop's.
    reference = bd.inner_width or bd.width
    xs = np.asarray([m["x"] * reference / (m["vw"] or reference) for m in moves], dtype=np.float64)
    ys = np.asarray([m["y"] * reference / (m["vw"] or reference) for m in moves], dtype=np.float64)
    n = len(moves)
    return Placed(raster.cells(xs, ys, bd.width, bd.height), counted=n, drawn=n, by_position=n)


def _number(value: float) -> str:
    """A count for a legend: 0, 3, 12, 1.5k (never more digits than the scale can tell)."""
    if value >= 10_000:
        return f"{value / 1000:.0f}k"
    if value >= 1000:
        return f"{value / 1000:.1f}k"
    return f"{value:.0f}" if value >= 10 or value == 0 else f"{value:.1f}".rstrip("0").rstrip(".")


def _percent(value: float) -> str:
    return f"{value:.0f}%" if value >= 10 or value == 0 else f"{value:.1f}%"


def _sequential_legend(
    title: str, grid: np.ndarray, radius: float, views: int, unit_name: str
) -> dict[str, Any]:
    """The numeric scale of a heat ramp: the count on one spot that each colour stands for, and
    that count as a share of the selection's page views."""
    unit, cap = raster.scale_of(grid, radius) if grid.max() > 0 else (1.0, 2.0)
    ticks = []
    for position in (0.0, 0.25, 0.5, 0.75, 1.0):
        n = raster.clicks_at(position, unit, cap) if grid.max() > 0 else 0.0
        ticks.append({"position": position, unit_name: round(n, 2),
                      "percent_of_page_views": round(100 * n / views, 2) if views else None})  # fmt: skip
    return {"type": "sequential", "title": title, "unit": f"{unit_name} on one spot", "page_views": views,
            "ticks": ticks, "colours": _colours(raster.HEAT)}  # fmt: skip


def _colours(ramp: np.ndarray) -> list[str]:
    """The ramp at 0, 1/4, ... 1 as CSS colours (the viewer's HTML legend draws the same gradient)."""
    return [
        "#{:02x}{:02x}{:02x}".format(*tuple(int(v) for v in ramp[min(255, int(p * 255))]))
        for p in (0, 0.25, 0.5, 0.75, 1)
    ]


def _tick_labels(legend: dict[str, Any], unit_name: str) -> list[tuple[float, str]]:
    out = []
    for t in legend["ticks"]:
        label = _number(t[unit_name]) + (" +" if t["position"] == 1.0 and t[unit_name] else "")
        if t.get("percent_of_page_views") is not None:
            label += "\n" + _percent(t["percent_of_page_views"]) + " of views"
        out.append((t["position"], label))
    return out


def _click_map(
    clicks: Placed | list, bd: Backdrop, radius: float, kind: str, other, text: dict[str, str], *,
    views: int = 0, other_views: int = 0, labels: tuple[str, str] = ("A", "B"), name: str = "",
) -> Heatmap:  # fmt: skip
    """Clicks placed by the index (Placed), or click rows (placed here by `_place`); with `name`,
    placed signals (thrash, form_error) called that in the legend."""
    placed = clicks if isinstance(clicks, Placed) else placed_rows(clicks, bd)
    grid = raster.density_of_cells(placed.cells, bd.width, bd.height, radius)
    signal = bool(name)
    name = name or ("clicks" if kind == "click" else f"{kind} clicks")
    unit_name = "episodes" if signal else "clicks"
    if other is not None:
        theirs = other if isinstance(other, Placed) else placed_rows(other, bd)
        other_grid = raster.density_of_cells(theirs.cells, bd.width, bd.height, radius)
        diff = grid / max(placed.drawn, 1) - other_grid / max(theirs.drawn, 1)
        peak = float(np.abs(diff).max()) or 1.0
        values = diff / peak
        # One click's peak is the unit: peak / unit is the difference of the share of each side's
        # clicks on one spot, shown in percentage points.
        unit = float(raster.scale_of(grid, radius)[0])
        top = 100 * peak / unit if np.abs(diff).max() > 0 else 0.0
        ticks = [
            {"position": p, "difference_pp": round(top * (2 * p - 1), 2)} for p in (0, 0.25, 0.5, 0.75, 1)
        ]
        title = (f"{name}: red = more in {labels[0]} ({placed.drawn}), blue = more in {labels[1]} ({theirs.drawn});"
                 f" difference in % of each side's {'signals' if signal else 'clicks'} on one spot")  # fmt: skip
        legend = {"type": "diverging", "title": title, "unit": "percentage points of each side's clicks on one spot",
                  "ticks": ticks, "colours": _colours(raster.DIVERGING),
                  "a": {"label": labels[0], "clicks": placed.drawn, "page_views": views},
                  "b": {"label": labels[1], "clicks": theirs.drawn, "page_views": other_views}}  # fmt: skip
        marks = [(t["position"], ("+" if t["difference_pp"] > 0 else "−" if t["difference_pp"] < 0 else "")
                  + f"{abs(t['difference_pp']):.2g} pp") for t in ticks]  # fmt: skip
        png = _encode(bd, values, title, text, ramp=raster.DIVERGING, signed=True, ticks=marks)
    else:
        values = raster.normalise(grid, radius)
        title = f"{_counted(placed.counted, name)} on {_page_views(views)}"
        unplaced = placed.counted - placed.drawn - placed.hidden
        if kind == "form_error" and (placed.hidden or unplaced):
            title += f" ({placed.hidden} on hidden fields, {unplaced} on fields not in this page state)"
        elif not signal and (placed.hidden or placed.by_position):
            title += f" ({placed.hidden} on hidden elements, {placed.by_position} placed by position)"
        legend = _sequential_legend(title, grid, radius, views, unit_name)
        png = _encode(bd, values, title, text, ticks=_tick_labels(legend, unit_name))
    result = Heatmap(
        png,
        kind,
        bd.width,
        bd.height,
        placed.counted,
        placed.drawn,
        placed.hidden,
        placed.by_position,
        values,
    )
    result.legend = legend
    return result


def _page_views(n: int) -> str:
    return "1 page view" if n == 1 else f"{n} page views"


def _counted(n: int, plural: str) -> str:
    """'3 clicks', '1 click', '1 form error (submit attempts ...)': the noun is the last word
    before any parenthesis."""
    if n != 1:
        return f"{n} {plural}"
    head, paren, tail = plural.partition(" (")
    return f"1 {head[:-1] if head.endswith('s') else head}{paren}{tail}"


def _move_map(
    moves: Placed | list, bd: Backdrop, radius: float, text: dict[str, str], *, views: int = 0
) -> Heatmap:
    """Pointer samples placed by the index (Placed), or move rows (placed here)."""
    placed = moves if isinstance(moves, Placed) else placed_move_rows(moves, bd)
    grid = raster.density_of_cells(placed.cells, bd.width, bd.height, radius)
    values = raster.normalise(grid, radius)
    title = f"{placed.counted} pointer positions (one every 250 ms) on {_page_views(views)}"
    legend = _sequential_legend(title, grid, radius, views, "positions")
    png = _encode(bd, values, title, text, ticks=_tick_labels(legend, "positions"))
    result = Heatmap(png, "move", bd.width, bd.height, placed.counted, placed.counted, values=values)
    result.legend = legend
    return result


def _band_map(
    bands: tuple[np.ndarray, np.ndarray], grid: Grid, bd: Backdrop, text: dict[str, str], *, views: int = 0
) -> Heatmap:
    """Excessive scrolling as a per-row map (like the scroll map): each episode covers the rows of
    the window it happened in; a row's value is the episodes that covered it, over the most any did."""
    first, last = bands
    marks = np.zeros(grid.rows + 1, dtype=np.int64)
    np.add.at(marks, first, 1)
    np.add.at(marks, last + 1, -1)
    per_row = np.cumsum(marks[:-1]).astype(np.float32)
    peak = float(per_row.max()) if per_row.size else 0.0
    values = (per_row / peak if peak else per_row)[:, None]
    n = int(first.size)
    title = f"{_counted(n, SIGNAL_NAMES['excessive_scroll'])} on {_page_views(views)}: the window each happened in"
    ticks = [{"position": p, "episodes": round(p * peak, 2),
              "percent_of_page_views": round(100 * p * peak / views, 2) if views else None}
             for p in (0, 0.25, 0.5, 0.75, 1)]  # fmt: skip
    legend = {"type": "sequential", "title": title, "unit": "episodes whose window covered this depth",
              "page_views": views, "ticks": ticks, "colours": _colours(raster.HEAT)}  # fmt: skip
    if peak:
        # The depths (CSS px of the backdrop) most episodes covered: the band to look at.
        rows = np.nonzero(per_row == peak)[0]
        legend["band"] = [float(rows[0] * grid.scale), float(min((rows[-1] + 1) * grid.scale, bd.height))]
    png = _encode(bd, values, title, text, constant_alpha=110, ticks=_tick_labels(legend, "episodes"))
    result = Heatmap(png, "excessive_scroll", bd.width, bd.height, n, n, values=values)
    result.legend = legend
    return result


def scroll_lines(
    views: list[dict[str, Any]], height: float, reference: float | None = None
) -> dict[str, float]:
    """The average fold and the depths 75 %, 50 %, 25 % of `views` reached (deepest scroll + viewport
    height), in CSS px of `reference` wide (None: each page view's own px, for one device class)."""
    depths, folds = [], []
    for v in views:
        ratio = reference / (v["vw"] or reference) if reference else 1.0
        view_h = (v["vh"] or 0) * ratio
        depths.append(((v["max_scroll_y"] or 0) * ratio) + view_h)
        folds.append(view_h)
    depths_arr = np.sort(np.asarray(depths, dtype=np.float64))
    lines = {"fold": round(float(np.mean(folds)), 1) if folds else 0.0}
    n = len(depths_arr)
    for share in (0.75, 0.5, 0.25):
        # The deepest y that at least `share` of page views reached.
        k = int(np.ceil(share * n)) if n else 0
        lines[f"{int(share * 100)}%"] = round(float(min(depths_arr[n - k], height)), 1) if k else 0.0
    return lines


def _scroll_map(views: list[dict[str, Any]], bd: Backdrop, text: dict[str, str]) -> Heatmap:
    depths = []
    reference = bd.inner_width or bd.width
    for v in views:
        ratio = reference / (v["vw"] or reference)
        depths.append(((v["max_scroll_y"] or 0) * ratio) + (v["vh"] or 0) * ratio)
    depths_arr = np.sort(np.asarray(depths, dtype=np.float64))
    ys = np.arange(bd.height, dtype=np.float64)
    reached = 1 - np.searchsorted(depths_arr, ys, side="left") / max(len(depths_arr), 1)
    lines = {"fold": float(np.mean([(v["vh"] or 0) * reference / (v["vw"] or reference) for v in views]))
             if views else 0.0}  # fmt: skip
    for share in (0.75, 0.5, 0.25):
        below = np.nonzero(reached < share)[0]
        lines[f"{int(share * 100)}%"] = float(below[0]) if below.size else float(bd.height)
    # Per device class, in that class's own CSS px: where its visitors' fold and depths were.
    by_class: dict[str, list[dict[str, Any]]] = {}
    for v in views:
        by_class.setdefault(v.get("device") or "unknown", []).append(v)
    lines_by_device = {name: scroll_lines(vs, float("inf")) for name, vs in sorted(by_class.items())}
    labels = _label_positions(lines, bd.height)
    label_font = raster.font(18)

    def draw_lines(image: Image.Image, top: int) -> None:
        draw = ImageDraw.Draw(image)
        for name, y in lines.items():
            if top - 4 <= y < top + image.height + 4:
                colour = (0, 0, 0) if name == "fold" else (255, 255, 255)
                draw.line([0, y - top, bd.width, y - top], fill=colour, width=3)
                draw.line(
                    [0, y - top + 2, bd.width, y - top + 2],
                    fill=(0, 0, 0) if name != "fold" else (255, 255, 255),
                )
        # Labels at the right edge, each in its own box, pushed apart so none covers another.
        for name, (y, text_) in labels.items():
            if not top - 40 <= y < top + image.height + 40:
                continue
            w = draw.textlength(text_, font=label_font)
            x = max(4, bd.width - w - 20)
            draw.rectangle([x - 8, y - top, x + w + 8, y - top + 28], fill=(20, 20, 20) if name != "fold" else (255, 255, 255),
                           outline=(0, 0, 0))  # fmt: skip
            draw.text(
                (x, y - top + 4),
                text_,
                fill=(255, 255, 255) if name != "fold" else (0, 0, 0),
                font=label_font,
            )

    n = len(views)
    title = f"{n} page views: the share whose screen reached each depth (fold and 75/50/25 % lines marked)"
    ticks = [{"position": p, "percent_of_page_views": round(100 * p, 1), "page_views": round(p * n)}
             for p in (0, 0.25, 0.5, 0.75, 1)]  # fmt: skip
    legend = {"type": "scroll", "title": title, "unit": "% of page views that reached this depth", "page_views": n,
              "ticks": ticks, "colours": _colours(raster.HEAT)}  # fmt: skip
    marks = [
        (t["position"], f"{_percent(t['percent_of_page_views'])}\n{t['page_views']} views") for t in ticks
    ]
    png = _encode(bd, reached[:, None], title, text, constant_alpha=110, decorate=draw_lines, ticks=marks)
    result = Heatmap(png, "scroll", bd.width, bd.height, n, n)
    result.lines = lines
    result.lines_by_device = lines_by_device
    result.legend = legend
    result.values = reached[:, None]
    return result


def _label_positions(lines: dict[str, float], height: float) -> dict[str, tuple[float, str]]:
    """Where each scroll line's label box goes (its top y) and its text: just under its line, pushed
    down past the box above it (28 px tall, 4 px apart) so labels never overlap."""
    out: dict[str, tuple[float, str]] = {}
    below = -1e9
    for name, y in sorted(lines.items(), key=lambda item: item[1]):
        text = f"fold (average): {y:.0f} px" if name == "fold" else f"{name} of page views reached here"
        place = max(y + 4, below + 4)
        place = min(place, max(0.0, height - 30)) if place > height - 30 else place
        out[name] = (place, text)
        below = place + 28
    return out


# The recorder names the control around a click target (a, button, [role=button], ...) and
# its visible text; clicks recorded before it did have neither, and count for their own target.
CONTROL_COLUMN, TEXT_COLUMN = "control", "text"
ANCHOR_COLUMN = "anchor"  # with ax, ay: the click's offset from its target's nearest anchored ancestor


def _element_row(selector: str) -> dict[str, Any]:
    return {"selector": selector, "text": "", "clicks": 0, "rage": 0, "dead": 0, "error": 0, "inner": []}


def elements_csv(rows: list[dict[str, Any]], described: Mapping[str, Any] | None = None) -> str:
    """The element table as CSV; `inner` lists the parts clicked inside a control (selector=count; ...).

    With `described` (Selection.describe()), the file starts with comment lines naming the
    heatmap's filter: `# sessionlens heatmap elements`, `# filter: <query string>` and one
    `# <name>: <value>` line each (recorded text in them is made single-line)."""
    out = io.StringIO()
    if described is not None:
        out.write("# sessionlens heatmap elements\n")
        pairs = [(k, v) for k, v in described.items() if k != "filters"]
        pairs += [(k, v) for k, v in described.get("filters", [])]
        out.write("# filter: " + _one_line(urlencode([(k, str(v)) for k, v in pairs], safe="/*:,")) + "\n")
        for k, v in pairs:
            out.write(f"# {_one_line(str(k))}: {_one_line(str(v))}\n")
    csv.writer(out).writerow(["selector", "text", "clicks", "share", "rage", "dead", "error", "inner"])
    # With the comment header, text is quoted and numbers not: no data line starts with "#" (a
    # selector like #buy), so readers that skip comment lines (pandas comment="#") keep every row.
    writer = csv.writer(out, quoting=csv.QUOTE_NONNUMERIC if described is not None else csv.QUOTE_MINIMAL)
    for r in rows:
        inner = "; ".join(f"{p['selector']}={p['clicks']}" for p in r.get("inner", ()))
        writer.writerow(
            [_cell(r["selector"]), _cell(r.get("text", "")), r["clicks"], r["share"], r["rage"], r["dead"],
             r["error"], _cell(inner)]
        )  # fmt: skip
    return out.getvalue()


def _one_line(text: str) -> str:
    """Text for a comment line: no line breaks (they would end the comment and start a row)."""
    return re.sub(r"[\r\n\x00-\x1f]", " ", text)
