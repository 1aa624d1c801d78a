"""Heatmap endpoints: the image, its top elements, and the sessions behind a spot."""

from __future__ import annotations

import re
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from sessionlens.heatmap.backdrop import BackdropConfig, BackdropUnavailable
from sessionlens.heatmap.moments import moment_strip, thumbnail_png
from sessionlens.heatmap.render import (
    CLICK_KINDS,
    COMPARE_KEYS,
    KINDS,
    NoData,
    Selection,
    build_heatmap,
    compare_pairs,
    elements_csv,
    query_pairs,
    resolve_device,
    side_label,
)
from sessionlens.index.heatmaps import spot_clicks
from sessionlens.params import HEATMAP_IMAGE, HEATMAP_MOMENTS, HEATMAP_THUMBNAIL
from sessionlens.responses import JSON, ParamError, error
from sessionlens.saved_docs import DocNotFound, SavedDocs
from sessionlens.session_search import FilterError

_IMAGE_KEYS = frozenset(
    {
        "type",
        "width",
        "radius",
        "pid",
        "at",
        "side",
        "format",
        "selector",
        "label_a",
        "label_b",
        *COMPARE_KEYS,
    }
)
_THUMBNAIL_KEYS = {"site", "sid", "pid", "at", "width"}
_PAGE_VIEW_ID = re.compile(r"[A-Za-z0-9_-]{8,64}")  # as in the batch schema (session ids too)
_SIDES = ("diff", "a", "b")


def _segments(request: Request):
    """Saved segments of a site by id (viewer/segments.py stores them): their (name, value) pairs."""
    docs = SavedDocs(request.app.state.store, request.app.state.index)

    def lookup(site: str, doc_id: str) -> list[tuple[str, str]]:
        try:
            doc = docs.get("segment", site, doc_id)
        except DocNotFound:
            raise LookupError(doc_id) from None
        return [(str(k), str(v)) for k, v in doc.body.get("filters", [])]

    return lookup


def _selection(request: Request) -> Selection:
    return Selection.from_query(request.query_params, _segments(request), _IMAGE_KEYS)


def _width(request: Request) -> int:
    return HEATMAP_MOMENTS.parse(request.query_params)["width"]


def _id(request: Request, name: str, required: bool = False) -> str | None:
    value = request.query_params.get(name)
    if value is None and not required:
        return None
    if value is None or not _PAGE_VIEW_ID.fullmatch(value):
        what = "a page view id" if name == "pid" else "a session id"
        raise ParamError(f"{name} must be {what} (8 to 64 of A-Z a-z 0-9 _ -)")
    return value


def _empty(exc: NoData) -> Response:
    """The empty state: an explicit JSON answer (never a broken image) naming the filters."""
    return JSON({"error": str(exc), "empty": True, "filter": exc.filter}, status_code=404)


def _label(request: Request, name: str, default: str) -> str:
    value = request.query_params.get(name) or default
    if len(value) > 80 or any(ord(ch) < 32 for ch in value):
        raise ParamError(f"{name} must be a short label (at most 80 printable characters)")
    return value


async def image(request: Request) -> Response:
    """The map as a PNG (legend strip under the page), or with format=json what it shows.

    A comparison (any compare_* parameter) is drawn as a difference map (side=diff, the default)
    or as either side alone (side=a, side=b: the same backdrop, for side-by-side viewing)."""
    state = request.app.state
    q = request.query_params
    try:
        sel = _selection(request)
        n = HEATMAP_IMAGE.parse(q)
        side = q.get("side", "diff")
        if side not in _SIDES:
            raise ParamError(f"side must be one of {', '.join(_SIDES)}")
        fmt = q.get("format", "png")
        if fmt not in ("png", "json"):
            raise ParamError("format must be png or json")
        compare = backdrop_from = None
        b_pairs = compare_pairs(q)
        labels = None
        if b_pairs is not None:
            compare = Selection.from_query(dict(_group(b_pairs)), _segments(request), _IMAGE_KEYS)
            a_pairs = query_pairs(q)
            labels = (_label(request, "label_a", side_label(a_pairs, b_pairs)),
                      _label(request, "label_b", side_label(b_pairs, a_pairs)))  # fmt: skip
            if side == "b":  # drawn over A's page view: the two sides side by side show the same page
                backdrop_from, sel, compare = sel, compare, None
            elif side == "a":
                compare = None
        pid = _id(request, "pid")
        result = await run_in_threadpool(
            build_heatmap, state.index, state.store, state.reader, sel, q.get("type", "click"),
            n["width"], n["radius"], pid, n["at"], compare, backdrops=BackdropConfig.from_settings(state.settings),
            labels=labels, backdrop_from=backdrop_from,
        )  # fmt: skip
    except ParamError as exc:
        return error(400, str(exc))
    except BackdropUnavailable as exc:  # the operator's to fix: say what is missing
        return error(503, str(exc))
    except NoData as exc:
        return _empty(exc)
    except LookupError as exc:
        return error(404, str(exc))
    if fmt == "json":
        return JSON(result.summary())
    headers = {
        "X-Heatmap-Counted": str(result.counted),
        "X-Heatmap-Hidden": str(result.hidden),
        "X-Heatmap-Backdrop": "/".join(map(str, result.backdrop)),
        "Content-Disposition": f'inline; filename="heatmap-{result.kind}.png"',
        **result.headers(),
    }
    return Response(result.png, media_type="image/png", headers=headers)


