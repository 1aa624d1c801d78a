"""Notes at a moment of a session, and collections of sessions (behind login, CSRF and scopes
like the rest of the viewer API: RequireLogin refuses state changes without the CSRF token or
with a read-only token).

Both are saved documents (sessionlens.saved_docs): the blob store holds them, the index lists
and searches them. Notes are changed or deleted by their author only (or an admin-scope API
token, for moderation); collections are shared by every viewer user. Texts are returned as
given and the viewer inserts them as text, never as markup.
"""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from sessionlens.index import saved_docs as doc_rows
from sessionlens.responses import JSON, error
from sessionlens.saved_docs import DocConflict, DocError, DocNotFound, SavedDoc
from sessionlens.viewer import pages
from sessionlens.viewer.saved_doc_requests import body_version, json_object, query_int, refusal, saved_docs

MAX_NOTE = 2_000  # characters of a note's text
MAX_COLLECTION_NAME = 200
MAX_QUERY = 200
MAX_T = 31 * 86_400_000  # a note's moment: at most a month into the session (sessions are shorter)
MAX_REQUEST_BYTES = 32 * 1024
MAX_NOTES_LISTED = 1_000


class BadRequest(ValueError):
    """400 with this message."""


async def _body(request: Request, allowed: tuple[str, ...]) -> dict[str, Any]:
    value = await json_object(request, MAX_REQUEST_BYTES, BadRequest)
    unknown = sorted(set(value) - set(allowed))
    if unknown:
        raise BadRequest(f"unknown field {unknown[0]!r} (send {', '.join(allowed)})")
    return value


def _text(value: Any, name: str, limit: int) -> str:
    if not isinstance(value, str):
        raise BadRequest(f"{name} must be a string")
    text = value.strip()
    if not text:
        raise BadRequest(f"{name} is empty")
    if len(text) > limit:
        raise BadRequest(f"{name} is longer than {limit} characters")
    if any(ord(c) < 32 and c not in "\n\t" for c in text):
        raise BadRequest(f"{name} holds control characters")
    return text


def _version(value: Any) -> int | None:
    return body_version(value, BadRequest)


def _query_version(request: Request) -> int | None:
    raw = request.query_params.get("version")
    if not raw:
        return None  # no version: last write wins
    return query_int(raw, "version (the version you edited)", BadRequest, default=0, low=1, high=10**10 - 1)


def _site_param(request: Request) -> str | None:
    site = request.query_params.get("site") or None
    if site is not None and request.app.state.sites.get(site) is None:
        raise BadRequest(f"unknown site {site!r}")
    return site


_EXPECTED = (BadRequest, DocError, DocNotFound, DocConflict)


def _may_change(request: Request, doc: SavedDoc) -> bool:
    """A note's author, or an admin-scope API token (operators moderating; a login cookie is a person)."""
    if doc.author == request.scope.get("user"):
        return True
    return request.scope.get("auth_scope") == "admin" and "csrf" not in request.scope


# -- notes -----------------------------------------------------------------------------------


def note_json(doc: SavedDoc) -> dict[str, Any]:
    return {
        "id": doc.id, "site": doc.site, "sid": doc.sid, "pid": doc.body.get("pid"), "t": doc.body.get("t"),
        "text": doc.name, "author": doc.author, "created": doc.created, "updated": doc.updated,
        "version": doc.version,
    }  # fmt: skip


def _session_site(request: Request, sid: str) -> str:
    session = request.app.state.index.session(sid, _site_param(request))
    if session is None:
        raise DocNotFound(f"no session {sid}")
    return str(session["site"])


