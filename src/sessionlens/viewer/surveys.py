"""Surveys over HTTP: saved surveys (saved documents of kind "survey"), their results, the
answers behind them with replay links, the CSV export, and the /surveys page.

Behind login like the rest of the viewer API (auth.middleware.RequireLogin): changes need the
CSRF token with a cookie or a non-read API token; read tokens may read. A bad definition is a
400 naming the field (surveys/definition.py). A change drops this process's cached public
answer for the site, so the widget and the ingest ack see it at once here and within
site_cache_seconds in other collectors.
"""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from sessionlens.responses import JSON
from sessionlens.saved_docs import DocConflict, DocError, DocNotFound, SavedDoc
from sessionlens.surveys.definition import Survey, SurveyError, parse_survey
from sessionlens.surveys.results import answers, survey_csv, survey_results
from sessionlens.surveys.store import KIND, check_active_limit, from_doc, survey_json
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

MAX_BODY = 32 * 1024
MAX_PAGE = 500


async def _body(request: Request) -> dict[str, Any]:
    return await json_object(
        request,
        MAX_BODY,
        SurveyError,
        'a JSON object like {"site": "...", "name": "...", "questions": [...]}',
    )


def _changed(request: Request, site: str) -> None:
    request.app.state.surveys.forget(site)


async def _check_active(request: Request, survey: Survey, doc_id: str | None = None) -> None:
    if survey.active:
        await run_in_threadpool(check_active_limit, saved_docs(request), survey.site, doc_id)


async def _saved(request: Request) -> tuple[SavedDoc, Survey]:
    doc = await run_in_threadpool(saved_docs(request).get, KIND, None, request.path_params["id"])
    return doc, from_doc(doc)


async def list_surveys(request: Request) -> Response:
    return await list_response(request, KIND, "surveys", survey_json)


async def create_survey(request: Request) -> Response:
    try:
        body = await _body(request)
        site = await known_site(request, body.pop("site", None), SurveyError)
        survey = parse_survey(body, site)
        await _check_active(request, survey)
        doc = await run_in_threadpool(
            lambda: saved_docs(request).create(
                KIND, site, request.scope["user"], name=survey.name, body=survey.body()
            )
        )
    except (SurveyError, DocError, DocConflict) as exc:
        return refusal(exc)
    _changed(request, site)
    return JSON(survey_json(doc), status_code=201)


async def update_survey(request: Request) -> Response:
    """Change fields of the definition (its site stays), e.g. {"active": false};
    {"version": n} refuses a stale edit (409)."""
    doc_id = request.path_params["id"]
    try:
        body = await _body(request)
        version = body_version(body.pop("version", None), SurveyError)
        docs = saved_docs(request)
        current = await run_in_threadpool(docs.get, KIND, None, doc_id)
        if body.pop("site", current.site) != current.site:
            raise SurveyError("site: a saved survey stays on its site (save a new survey for another)")
        survey = parse_survey({**current.body, "name": current.name, **body}, current.site)
        await _check_active(request, survey, doc_id)
        doc = await run_in_threadpool(
            lambda: docs.update(
                KIND,
                current.site,
                doc_id,
                expected_version=version,
                name=survey.name,
                body=survey.body(),
            )
        )
    except (SurveyError, DocError, DocNotFound, DocConflict) as exc:
        return refusal(exc)
    _changed(request, doc.site)
    return JSON(survey_json(doc))


async def delete_survey(request: Request) -> Response:
    return await delete_response(request, KIND, lambda doc: _changed(request, doc.site))


async def surveys(request: Request) -> Response:
    return await (list_surveys(request) if request.method == "GET" else create_survey(request))


async def survey(request: Request) -> Response:
    if request.method == "GET":
        return await get_response(request, KIND, survey_json)
    if request.method == "PATCH":
        return await update_survey(request)
    return await delete_survey(request)


async def results(request: Request) -> Response:
    """The survey's numbers now, over what is indexed (surveys/results.py)."""
    try:
        doc, found = await _saved(request)
    except (DocNotFound, SurveyError) as exc:
        return refusal(exc)
    return JSON(await run_in_threadpool(survey_results, request.app.state.index, doc.id, found))


async def answer_list(request: Request) -> Response:
    """?question=ID[&value=V][&limit=&offset=]: the counted answers to a question (with value:
    those that gave it; for a multi-select, those that ticked it), newest first, each with its
    replay link at the moment it was given."""
    q = request.query_params
    try:
        unknown = sorted(set(q) - {"question", "value", "limit", "offset"})
        if unknown:
            raise SurveyError(f"unknown parameter {unknown[0][:40]!r}; known: question, value, limit, offset")
        limit = query_int(q.get("limit"), "limit", SurveyError, default=50, high=MAX_PAGE)
        offset = query_int(q.get("offset"), "offset", SurveyError, default=0, high=1_000_000)
        doc, found = await _saved(request)
        question = found.question(q.get("question", ""))
        if question is None:
            raise SurveyError(f"question must be one of {', '.join(x.id for x in found.questions)}")
    except (DocNotFound, SurveyError) as exc:
        return refusal(exc)
    given = await run_in_threadpool(answers, request.app.state.index, doc.id, found)
    wanted = q.get("value")
    picked = [
        a
        for a in given
        if a["question"] == question.id
        and (
            wanted is None
            or (wanted in a["value"].split("\n") if question.type == "multi" else a["value"] == wanted)
        )
    ]
    picked.sort(key=lambda a: (-a["at"], a["sid"]))
    return JSON({"total": len(picked), "answers": picked[offset : offset + limit]})


async def csv_export(request: Request) -> Response:
    try:
        doc, found = await _saved(request)
    except (DocNotFound, SurveyError) as exc:
        return refusal(exc)
    text = await run_in_threadpool(survey_csv, request.app.state.index, doc.id, found)
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="survey-{doc.id}.csv"'},
    )


async def surveys_page(request: Request) -> Response:
    return pages._shell("Surveys", "<div id=app class=survey-app></div>", ("surveys.js",))


def routes() -> list[Any]:
    """The routes of this module, for app.py (all behind RequireLogin)."""
    from starlette.routing import Route

    return [
        Route("/api/surveys", surveys, methods=["GET", "POST"]),
        Route("/api/surveys/{id}", survey, methods=["GET", "PATCH", "DELETE"]),
        Route("/api/surveys/{id}/results", results),
        Route("/api/surveys/{id}/answers", answer_list),
        Route("/api/surveys/{id}/csv", csv_export),
        Route("/surveys", surveys_page),
    ]
