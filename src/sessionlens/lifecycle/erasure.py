"""The right to erasure: everything recorded for a visitor id, a user id or a session id."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from typing import Any

from sessionlens import keys
from sessionlens.index import lifecycle as sql
from sessionlens.lifecycle.audit import write_audit
from sessionlens.lifecycle.erase import Removal, remove_sessions
from sessionlens.sites import SiteRegistry
from sessionlens.stores.base import BlobStore

_ID_MAX = 256


class ErasureError(ValueError):
    """The request names nothing, or more than one thing, or an id of the wrong shape."""


@dataclass(frozen=True, slots=True)
class Subject:
    """Whose data: exactly one of a visitor id, a user id or a session id (optionally on one site)."""

    visitor: str | None = None
    user: str | None = None
    session: str | None = None
    site: str | None = None

    def __post_init__(self) -> None:
        named = [v for v in (self.visitor, self.user, self.session) if v is not None]
        if len(named) != 1:
            raise ErasureError("name exactly one of a visitor id, a user id or a session id")
        value = named[0]
        if not isinstance(value, str) or not 1 <= len(value) <= _ID_MAX or any(ord(c) < 32 for c in value):
            raise ErasureError(f"the id must be 1-{_ID_MAX} printable characters")
        if self.site is not None and not keys._ID.match(self.site):
            raise ErasureError("site must be a site key (A-Z a-z 0-9 _ -)")
        if self.session is not None and not keys._ID.match(self.session):
            raise ErasureError("a session id is 1-64 characters of A-Z a-z 0-9 _ -")

    @property
    def kind(self) -> str:
        return "visitor" if self.visitor is not None else "user" if self.user is not None else "session"

    @property
    def value(self) -> str:
        return self.visitor or self.user or self.session or ""

    def described(self) -> dict[str, Any]:
        """For the audit record: the id's SHA-256, never the id (the record outlives the data)."""
        return {
            "kind": self.kind,
            "sha256": hashlib.sha256(self.value.encode()).hexdigest(),
            "site": self.site,
        }


def find_sessions(store: BlobStore, index: Any, subject: Subject) -> list[tuple[str, str]]:
    """The subject's sessions: from the index (chunks and sessions), and for a session id also
    from storage (the index is derived and may lag)."""
    found = set(
        sql.sessions_of(index, visitor=subject.visitor, user=subject.user, sid=subject.session, site=subject.site)
    )
    if subject.session is not None:
        sites = [subject.site] if subject.site else [s.key for s in SiteRegistry(store).all()]
        for site in sites:
            if next(iter(store.list(keys.session_prefix(site, subject.session))), None):
                found.add((site, subject.session))
    return sorted(found)


def erase(store: BlobStore, index: Any, subject: Subject, requested_by: str, **waits: float) -> tuple[Removal, str]:
    """Remove the subject's sessions; returns what was removed and the audit record's key."""
    started = int(time.time() * 1000)
    removal = remove_sessions(store, index, find_sessions(store, index, subject), **waits)
    key = write_audit(
        store,
        "erase",
        started,
        {"requested_by": requested_by, "subject": subject.described(), "finished_at": int(time.time() * 1000),
         **removal.as_dict()},
    )  # fmt: skip
    return removal, key
