"""Finding page views to compact by looking at storage (the CLI; the index may be stale or new).

A page view is due when it has loose chunks and its newest one was received
at least `idle_ms` ago, or (with `recompress`) when a pack of it was written
at a lower level or with an older dictionary than compaction now uses.
"""

from __future__ import annotations

from collections.abc import Iterator

from sessionlens import codec, keys
from sessionlens.compaction.source import ChunkSource

PageView = tuple[str, str, str]


def stored_page_views(source: ChunkSource, site: str | None = None) -> Iterator[PageView]:
    prefix = keys.site_prefix(site) if site else keys.CHUNK_ROOT
    last: PageView | None = None
    for key in source.store.list(prefix):
        addr = keys.parse_chunk_key(key) or keys.parse_pack_key(key)
        if addr is None:
            continue
        view = (addr.site, addr.sid, addr.pid)
        if view != last:  # keys are sorted: a page view's keys come together
            last = view
            yield view


def is_due(
    source: ChunkSource,
    view: PageView,
    *,
    now_ms: int,
    idle_ms: int,
    level: int,
    dict_id: int,
    recompress: bool,
) -> bool:
    listing = source.listing(*view)
    if listing.loose:
        newest = source.chunk(*view, max(listing.loose), listing)
        received = newest.get("received", 0) if isinstance(newest, dict) else 0
        return isinstance(received, int) and received <= now_ms - idle_ms
    if len(listing.packs) > 1:
        return True
    if recompress and listing.packs:
        (only,) = listing.packs
        head = codec.header(source.store.get(only))
        return head.level < level or head.dictionary != dict_id
    return False
