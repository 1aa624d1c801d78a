"""Signed viewer session cookies and the CSRF token bound to each.

The cookie is `user.expires.session_id.signature`, HMAC-SHA256 with the
stored secret. The signature lets any collector refuse a forged cookie
without touching storage; the session id names a server-side session
record (auth/sessions.py) that logout, a password change or the user's
removal delete, so a cookie can be revoked. The CSRF token is a second
HMAC of the cookie value; a page served to the logged-in user can read it
(from /api/me), another site cannot.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass

COOKIE = "sl_session"
SESSION_SECONDS = 7 * 24 * 3600


@dataclass(frozen=True, slots=True)
class CookieSession:
    user: str
    session_id: str
    expires: int


def _sign(secret: bytes, message: str) -> str:
    return hmac.new(secret, message.encode(), hashlib.sha256).hexdigest()


def issue(secret: bytes, user: str, session_id: str, expires: int) -> str:
    body = f"{user}.{expires}.{session_id}"
    return f"{body}.{_sign(secret, 'session:' + body)}"


def verify(secret: bytes, value: str, now: float | None = None) -> CookieSession | None:
    """The session the cookie names, or None when it is forged or expired.

    Only the signature and the expiry: whether the session still exists
    is the session store's question.
    """
    parts = value.split(".")
    if len(parts) != 4:
        return None
    user, expires, session_id, signature = parts
    body = ".".join(parts[:3])
    if not hmac.compare_digest(signature, _sign(secret, "session:" + body)):
        return None
    if not expires.isdigit() or int(expires) < (time.time() if now is None else now):
        return None
    return CookieSession(user, session_id, int(expires))


def csrf_token(secret: bytes, cookie_value: str) -> str:
    return _sign(secret, "csrf:" + cookie_value)


def csrf_ok(secret: bytes, cookie_value: str, token: str | None) -> bool:
    return bool(token) and hmac.compare_digest(csrf_token(secret, cookie_value), token or "")
