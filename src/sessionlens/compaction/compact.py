"""Compacting one finished page view: its chunks into one pack, large strings into assets.

Steps, each safe to interrupt (a crash leaves duplicates, never a gap):
1. read every chunk of the page view, loose or already packed, and check
   each against its content digest; a chunk that cannot be read stops the
   compaction and nothing is changed;
2. store the large strings as site assets (create-if-absent, read back);
3. write the pack (create-if-absent: its key names its chunks and its
   encoding, so running again finds the same key);
4. read the pack back, decode it with assets and dictionary from storage,
   and compare every chunk and its digest with what was read in step 1;
5. only then remove the loose chunks and the older packs it covers;
6. re-encode the page view's keyframes (derived data) the same way.
Readers take a packed chunk over a loose one with the same seq, so the
state between any two steps reads the same as before and after.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import msgpack

from sessionlens import codec, keys
from sessionlens.compaction.assets import MAX_ASSETS, MIN_CHARS, Extractor, digest
from sessionlens.compaction.objects import MissingAsset, SiteObjects
from sessionlens.compaction.source import ChunkSource
from sessionlens.stores.base import BlobStore

log = logging.getLogger(__name__)
PACK_LEVEL = 19
PACK_VERSION = 1


class CompactionError(Exception):
    """The page view was left as it was; `key` names what could not be read or verified."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{key}: {message}")
        self.key = key


@dataclass
class CompactionResult:
    pack: str | None = None
    chunks: int = 0
    removed: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)  # loose chunks that differ from the packed one
    assets: int = 0
    keyframes: int = 0
    bytes_before: int = 0
    bytes_after: int = 0


def _no_checkpoint(step: str) -> None:
    pass


def chunk_digest(chunk: dict[str, Any]) -> str:
    from sessionlens.ingest import content_digest  # ingest reads packs through this package

    return content_digest(
        chunk["site"], chunk["sid"], chunk["pid"], chunk["seq"], chunk["t0"], chunk["events"]
    )


def compact_page_view(
    store: BlobStore,
    site: str,
    sid: str,
    pid: str,
    *,
    level: int = PACK_LEVEL,
    dictionary: tuple[int, bytes] | None = None,
    source: ChunkSource | None = None,
    checkpoint: Callable[[str], None] = _no_checkpoint,
) -> CompactionResult:
    """Compact one page view; running it again (or after a crash) finishes the same work."""
    source = source or ChunkSource(store)
    objects = source.objects
    result = CompactionResult()
    listing = source.listing(site, sid, pid)
    dict_id = dictionary[0] if dictionary else 0
    if not listing.loose and len(listing.packs) == 1:
        (only,) = listing.packs
        head = codec.header(store.get(only))
        if head.level >= level and head.dictionary == dict_id:
            result.keyframes = compact_keyframes(store, objects, site, sid, pid, level, dictionary)
            return result  # already compacted this way
    if not listing.loose and not listing.packs:
        return result

    chunks: dict[int, dict[str, Any]] = {}
    for pack_key in sorted(listing.packs):
        try:
            pack = source.pack(pack_key, verify_assets=True)
            packed = pack.chunks()
        except Exception as exc:
            raise CompactionError(pack_key, f"cannot be read: {type(exc).__name__}: {exc}") from None
        result.bytes_before += pack.size
        for seq, chunk in packed.items():
            chunks.setdefault(seq, chunk)
    to_remove: list[str] = []
    for seq, key in sorted(listing.loose.items()):
        try:
            blob = store.get(key)
            chunk = objects.decode(site, blob)
        except KeyError:
            continue  # removed since listing (another compaction): its pack holds it
        except Exception as exc:
            raise CompactionError(key, f"cannot be read: {type(exc).__name__}: {exc}") from None
        result.bytes_before += len(blob)
        _check_loose(key, chunk, (site, sid, pid, seq))
        if seq in chunks:
            if chunk_digest(chunks[seq]) == chunk_digest(chunk):
                to_remove.append(key)  # an identical late re-send
            else:
                # Written after the packed chunk under the same key: never shown; left for an operator.
                log.warning("%s differs from the packed chunk with its seq; left in place", key)
                result.conflicts.append(key)
            continue
        chunks[seq] = chunk
        to_remove.append(key)

    seqs = sorted(chunks)
    ordered = [chunks[s] for s in seqs]
    digests = [chunk_digest(c) for c in ordered]
    extractor = Extractor()
    # Each chunk packed on its own inside the pack: a reader unpacks only the chunks it needs.
    slim = [codec.pack(_slim(c, extractor)) for c in ordered]
    result.assets = store_assets(store, objects, site, extractor.found, level)
    checkpoint("assets")

    tag = hashlib.sha256(_packed([seqs, digests, dict_id, level, PACK_VERSION])).hexdigest()[:16]
    key = keys.pack_key(keys.PackAddress(site, sid, pid, seqs[0], seqs[-1], tag))
    value = {"v": PACK_VERSION, "site": site, "sid": sid, "pid": pid, "seqs": seqs, "chunks": slim}
    blob = codec.encode_framed(codec.pack(value), level=level, dictionary=dictionary, extra={"seqs": seqs})
    store.put_if_absent(key, blob)
    checkpoint("pack")

    _verify_pack(source, key, ordered, digests)
    result.pack, result.chunks = key, len(ordered)
    result.bytes_after = len(store.get(key))
    checkpoint("verified")

    for old in to_remove + [k for k in sorted(listing.packs) if k != key]:
        store.delete_prefix(old)  # a whole key: removes that object only
        result.removed.append(old)
        checkpoint("removed")
    result.keyframes = compact_keyframes(store, objects, site, sid, pid, level, dictionary)
    return result


