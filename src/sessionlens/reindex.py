"""Rebuild every index table from the stored chunks alone."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field

from sessionlens import codec, keys
from sessionlens.heatmap.derive import derive_clicks
from sessionlens.heatmap.signals import Thresholds
from sessionlens.index import ChunkRow, Index
from sessionlens.ingest import row_for_stored_chunk
from sessionlens.replay.pageview import PageViewReader
from sessionlens.stores.base import BlobStore


@dataclass
class ReindexResult:
    chunks: int = 0
    sessions: int = 0
    unreadable: list[str] = field(default_factory=list)


def chunk_keys(store: BlobStore) -> list[str]:
    return [k for k in store.list(keys.CHUNK_ROOT) if keys.parse_chunk_key(k)]


def reindex(
    store: BlobStore,
    index: Index,
    all_keys: list[str] | None = None,
    on_chunk: Callable[[], None] | None = None,
    thresholds: Thresholds | None = None,
) -> ReindexResult:
    """Unreadable chunks are listed in the result and skipped, never deleted."""
    all_keys = chunk_keys(store) if all_keys is None else all_keys
    index.clear()
    result = ReindexResult()

    def session_of(key: str) -> tuple[str, str]:
        addr = keys.parse_chunk_key(key)
        assert addr is not None
        return addr.site, addr.sid

    # Keys are sorted, so the chunks of one session arrive together and each
    # session is aggregated once.
    for _, group in itertools.groupby(all_keys, key=session_of):
        rows: list[ChunkRow] = []
        for key in group:
            try:
                blob = store.get(key)
                rows.append(row_for_stored_chunk(codec.decode(blob), len(blob)))
            except Exception as exc:  # a damaged object must not stop the rebuild
                result.unreadable.append(f"{key}: {exc}")
            if on_chunk:
                on_chunk()
        if rows:
            index.record_chunks(rows).result()
            result.chunks += len(rows)
            result.sessions += 1
            # Click facts and signals are re-scored with today's thresholds.
            reader = PageViewReader(store, cache_size=64)
            for site, sid, pid in sorted({(r.site, r.sid, r.pid) for r in rows}):
                try:
                    derive_clicks(index, reader, thresholds or Thresholds(), site, sid, pid)
                except Exception as exc:
                    result.unreadable.append(f"clicks of {site}/{sid}/{pid}: {exc}")
    return result
