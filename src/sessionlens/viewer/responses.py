"""JSON in and out of the viewer's API."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response


class JSON(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def error(status: int, message: str) -> JSON:
    return JSON({"error": message}, status_code=status)