def _slim(chunk: dict[str, Any], extractor: Extractor) -> dict[str, Any]:
    """A chunk as a pack holds it: large strings as references, and no digest (32 random bytes
    per chunk that zstd cannot shrink): the reader recomputes it from the stored fields, which
    is what it was computed from. A chunk stored without one is marked so it reads back without."""
    out = {k: v for k, v in chunk.items() if k != "digest"}
    if "digest" not in chunk:
        out["digest"] = None
    out["events"] = extractor.events(chunk["events"])
    return out


def _packed(value: Any) -> bytes:
    return msgpack.packb(value, use_bin_type=True)


def _check_loose(key: str, chunk: Any, expected: tuple[str, str, str, int]) -> None:
    if not isinstance(chunk, dict) or not isinstance(chunk.get("events"), list):
        raise CompactionError(key, "is not a chunk")
    if (chunk.get("site"), chunk.get("sid"), chunk.get("pid"), chunk.get("seq")) != expected:
        raise CompactionError(key, "the chunk's site, session, page view or seq differs from its key")
    stored = chunk.get("digest")
    if stored is not None and stored != chunk_digest(chunk):
        raise CompactionError(key, "content does not match its digest")


def store_assets(store: BlobStore, objects: SiteObjects, site: str, found: dict[str, str], level: int) -> int:
    """Store each asset once (create-if-absent) and read it back; returns how many were new."""
    created = 0
    for sha, text in found.items():
        key = keys.asset_key(site, sha)
        blob = codec.encode_framed(codec.pack(text), level=level)
        if store.put_if_absent(key, blob):
            created += 1
        try:
            objects.asset(site, sha, verify=True)
        except MissingAsset:
            # A damaged object under a content address: the content is known, so write it again.
            store.put(key, blob)
            objects.asset(site, sha, verify=True)
    return created


def _verify_pack(source: ChunkSource, key: str, ordered: list[dict[str, Any]], digests: list[str]) -> None:
    try:
        stored = source.pack(key, fresh=True).chunks()
    except Exception as exc:
        raise CompactionError(key, f"written pack does not decode: {type(exc).__name__}: {exc}") from None
    if sorted(stored) != [c["seq"] for c in ordered]:
        raise CompactionError(key, "written pack does not hold the chunks it was made of")
    for chunk, want in zip(ordered, digests, strict=True):
        got = stored[chunk["seq"]]
        if got != chunk or chunk_digest(got) != want:
            raise CompactionError(key, f"chunk {chunk['seq']} reads back different from the pack")


# -- keyframes (derived data: rewritten in place) ----------------------------------------


def compact_keyframes(
    store: BlobStore,
    objects: SiteObjects,
    site: str,
    sid: str,
    pid: str,
    level: int,
    dictionary: tuple[int, bytes] | None,
) -> int:
    """Re-encode a page view's keyframes with assets and the dictionary; returns how many were."""
    dict_id = dictionary[0] if dictionary else 0
    done = 0
    for key in list(store.list(keys.keyframe_prefix(site, sid, pid))):
        if keys.keyframe_time(key) is None:
            continue
        try:
            blob = store.get(key)
            head = codec.header(blob)
            if head.framed and head.level >= level and head.dictionary == dict_id:
                continue
            frame = objects.decode(site, blob)
        except KeyError:
            continue
        except Exception:
            log.warning("keyframe %s cannot be read; left as it is (reindex rewrites it)", key)
            continue
        found: dict[str, str] = {}
        slim = _large_strings(frame, found)
        store_assets(store, objects, site, found, level)
        new = codec.encode_framed(codec.pack(slim), level=level, dictionary=dictionary)
        if objects.decode(site, new) != frame:
            log.warning("keyframe %s does not survive re-encoding; left as it is", key)
            continue
        store.put(key, new)
        done += 1
    return done


def _large_strings(value: Any, found: dict[str, str]) -> Any:
    """Keyframes are derived: every large string anywhere becomes an asset reference."""
    if isinstance(value, str):
        if len(value) < MIN_CHARS:
            return value
        sha = digest(value)
        if sha not in found:
            if len(found) >= MAX_ASSETS:
                return value
            found[sha] = value
        return msgpack.ExtType(1, bytes.fromhex(sha))
    if isinstance(value, list):
        return [_large_strings(v, found) for v in value]
    if isinstance(value, dict):
        return {k: _large_strings(v, found) for k, v in value.items()}
    return value
