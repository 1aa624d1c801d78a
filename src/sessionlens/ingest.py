"""Turning one recorder request into one durable chunk.

Everything here runs off the event loop (in a worker thread) and raises
IngestError with the HTTP status and a message naming what was wrong.
Nothing is written unless every check has passed.
"""

from __future__ import annotations

import logging
import time
import zlib
from dataclasses import dataclass

import orjson

from sessionlens import codec, keys
from sessionlens.contracts import ContractError, validate_batch
from sessionlens.facts import chunk_facts
from sessionlens.index import ChunkRow, Index
from sessionlens.scrub import might_contain_pii, scrub_events
from sessionlens.settings import Settings
from sessionlens.stores.base import BlobStore, StoreError

GZIP_MAGIC = b"\x1f\x8b"
log = logging.getLogger(__name__)


class IngestError(Exception):
    def __init__(self, status: int, message: str, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class Accepted:
    key: str
    sid: str
    pid: str
    seq: int
    events: int
    stored_bytes: int


def decode_body(body: bytes, content_encoding: str, max_decoded: int) -> bytes:
    """Gunzip when the body is gzip (by header or magic bytes), refusing bombs."""
    encoding = content_encoding.strip().lower()
    if encoding not in ("", "identity", "gzip"):
        raise IngestError(415, f"unsupported Content-Encoding {encoding!r}; send gzip or plain JSON")
    if encoding != "gzip" and not body.startswith(GZIP_MAGIC):
        if len(body) > max_decoded:
            raise IngestError(413, f"batch is larger than {max_decoded} bytes")
        return body
    inflater = zlib.decompressobj(wbits=31)
    try:
        # Stop as soon as the output would pass the limit: a few KB of gzip
        # can expand to gigabytes.
        out = inflater.decompress(body, max_decoded + 1)
        if len(out) > max_decoded or inflater.unconsumed_tail:
            raise IngestError(413, f"batch decompresses to more than {max_decoded} bytes")
        if not inflater.eof:
            raise IngestError(400, "gzip body is truncated")
    except zlib.error as exc:
        raise IngestError(400, f"body is not valid gzip: {exc}") from None
    return out


def ingest_batch(
    *,
    site: str,
    body: bytes,
    content_encoding: str,
    user_agent: str,
    settings: Settings,
    store: BlobStore,
    index: Index,
) -> Accepted:
    raw = decode_body(body, content_encoding, settings.max_decoded_bytes)
    try:
        batch = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise IngestError(400, f"body is not valid JSON: {exc}") from None
    if not isinstance(batch, dict):
        raise IngestError(400, "batch must be a JSON object")
    events = batch.get("events")
    if isinstance(events, list) and len(events) > settings.max_events_per_batch:
        raise IngestError(
            413, f"batch has {len(events)} events; at most {settings.max_events_per_batch} allowed"
        )
    try:
        validate_batch(batch)
    except ContractError as exc:
        raise IngestError(422, f"batch does not match the schema: {exc}") from None

    seq = batch["seq"]
    if seq >= settings.max_batches_per_page_view:
        raise IngestError(403, f"page view exceeds {settings.max_batches_per_page_view} batches; not stored")
    addr = keys.ChunkAddress(site, batch["sid"], batch["pid"], seq)
    if index.batches_in_session(site, addr.sid) >= settings.max_batches_per_session:
        raise IngestError(403, f"session exceeds {settings.max_batches_per_session} batches; not stored")

    if settings.scrub_pii and might_contain_pii(raw):
        events = scrub_events(batch["events"])
    else:
        events = batch["events"]
    received = int(time.time() * 1000)
    ua = user_agent[:1024]
    chunk = {
        "v": 1,
        "site": site,
        "sid": addr.sid,
        "pid": addr.pid,
        "seq": seq,
        "t0": batch["t0"],
        "received": received,
        "ua": ua,
        "events": events,
    }
    blob = codec.encode(chunk)
    key = keys.chunk_key(addr)
    try:
        store.put(key, blob)
    except StoreError as exc:
        raise IngestError(
            503, f"storage unavailable: {exc}", retry_after=settings.retry_after_seconds
        ) from None

    # The chunk is durable; the index is derived, so a failure here is
    # repaired by `reindex` and must not turn into a retry of a stored batch.
    row = ChunkRow(site, addr.sid, addr.pid, seq, batch["t0"], received, len(blob), chunk_facts(events), ua)
    try:
        index.record_chunks([row]).result(timeout=30)
    except Exception:
        log.exception("index update failed for %s; run `sessionlens reindex` to repair", key)
    return Accepted(key, addr.sid, addr.pid, seq, len(events), len(blob))


def row_for_stored_chunk(chunk: dict, stored_bytes: int) -> ChunkRow:
    """The index row of a chunk read back from storage (used by reindex)."""
    return ChunkRow(
        chunk["site"],
        chunk["sid"],
        chunk["pid"],
        chunk["seq"],
        chunk["t0"],
        chunk["received"],
        stored_bytes,
        chunk_facts(chunk["events"]),
        chunk.get("ua", ""),
    )