def _group(pairs: list[tuple[str, str]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for k, v in pairs:
        out.setdefault(k, []).append(v)
    return out


async def elements(request: Request) -> Response:
    """Top elements; the file names the heatmap's filter (CSV comment lines, JSON `filter`)."""
    state = request.app.state
    try:
        sel = _selection(request)
        kind = request.query_params.get("type", "click")
        if kind not in KINDS:
            raise ParamError(f"type must be one of {', '.join(KINDS)}")
        kind = kind if kind in CLICK_KINDS else "click"
        sel = await run_in_threadpool(resolve_device, state.index, sel, _width(request), _id(request, "pid"))
        rows = await run_in_threadpool(sel.elements, state.index, kind)
    except ParamError as exc:
        return error(400, str(exc))
    described = {**sel.describe(), "type": kind}
    if request.query_params.get("format") == "csv":
        return Response(
            elements_csv(rows, described),
            media_type="text/csv",
            headers={"Content-Disposition": 'attachment; filename="heatmap-elements.csv"'},
        )
    return JSON({"filter": described, "elements": rows, "total": sum(r["clicks"] for r in rows)})


async def spot_sessions(request: Request) -> Response:
    """Sessions with clicks on one element of the selection (a hot spot), each click with its
    moment on the session's clock and a link opening the replay there."""
    state = request.app.state
    try:
        sel = _selection(request)
        selector = request.query_params.get("selector")
        if not selector or len(selector) > 2000:
            raise FilterError("selector is required (at most 2,000 characters)")
        kind = request.query_params.get("type", "click")
        if kind not in KINDS:
            raise ParamError(f"type must be one of {', '.join(KINDS)}")
        kind = kind if kind in CLICK_KINDS else "click"
        sel = await run_in_threadpool(resolve_device, state.index, sel, _width(request), _id(request, "pid"))
        clicks = await run_in_threadpool(spot_clicks, state.index, sel, kind, selector)
    except ParamError as exc:
        return error(400, str(exc))
    sessions: dict[str, dict] = {}
    for c in sorted(clicks, key=lambda c: (c["sid"], c["st"])):
        row = sessions.setdefault(
            c["sid"],
            {"sid": c["sid"], "clicks": 0, "first_t": c["t"], "pid": c["pid"], "t": c["st"], "moments": [],
             "replay": _replay(c["sid"], c["st"], sel.site)},
        )  # fmt: skip
        row["clicks"] += 1
        row["moments"].append({"pid": c["pid"], "t": c["st"], "replay": _replay(c["sid"], c["st"], sel.site)})
    rows = sorted(sessions.values(), key=lambda r: (-r["clicks"], r["sid"]))
    return JSON({"filter": {**sel.describe(), "type": kind}, "selector": selector, "sessions": rows})


def _replay(sid: str, t: int, site: str) -> str:
    """The player at the click: ?t= is ms on the session's clock; a second earlier shows the approach."""
    return f"/sessions/{quote(sid, safe='')}?t={max(0, t - 1000)}&site={quote(site, safe='')}"


async def moments(request: Request) -> Response:
    """The moment picker: candidate moments of the page view a heatmap is drawn over.

    The page view is the one `image` would choose (or `pid`); each moment comes
    with the URL of its thumbnail, and the one the heatmap uses by default is marked.
    """
    state = request.app.state
    try:
        sel = _selection(request)
        n = HEATMAP_MOMENTS.parse(request.query_params)
        pid = _id(request, "pid")
        strip = await run_in_threadpool(moment_strip, state.index, state.reader, sel, n["width"], pid)
    except ParamError as exc:
        return error(400, str(exc))
    except LookupError as exc:
        return error(404, str(exc))
    return JSON(strip)


async def thumbnail(request: Request) -> Response:
    """A small PNG of one page view at one moment (the first viewport, as the backdrop renders it)."""
    state = request.app.state
    q = request.query_params
    try:
        unknown = sorted(set(q) - _THUMBNAIL_KEYS)
        if unknown:
            raise ParamError(f"unknown parameter {unknown[0]!r}")
        if not q.get("site"):
            raise ParamError("site is required (a site key)")
        sid, pid = _id(request, "sid", required=True), _id(request, "pid", required=True)
        n = HEATMAP_THUMBNAIL.parse(q)
        if n["at"] is None:
            raise ParamError("at is required (ms on the page view's clock)")
        png = await run_in_threadpool(
            thumbnail_png, state.index, state.store, state.reader, q["site"], sid, pid, n["at"], n["width"],
            BackdropConfig.from_settings(state.settings),
        )  # fmt: skip
    except ParamError as exc:
        return error(400, str(exc))
    except BackdropUnavailable as exc:
        return error(503, str(exc))
    except LookupError as exc:
        return error(404, str(exc))
    return Response(png, media_type="image/png", headers={"Cache-Control": "private, max-age=3600"})
