"""The ingest endpoint: CORS, site and origin checks, size limits, then
hand the body to sessionlens.ingest in a worker thread."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from sessionlens.ingest import IngestError, ingest_batch
from sessionlens.responses import JSON, error
from sessionlens.sites import Site


def _cors_headers(origin: str) -> dict[str, str]:
    return {
        "Access-Control-Allow-Origin": origin,
        "Access-Control-Allow-Methods": "POST, OPTIONS",
        "Access-Control-Allow-Headers": "Content-Type, Content-Encoding",
        "Access-Control-Max-Age": "600",
        "Vary": "Origin",
    }


def _check_site(request: Request) -> tuple[Site, str]:
    registry = request.app.state.sites
    site = registry.get(request.path_params["site"])
    if site is None:
        raise IngestError(404, "unknown site key")
    origin = request.headers.get("origin")
    if not origin:
        raise IngestError(403, "missing Origin header; batches are accepted from browsers only")
    if not site.allows_origin(origin):
        raise IngestError(403, f"origin {origin} is not allowed for this site")
    return site, origin


async def preflight(request: Request) -> Response:
    try:
        _, origin = _check_site(request)
    except IngestError as exc:
        return error(exc.status, exc.message)
    return Response(status_code=204, headers=_cors_headers(origin))


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise IngestError(400, "invalid Content-Length")
        if int(declared) > limit:
            raise IngestError(413, f"body is larger than {limit} bytes")
    chunks = []
    size = 0
    async for part in request.stream():
        size += len(part)
        if size > limit:
            raise IngestError(413, f"body is larger than {limit} bytes")
        chunks.append(part)
    return b"".join(chunks)


async def ingest(request: Request) -> Response:
    state = request.app.state
    cors: dict[str, str] = {}
    try:
        site, origin = _check_site(request)
        cors = _cors_headers(origin)
        body = await _read_body(request, state.settings.max_body_bytes)
        if not body:
            raise IngestError(400, "empty body")
        accepted = await run_in_threadpool(
            ingest_batch,
            site=site.key,
            body=body,
            content_encoding=request.headers.get("content-encoding", ""),
            user_agent=request.headers.get("user-agent", ""),
            settings=state.settings,
            store=state.store,
            index=state.index,
        )
    except IngestError as exc:
        headers = dict(cors)
        if exc.retry_after is not None:
            headers["Retry-After"] = str(exc.retry_after)
        return error(exc.status, exc.message, headers)
    state.keyframer.schedule(site.key, accepted.sid, accepted.pid)
    return JSON({"ok": True, "seq": accepted.seq, "events": accepted.events}, headers=cors)