async def session_notes(request: Request) -> Response:
    """GET: the session's notes in time order. POST {t, pid, text}: a new note at that moment."""
    sid = request.path_params["sid"]
    try:
        site = await run_in_threadpool(_session_site, request, sid)
        docs = saved_docs(request)
        if request.method == "GET":
            found = await run_in_threadpool(lambda: docs.list("note", site, sid=sid, limit=MAX_NOTES_LISTED))
            notes = sorted((note_json(d) for d in found), key=lambda n: (n["t"] or 0, n["created"]))
            return JSON({"notes": notes})
        value = await _body(request, ("t", "pid", "text"))
        t, pid = value.get("t"), value.get("pid")
        if isinstance(t, bool) or not isinstance(t, int) or not 0 <= t <= MAX_T:
            raise BadRequest(f"t must be a whole number of ms on the session's clock, 0 .. {MAX_T}")
        text = _text(value.get("text"), "text", MAX_NOTE)
        page_views = await run_in_threadpool(request.app.state.index.page_views, site, sid)
        if not isinstance(pid, str) or pid not in {pv["pid"] for pv in page_views}:
            raise BadRequest("pid must name a page view of this session")
        user = request.scope["user"]
        doc = await run_in_threadpool(
            lambda: docs.create("note", site, user, name=text, sid=sid, body={"pid": pid, "t": t})
        )
        return JSON(note_json(doc), status_code=201)
    except _EXPECTED as exc:
        return refusal(exc)


async def note(request: Request) -> Response:
    """PATCH {text, version?}: change a note's text. DELETE [?version=]: remove it."""
    note_id = request.path_params["id"]
    docs = saved_docs(request)
    try:
        site = _site_param(request)
        doc = await run_in_threadpool(docs.get, "note", site, note_id)
        if request.method == "GET":
            return JSON(note_json(doc))
        if not _may_change(request, doc):
            return error(403, f"only its author ({doc.author}) changes or deletes this note")
        if request.method == "DELETE":
            expected = _query_version(request)
            await run_in_threadpool(lambda: docs.delete("note", doc.site, note_id, expected_version=expected))
            return Response(status_code=204)
        value = await _body(request, ("text", "version"))
        text = _text(value.get("text"), "text", MAX_NOTE)
        expected = _version(value.get("version"))
        new = await run_in_threadpool(
            lambda: docs.update("note", doc.site, note_id, expected_version=expected, name=text)
        )
        return JSON(note_json(new))
    except _EXPECTED as exc:
        return refusal(exc)


async def search_notes(request: Request) -> Response:
    """GET ?q=word[&site=][&limit=]: notes whose text contains the words (case-insensitive)."""
    try:
        q = _text(request.query_params.get("q", ""), "q", MAX_QUERY)
        site = _site_param(request)
        limit = query_int(
            request.query_params.get("limit"), "limit", BadRequest, default=100, low=1, high=500
        )
        docs = saved_docs(request)
        found = await run_in_threadpool(docs.search, "note", q, site, limit)
        return JSON({"notes": [note_json(d) for d in found]})
    except _EXPECTED as exc:
        return refusal(exc)


# -- collections ------------------------------------------------------------------------------


def collection_json(doc: SavedDoc, with_sessions: bool = False) -> dict[str, Any]:
    out = {
        "id": doc.id, "site": doc.site, "name": doc.name, "author": doc.author, "created": doc.created,
        "updated": doc.updated, "version": doc.version, "count": len(doc.sessions),
    }  # fmt: skip
    if with_sessions:
        out["sessions"] = doc.sessions
    return out


async def collections(request: Request) -> Response:
    """GET [?site=]: every collection. POST {name, site}: a new, empty collection."""
    docs = saved_docs(request)
    try:
        if request.method == "GET":
            site = _site_param(request)
            found = await run_in_threadpool(lambda: docs.list("collection", site))
            return JSON({"collections": [collection_json(d) for d in found]})
        value = await _body(request, ("name", "site"))
        name = _text(value.get("name"), "name", MAX_COLLECTION_NAME)
        site = value.get("site")
        if not isinstance(site, str) or request.app.state.sites.get(site) is None:
            raise BadRequest("site must name a site (see /api/sites)")
        user = request.scope["user"]
        doc = await run_in_threadpool(lambda: docs.create("collection", site, user, name=name))
        return JSON(collection_json(doc, True), status_code=201)
    except _EXPECTED as exc:
        return refusal(exc)


