"""Viewer users and API tokens, kept as configuration in the blob store.

Passwords are hashed with scrypt (memory-hard: 16 MiB per guess), so a
leaked users folder does not hand out passwords. API tokens are stored by
their SHA-256 only: they are long random strings, so a fast hash suffices,
and the token itself is shown once, when it is made.
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
from sessionlens.stores.base import BlobStore

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
MIN_PASSWORD = 8
TOKEN_PREFIX = "slt_"
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


class Accounts:
    """Users, tokens and the signing secret, all in one blob store."""

    def __init__(self, store: BlobStore) -> None:
        self.store = store
        self._secret: bytes | None = None

    # -- users ---------------------------------------------------------------

    def add_user(self, name: str, password: str, *, replace: bool = False) -> User:
        if not _NAME.match(name):
            raise UserError("user name must be 1-64 characters of A-Z a-z 0-9 _ -")
        if len(password) < MIN_PASSWORD:
            raise UserError(f"password must be at least {MIN_PASSWORD} characters")
        if not replace and self.user(name) is not None:
            raise UserError(f"user {name!r} already exists (use --replace to change the password)")
        user = User(name=name, password=hash_password(password), created=int(time.time() * 1000))
        self.store.put(keys.user_key(name), orjson.dumps(asdict(user)))
        return user

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
        user = self.user(name)
        if user is None:
            # Spend the same time as a real check so names cannot be probed by timing.
            check_password(password, hash_password("x" * MIN_PASSWORD, b"\0" * 16))
            return None
        return user if check_password(password, user.password) else None

    # -- API tokens ----------------------------------------------------------

    def create_token(self, user: str, label: str) -> str:
        if self.user(user) is None:
            raise UserError(f"no user {user!r}")
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        record = Token(label=label or "token", user=user, created=int(time.time() * 1000))
        self.store.put(keys.token_key(_token_hash(token)), orjson.dumps(asdict(record)))
        return token

    def token_user(self, token: str) -> str | None:
        if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
            return None
        try:
            record = orjson.loads(self.store.get(keys.token_key(_token_hash(token))))
        except KeyError:
            return None
        return record["user"] if self.user(record["user"]) is not None else None

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


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
