"""The ingest endpoint: CORS, site and origin checks, size limits, then
hand the body to sessionlens.ingest in a worker thread."""

from __future__ import annotations

import asyncio
import logging

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from sessionlens.ingest import IngestError, ingest_batch
from sessionlens.responses import JSON, error
from sessionlens.sites import Site
from sessionlens.stores.base import StoreError
from sessionlens.surveys.public import ack_headers

log = logging.getLogger(__name__)


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
    try:
        site = registry.get(request.path_params["site"])
    except Exception as exc:
        # Site settings live in the blob store: an outage there is a 503 the
        # recorder retries, not a 500.
        if not isinstance(exc, StoreError):
            log.exception("site lookup failed")
        raise IngestError(
            503, f"storage unavailable: {exc}", retry_after=request.app.state.settings.retry_after_seconds
        ) from None
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
        return _refusal(request, exc, {})
    return Response(status_code=204, headers=_cors_headers(origin))


def _refusal(request: Request, exc: IngestError, cors: dict[str, str]) -> Response:
    headers = dict(cors)
    if exc.retry_after is not None:
        origin = request.headers.get("origin")
        if not cors and origin:
            # The site (and so its origins) could not be read: let the
            # recorder read this 503 and retry. It carries no data.
            headers = _cors_headers(origin)
        headers["Retry-After"] = str(exc.retry_after)
    if exc.status == 408:
        headers["Connection"] = "close"
    return error(exc.status, exc.message, headers)


async def _read_body(request: Request, limit: int, timeout: float) -> bytes:
    """The whole body within ``timeout`` seconds (a slow client holds a
    connection and memory), at most ``limit`` bytes."""
    try:
        async with asyncio.timeout(timeout):
            return await _read_limited(request, limit)
    except TimeoutError:
        raise IngestError(408, f"request body not received within {timeout:g} seconds") from None


async def _read_limited(request: Request, limit: int) -> bytes:
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
        body = await _read_body(request, state.settings.max_body_bytes, state.settings.body_timeout_seconds)
        if not body:
            raise IngestError(400, "empty body")
        accepted = await run_in_threadpool(
            ingest_batch,
            site=site.key,
            body=body,
            content_encoding=request.headers.get("content-encoding", ""),
            user_agent=request.headers.get("user-agent", ""),
            # Only a header the operator named is trusted (their proxy sets it); unset: no country.
            country=request.headers.get(state.settings.country_header, "")
            if state.settings.country_header
            else None,
            settings=state.settings,
            store=state.store,
            index=state.index,
        )
    except IngestError as exc:
        return _refusal(request, exc, cors)
    except Exception as exc:
        # Every failure is a JSON 4xx for the recorder; the bug is in the log.
        log.exception("ingest failed unexpectedly")
        return error(422, f"batch could not be processed ({type(exc).__name__})", cors)
    state.derivation.nudge()  # the work row was recorded with the chunk; this only wakes the worker
    if await state.surveys.has_active(site.key):  # cached per site: the recorder loads the widget
        cors = {**cors, **ack_headers(state.settings.survey_widget_path)}
    return JSON({"ok": True, "seq": accepted.seq, "events": accepted.events}, headers=cors)
