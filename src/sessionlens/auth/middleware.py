"""Plain ASGI middleware guarding the viewer and its read APIs.

Plain ASGI (not BaseHTTPMiddleware) because it sits in front of ingest too,
where it must cost nothing: public paths go straight through.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from http.cookies import SimpleCookie
from urllib.parse import quote

import orjson
from starlette.types import ASGIApp, Receive, Scope, Send

from sessionlens.auth import cookies
from sessionlens.auth.users import Accounts

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
TOKEN_CACHE_SECONDS = 30.0


class RequireLogin:
    """Let a request reach the viewer only with a valid cookie or API token.

    Cookie-authenticated state changes must also carry the CSRF token in an
    X-CSRF-Token header; token-authenticated scripts need none (a browser
    never attaches an Authorization header on its own).
    """

    def __init__(self, app: ASGIApp, accounts: Accounts, is_public: Callable[[str], bool]) -> None:
        self.app = app
        self.accounts = accounts
        self.is_public = is_public
        self._tokens: dict[str, tuple[float, str | None]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.is_public(scope["path"]):
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        user, cookie_value = None, None
        authorization = headers.get(b"authorization", b"").decode("latin-1")
        if authorization.lower().startswith("bearer "):
            user = self._token_user(authorization[7:].strip())
            if user is None:
                await _json(send, 401, "API token is unknown or revoked")
                return
        else:
            cookie_value = _cookie(headers.get(b"cookie", b""))
            if cookie_value:
                user = cookies.verify(self.accounts.secret(), cookie_value)
        if user is None:
            if scope["path"].startswith("/api/"):
                await _json(send, 401, "log in or send an API token (Authorization: Bearer ...)")
            else:
                target = scope["path"] + (
                    "?" + scope["query_string"].decode() if scope["query_string"] else ""
                )
                await _redirect(send, "/login?next=" + quote(target, safe=""))
            return
        if scope["method"] not in SAFE_METHODS and cookie_value is not None:
            token = headers.get(b"x-csrf-token", b"").decode("latin-1")
            if not cookies.csrf_ok(self.accounts.secret(), cookie_value, token):
                await _json(send, 403, "missing or wrong CSRF token (send X-CSRF-Token from /api/me)")
                return
        scope["user"] = user
        if cookie_value is not None:
            scope["csrf"] = cookies.csrf_token(self.accounts.secret(), cookie_value)
        await self.app(scope, receive, send)

    def _token_user(self, token: str) -> str | None:
        now = time.monotonic()
        hit = self._tokens.get(token)
        if hit and now - hit[0] < TOKEN_CACHE_SECONDS:
            return hit[1]
        user = self.accounts.token_user(token)
        if len(self._tokens) > 10_000:
            self._tokens.clear()
        self._tokens[token] = (now, user)
        return user


class SecurityHeaders:
    """Viewer pages: a strict CSP and no framing, no referrer, no sniffing.

    The replay iframe is srcdoc, so it inherits this policy: even if the
    sandbox failed, no script could run and nothing could be framed.
    Recorded styles and images need inline styles and remote images.
    """

    CSP = (
        "default-src 'self'; script-src 'self'; object-src 'none'; base-uri 'none'; "
        "form-action 'self'; frame-ancestors 'none'; frame-src 'self' about:; child-src 'self' about:; "
        "connect-src 'self'; worker-src 'none'; "
        "style-src 'self' 'unsafe-inline' http: https:; img-src 'self' data: blob: http: https:; "
        "font-src 'self' data: http: https:; media-src 'self' data: blob: http: https:"
    )

    def __init__(self, app: ASGIApp, applies: Callable[[str], bool]) -> None:
        self.app = app
        self.applies = applies

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.applies(scope["path"]):
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: dict) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = list(message.get("headers", [])) + [
                    (b"content-security-policy", self.CSP.encode()),
                    (b"x-frame-options", b"DENY"),
                    (b"referrer-policy", b"no-referrer"),
                    (b"x-content-type-options", b"nosniff"),
                    (b"cache-control", b"no-store"),
                ]
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _cookie(raw: bytes) -> str | None:
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(raw.decode("latin-1"))
    except Exception:  # a malformed Cookie header is just no cookie
        return None
    morsel = jar.get(cookies.COOKIE)
    return morsel.value if morsel else None


async def _json(send: Send, status: int, message: str) -> None:
    body = orjson.dumps({"error": message})
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _redirect(send: Send, location: str) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 303,
            "headers": [(b"location", location.encode()), (b"content-length", b"0")],
        }
    )
    await send({"type": "http.response.body", "body": b""})
