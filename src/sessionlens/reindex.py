"""Rebuild every index table, and the derived data, from the stored chunks alone
(and the rows of researchers' saved documents from their objects).

The rebuild is written into a fresh index beside the live one (SQLite: a
file next to it; PostgreSQL: a staging schema in the same database) and
swapped in by one transaction at the end (Index.adopt_rebuild), so:
- an interrupted or failing reindex leaves the old index exactly as it was;
- a running server keeps answering from the old rows during the rebuild and
  sees the new ones as soon as the swap commits (same database);
- a chunk that cannot be read, decoded, indexed or derived is reported with
  its key and the reason, skipped, and never deleted; everything else is
  rebuilt.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from sessionlens import keys
from sessionlens.compaction.source import ChunkSource
from sessionlens.derivation.clicks import ClickDeriver
from sessionlens.derivation.derivations import Context, DerivationError, derive_page_view
from sessionlens.heatmap.signals import Thresholds
from sessionlens.index import ChunkRow, Index
from sessionlens.ingest import row_for_stored_chunk
from sessionlens.replay.pageview import PageViewReader
from sessionlens.saved_docs import SavedDocs
from sessionlens.sites import SiteRegistry
from sessionlens.stores.base import BlobStore

# Chunk rows received this long before the rebuild started, and missing from
# it, were stored after their key was listed: the swap keeps them.
INGEST_SLACK_MS = 120_000


@dataclass(frozen=True, slots=True)
class Skipped:
    key: str
    reason: str

    def __str__(self) -> str:
        return f"{self.key}: {self.reason}"


@dataclass
class ReindexResult:
    chunks: int = 0
    sessions: int = 0
    skipped: list[Skipped] = field(default_factory=list)
    kept: int = 0  # chunk rows ingested while the rebuild ran, carried over
    documents: dict[str, int] = field(default_factory=dict)  # saved_docs.resync's counts

    @property
    def unreadable(self) -> list[str]:
        return [str(s) for s in self.skipped]


def chunk_keys(store: BlobStore) -> list[str]:
    """Every stored chunk, loose or packed by compaction (a packed one by its chunk key)."""
    return ChunkSource(store).all_chunk_keys(keys.CHUNK_ROOT)


def reindex(
    store: BlobStore,
    index: Index,
    all_keys: list[str] | None = None,
    on_chunk: Callable[[], None] | None = None,
    thresholds: Thresholds | None = None,
    keyframes: bool = True,
) -> ReindexResult:
    """Rebuild `index` from `store`; skipped chunks are listed in the result."""
    since = int(time.time() * 1000) - INGEST_SLACK_MS
    all_keys = chunk_keys(store) if all_keys is None else all_keys
    fresh = index.open_rebuild()
    try:
        reader = _SkippingReader(store)
        ctx = Context(store, fresh, reader, thresholds or Thresholds(), ClickDeriver(0))
        result = _build(ctx, all_keys, on_chunk, skip=frozenset() if keyframes else frozenset({"keyframes"}))
        skipped = {keys.parse_chunk_key(s.key) for s in result.skipped}
        exclude = {(a.site, a.sid, a.pid, a.seq) for a in skipped if a is not None}
        result.kept = index.adopt_rebuild(fresh, since, exclude)
    finally:
        index.discard_rebuild(fresh)
    # Researchers' documents are not derived from chunks: their rows are re-synced from their
    # objects in the live index (written while the rebuild ran, they are there already).
    result.documents = SavedDocs(store, index).resync(site.key for site in SiteRegistry(store).all())
    return result


def _build(
    ctx: Context, all_keys: list[str], on_chunk: Callable[[], None] | None, skip: frozenset[str]
) -> ReindexResult:
    result = ReindexResult()

    def session_of(key: str) -> tuple[str, str]:
        addr = keys.parse_chunk_key(key) or keys.parse_pack_key(key)  # a pack: its header is unreadable
        assert addr is not None
        return addr.site, addr.sid

    # Keys are sorted, so the chunks of one session arrive together and each
    # session is aggregated once.
    for _, group in itertools.groupby(all_keys, key=session_of):
        rows: list[tuple[str, ChunkRow]] = []
        for key in group:
            try:
                rows.append((key, _read_row(ctx.reader.source, key)))
            except Exception as exc:  # a damaged object must not stop the rebuild
                result.skipped.append(Skipped(key, _reason(exc)))
                ctx.reader.skip.add(key)
            if on_chunk:
                on_chunk()
        indexed = _record(ctx.index, rows, result, ctx.reader.skip)
        if not indexed:
            continue
        result.chunks += len(indexed)
        result.sessions += 1
        # Derived data is rebuilt from the first chunk, with today's thresholds.
        for view in sorted({(r.site, r.sid, r.pid) for r in indexed}):
            _derive(ctx, view, skip, result)
    return result


def _derive(ctx: Context, view: tuple[str, str, str], skip: frozenset[str], result: ReindexResult) -> None:
    """Derive a page view; a chunk that makes a derivation fail is reported and left out of it."""
    reader = ctx.reader
    assert isinstance(reader, _SkippingReader)
    while True:
        try:
            derive_page_view(ctx, view, rebuild=True, skip=skip)
            return
        except DerivationError as exc:
            result.skipped.append(Skipped(exc.key, f"{exc.derivation}: {_reason(exc.cause)}"))
            if not keys.parse_chunk_key(exc.key) or exc.key in reader.skip:
                return  # not one chunk's fault: the page view stays underived
            reader.skip.add(exc.key)  # derive again without it


class _SkippingReader(PageViewReader):
    """A reader that leaves out the chunks reindex skipped, so derivations use the rest."""

    def __init__(self, store: BlobStore) -> None:
        super().__init__(store, cache_size=64)
        self.skip: set[str] = set()

    def chunk_seqs(self, site: str, sid: str, pid: str) -> list[int]:
        return [
            seq
            for seq in super().chunk_seqs(site, sid, pid)
            if keys.chunk_key(keys.ChunkAddress(site, sid, pid, seq)) not in self.skip
        ]


def _read_row(source: ChunkSource, key: str) -> ChunkRow:
    addr = keys.parse_chunk_key(key)
    if addr is None:  # a pack listed by its own key: reading its header says why it was
        source.pack_seqs(key)
        raise ValueError("pack header lists no chunks")
    # A packed chunk's stored bytes are its share of the pack.
    chunk, stored_bytes = source.chunk_and_size(
        addr.site, addr.sid, addr.pid, addr.seq, source.recent_listing(addr.site, addr.sid, addr.pid)
    )
    row = row_for_stored_chunk(chunk, stored_bytes)
    if addr != keys.ChunkAddress(row.site, row.sid, row.pid, row.seq):
        raise ValueError("the chunk's site, session, page view or seq differs from its key")
    return row


def _record(
    index: Index, rows: list[tuple[str, ChunkRow]], result: ReindexResult, ctx_skip: set[str]
) -> list[ChunkRow]:
    """Index a session's rows in one go, or one by one to find the rows that cannot be indexed."""
    if not rows:
        return []
    try:
        index.record_chunks([r for _, r in rows]).result()
        return [r for _, r in rows]
    except Exception:
        pass
    indexed = []
    for key, row in rows:
        try:
            index.record_chunks([row]).result()
            indexed.append(row)
        except Exception as exc:
            result.skipped.append(Skipped(key, f"cannot be indexed: {_reason(exc)}"))
            ctx_skip.add(key)
    return indexed


def _reason(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"
