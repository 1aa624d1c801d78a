"""Signed viewer session cookies and the CSRF token bound to each.

The cookie is `user.expires.nonce.signature`, HMAC-SHA256 with the stored
secret: no server-side session table, so any collector can check it. The
CSRF token is a second HMAC of the cookie value; a page served to the
logged-in user can read it (from /api/me or the form), another site cannot.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

COOKIE = "sl_session"
SESSION_SECONDS = 7 * 24 * 3600


def _sign(secret: bytes, message: str) -> str:
    return hmac.new(secret, message.encode(), hashlib.sha256).hexdigest()


def issue(secret: bytes, user: str, now: float | None = None) -> str:
    expires = int((time.time() if now is None else now) + SESSION_SECONDS)
    body = f"{user}.{expires}.{secrets.token_hex(8)}"
    return f"{body}.{_sign(secret, 'session:' + body)}"


def verify(secret: bytes, value: str, now: float | None = None) -> str | None:
    """The user the cookie names, or None when it is forged or expired."""
    parts = value.split(".")
    if len(parts) != 4:
        return None
    user, expires, _nonce, signature = parts
    body = ".".join(parts[:3])
    if not hmac.compare_digest(signature, _sign(secret, "session:" + body)):
        return None
    if not expires.isdigit() or int(expires) < (time.time() if now is None else now):
        return None
    return user


def csrf_token(secret: bytes, cookie_value: str) -> str:
    return _sign(secret, "csrf:" + cookie_value)


def csrf_ok(secret: bytes, cookie_value: str, token: str | None) -> bool:
    return bool(token) and hmac.compare_digest(csrf_token(secret, cookie_value), token or "")
