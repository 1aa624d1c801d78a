"""JSON responses and query parameters shared by the collector and the viewer."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response


class JSON(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def error(status: int, message: str, headers: dict[str, str] | None = None) -> JSON:
    """Every refusal looks the same: {"error": "what was wrong"}."""
    return JSON({"error": message}, status_code=status, headers=headers)


class ParamError(ValueError):
    """A query parameter is missing or malformed; the message names it."""


def query_int(request: Request, name: str, default: int | None = None) -> int | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(float(raw))
    except ValueError:
        raise ParamError(f"{name} must be a number, got {raw!r}") from None
