"""What the viewer's saved-document endpoints (notes, collections, segments, funnels) share:
the store-backed documents of a request, a bounded JSON object body, a version from a body,
and the answer for a refused change. Each endpoint keeps its own error class, so a message
names that endpoint's fields.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from sessionlens.responses import JSON, error
from sessionlens.saved_docs import DocConflict, DocNotFound, SavedDocs


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


def refusal(exc: Exception) -> Response:
    """404 for a missing document, 409 (with the current version) for a stale edit, else 400."""
    if isinstance(exc, DocNotFound):
        return error(404, str(exc))
    if isinstance(exc, DocConflict):
        return JSON({"error": str(exc), "version": exc.current}, status_code=409)
    return error(400, str(exc))
