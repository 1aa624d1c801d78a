"""Funnels over HTTP: run a definition, save funnels (saved documents of kind "funnel"),
a saved funnel's results and the sessions behind each step, and the /funnels page.

Behind login like the rest of the viewer API (auth.middleware.RequireLogin): changes,
and POST /api/funnels/query, need the CSRF token with a cookie or a non-read API token;
read tokens may read saved funnels, their results and sessions (GET). Definitions are
checked by sessionlens.funnels.definition: a bad one is a 400 naming the step and field.
"""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from sessionlens.funnels import DefinitionError, funnel_results, funnel_sessions, parse_funnel
from sessionlens.funnels.definition import Funnel
from sessionlens.responses import JSON, error
from sessionlens.saved_docs import DocConflict, DocError, DocNotFound, SavedDoc
from sessionlens.viewer import pages
from sessionlens.viewer.saved_doc_requests import (
    body_version,
    delete_response,
    get_response,
    json_object,
    known_site,
    list_response,
    query_int,
    refusal,
    saved_docs,
)

KIND = "funnel"
MAX_BODY = 32 * 1024


def funnel_json(doc: SavedDoc) -> dict[str, Any]:
    return {
        "id": doc.id,
        "site": doc.site,
        "name": doc.name,
        "definition": {**doc.body, "site": doc.site, "name": doc.name},
        "author": doc.author,
        "created": doc.created,
        "updated": doc.updated,
        "version": doc.version,
    }


async def _body(request: Request) -> dict[str, Any]:
    return await json_object(
        request, MAX_BODY, DefinitionError, 'a JSON object like {"site": "...", "steps": [...]}'
    )


async def _known_site(request: Request, site: str) -> None:
    await known_site(request, site, DefinitionError)


def _saved(doc: SavedDoc) -> Funnel:
    # Checked when saved; parsed again so a funnel saved by an older version is checked too.
    return parse_funnel({**doc.body, "name": doc.name}, site=doc.site)


def _stored_body(funnel: Funnel) -> dict[str, Any]:
    body = funnel.as_json()
    body.pop("site")
    body.pop("name")
    return body


async def query(request: Request) -> Response:
    """POST a definition, get its results (nothing is saved)."""
    try:
        funnel = parse_funnel(await _body(request))
        await _known_site(request, funnel.site)
    except DefinitionError as exc:
        return error(400, str(exc))
    return JSON(await run_in_threadpool(funnel_results, request.app.state.index, funnel))


async def list_funnels(request: Request) -> Response:
    return await list_response(request, KIND, "funnels", funnel_json)


async def create_funnel(request: Request) -> Response:
    try:
        funnel = parse_funnel(await _body(request), require_name=True)
        await _known_site(request, funnel.site)
        doc = await run_in_threadpool(
            lambda: saved_docs(request).create(
                KIND, funnel.site, request.scope["user"], name=funnel.name, body=_stored_body(funnel)
            )
        )
    except (DefinitionError, DocError, DocConflict) as exc:
        return refusal(exc)
    return JSON(funnel_json(doc), status_code=201)


async def get_funnel(request: Request) -> Response:
    return await get_response(request, KIND, funnel_json)


async def update_funnel(request: Request) -> Response:
    """Replace the definition (its site stays); {"version": n} refuses a stale edit (409)."""
    doc_id = request.path_params["id"]
    try:
        body = await _body(request)
        version = body_version(body.pop("version"), DefinitionError)
        docs = saved_docs(request)
        current = await run_in_threadpool(docs.get, KIND, None, doc_id)
        if body.get("site") not in (None, current.site):
            raise DefinitionError("site: a saved funnel stays on its site (save a new funnel for another)")
        merged = {**current.body, "name": current.name, **body}
        funnel = parse_funnel(merged, site=current.site, require_name=True)
        doc = await run_in_threadpool(
            lambda: docs.update(
                KIND,
                current.site,
                doc_id,
                expected_version=version,
                name=funnel.name,
                body=_stored_body(funnel),
            )
        )
    except (DefinitionError, DocError, DocNotFound, DocConflict) as exc:
        return refusal(exc)
    return JSON(funnel_json(doc))


