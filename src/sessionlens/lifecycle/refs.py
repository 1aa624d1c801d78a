"""Asset references in a site's stored objects (packs and keyframes), found by a scan.

Compaction stores large strings once per site under v1/sites/{site}/assets/
and replaces them in packs and keyframes with references (msgpack ext 1 with
the 32-byte SHA-256). Whether an asset is still used is decided by scanning
those objects, not by counting: counts would have to be kept right by every
writer through crashes, while a scan under the asset lock (holds.py) reads
what is actually stored.
"""

from __future__ import annotations

from collections.abc import Iterator

from sessionlens import keys
from sessionlens.compaction.objects import SiteObjects
from sessionlens.stores.base import BlobStore


def _may_reference(key: str) -> bool:
    # Packs and keyframes are the only objects compaction writes references into.
    return keys.parse_pack_key(key) is not None or keys.keyframe_time(key) is not None


def session_of(key: str) -> str | None:
    """The session id of a key under v1/sites/{site}/sessions/{sid}/, else None."""
    parts = key.split("/")
    return parts[4] if len(parts) > 5 and parts[0] == "v1" and parts[3] == "sessions" else None


def references(objects: SiteObjects, site: str, blob: bytes) -> set[str]:
    """SHA-256 hex digests of the assets one stored object references (assets are not read).

    SiteObjects decides how: a pack's chunks are msgpack bytes of their own,
    so a decode of the pack alone would see none of their references."""
    return objects.references(site, blob)


def referencing_keys(store: BlobStore, site: str, sids: set[str] | None = None) -> Iterator[str]:
    """Keys of the site's packs and keyframes (of `sids` only, when given)."""
    if sids is not None:
        for sid in sorted(sids):
            yield from (k for k in store.list(keys.session_prefix(site, sid)) if _may_reference(k))
        return
    yield from (k for k in store.list(keys.site_prefix(site) + "sessions/") if _may_reference(k))


def assets_referenced(
    store: BlobStore, objects: SiteObjects, site: str, *, only: set[str] | None = None,
    excluding: set[str] = frozenset(),
) -> set[str]:  # fmt: skip
    """Assets referenced by the site's objects, of sessions `only` (when given), not of `excluding`."""
    found: set[str] = set()
    for key in referencing_keys(store, site, only):
        if session_of(key) in excluding:
            continue
        try:
            found |= references(objects, site, store.get(key))
        except KeyError:
            continue  # removed since listing
    return found
