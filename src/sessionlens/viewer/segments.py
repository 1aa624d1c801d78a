"""Saved segments: named session-list filter sets shared by every viewer user.

A segment is a saved document of kind "segment" (sessionlens.saved_docs)
on one site; its body holds the list's query as (name, value) pairs. A
segment is checked through the same parser as /api/sessions when it is
saved, so applying one never gives a 400. Behind login; state changes need
the CSRF token with a cookie, or an admin-scope API token
(auth.middleware.RequireLogin).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from sessionlens.responses import JSON, ParamError
from sessionlens.saved_docs import DocConflict, DocError, DocNotFound, SavedDoc
from sessionlens.session_search import SessionFilter
from sessionlens.viewer.saved_doc_requests import body_version, json_object, refusal, saved_docs

KIND = "segment"
MAX_BODY = 16 * 1024
MAX_NAME = 200
# Paging and order are not part of what a segment selects.
NOT_SAVED = ("cursor", "before", "limit")


def segment_json(doc: SavedDoc) -> dict[str, Any]:
    pairs = [tuple(p) for p in doc.body.get("filters", [])]
    return {
        "id": doc.id,
        "site": doc.site,
        "name": doc.name,
        "query": urlencode(pairs, safe="/*:,"),  # readable in a link; URLSearchParams reads it back
        "filters": pairs,
        "author": doc.author,
        "created": doc.created,
        "updated": doc.updated,
        "version": doc.version,
    }


class SegmentError(ValueError):
    pass


def _name(value: Any) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_NAME:
        raise SegmentError(f"name must be text of 1-{MAX_NAME} characters")
    return value.strip()


def _filters(query: Any, site: str) -> list[list[str]]:
    """The (name, value) pairs of a list query, checked as /api/sessions checks them."""
    if not isinstance(query, str) or len(query) > 8 * 1024:
        raise SegmentError("query must be the session list's query string (at most 8 KB)")
    pairs = [(k, v) for k, v in parse_qsl(query.lstrip("?"), keep_blank_values=True) if k not in NOT_SAVED]
    given = {v for k, v in pairs if k == "site"}
    if given - {site}:
        raise SegmentError(f"query names site {sorted(given - {site})[0]!r}, not the segment's site {site!r}")
    merged: dict[str, list[str]] = {}
    for k, v in pairs:
        merged.setdefault(k, []).append(v)
    try:
        SessionFilter.from_query(merged)
    except ParamError as exc:
        raise SegmentError(f"query: {exc}") from None
    return [[k, v] for k, v in pairs if k != "site"]


async def _body(request: Request) -> dict[str, Any]:
    shape = 'a JSON object like {"name": "...", "site": "...", "query": "..."}'
    return await json_object(request, MAX_BODY, SegmentError, shape)


async def list_segments(request: Request) -> Response:
    site = request.query_params.get("site") or None
    docs = await run_in_threadpool(saved_docs(request).list, KIND, site)
    return JSON({"segments": [segment_json(d) for d in sorted(docs, key=lambda d: d.name.lower())]})


async def create_segment(request: Request) -> Response:
    try:
        body = await _body(request)
        unknown = sorted(set(body) - {"name", "site", "query"})
        if unknown:
            raise SegmentError(f"unknown field {unknown[0]!r}; send name, site and query")
        site = body.get("site")
        if not isinstance(site, str) or not site:
            raise SegmentError("site must name the site the segment is for")
        if await run_in_threadpool(request.app.state.sites.get, site) is None:
            raise SegmentError(f"site {site!r} does not exist")
        name, filters = _name(body.get("name")), _filters(body.get("query", ""), site)
        doc = await run_in_threadpool(
            lambda: saved_docs(request).create(
                KIND, site, request.scope["user"], name=name, body={"filters": filters}
            )
        )
    except (SegmentError, DocError, DocConflict) as exc:
        return refusal(exc)
    return JSON(segment_json(doc), status_code=201)


async def get_segment(request: Request) -> Response:
    try:
        doc = await run_in_threadpool(saved_docs(request).get, KIND, None, request.path_params["id"])
    except DocNotFound as exc:
        return refusal(exc)
    return JSON(segment_json(doc))


async def update_segment(request: Request) -> Response:
    """Rename ({"name"}) or change the filters ({"query"}); {"version": n} refuses a stale edit (409)."""
    doc_id = request.path_params["id"]
    try:
        body = await _body(request)
        unknown = sorted(set(body) - {"name", "query", "version"})
        if unknown:
            raise SegmentError(f"unknown field {unknown[0]!r}; send name and/or query (and version)")
        version = body_version(body.get("version"), SegmentError)
        docs = saved_docs(request)
        current = await run_in_threadpool(docs.get, KIND, None, doc_id)
        changes: dict[str, Any] = {}
        if "name" in body:
            changes["name"] = _name(body["name"])
        if "query" in body:
            changes["body"] = {"filters": _filters(body["query"], current.site)}
        if not changes:
            raise SegmentError("send name and/or query")
        doc = await run_in_threadpool(
            lambda: docs.update(KIND, current.site, doc_id, expected_version=version, **changes)
        )
    except (SegmentError, DocError, DocNotFound, DocConflict) as exc:
        return refusal(exc)
    return JSON(segment_json(doc))


async def delete_segment(request: Request) -> Response:
    try:
        await run_in_threadpool(saved_docs(request).delete, KIND, None, request.path_params["id"])
    except (DocNotFound, DocConflict) as exc:
        return refusal(exc)
    return Response(status_code=204)
