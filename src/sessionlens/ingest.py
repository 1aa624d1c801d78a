"""Turning one recorder request into one durable chunk.

Everything here runs off the event loop (in a worker thread) and raises
IngestError with the HTTP status and a message naming what was wrong.
Nothing is written unless every check has passed.
"""

from __future__ import annotations

import hashlib
import logging
import time
import zlib
from dataclasses import dataclass

import orjson

from sessionlens import batch_slots, codec, keys
from sessionlens.batch_limits import LimitError, Limits, check_after_schema
from sessionlens.compaction.source import ChunkSource
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
    duplicate: bool = False  # an identical re-send of a stored batch


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
        if inflater.unused_data:
            raise IngestError(400, "gzip body has data after the end of the gzip stream")
    except zlib.error as exc:
        raise IngestError(400, f"body is not valid gzip: {exc}") from None
    return out


def _unavailable(settings: Settings, what: str, exc: BaseException) -> IngestError:
    """Any failure of storage or the index before acknowledging: 503, so the recorder retries."""
    if not isinstance(exc, StoreError):
        log.exception("%s failed with %s", what, type(exc).__name__)
    return IngestError(503, f"storage unavailable: {exc}", retry_after=settings.retry_after_seconds)


def content_digest(site: str, sid: str, pid: str, seq: int, t0: int, events: list) -> str:
    """What identifies a batch's content: the same for an identical re-send,
    different for any other batch under the same key. Computed from stored
    fields only, so a stored chunk's digest can be recomputed from it."""
    # Keys keep the order they were sent in (and msgpack keeps it in storage),
    # so a re-send of the same bytes serialises the same without sorting.
    canonical = orjson.dumps([site, sid, pid, seq, t0, events])
    return "sha256:" + hashlib.sha256(canonical).hexdigest()


def same_content(chunk: dict, digest: str) -> bool:
    """Does the stored chunk hold the batch whose content_digest is ``digest``?"""
    if chunk.get("digest") == digest:
        return True
    # Chunks stored before digests were recorded (or under another digest
    # form): recompute from what is stored.
    recomputed = content_digest(
        chunk["site"], chunk["sid"], chunk["pid"], chunk["seq"], chunk["t0"], chunk["events"]
    )
    return recomputed == digest


def parse_batch(raw: bytes, settings: Settings, now_ms: int) -> dict:
    """JSON -> a batch that passed every shape, range and depth check (or IngestError)."""
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
    limits = Limits.from_settings(settings)
    try:
        validate_batch(batch)
        check_after_schema(batch, limits, now_ms)
    except LimitError as exc:
        raise IngestError(422, f"batch is out of range: {exc}") from None
    except ContractError as exc:
        raise IngestError(422, f"batch does not match the schema: {exc}") from None
    return batch


def country_code(header_value: str | None) -> str:
    """An ISO 3166 alpha-2 code (upper case) from a proxy's country header, else "unknown".

    Proxies send placeholders for unknown places (Cloudflare: XX, T1 for Tor)."""
    value = (header_value or "").strip()
    if len(value) == 2 and value.isascii() and value.isalpha() and value.upper() != "XX":
        return value.upper()
    return "unknown"