async def delete_funnel(request: Request) -> Response:
    return await delete_response(request, KIND)


async def funnel(request: Request) -> Response:
    if request.method == "GET":
        return await get_funnel(request)
    if request.method in ("PATCH", "PUT"):
        return await update_funnel(request)
    return await delete_funnel(request)


async def funnels(request: Request) -> Response:
    return await (list_funnels(request) if request.method == "GET" else create_funnel(request))


async def results(request: Request) -> Response:
    """A saved funnel's results, computed now over what is indexed."""
    try:
        doc = await run_in_threadpool(saved_docs(request).get, KIND, None, request.path_params["id"])
        found = _saved(doc)
    except (DocNotFound, DefinitionError) as exc:
        return refusal(exc)
    answer = await run_in_threadpool(funnel_results, request.app.state.index, found)
    answer["id"] = doc.id
    return JSON(answer)


def _int(raw: str | None, name: str, default: int) -> int:
    return query_int(raw, name, DefinitionError, default=default, high=999_999_999)


async def sessions(request: Request) -> Response:
    """?step=N&outcome=dropped|converted[&limit=&offset=]: the sessions behind a step's numbers,
    each with a link to its replay at the moment of the last step it reached."""
    q = request.query_params
    try:
        unknown = sorted(set(q) - {"step", "outcome", "limit", "offset"})
        if unknown:
            raise DefinitionError(
                f"unknown parameter {unknown[0][:40]!r}; known: step, outcome, limit, offset"
            )
        if "step" not in q or "outcome" not in q:
            raise DefinitionError("give step (1-based) and outcome (dropped or converted)")
        step, limit, offset = (
            _int(q["step"], "step", 1),
            _int(q.get("limit"), "limit", 50),
            _int(q.get("offset"), "offset", 0),
        )
        doc = await run_in_threadpool(saved_docs(request).get, KIND, None, request.path_params["id"])
        found = _saved(doc)
        answer = await run_in_threadpool(
            funnel_sessions, request.app.state.index, found, step, q["outcome"], limit, offset
        )
    except (DocNotFound, DefinitionError) as exc:
        return refusal(exc)
    return JSON(answer)


async def query_sessions(request: Request) -> Response:
    """POST {"definition": {...}, "step": N, "outcome": ..., "limit", "offset"}: as /sessions for an unsaved funnel."""
    try:
        body = await _body(request)
        unknown = sorted(set(body) - {"definition", "step", "outcome", "limit", "offset"})
        if unknown:
            raise DefinitionError(
                f"unknown field {unknown[0][:40]!r}; send definition, step, outcome, limit, offset"
            )
        found = parse_funnel(body.get("definition"))
        await _known_site(request, found.site)
        values = {}
        for name, default in (("step", None), ("limit", 50), ("offset", 0)):
            value = body.get(name, default)
            if isinstance(value, bool) or not isinstance(value, int):
                raise DefinitionError(f"{name} must be a whole number")
            values[name] = value
        outcome = body.get("outcome")
        if not isinstance(outcome, str):
            raise DefinitionError("outcome must be dropped or converted")
        answer = await run_in_threadpool(
            funnel_sessions,
            request.app.state.index,
            found,
            values["step"],
            outcome,
            values["limit"],
            values["offset"],
        )
    except DefinitionError as exc:
        return error(400, str(exc))
    return JSON(answer)


async def funnels_page(request: Request) -> Response:
    return pages._shell("Funnels", "<div id=app class=funnel-app></div>", ("funnels.js",))


def routes() -> list[Any]:
    """The routes of this module, for app.py (all behind RequireLogin)."""
    from starlette.routing import Route

    return [
        Route("/api/funnels/query", query, methods=["POST"]),
        Route("/api/funnels/query/sessions", query_sessions, methods=["POST"]),
        Route("/api/funnels", funnels, methods=["GET", "POST"]),
        Route("/api/funnels/{id}", funnel, methods=["GET", "PATCH", "DELETE"]),
        Route("/api/funnels/{id}/results", results),
        Route("/api/funnels/{id}/sessions", sessions),
        Route("/funnels", funnels_page),
    ]
