"""Read APIs behind login: sessions, timelines, page-view state and events."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from sessionlens.replay.sanitize import Sanitizer
from sessionlens.session_search import FilterError, SessionFilter, search_sessions
from sessionlens.viewer.responses import JSON, error
from sessionlens.viewer.timeline import session_timeline

MAX_EVENTS_PER_RESPONSE = 20_000


def _sanitizer(request: Request) -> Sanitizer:
    # The viewer's own origin, as the browser sees it: URLs there are refused
    # in replays, because requests to it would carry the researcher's cookies.
    origins = {f"{request.url.scheme}://{request.headers.get('host', '')}"}
    origins.add(request.app.state.settings.collector_url)
    return Sanitizer(origins)


def _int_param(request: Request, name: str, default: int | None = None) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        if default is None:
            raise FilterError(f"{name} is required (milliseconds)")
        return default
    try:
        return int(float(raw))
    except ValueError:
        raise FilterError(f"{name} must be a number of milliseconds, got {raw!r}") from None


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
    except FilterError as exc:
        return error(400, str(exc))
    return JSON(await run_in_threadpool(search_sessions, request.app.state.index, f))


async def session(request: Request) -> Response:
    sid = request.path_params["sid"]
    site = _site_of(request, sid)
    if site is None:
        return error(404, f"no session {sid}")
    state = request.app.state
    return JSON(await run_in_threadpool(session_timeline, state.index, state.reader, site, sid))


def _page_view(request: Request) -> tuple[str, str, str] | Response:
    sid, pid = request.path_params["sid"], request.path_params["pid"]
    site = _site_of(request, sid)
    if site is None:
        return error(404, f"no session {sid}")
    if not request.app.state.reader.chunk_seqs(site, sid, pid):
        return error(404, f"no page view {pid} in session {sid}")
    return site, sid, pid


async def page_state(request: Request) -> Response:
    """A keyframe at or before ?at= and the events from it up to ?at= (sanitised)."""
    try:
        at = _int_param(request, "at")
    except FilterError as exc:
        return error(400, str(exc))
    found = _page_view(request)
    if isinstance(found, Response):
        return found
    clean = _sanitizer(request)

    def build() -> dict:
        frame, rest = request.app.state.reader.state_at(*found, at)
        return {"keyframe": clean.keyframe(frame), "events": clean.events(rest)}

    return JSON(await run_in_threadpool(build))


async def page_events(request: Request) -> Response:
    """Events with after < t <= until, for playing on from a state."""
    try:
        after = _int_param(request, "after", -1)
        until = _int_param(request, "until", 2**53)
        limit = min(_int_param(request, "limit", MAX_EVENTS_PER_RESPONSE), MAX_EVENTS_PER_RESPONSE)
    except FilterError as exc:
        return error(400, str(exc))
    found = _page_view(request)
    if isinstance(found, Response):
        return found
    clean = _sanitizer(request)

    def build() -> dict:
        events, more, end = request.app.state.reader.events_between(*found, after, until, limit)
        return {"events": clean.events(events), "more": more, "end": end}

    return JSON(await run_in_threadpool(build))


async def create_token(request: Request) -> Response:
    try:
        body = await request.json()
    except ValueError:
        body = None
    if not isinstance(body, dict) or not isinstance(body.get("label", ""), str):
        return error(400, 'send JSON like {"label": "nightly export"}')
    token = await run_in_threadpool(
        request.app.state.accounts.create_token, request.scope["user"], body.get("label", "")[:100]
    )
    return JSON({"token": token, "user": request.scope["user"]}, status_code=201)