def ingest_batch(
    *,
    site: str,
    body: bytes,
    content_encoding: str,
    user_agent: str,
    settings: Settings,
    store: BlobStore,
    index: Index,
    country: str | None = None,
) -> Accepted:
    """Store one batch as a chunk and index it.

    country: the value of the trusted header `country_header` names (None: no header
    configured, the chunk has no geo field); kept in the chunk as geo.country.
    """
    raw = decode_body(body, content_encoding, settings.max_decoded_bytes)
    received = int(time.time() * 1000)
    batch = parse_batch(raw, settings, received)

    seq = batch["seq"]
    if seq >= settings.max_batches_per_page_view:
        raise IngestError(403, f"page view exceeds {settings.max_batches_per_page_view} batches; not stored")
    addr = keys.ChunkAddress(site, batch["sid"], batch["pid"], seq)
    key = keys.chunk_key(addr)

    # The reservation queues on the index's writer thread while this thread
    # scrubs and encodes; nothing is stored before its answer.
    reservation = batch_slots.reserve(index, site, addr.sid, addr.pid, seq, settings.max_batches_per_session)
    if settings.scrub_pii and might_contain_pii(raw):
        events = scrub_events(batch["events"])
    else:
        events = batch["events"]
    digest = content_digest(site, addr.sid, addr.pid, seq, batch["t0"], events)
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
        "digest": digest,
        "events": events,
    }
    if "vid" in batch:  # absent when the recorder keeps no visitor id (no consent, no storage)
        chunk["vid"] = batch["vid"]
    if country is not None:
        chunk["geo"] = {"country": country_code(country)}
    blob = codec.encode(chunk)
    try:
        slot = reservation.result(timeout=30)
    except Exception as exc:
        raise _unavailable(settings, "batch slot reservation", exc) from None
    if slot is batch_slots.Slot.FULL:
        raise IngestError(403, f"session exceeds {settings.max_batches_per_session} batches; not stored")
    if slot is batch_slots.Slot.KNOWN:
        # A re-send of a key seen before; its chunk may have been compacted into the page
        # view's pack (no loose key left to collide with), so look there first.
        packed = _packed_chunk(store, addr, settings)
        if packed is not None:
            return _already_stored(key, addr, digest, settings, store, index, stored=packed)
    try:
        created = store.put_if_absent(key, blob)
    except Exception as exc:
        raise _unavailable(settings, f"storing {key}", exc) from None
    if not created:
        return _already_stored(key, addr, digest, settings, store, index)

    # The chunk is durable; the index is derived, so a failure here is
    # repaired by `reindex` and must not turn into a retry of a stored batch.
    row = ChunkRow(
        site, addr.sid, addr.pid, seq, batch["t0"], received, len(blob), chunk_facts(events), ua, batch.get("vid"),
        chunk["geo"]["country"] if "geo" in chunk else None,
    )  # fmt: skip
    try:
        index.record_chunks([row]).result(timeout=30)
    except Exception:
        log.exception("index update failed for %s; run `sessionlens reindex` to repair", key)
    return Accepted(key, addr.sid, addr.pid, seq, len(events), len(blob))


def _packed_chunk(store: BlobStore, addr: keys.ChunkAddress, settings: Settings) -> tuple[dict, int] | None:
    """The chunk under `addr` when compaction packed it, with its share of the pack's bytes."""
    try:
        source = ChunkSource(store)
        listing = source.listing(addr.site, addr.sid, addr.pid)
        if addr.seq not in listing.packed:
            return None
        return source.chunk_and_size(addr.site, addr.sid, addr.pid, addr.seq, listing)
    except Exception as exc:
        raise _unavailable(settings, f"reading the pack of {keys.chunk_key(addr)}", exc) from None


def _already_stored(
    key: str,
    addr: keys.ChunkAddress,
    digest: str,
    settings: Settings,
    store: BlobStore,
    index: Index,
    stored: tuple[dict, int] | None = None,
) -> Accepted:
    """First write wins: an identical re-send is acknowledged again, nothing is rewritten;
    a different batch under a stored key (loose, or `stored` from a pack) is refused."""
    try:
        if stored is not None:
            existing, size = stored
        else:
            blob = store.get(key)
            existing, size = codec.decode(blob), len(blob)
    except KeyError:
        # S3 said the key exists but it cannot be read yet (a concurrent write).
        raise IngestError(
            503, f"chunk {addr.seq} is being written; retry", retry_after=settings.retry_after_seconds
        ) from None
    except Exception as exc:
        raise _unavailable(settings, f"reading {key}", exc) from None
    if not same_content(existing, digest):
        raise IngestError(
            409,
            f"a different batch is already stored as seq {addr.seq} of this page view; "
            "the first write wins and nothing was changed",
        )
    # The earlier request may have stored the chunk and then failed to index
    # it; the stored chunk (not this request) is what gets indexed.
    try:
        if not index.has_chunk(addr.site, addr.sid, addr.pid, addr.seq):
            index.record_chunks([row_for_stored_chunk(existing, size)]).result(timeout=30)
    except Exception:
        log.exception("index update failed for %s; run `sessionlens reindex` to repair", key)
    return Accepted(key, addr.sid, addr.pid, addr.seq, len(existing["events"]), size, duplicate=True)


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
        chunk.get("vid"),
        _stored_country(chunk),
    )


def _stored_country(chunk: dict) -> str | None:
    geo = chunk.get("geo")
    return country_code(geo.get("country")) if isinstance(geo, dict) else None
