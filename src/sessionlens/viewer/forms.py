"""Form analytics API and page (docs/forms.md), behind login like every viewer route: reads with
a session or a read token; the settings PUT needs the CSRF token with a cookie, or an
admin-scope API token (auth.middleware.RequireLogin).

GET /api/forms?site=&from=&to=&...  forms of the filter's sessions with their metrics
GET /api/forms/{form}?site=&by=&... one form: metrics, fields, breakdown by a segment field
GET /api/forms/{form}/sessions?site=&field=&metric=&...  the sessions behind one number
PUT /api/forms/{form}/settings?site=  {"name", "success": {"kind", "value"}}
GET /forms                           the page (static/viewer/forms.js)
Every other query parameter is a session-list filter (session_search.SessionFilter).
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from sessionlens.forms import report
from sessionlens.forms.settings import FORM_KEY, FormSettings, FormSettingsError
from sessionlens.index.forms import BY_COLUMNS, BY_SCOPES
from sessionlens.responses import JSON, ParamError, error
from sessionlens.saved_docs import DocConflict, DocError, DocNotFound, SavedDocs
from sessionlens.session_search import SessionFilter
from sessionlens.viewer import pages

OWN = ("by", "field", "metric")  # this API's parameters; the rest are session filters
MAX_BODY = 8 * 1024


class FormQueryError(ValueError):
    pass


def parse(query: Any) -> tuple[SessionFilter, dict[str, str]]:
    """The session filter and this API's own parameters of a query (400 on anything wrong)."""
    own: dict[str, str] = {}
    rest: dict[str, list[str]] = {}
    for k, v in query.multi_items():
        if k in OWN:
            if k in own:
                raise FormQueryError(f"{k} may be given once")
            own[k] = v
        elif k not in ("limit", "sort", "order", "cursor", "before"):
            rest.setdefault(k, []).append(v)
    site = (rest.get("site") or [""])[0]
    if not site:
        raise FormQueryError("site is required")
    f = SessionFilter.from_query(rest)
    by = own.get("by")
    if by is not None:
        scope, _, key = by.partition(":")
        if by not in BY_COLUMNS and not (scope in BY_SCOPES and 0 < len(key) <= 100 and "\x00" not in key):
            raise FormQueryError(
                f"by must be one of {', '.join(sorted(BY_COLUMNS))} or experiment:NAME, trait:KEY, prop:KEY"
            )
    return f, own


def _settings(request: Request, site: str) -> FormSettings:
    return FormSettings(SavedDocs(request.app.state.store, request.app.state.index), site)


def _form_key(request: Request) -> str:
    key = request.path_params["form"]
    if not FORM_KEY.match(key):
        raise FormQueryError("form key must be f and 15 hex digits")
    return key


async def list_forms(request: Request) -> Response:
    try:
        f, _ = parse(request.query_params)
    except (FormQueryError, ParamError) as exc:
        return error(400, str(exc))
    index = request.app.state.index
    forms = await run_in_threadpool(lambda: report.forms_list(index, _settings(request, f.site or ""), f))
    return JSON({"site": f.site, "forms": forms})


async def get_form(request: Request) -> Response:
    try:
        key = _form_key(request)
        f, own = parse(request.query_params)
    except (FormQueryError, ParamError) as exc:
        return error(400, str(exc))
    index = request.app.state.index
    out = await run_in_threadpool(
        lambda: report.form_report(index, _settings(request, f.site or ""), f, key, own.get("by"))
    )
    if out is None:
        return error(404, f"no form {key} in the selected sessions")
    return JSON(out)


async def form_sessions(request: Request) -> Response:
    try:
        key = _form_key(request)
        f, own = parse(request.query_params)
        field, metric = own.get("field"), own.get("metric", "")
        allowed = report.FIELD_METRICS if field is not None else report.FORM_METRICS
        if metric not in allowed:
            raise FormQueryError(f"metric must be one of {', '.join(allowed)}")
    except (FormQueryError, ParamError) as exc:
        return error(400, str(exc))
    index = request.app.state.index
    out = await run_in_threadpool(
        lambda: report.metric_sessions(index, _settings(request, f.site or ""), f, key, field, metric)
    )
    if out is None:
        return error(404, f"no form {key} in the selected sessions")
    return JSON({"form": key, "field": field, "metric": metric, "sessions": out})


async def form_settings(request: Request) -> Response:
    try:
        key = _form_key(request)
        site = request.query_params.get("site", "")
        if not site or await run_in_threadpool(request.app.state.sites.get, site) is None:
            raise FormQueryError("site must name an existing site")
        raw = await request.body()
        if len(raw) > MAX_BODY:
            raise FormQueryError(f"request body is larger than {MAX_BODY} bytes")
        try:
            body = orjson.loads(raw or b"null")
        except orjson.JSONDecodeError as exc:
            raise FormQueryError(f"body is not valid JSON: {exc}") from None
        if not isinstance(body, dict) or set(body) - {"name", "success"}:
            raise FormQueryError('body must be {"name": text, "success": {"kind": ..., "value": ...}}')
        saved = await run_in_threadpool(
            lambda: _settings(request, site).save(
                key, request.scope["user"], body.get("name"), body.get("success")
            )
        )
    except (FormQueryError, FormSettingsError, DocError) as exc:
        return error(400, str(exc))
    except (DocNotFound, DocConflict) as exc:
        return error(409, str(exc))
    return JSON(saved)


async def forms_page(request: Request) -> Response:
    return pages._shell("Forms", "<div id=app class=forms-app></div>", ("forms.js",))


def routes() -> list[Any]:
    """The routes of this module, for app.py (all behind RequireLogin)."""
    from starlette.routing import Route

    return [
        Route("/api/forms", list_forms),
        Route("/api/forms/{form}", get_form),
        Route("/api/forms/{form}/sessions", form_sessions),
        Route("/api/forms/{form}/settings", form_settings, methods=["PUT"]),
        Route("/forms", forms_page),
    ]
