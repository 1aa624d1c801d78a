"""JSON responses and query parameters shared by the collector and the viewer."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response


class JSON(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def error(status: int, message: str, headers: dict[str, str] | None = None) -> JSON:
    """Every refusal looks the same: {"error": "what was wrong"}."""
    return JSON({"error": message}, status_code=status, headers=headers)


class ParamError(ValueError):
    """A query parameter is missing or malformed; the message names it.

    Numeric parameters are parsed by sessionlens.params, from one table of bounds.
    """
