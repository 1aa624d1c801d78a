"""The viewer's HTML pages. Plain HTML shells; their scripts live in static/viewer/."""

from __future__ import annotations

import html
from pathlib import Path
from urllib.parse import urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from sessionlens.auth import cookies
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
    return _shell("Log in", _login_form(_safe_next(request.query_params.get("next"))))


async def login(request: Request) -> Response:
    # Login CSRF: a cross-site form post must not log the researcher in as someone else.
    # Viewer pages send no referrer, so a same-origin form posts "Origin: null";
    # Sec-Fetch-Site is the reliable signal where browsers send it.
    fetch_site = request.headers.get("sec-fetch-site")
    origin = request.headers.get("origin")
    if fetch_site is not None:
        cross = fetch_site not in ("same-origin", "none")
    else:
        cross = bool(origin) and origin != "null" and urlsplit(origin).netloc != request.headers.get("host")
    if cross:
        return error(403, "cross-site login refused")
    form = await request.form()
    name, password = str(form.get("name", "")), str(form.get("password", ""))
    next_url = _safe_next(str(form.get("next", "/")))
    accounts = request.app.state.accounts
    user = await run_in_threadpool(accounts.authenticate, name, password) if name and password else None
    if user is None:
        return _shell("Log in", _login_form(next_url, "Wrong user name or password."), status=401)
    response = RedirectResponse(next_url, status_code=303)
    response.set_cookie(
        cookies.COOKIE,
        cookies.issue(accounts.secret(), user.name),
        max_age=cookies.SESSION_SECONDS,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )
    return response


async def logout(request: Request) -> Response:
    response = JSON({"ok": True})
    response.delete_cookie(cookies.COOKIE, path="/", httponly=True, samesite="strict")
    return response


async def session_list(request: Request) -> Response:
    return _shell("Sessions", "<div id=app class=list-app></div>", ("list.js",))


async def player(request: Request) -> Response:
    return _shell("Replay", "<div id=app class=player-app></div>", ("player.js",))


async def heatmap_page(request: Request) -> Response:
    return _shell("Heatmaps", "<div id=app class=heatmap-app></div>", ("heatmap.js",))
