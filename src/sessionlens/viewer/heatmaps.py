"""Heatmap endpoints: the image, its top elements, and the sessions behind a spot."""

from __future__ import annotations

import dataclasses
import re

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from sessionlens.heatmap.backdrop import BackdropConfig, BackdropUnavailable
from sessionlens.heatmap.moments import moment_strip, thumbnail_png
from sessionlens.heatmap.render import Selection, build_heatmap, elements_csv
from sessionlens.params import HEATMAP_IMAGE, HEATMAP_MOMENTS, HEATMAP_THUMBNAIL
from sessionlens.responses import JSON, ParamError, error
from sessionlens.session_search import FilterError

_SELECTION_KEYS = {"site", "url", "device", "min_width", "max_width", "from", "to"}
_IMAGE_KEYS = {"type", "width", "radius", "pid", "at", "compare_from", "compare_to"}
_THUMBNAIL_KEYS = {"site", "sid", "pid", "at", "width"}
_PAGE_VIEW_ID = re.compile(r"[A-Za-z0-9_-]{8,64}")  # as in the batch schema (session ids too)


def _selection(request: Request) -> Selection:
    unknown = sorted(set(request.query_params) - _SELECTION_KEYS - _IMAGE_KEYS - {"format", "selector"})
    if unknown:
        raise FilterError(f"unknown parameter {unknown[0]!r}")
    return Selection.from_query(request.query_params)


def _id(request: Request, name: str, required: bool = False) -> str | None:
    value = request.query_params.get(name)
    if value is None and not required:
        return None
    if value is None or not _PAGE_VIEW_ID.fullmatch(value):
        what = "a page view id" if name == "pid" else "a session id"
        raise ParamError(f"{name} must be {what} (8 to 64 of A-Z a-z 0-9 _ -)")
    return value


async def image(request: Request) -> Response:
    state = request.app.state
    try:
        sel = _selection(request)
        q = request.query_params
        n = HEATMAP_IMAGE.parse(q)
        compare = None
        if n["compare_from"] is not None or n["compare_to"] is not None:
            # The same page, device and widths over another period.
            compare = dataclasses.replace(sel, start=n["compare_from"], end=n["compare_to"])
        pid = _id(request, "pid")
        result = await run_in_threadpool(
            build_heatmap, state.index, state.store, state.reader, sel, q.get("type", "click"),
            n["width"], n["radius"], pid, n["at"], compare, backdrops=BackdropConfig.from_settings(state.settings),
        )  # fmt: skip
    except ParamError as exc:
        return error(400, str(exc))
    except BackdropUnavailable as exc:  # the operator's to fix: say what is missing
        return error(503, str(exc))
    except LookupError as exc:
        return error(404, str(exc))
    headers = {
        "X-Heatmap-Counted": str(result.counted),
        "X-Heatmap-Hidden": str(result.hidden),
        "X-Heatmap-Backdrop": "/".join(map(str, result.backdrop)),
        "Content-Disposition": f'inline; filename="heatmap-{result.kind}.png"',
    }
    return Response(result.png, media_type="image/png", headers=headers)


async def elements(request: Request) -> Response:
    state = request.app.state
    try:
        sel = _selection(request)
        kind = request.query_params.get("type", "click")
        rows = await run_in_threadpool(sel.elements, state.index, kind)
    except ParamError as exc:
        return error(400, str(exc))
    if request.query_params.get("format") == "csv":
        return Response(
            elements_csv(rows),
            media_type="text/csv",
            headers={"Content-Disposition": 'attachment; filename="heatmap-elements.csv"'},
        )
    return JSON({"elements": rows, "total": sum(r["clicks"] for r in rows)})


async def spot_sessions(request: Request) -> Response:
    """Sessions with clicks on one element of the selection (a hot spot)."""
    state = request.app.state
    try:
        sel = _selection(request)
        selector = request.query_params.get("selector")
        if not selector:
            raise FilterError("selector is required")
        kind = request.query_params.get("type", "click")
        clicks = await run_in_threadpool(sel.clicks, state.index, kind, selector)
    except ParamError as exc:
        return error(400, str(exc))
    sessions: dict[str, dict] = {}
    for c in clicks:
        row = sessions.setdefault(
            c["sid"], {"sid": c["sid"], "clicks": 0, "first_t": c["t"], "pid": c["pid"]}
        )
        row["clicks"] += 1
    return JSON({"sessions": sorted(sessions.values(), key=lambda r: -r["clicks"])})


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
