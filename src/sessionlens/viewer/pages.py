"""The viewer's HTML pages. Plain HTML shells; their scripts live in static/viewer/."""

from __future__ import annotations

import html
from pathlib import Path

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from sessionlens.auth import cookies
from sessionlens.auth.login import LoginRefused
from sessionlens.auth.request_origin import login_source_problem
from sessionlens.auth.throttle import client_address
from sessionlens.responses import JSON, error

STATIC = Path(__file__).resolve().parent.parent / "static" / "viewer"
ASSETS = "/viewer/static"


def _shell(title: str, body: str, scripts: tuple[str, ...] = (), status: int = 200) -> HTMLResponse:
    tags = "".join(f'<script type=module src="{ASSETS}/{s}"></script>' for s in scripts)
    return HTMLResponse(
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        '<meta name=viewport content="width=device-width,initial-scale=1">'
        f"<title>{html.escape(title)} · sessionlens</title>"
        f'<link rel=stylesheet href="{ASSETS}/viewer.css">{tags}</head>'
        f"<body>{body}</body></html>",
        status_code=status,
    )


def _safe_next(target: str | None) -> str:
    # Only paths on this site: "//evil.example" and "https://..." are refused.
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def _login_form(next_url: str, message: str = "") -> str:
    note = f"<p class=error role=alert>{html.escape(message)}</p>" if message else ""
    return (
        '<main class=login><h1>sessionlens</h1><form method=post action="/login">'
        f"{note}"
        "<label>User <input name=name autocomplete=username required autofocus></label>"
        "<label>Password <input name=password type=password autocomplete=current-password required></label>"
        f'<input type=hidden name=next value="{html.escape(next_url)}">'
        "<button>Log in</button></form></main>"
    )


async def login_page(request: Request) -> Response:
    response = _shell("Log in", _login_form(_safe_next(request.query_params.get("next"))))
    # The viewer's "no-referrer" policy would make the form post "Origin: null"
    # where browsers send no Fetch Metadata (plain http to a non-local host);
    # "same-origin" sends the real Origin to us and still nothing elsewhere.
    response.headers["referrer-policy"] = "same-origin"
    return response


def _viewer_origins(request: Request) -> list[str]:
    return [
        f"{request.url.scheme}://{request.headers.get('host', '')}",
        request.app.state.settings.collector_url,
    ]


async def login(request: Request) -> Response:
    # Login CSRF: a cross-site form post must not log the researcher in as someone else.
    problem = login_source_problem(dict(request.headers), _viewer_origins(request))
    if problem:
        return error(403, problem)
    form = await request.form()
    name, password = str(form.get("name", "")), str(form.get("password", ""))
    next_url = _safe_next(str(form.get("next", "/")))
    state = request.app.state
    user = None
    if name and password:
        address = client_address(
            request.client.host if request.client else None,
            dict(request.scope["headers"]),
            state.settings.login_client_address_header,
        )
        try:
            user = await state.login_gate.check(name, password, address)
        except LoginRefused as refused:
            return error(refused.status, refused.message, {"Retry-After": str(refused.retry_after)})
    if user is None:
        return _shell("Log in", _login_form(next_url, "Wrong user name or password."), status=401)
    accounts = state.accounts
    session_id, expires = await run_in_threadpool(accounts.sessions.start, user.name, cookies.SESSION_SECONDS)
    response = RedirectResponse(next_url, status_code=303)
    response.set_cookie(
        cookies.COOKIE,
        cookies.issue(accounts.secret(), user.name, session_id, expires),
        max_age=cookies.SESSION_SECONDS,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )
    return response


async def logout(request: Request) -> Response:
    """End this session everywhere (its server-side record is deleted)."""
    session_id = request.scope.get("session_id")
    if session_id:
        await run_in_threadpool(request.app.state.accounts.end_session, request.scope["user"], session_id)
    response = JSON({"ok": True})
    response.delete_cookie(cookies.COOKIE, path="/", httponly=True, samesite="strict")
    return response


async def session_list(request: Request) -> Response:
    return _shell("Sessions", "<div id=app class=list-app></div>", ("list.js",))


async def player(request: Request) -> Response:
    return _shell("Replay", "<div id=app class=player-app></div>", ("player.js",))


async def heatmap_page(request: Request) -> Response:
    return _shell("Heatmaps", "<div id=app class=heatmap-app></div>", ("heatmap.js",))
