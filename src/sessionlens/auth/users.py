"""Viewer users and API tokens, kept as configuration in the blob store.

Passwords are hashed with scrypt (memory-hard: 16 MiB per guess), so a
leaked users folder does not hand out passwords. API tokens are stored by
their SHA-256 only: they are long random strings, so a fast hash suffices,
and the token itself is shown once, when it is made. A token has a scope:
"read" (the default) may only read; "admin" may also change state (create
tokens). A token is named in lists by the first 12 hex digits of its hash.

Login sessions are records in the store (auth/sessions.py): replacing a
password or removing a user ends every session of that user; removing a
user also deletes their tokens.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import time
from dataclasses import asdict, dataclass

import orjson

from sessionlens import keys
from sessionlens.auth.cache import TTLCache
from sessionlens.auth.sessions import SessionRecords
from sessionlens.stores.base import BlobStore

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
MIN_PASSWORD = 8
TOKEN_PREFIX = "slt_"
TOKEN_SCOPES = ("read", "admin")
TOKEN_ID_DIGITS = 12
MIN_TOKEN_ID_PREFIX = 6
_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class UserError(ValueError):
    pass


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def hash_password(password: str, salt: bytes | None = None) -> dict[str, object]:
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(
        password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, maxmem=64 * 1024 * 1024, dklen=32
    )
    return {
        "alg": "scrypt",
        "n": SCRYPT_N,
        "r": SCRYPT_R,
        "p": SCRYPT_P,
        "salt": _b64(salt),
        "hash": _b64(digest),
    }


# What an unknown user's password is checked against: the parameters of a
# real hash, so the failure costs exactly one scrypt like a wrong password.
# The hash itself is random: no password matches it.
_NO_USER_PASSWORD: dict[str, object] = {
    "alg": "scrypt",
    "n": SCRYPT_N,
    "r": SCRYPT_R,
    "p": SCRYPT_P,
    "salt": _b64(secrets.token_bytes(16)),
    "hash": _b64(secrets.token_bytes(32)),
}


def check_password(password: str, stored: dict[str, object]) -> bool:
    salt = base64.b64decode(str(stored["salt"]))
    digest = hashlib.scrypt(
        password.encode(),
        salt=salt,
        n=int(stored["n"]),  # type: ignore[call-overload]
        r=int(stored["r"]),  # type: ignore[call-overload]
        p=int(stored["p"]),  # type: ignore[call-overload]
        maxmem=64 * 1024 * 1024,
        dklen=32,
    )
    return hmac.compare_digest(digest, base64.b64decode(str(stored["hash"])))


@dataclass(slots=True)
class User:
    name: str
    password: dict[str, object]
    created: int


@dataclass(slots=True)
class Token:
    label: str
    user: str
    created: int
    # Tokens stored before scopes existed read as "read": the safe side.
    scope: str = "read"


@dataclass(frozen=True, slots=True)
class TokenInfo:
    id: str
    label: str
    user: str
    created: int
    scope: str


@dataclass(frozen=True, slots=True)
class RemovedUser:
    sessions: int
    tokens: int


class Accounts:
    """Users, tokens, login sessions and the signing secret, all in one blob store.

    Answers about sessions and tokens are cached for cache_seconds per
    process (see auth/cache.py); changes made here are seen here at once.
    """

    def __init__(self, store: BlobStore, cache_seconds: float = 5.0) -> None:
        self.store = store
        self.sessions = SessionRecords(store)
        self._secret: bytes | None = None
        self._session_cache: TTLCache[bool] = TTLCache(cache_seconds)
        self._token_cache: TTLCache[Token | None] = TTLCache(cache_seconds)

    # -- users ---------------------------------------------------------------

    def add_user(self, name: str, password: str, *, replace: bool = False) -> User:
        """Add a user, or with replace=True set a new password and end every session."""
        if not _NAME.match(name):
            raise UserError("user name must be 1-64 characters of A-Z a-z 0-9 _ -")
        if len(password) < MIN_PASSWORD:
            raise UserError(f"password must be at least {MIN_PASSWORD} characters")
        if not replace and self.user(name) is not None:
            raise UserError(f"user {name!r} already exists (use --replace to change the password)")
        user = User(name=name, password=hash_password(password), created=int(time.time() * 1000))
        self.store.put(keys.user_key(name), orjson.dumps(asdict(user)))
        # Whoever logged in with the old password is logged out.
        self.sessions.end_all(name)
        self._session_cache.clear()
        return user

    def remove_user(self, name: str) -> RemovedUser:
        """Remove a user, end their sessions and delete their API tokens."""
        if self.user(name) is None:
            raise UserError(f"no user {name!r}")
        # The record first: from here on no login and no token check succeeds.
        self.store.delete_prefix(keys.user_key(name))
        ended = self.sessions.end_all(name)
        revoked = 0
        for info in self.tokens(user=name):
            revoked += self._delete_token(info.id)
        self._session_cache.clear()
        self._token_cache.clear()
        return RemovedUser(sessions=ended, tokens=revoked)

    def user(self, name: str) -> User | None:
        if not _NAME.match(name):
            return None
        try:
            raw = orjson.loads(self.store.get(keys.user_key(name)))
        except KeyError:
            return None
        return User(**raw)

    def users(self) -> list[str]:
        return sorted(k[len(keys.USER_PREFIX) : -len(".json")] for k in self.store.list(keys.USER_PREFIX))

    def authenticate(self, name: str, password: str) -> User | None:
        """The user when the password is right; exactly one scrypt either way.

        An unknown name is checked against a hash with the same parameters,
        so it costs what a wrong password costs and names cannot be probed
        by timing.
        """
        user = self.user(name)
        stored = user.password if user is not None else _NO_USER_PASSWORD
        matches = check_password(password, stored)
        return user if user is not None and matches else None

    # -- login sessions --------------------------------------------------------

    def session_alive(self, user: str, session_id: str) -> bool:
        return self._session_cache.get(
            ("session", user, session_id), lambda: self.sessions.alive(user, session_id)
        )

    def end_session(self, user: str, session_id: str) -> None:
        self.sessions.end(user, session_id)
        self._session_cache.forget(("session", user, session_id))

    # -- API tokens ----------------------------------------------------------

    def create_token(self, user: str, label: str, scope: str = "read") -> str:
        if scope not in TOKEN_SCOPES:
            raise UserError(f"token scope must be one of {', '.join(TOKEN_SCOPES)}, got {scope!r}")
        if self.user(user) is None:
            raise UserError(f"no user {user!r}")
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        record = Token(label=label or "token", user=user, created=int(time.time() * 1000), scope=scope)
        self.store.put(keys.token_key(_token_hash(token)), orjson.dumps(asdict(record)))
        return token

    def token(self, token: str) -> Token | None:
        """The token's record while both it and its user exist (cached)."""
        if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
            return None
        return self._token_cache.get(("token", _token_hash(token)), lambda: self._load_token(token))

    def token_user(self, token: str) -> str | None:
        record = self.token(token)
        return record.user if record else None

    def _load_token(self, token: str) -> Token | None:
        try:
            record = _token_record(self.store.get(keys.token_key(_token_hash(token))))
        except KeyError:
            return None
        if record is None or self.user(record.user) is None:
            return None
        return record

    def tokens(self, user: str | None = None) -> list[TokenInfo]:
        found = []
        for key in self.store.list(keys.TOKEN_PREFIX):
            digest = key[len(keys.TOKEN_PREFIX) : -len(".json")]
            try:
                record = _token_record(self.store.get(key))
            except KeyError:
                continue
            if record is None or (user is not None and record.user != user):
                continue
            found.append(
                TokenInfo(digest[:TOKEN_ID_DIGITS], record.label, record.user, record.created, record.scope)
            )
        return sorted(found, key=lambda t: (t.user, t.created))

    def revoke_token(self, id_or_token: str) -> TokenInfo:
        """Revoke by the token itself, its id, or a unique prefix of the id (6+ hex digits)."""
        ref = id_or_token.strip()
        if ref.startswith(TOKEN_PREFIX):
            ref = _token_hash(ref)
        ref = ref.lower()
        if not (MIN_TOKEN_ID_PREFIX <= len(ref) <= 64 and re.fullmatch(r"[0-9a-f]+", ref)):
            raise UserError(
                f"name a token by its id (from `tokens list`, at least {MIN_TOKEN_ID_PREFIX} hex digits) "
                "or by the token itself"
            )
        matches = [k for k in self.store.list(keys.TOKEN_PREFIX + ref)]
        if not matches:
            raise UserError(f"no token with id {id_or_token!r}")
        if len(matches) > 1:
            raise UserError(f"{len(matches)} tokens have ids starting {ref!r}; give more digits")
        digest = matches[0][len(keys.TOKEN_PREFIX) : -len(".json")]
        record = _token_record(self.store.get(matches[0])) or Token("?", "?", 0)
        self._delete_token(digest)
        return TokenInfo(digest[:TOKEN_ID_DIGITS], record.label, record.user, record.created, record.scope)

    def _delete_token(self, digest_or_id: str) -> int:
        keys_found = list(self.store.list(keys.TOKEN_PREFIX + digest_or_id))
        for key in keys_found:
            self.store.delete_prefix(key)
        self._token_cache.clear()
        return len(keys_found)

    # -- signing secret ------------------------------------------------------

    def secret(self) -> bytes:
        if self._secret is None:
            try:
                self._secret = self.store.get(keys.SECRET_KEY)
            except KeyError:
                secret = secrets.token_bytes(32)
                self.store.put(keys.SECRET_KEY, secret)
                # Two collectors racing here: the stored one wins for both.
                self._secret = self.store.get(keys.SECRET_KEY)
        return self._secret


def _token_record(raw: bytes) -> Token | None:
    try:
        data = orjson.loads(raw)
        return Token(
            label=str(data["label"]), user=str(data["user"]), created=int(data["created"]),
            scope=str(data.get("scope", "read")),
        )  # fmt: skip
    except (ValueError, KeyError, TypeError):
        return None


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
