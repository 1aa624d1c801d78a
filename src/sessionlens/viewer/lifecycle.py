"""Erasure and access APIs (behind login and CSRF like the rest of the viewer; tokens need admin scope)."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from sessionlens.lifecycle.access import access_zip
from sessionlens.lifecycle.erasure import ErasureError, Subject, erase
from sessionlens.responses import JSON, error

MAX_BODY = 4096
_NAMES = ("visitor", "user", "session", "site")


def _admin_problem(request: Request) -> Response | None:
    # A "read" token may GET other APIs, but access exports personal data: admin only.
    if request.scope.get("auth_scope") != "admin":
        return error(403, "this API token is read-only (erasure and access need --scope admin)")
    return None


def _subject(values: dict[str, Any], allowed: tuple[str, ...]) -> Subject:
    unknown = sorted(set(values) - set(allowed))
    if unknown:
        raise ErasureError(f"unknown field {unknown[0]!r}; send one of {', '.join(allowed[:-1])} (and site)")
    for name, value in values.items():
        if not isinstance(value, str):
            raise ErasureError(f"{name} must be a string")
    return Subject(**{k: values.get(k) for k in allowed})


async def erasure(request: Request) -> Response:
    if (problem := _admin_problem(request)) is not None:
        return problem
    body = await request.body()
    if len(body) > MAX_BODY:
        return error(413, f"request body is larger than {MAX_BODY} bytes")
    try:
        values = orjson.loads(body or b"null")
    except orjson.JSONDecodeError as exc:
        return error(400, f"body is not valid JSON: {exc}")
    if not isinstance(values, dict):
        return error(400, 'body must be a JSON object such as {"visitor": "..."}')
    try:
        subject = _subject(values, _NAMES)
    except ErasureError as exc:
        return error(400, str(exc))
    state = request.app.state
    by = f"viewer:{request.scope.get('user')}"
    removal, audit = await run_in_threadpool(erase, state.store, state.index, subject, by)
    return JSON(
        {
            "sessions": len(removal.sessions),
            "objects": len(removal.objects),
            "index_rows": sum(removal.index_rows.values()),
            "assets_removed": len(removal.assets_removed),
            "assets_kept": len(removal.assets_kept),
            "assets_pending": len(removal.assets_pending),
            "audit": audit,
        }
    )


async def access(request: Request) -> Response:
    if (problem := _admin_problem(request)) is not None:
        return problem
    query = request.query_params
    for name in query.keys():
        if len(query.getlist(name)) > 1:
            return error(400, f"{name} given more than once")
    try:
        subject = _subject(dict(query), ("visitor", "user", "site"))
    except ErasureError as exc:
        return error(400, str(exc))
    state = request.app.state
    data, _ = await run_in_threadpool(access_zip, state.store, state.index, subject)
    name = f"sessionlens-access-{subject.kind}.zip"
    return Response(
        data,
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"},
    )