async def collection(request: Request) -> Response:
    """GET: a collection with its session ids. PATCH {name, version?}: rename. DELETE [?version=]."""
    cid = request.path_params["id"]
    docs = saved_docs(request)
    try:
        doc = await run_in_threadpool(docs.get, "collection", None, cid)
        if request.method == "GET":
            return JSON(collection_json(doc, True))
        if request.method == "DELETE":
            expected = _query_version(request)
            await run_in_threadpool(
                lambda: docs.delete("collection", doc.site, cid, expected_version=expected)
            )
            return Response(status_code=204)
        value = await _body(request, ("name", "version"))
        name = _text(value.get("name"), "name", MAX_COLLECTION_NAME)
        expected = _version(value.get("version"))
        new = await run_in_threadpool(
            lambda: docs.update("collection", doc.site, cid, expected_version=expected, name=name)
        )
        return JSON(collection_json(new, True))
    except _EXPECTED as exc:
        return refusal(exc)


async def collection_member(request: Request) -> Response:
    """PUT: add the session to the collection (again: no change). DELETE: take it out."""
    cid, sid = request.path_params["id"], request.path_params["sid"]
    docs = saved_docs(request)
    try:
        doc = await run_in_threadpool(docs.get, "collection", None, cid)
        adding = request.method == "PUT"
        if adding and await run_in_threadpool(request.app.state.index.session, sid, doc.site) is None:
            raise DocNotFound(f"no session {sid} on site {doc.site}")

        def change(current: SavedDoc) -> dict[str, Any] | None:
            listed = sid in current.sessions
            if adding:
                return None if listed else {"sessions": [*current.sessions, sid]}
            return {"sessions": [s for s in current.sessions if s != sid]} if listed else None

        new = await run_in_threadpool(lambda: docs.modify("collection", doc.site, cid, change))
        return JSON(collection_json(new, True))
    except _EXPECTED as exc:
        return refusal(exc)


async def collection_sessions(request: Request) -> Response:
    """GET: the collection's sessions as session rows (those still recorded), newest first."""
    cid = request.path_params["id"]
    try:
        doc = await run_in_threadpool(saved_docs(request).get, "collection", None, cid)
        rows = await run_in_threadpool(
            doc_rows.listed_sessions, request.app.state.index, doc.site, "collection", cid
        )
        return JSON({"collection": collection_json(doc), "sessions": rows})
    except _EXPECTED as exc:
        return refusal(exc)


async def session_collections(request: Request) -> Response:
    """GET: the collections the session is in (the player's star)."""
    sid = request.path_params["sid"]
    try:
        site = await run_in_threadpool(_session_site, request, sid)
        found = await run_in_threadpool(saved_docs(request).listing, "collection", site, sid)
        return JSON({"collections": [collection_json(d) for d in found]})
    except _EXPECTED as exc:
        return refusal(exc)


async def collections_page(request: Request) -> Response:
    return pages._shell("Collections", "<div id=app class=collections-app></div>", ("collections.js",))


def routes() -> list[Any]:
    """The routes of this module, for app.py (all behind RequireLogin)."""
    from starlette.routing import Route

    return [
        Route("/api/sessions/{sid}/notes", session_notes, methods=["GET", "POST"]),
        Route("/api/sessions/{sid}/collections", session_collections),
        Route("/api/notes", search_notes),
        Route("/api/notes/{id}", note, methods=["GET", "PATCH", "DELETE"]),
        Route("/api/collections", collections, methods=["GET", "POST"]),
        Route("/api/collections/{id}", collection, methods=["GET", "PATCH", "DELETE"]),
        Route("/api/collections/{id}/sessions", collection_sessions),
        Route("/api/collections/{id}/sessions/{sid}", collection_member, methods=["PUT", "DELETE"]),
        Route("/collections", collections_page),
    ]
