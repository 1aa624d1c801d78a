"""Read APIs behind login: sessions, timelines, page-view state and events."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from sessionlens.auth.users import TOKEN_SCOPES
from sessionlens.params import PAGE_EVENTS, PAGE_STATE, SESSION
from sessionlens.replay.element_paths import enriched_events
from sessionlens.replay.pageview import PageViewNotFound, PageViewReader
from sessionlens.replay.sanitize import Sanitizer
from sessionlens.responses import JSON, ParamError, error
from sessionlens.session_search import SessionFilter, search_sessions
from sessionlens.viewer.inspector import inspect_events
from sessionlens.viewer.timeline import session_timeline


def _sanitizer(request: Request) -> Sanitizer:
    # The viewer's own origin, as the browser sees it: URLs there are refused
    # in replays, because requests to it would carry the researcher's cookies.
    origins = {f"{request.url.scheme}://{request.headers.get('host', '')}"}
    origins.add(request.app.state.settings.collector_url)
    return Sanitizer(origins)


def _site_of(request: Request, sid: str) -> str | None:
    session = request.app.state.index.session(sid, request.query_params.get("site") or None)
    return session["site"] if session else None


async def me(request: Request) -> Response:
    return JSON({"user": request.scope["user"], "csrf": request.scope.get("csrf")})


async def sites(request: Request) -> Response:
    found = await run_in_threadpool(request.app.state.sites.all)
    return JSON({"sites": [{"key": s.key, "name": s.name} for s in found]})


async def sessions(request: Request) -> Response:
    try:
        f = SessionFilter.from_query(request.query_params)
    except ParamError as exc:
        return error(400, str(exc))
    return JSON(await run_in_threadpool(search_sessions, request.app.state.index, f))


async def session(request: Request) -> Response:
    sid = request.path_params["sid"]
    try:
        markers = SESSION.parse(request.query_params)["markers"]
    except ParamError as exc:
        return error(400, str(exc))
    site = _site_of(request, sid)
    if site is None:
        return error(404, f"no session {sid}")
    state = request.app.state
    timeline = await run_in_threadpool(session_timeline, state.index, state.reader, site, sid, bool(markers))
    return JSON(timeline)


async def _page_view_json(
    request: Request, build: Callable[[PageViewReader, tuple[str, str, str], Sanitizer], dict[str, Any]]
) -> Response:
    """A sanitised answer about one page view, or 404 naming what is missing."""
    sid, pid = request.path_params["sid"], request.path_params["pid"]
    site = _site_of(request, sid)
    if site is None:
        return error(404, f"no session {sid}")
    try:
        body = await run_in_threadpool(build, request.app.state.reader, (site, sid, pid), _sanitizer(request))
    except PageViewNotFound as exc:
        return error(404, str(exc))
    return JSON(body)


async def page_state(request: Request) -> Response:
    """A keyframe at or before ?at= and the events from it up to ?at= (sanitised)."""
    try:
        at = PAGE_STATE.parse(request.query_params)["at"]
    except ParamError as exc:
        return error(400, str(exc))
    if at is None:
        return error(400, f"at is required: a whole number {PAGE_STATE.bound('at').range_text()} ms")

    def build(reader: PageViewReader, pv: tuple[str, str, str], clean: Sanitizer) -> dict[str, Any]:
        frame, rest = reader.state_at(*pv, at)
        return {"keyframe": clean.keyframe(frame), "events": clean.events(rest)}

    return await _page_view_json(request, build)


async def page_events(request: Request) -> Response:
    """Events with after < t <= until, for playing on from a state."""
    try:
        n = PAGE_EVENTS.parse(request.query_params)
    except ParamError as exc:
        return error(400, str(exc))
    after, until, limit = n["after"], n["until"], n["limit"]

    def build(reader: PageViewReader, pv: tuple[str, str, str], clean: Sanitizer) -> dict[str, Any]:
        events, more, end = reader.events_between(*pv, after, until, limit)
        return {"events": clean.events(events), "more": more, "end": end}

    return await _page_view_json(request, build)


async def page_inspect(request: Request) -> Response:
    """The page view's console, network and form entries for the player's panes (viewer/inspector.py)."""

    def build(reader: PageViewReader, pv: tuple[str, str, str], clean: Sanitizer) -> dict[str, Any]:
        if not reader.chunk_seqs(*pv):
            raise PageViewNotFound(f"no page view {pv[2]}")
        return inspect_events(event for _, event in enriched_events(reader.events(*pv)))

    return await _page_view_json(request, build)


async def create_token(request: Request) -> Response:
    """A new API token for the caller; "read" scope unless "admin" is asked for.

    Only a login session or an admin token gets here (RequireLogin refuses
    state changes made with a read token).
    """
    try:
        body = await request.json()
    except ValueError:
        body = None
    if (
        not isinstance(body, dict)
        or not isinstance(body.get("label", ""), str)
        or body.get("scope", "read") not in TOKEN_SCOPES
    ):
        return error(400, 'send JSON like {"label": "nightly export", "scope": "read"} (scope: read or admin)')
    scope = body.get("scope", "read")
    token = await run_in_threadpool(
        request.app.state.accounts.create_token, request.scope["user"], body.get("label", "")[:100], scope
    )
    return JSON({"token": token, "user": request.scope["user"], "scope": scope}, status_code=201)
