"""What the viewer's saved-document endpoints (notes, collections, segments, funnels) share:
the store-backed documents of a request, a bounded JSON object body, a version from a body,
and the answer for a refused change. Each endpoint keeps its own error class, so a message
names that endpoint's fields.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from sessionlens.responses import JSON, error
from sessionlens.saved_docs import DocConflict, DocNotFound, SavedDoc, SavedDocs


def saved_docs(request: Request) -> SavedDocs:
    return SavedDocs(request.app.state.store, request.app.state.index)


async def json_object(
    request: Request, limit: int, refuse: type[Exception], shape: str = "a JSON object"
) -> dict[str, Any]:
    """The request body as a JSON object of at most `limit` bytes, else `refuse(message)`."""
    raw = await request.body()
    if len(raw) > limit:
        raise refuse(f"request body is larger than {limit} bytes")
    try:
        value = orjson.loads(raw or b"null")
    except orjson.JSONDecodeError as exc:
        raise refuse(f"body is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise refuse(f"body must be {shape}")
    return value


def body_version(value: Any, refuse: type[Exception]) -> int | None:
    """The version an edit was made from (409 when stale), or None for last write wins."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise refuse("version must be a whole number >= 1 (the version you edited)")
    return value


def query_int(
    raw: str | None, name: str, refuse: type[Exception], *, default: int, low: int = 0, high: int
) -> int:
    """A whole-number query parameter (limit, offset, step, version) from `low` to `high`, else
    `refuse(message naming it)`. ASCII digits only: str.isdigit() is also true for '²' or '٣',
    which int() refuses (an unhandled 500) or reads as another number."""
    if raw is None or raw == "":
        return default
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 18 or not low <= int(raw) <= high:
        raise refuse(f"{name} must be a whole number from {low} to {high}, got {raw[:40]!r}")
    return int(raw)


def refusal(exc: Exception) -> Response:
    """404 for a missing document, 409 (with the current version) for a stale edit, else 400."""
    if isinstance(exc, DocNotFound):
        return error(404, str(exc))
    if isinstance(exc, DocConflict):
        return JSON({"error": str(exc), "version": exc.current}, status_code=409)
    return error(400, str(exc))


async def known_site(request: Request, site: Any, refuse: type[Exception]) -> str:
    """`site` when it names an existing site, else `refuse(message)`."""
    if not isinstance(site, str) or not site:
        raise refuse("site must name one of your sites")
    if await run_in_threadpool(request.app.state.sites.get, site) is None:
        raise refuse(f"site {site[:64]!r} does not exist")
    return site


async def list_response(
    request: Request, kind: str, key: str, as_json: Callable[[SavedDoc], dict[str, Any]]
) -> Response:
    """GET ?site=: the saved documents of a kind as {key: [...]}, by name."""
    site = request.query_params.get("site") or None
    docs = await run_in_threadpool(saved_docs(request).list, kind, site)
    return JSON({key: [as_json(d) for d in sorted(docs, key=lambda d: d.name.lower())]})


async def get_response(
    request: Request, kind: str, as_json: Callable[[SavedDoc], dict[str, Any]]
) -> Response:
    """GET /{id}: one saved document, or 404."""
    try:
        doc = await run_in_threadpool(saved_docs(request).get, kind, None, request.path_params["id"])
    except DocNotFound as exc:
        return refusal(exc)
    return JSON(as_json(doc))


async def delete_response(
    request: Request, kind: str, deleted: Callable[[SavedDoc], None] = lambda _doc: None
) -> Response:
    """DELETE /{id}: 204, then `deleted(doc)` (e.g. drop a cache); 404 when there is none."""
    try:
        doc = await run_in_threadpool(saved_docs(request).delete, kind, None, request.path_params["id"])
    except (DocNotFound, DocConflict) as exc:
        return refusal(exc)
    deleted(doc)
    return Response(status_code=204)
