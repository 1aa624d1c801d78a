"""Plain ASGI middleware guarding the viewer and its read APIs.

Plain ASGI (not BaseHTTPMiddleware) because it sits in front of ingest too,
where it must cost nothing: public paths go straight through.
"""

from __future__ import annotations

from collections.abc import Callable
from http.cookies import SimpleCookie
from urllib.parse import quote

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

from sessionlens.auth import cookies
from sessionlens.auth.request_origin import isolation_problem
from sessionlens.auth.users import Accounts

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class RequireLogin:
    """Let a request reach the viewer only with a live session cookie or API token.

    A cookie must be correctly signed, unexpired, and name a session record
    that still exists (logout, a password change or the user's removal
    delete it). Cookie-authenticated requests must also pass the Fetch
    Metadata check (request_origin.isolation_problem), and their state
    changes must carry the CSRF token in an X-CSRF-Token header.
    Token-authenticated scripts need none of that (a browser never attaches
    an Authorization header on its own), but a "read" token may only read.
    """

    def __init__(self, app: ASGIApp, accounts: Accounts, is_public: Callable[[str], bool]) -> None:
        self.app = app
        self.accounts = accounts
        self.is_public = is_public

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.is_public(scope["path"]):
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        user, cookie_value, session_id, scopes = None, None, None, "admin"
        authorization = headers.get(b"authorization", b"").decode("latin-1")
        if authorization.lower().startswith("bearer "):
            # Off the event loop: a cache miss reads the blob store (S3: a round trip).
            token = await run_in_threadpool(self.accounts.token, authorization[7:].strip())
            if token is None:
                await _json(send, 401, "API token is unknown or revoked")
                return
            user, scopes = token.user, token.scope
        else:
            cookie_value = _cookie(headers.get(b"cookie", b""))
            found = cookies.verify(self.accounts.secret(), cookie_value) if cookie_value else None
            if found and await run_in_threadpool(self.accounts.session_alive, found.user, found.session_id):
                user, session_id = found.user, found.session_id
        if user is None:
            if scope["path"].startswith("/api/"):
                await _json(send, 401, "log in or send an API token (Authorization: Bearer ...)")
            else:
                target = scope["path"] + (
                    "?" + scope["query_string"].decode() if scope["query_string"] else ""
                )
                await _redirect(send, "/login?next=" + quote(target, safe=""))
            return
        if cookie_value is not None:
            problem = isolation_problem(scope["method"], scope["path"], headers)
            if problem:
                await _json(send, 403, problem)
                return
        if scope["method"] not in SAFE_METHODS:
            if cookie_value is not None:
                token = headers.get(b"x-csrf-token", b"").decode("latin-1")
                if not cookies.csrf_ok(self.accounts.secret(), cookie_value, token):
                    await _json(send, 403, "missing or wrong CSRF token (send X-CSRF-Token from /api/me)")
                    return
            elif scopes != "admin":
                await _json(send, 403, "this API token is read-only (create one with --scope admin)")
                return
        scope["user"] = user
        scope["auth_scope"] = scopes
        if cookie_value is not None:
            scope["csrf"] = cookies.csrf_token(self.accounts.secret(), cookie_value)
            scope["session_id"] = session_id
        await self.app(scope, receive, send)


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
        self._headers = [
            (b"content-security-policy", self.CSP.encode()),
            (b"x-frame-options", b"DENY"),
            (b"referrer-policy", b"no-referrer"),
            (b"x-content-type-options", b"nosniff"),
            (b"cache-control", b"no-store"),
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.applies(scope["path"]):
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: dict) -> None:
            if message["type"] == "http.response.start":
                # A handler may set its own value (the login page: its referrer policy).
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                message["headers"] = headers + [h for h in self._headers if h[0] not in present]
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
