"""Server-side records of viewer login sessions, in the blob store.

Every collector sharing the store sees the same records, so a logout on
one ends the session on all (after at most auth_cache_seconds). A record
is stored under the SHA-256 of the session id, so a reader of the store
cannot rebuild a cookie from it (it would also need config/secret).
"""

from __future__ import annotations

import hashlib
import secrets
import time

import orjson

from sessionlens import keys
from sessionlens.stores.base import BlobStore

SESSION_ID_BYTES = 16


def _hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


class SessionRecords:
    def __init__(self, store: BlobStore) -> None:
        self.store = store

    def start(self, user: str, lifetime_seconds: int) -> tuple[str, int]:
        """A new session id for user and its expiry (epoch seconds)."""
        self.prune_expired(user)
        session_id = secrets.token_hex(SESSION_ID_BYTES)
        expires = int(time.time()) + lifetime_seconds
        record = {"user": user, "created": int(time.time() * 1000), "expires": expires}
        self.store.put(keys.session_key(user, _hash(session_id)), orjson.dumps(record))
        return session_id, expires

    def alive(self, user: str, session_id: str) -> bool:
        if len(session_id) != 2 * SESSION_ID_BYTES:
            return False
        try:
            record = orjson.loads(self.store.get(keys.session_key(user, _hash(session_id))))
        except (KeyError, ValueError):
            return False
        return record.get("user") == user and int(record.get("expires", 0)) >= time.time()

    def end(self, user: str, session_id: str) -> None:
        if len(session_id) == 2 * SESSION_ID_BYTES:
            # delete_prefix of a whole key deletes exactly that key.
            self.store.delete_prefix(keys.session_key(user, _hash(session_id)))

    def end_all(self, user: str) -> int:
        """End every session of user; returns how many there were."""
        return self.store.delete_prefix(keys.user_sessions_prefix(user))

    def count(self, user: str) -> int:
        return sum(1 for _ in self.store.list(keys.user_sessions_prefix(user)))

    def prune_expired(self, user: str) -> None:
        # Expired records are harmless (the cookie's own expiry refuses them)
        # but would pile up; a login is a good moment to sweep its user's.
        now = time.time()
        for key in list(self.store.list(keys.user_sessions_prefix(user))):
            try:
                expires = int(orjson.loads(self.store.get(key)).get("expires", 0))
            except (KeyError, ValueError):
                continue
            if expires < now:
                self.store.delete_prefix(key)
