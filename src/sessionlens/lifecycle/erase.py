"""Removing sessions: objects, derived objects, index rows and unreferenced shared assets.

Used by erasure (a visitor id, a user id or a session id; an audit record is
written) and by retention (sessions older than a site's retention_days).

Order, each step safe to repeat (running erasure again finishes it):
1. drop the sessions' queued derivation and compaction work no worker holds,
   wait (bounded) until no worker holds a claim of these sessions, and drop
   again (a lease that expired meanwhile): so no worker writes a keyframe or a
   fact after the removal;
2. note the assets the sessions' packs and keyframes reference;
3. delete every object under the sessions' prefixes (chunks, packs,
   keyframes, backdrops, thumbnails) - storage first, so a failure leaves
   the index rows that find the sessions again - and the researchers' notes
   on them (saved_docs.forget_sessions; collections stop listing them);
4. delete every index row of the sessions (index/lifecycle.py);
5. under the site's exclusive asset lease (holds.py), scan the site's other
   packs and keyframes and delete the noted assets none of them references;
6. look again: anything written under the prefixes meanwhile is deleted.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from sessionlens import keys
from sessionlens.compaction.objects import SiteObjects
from sessionlens.index import lifecycle as sql
from sessionlens.lifecycle import refs
from sessionlens.lifecycle.holds import holder_name
from sessionlens.saved_docs import SavedDocs
from sessionlens.stores.base import BlobStore

CLAIM_WAIT_SECONDS = 60.0
ASSET_LOCK_WAIT_SECONDS = 60.0
ASSET_LEASE_MS = 10 * 60_000


def _now_ms() -> int:
    return int(time.time() * 1000)


@dataclass
class Removal:
    sessions: list[tuple[str, str]] = field(default_factory=list)
    objects: list[str] = field(default_factory=list)  # keys deleted
    index_rows: dict[str, int] = field(default_factory=dict)  # table -> rows deleted
    assets_removed: list[str] = field(default_factory=list)  # asset keys deleted
    assets_kept: list[str] = field(default_factory=list)  # still referenced by other sessions
    assets_pending: list[str] = field(default_factory=list)  # lock not obtained: run again
    documents: dict[str, int] = field(default_factory=dict)  # saved documents removed / edited

    def as_dict(self) -> dict[str, Any]:
        return {
            "sessions": [{"site": s, "sid": sid} for s, sid in self.sessions],
            "objects": self.objects,
            "index_rows": self.index_rows,
            "assets_removed": self.assets_removed,
            "assets_kept": self.assets_kept,
            "assets_pending": self.assets_pending,
            "documents": self.documents,
        }


def _keep_workers_out(index: Any, sessions: list[tuple[str, str]], wait_s: float) -> None:
    """Nothing of these sessions can be claimed from here on; a claim already held ends (bounded)."""
    sql.drop_unclaimed_work(index, sessions, _now_ms())
    deadline = time.monotonic() + wait_s
    while sql.claims_in_flight(index, sessions, _now_ms()) and time.monotonic() < deadline:
        time.sleep(0.2)
    sql.drop_unclaimed_work(index, sessions, _now_ms())


def _delete_objects(store: BlobStore, site: str, sid: str) -> list[str]:
    prefix = keys.session_prefix(site, sid)
    found = list(store.list(prefix))
    for key in found:
        store.delete_prefix(key)  # a whole key: that object only
    return found


def remove_sessions(
    store: BlobStore,
    index: Any,
    sessions: list[tuple[str, str]],
    *,
    claim_wait_s: float = CLAIM_WAIT_SECONDS,
    asset_wait_s: float = ASSET_LOCK_WAIT_SECONDS,
) -> Removal:
    removal = Removal(sessions=sorted(set(sessions)))
    if not removal.sessions:
        return removal
    objects = SiteObjects(store)
    _keep_workers_out(index, removal.sessions, claim_wait_s)
    by_site: dict[str, set[str]] = {}
    for site, sid in removal.sessions:
        by_site.setdefault(site, set()).add(sid)
    candidates = {
        site: refs.assets_referenced(store, objects, site, only=sids) for site, sids in by_site.items()
    }
    for site, sid in removal.sessions:
        removal.objects += _delete_objects(store, site, sid)
    # Researchers' notes on the sessions go with them; collections stop listing them.
    removal.documents = SavedDocs(store, index).forget_sessions(removal.sessions)
    removal.index_rows = sql.delete_sessions(index, removal.sessions)
    for site, sids in by_site.items():
        _remove_assets(store, index, objects, site, sids, candidates[site], removal, asset_wait_s)
    for site, sid in removal.sessions:  # a write that raced the removal (a late worker)
        removal.objects += _delete_objects(store, site, sid)
    return removal


def _remove_assets(
    store: BlobStore, index: Any, objects: SiteObjects, site: str, sids: set[str], candidates: set[str],
    removal: Removal, wait_s: float,
) -> None:  # fmt: skip
    if not candidates:
        return
    holder = holder_name("erase")
    deadline = time.monotonic() + wait_s
    while not sql.lock_assets(index, site, holder, _now_ms(), ASSET_LEASE_MS):
        if time.monotonic() > deadline:
            removal.assets_pending += sorted(keys.asset_key(site, sha) for sha in candidates)
            return
        time.sleep(0.2)
    try:
        still_used = refs.assets_referenced(store, objects, site, excluding=sids)
        for sha in sorted(candidates):
            key = keys.asset_key(site, sha)
            if sha in still_used:
                removal.assets_kept.append(key)
            elif store.delete_prefix(key):
                removal.assets_removed.append(key)
    finally:
        sql.unlock_assets(index, site, holder)
