"""Read a stored session back as named events."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sessionlens import keys
from sessionlens.compaction.source import ChunkSource
from sessionlens.contracts import event_as_dict, field
from sessionlens.index import Index
from sessionlens.replay.element_paths import ElementPaths
from sessionlens.sites import SiteRegistry
from sessionlens.stores.base import BlobStore

_META_URL = field("meta", "url")


class SessionNotFound(LookupError):
    pass


def find_site(sid: str, store: BlobStore, index: Index, site: str | None = None) -> str:
    """The site a session belongs to: from the index, else by looking in storage."""
    if site:
        return site
    row = index.session(sid)
    if row:
        return row["site"]
    # The index is derived and may be stale; storage is the truth.
    for candidate in SiteRegistry(store).all():
        if next(iter(store.list(keys.session_prefix(candidate.key, sid))), None):
            return candidate.key
    raise SessionNotFound(f"no session {sid!r} in the index or the store")


def iter_chunks(store: BlobStore, site: str, sid: str) -> Iterator[dict[str, Any]]:
    """Stored chunks of a session, page view by page view, in sequence order."""
    # Loose chunks and packed ones (sessionlens.compaction) read the same.
    source = ChunkSource(store)
    chunk_list = [keys.parse_chunk_key(key) for key in source.all_chunk_keys(keys.session_prefix(site, sid))]
    if not chunk_list:
        raise SessionNotFound(f"session {sid!r} has no stored chunks in site {site!r}")
    chunks = [source.chunk(a.site, a.sid, a.pid, a.seq) for a in chunk_list if a]
    # Order page views by their start, then chunks by sequence number.
    chunks.sort(key=lambda c: (c["t0"], c["pid"], c["seq"]))
    yield from chunks


def page_views_in_store(store: BlobStore, site: str, sid: str) -> list[dict[str, Any]]:
    """A session's page views (pid, t0, url) in start order, read from storage alone: for when
    the index has not caught up with an acknowledged chunk, or was lost."""
    source = ChunkSource(store)
    first: dict[str, keys.ChunkAddress] = {}
    for key in source.all_chunk_keys(keys.session_prefix(site, sid)):
        a = keys.parse_chunk_key(key)
        if a and (a.pid not in first or a.seq < first[a.pid].seq):
            first[a.pid] = a
    views = []
    for a in first.values():
        chunk = source.chunk(a.site, a.sid, a.pid, a.seq)
        url = next((e[_META_URL] for e in chunk["events"] if e[0] == "meta" and len(e) > _META_URL), "")
        views.append({"pid": a.pid, "t0": chunk["t0"], "url": url if isinstance(url, str) else ""})
    return sorted(views, key=lambda v: (v["t0"], v["pid"]))


def iter_session_events(store: BlobStore, site: str, sid: str) -> Iterator[dict[str, Any]]:
    # Chunks come page view by page view: clicks, forms and fields the recorder left unnamed are
    # named from each page view's recorded DOM, as every reader of a recording names them.
    paths, pid = ElementPaths(), None
    for chunk in iter_chunks(store, site, sid):
        if chunk["pid"] != pid:
            paths, pid = ElementPaths(), chunk["pid"]
        for event in paths.stream(chunk["events"]):
            record = event_as_dict(event)
            record["pid"] = chunk["pid"]
            record["seq"] = chunk["seq"]
            record["time"] = chunk["t0"] + event[1]
            yield record
