"""Where a page view's chunks are: loose (as ingest wrote them) or in packs.

Every reader of chunks (replay, derivations, reindex, export, ingest's
first-write-wins check) goes through here, so it reads either form. When a
sequence number is both packed and loose, the packed chunk is the one read:
a pack is made only from chunks already stored, so it holds the first write.
A chunk that compaction removes between listing and reading is looked up
again, once.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from sessionlens import codec, keys
from sessionlens.compaction.objects import SiteObjects
from sessionlens.stores.base import BlobStore

PageView = tuple[str, str, str]


class PackError(ValueError):
    """A pack does not hold what its key and header say."""


@dataclass
class Listing:
    loose: dict[int, str] = field(default_factory=dict)  # seq -> chunk key
    packed: dict[int, str] = field(default_factory=dict)  # seq -> pack key (the pack read for it)
    packs: dict[str, list[int]] = field(default_factory=dict)  # pack key -> its seqs

    @property
    def seqs(self) -> list[int]:
        return sorted(set(self.loose) | set(self.packed))


class ChunkSource:
    def __init__(self, store: BlobStore, objects: SiteObjects | None = None, pack_cache: int = 8) -> None:
        self.store = store
        self.objects = objects or SiteObjects(store)
        self.pack_cache = pack_cache
        self._lock = threading.Lock()
        self._pack_seqs: dict[str, list[int]] = {}  # packs never change under a key
        self._packs: OrderedDict[str, Pack] = OrderedDict()
        # The last listings made, by page view: a reader lists a page view once to learn its
        # seqs, then reads chunk after chunk without listing again (two LIST requests per
        # chunk on S3 otherwise). A listing gone stale is safe: a seq it lacks is read by its
        # loose key, and a chunk removed since (packed) is looked up again.
        self._recent: OrderedDict[PageView, Listing] = OrderedDict()
        self.recent_views = 64

    # -- listing -------------------------------------------------------------------

    def listing(self, site: str, sid: str, pid: str) -> Listing:
        found = self._list(site, sid, pid)
        with self._lock:
            self._recent[(site, sid, pid)] = found
            self._recent.move_to_end((site, sid, pid))
            while len(self._recent) > self.recent_views:
                self._recent.popitem(last=False)
        return found

    def _list(self, site: str, sid: str, pid: str) -> Listing:
        found = Listing()
        for key in self.store.list(keys.chunk_prefix(site, sid, pid)):
            addr = keys.parse_chunk_key(key)
            if addr is not None:
                found.loose[addr.seq] = key
        for key in self.store.list(keys.pack_prefix(site, sid, pid)):
            if keys.parse_pack_key(key) is None:
                continue
            try:
                seqs = self.pack_seqs(key)
            except KeyError:
                continue  # removed after listing: a pack covering it exists
            found.packs[key] = seqs
            for seq in seqs:
                found.packed[seq] = key
        return found

    def recent_listing(self, site: str, sid: str, pid: str) -> Listing:
        """The page view's latest listing if one was made lately, else a new one (a pass over
        one page view's chunks lists it once; a chunk gone since is looked up again)."""
        with self._lock:
            found = self._recent.get((site, sid, pid))
        return found if found is not None else self.listing(site, sid, pid)

    def pack_seqs(self, key: str) -> list[int]:
        with self._lock:
            seqs = self._pack_seqs.get(key)
        if seqs is None:
            head = codec.header(self.store.get(key))
            seqs = head.extra.get("seqs")
            if not isinstance(seqs, list) or not all(isinstance(s, int) and s >= 0 for s in seqs):
                raise PackError(f"{key}: header has no list of sequence numbers")
            with self._lock:
                self._pack_seqs[key] = seqs
        return seqs

    def seqs(self, site: str, sid: str, pid: str) -> list[int]:
        return self.listing(site, sid, pid).seqs

    # -- reading -------------------------------------------------------------------

    def chunk(
        self, site: str, sid: str, pid: str, seq: int, listing: Listing | None = None
    ) -> dict[str, Any]:
        return self.chunk_and_size(site, sid, pid, seq, listing)[0]

    def chunk_and_size(
        self, site: str, sid: str, pid: str, seq: int, listing: Listing | None = None
    ) -> tuple[dict[str, Any], int]:
        """A chunk and the bytes it takes in storage (its share of a pack)."""
        for attempt in (0, 1):
            if attempt:
                where = self.listing(site, sid, pid)
            else:
                where = listing if listing is not None else self.recent_listing(site, sid, pid)
            try:
                if seq in where.packed:
                    pack = self.pack(where.packed[seq])
                    return pack.chunk(seq), pack.size // max(len(pack.seqs), 1)
                key = where.loose.get(seq, keys.chunk_key(keys.ChunkAddress(site, sid, pid, seq)))
                blob = self.store.get(key)
                return self.objects.decode(site, blob), len(blob)
            except KeyError:
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def pack(self, key: str, *, verify_assets: bool = False, fresh: bool = False) -> Pack:
        """A pack whose chunks are unpacked when asked for (`fresh`: read from storage, not memory)."""
        if not (verify_assets or fresh):
            with self._lock:
                if key in self._packs:
                    self._packs.move_to_end(key)
                    return self._packs[key]
        addr = keys.parse_pack_key(key)
        if addr is None:
            raise PackError(f"not a pack key: {key}")
        blob = self.store.get(key)
        head = codec.header(blob)
        # Only the outer list is unpacked here: each chunk stays bytes until it is read.
        value = self.objects.decode(addr.site, blob, verify_assets=verify_assets)
        entries = _pack_entries(key, value, head.extra.get("seqs"))
        pack = Pack(key, addr, len(blob), entries, self.objects, verify_assets)
        with self._lock:
            self._packs[key] = pack
            while len(self._packs) > self.pack_cache:
                self._packs.popitem(last=False)
        return pack

    # -- the whole store (reindex) -------------------------------------------------------

    def all_chunk_keys(self, prefix: str = keys.CHUNK_ROOT) -> list[str]:
        """Chunk keys of every stored chunk, loose or packed (packed ones by the key they had).

        A pack whose header cannot be read is listed by its own key, so that a caller reading
        every key (reindex) reports it instead of silently leaving its chunks out."""
        found: set[str] = set()
        for key in self.store.list(prefix):
            if keys.parse_chunk_key(key):
                found.add(key)
                continue
            addr = keys.parse_pack_key(key)
            if addr is None:
                continue
            try:
                seqs = self.pack_seqs(key)
            except KeyError:
                continue  # removed since listing: a pack covering it exists
            except (codec.CodecError, PackError, ValueError):
                found.add(key)  # which chunks it holds is unknown: listed itself, to be reported
                continue
            for seq in seqs:
                found.add(keys.chunk_key(keys.ChunkAddress(addr.site, addr.sid, addr.pid, seq)))
        return sorted(found)


def _digest(chunk: dict[str, Any]) -> str:
    from sessionlens.ingest import content_digest  # ingest reads packs through this module

    try:
        return content_digest(
            chunk["site"], chunk["sid"], chunk["pid"], chunk["seq"], chunk["t0"], chunk["events"]
        )
    except (KeyError, TypeError) as exc:
        raise PackError(f"a packed chunk lacks what its digest is computed from: {exc}") from None


class Pack:
    """One pack: its chunks by seq, each unpacked (and its assets resolved) when first read,
    so a seek into a long page view unpacks the few chunks it needs, not all of them."""

    def __init__(
        self,
        key: str,
        addr: keys.PackAddress,
        size: int,
        entries: dict[int, Any],
        objects: SiteObjects,
        verify_assets: bool = False,
    ) -> None:
        self.key = key
        self.addr = addr
        self.size = size
        self._entries = entries
        self._objects = objects
        self._verify_assets = verify_assets

    @property
    def seqs(self) -> list[int]:
        return sorted(self._entries)

    def chunk(self, seq: int) -> dict[str, Any]:
        entry = self._entries.get(seq)
        if entry is None:
            raise PackError(f"{self.key}: header names seq {seq}, the pack does not hold it")
        if isinstance(entry, bytes):
            chunk = self._objects.unpack(self.addr.site, entry, verify_assets=self._verify_assets)
        else:
            chunk = dict(entry)
        if not isinstance(chunk, dict) or (
            chunk.get("site"),
            chunk.get("sid"),
            chunk.get("pid"),
            chunk.get("seq"),
        ) != (
            self.addr.site,
            self.addr.sid,
            self.addr.pid,
            seq,
        ):
            raise PackError(f"{self.key}: holds a chunk of another page view or seq under seq {seq}")
        # Packs leave the digest out (see compact._slim); None marks a chunk stored without one.
        if "digest" not in chunk:
            chunk["digest"] = _digest(chunk)
        elif chunk["digest"] is None:
            del chunk["digest"]
        return chunk

    def chunks(self) -> dict[int, dict[str, Any]]:
        return {seq: self.chunk(seq) for seq in self.seqs}


def _pack_entries(key: str, value: Any, header_seqs: Any) -> dict[int, Any]:
    """seq -> the chunk's msgpack bytes (or its map, in a pack that holds them unpacked)."""
    if not isinstance(value, dict) or not isinstance(value.get("chunks"), list):
        raise PackError(f"{key}: not a pack")
    seqs = value.get("seqs")
    if seqs is None:  # chunks held as maps name their own seq
        seqs = [c.get("seq") if isinstance(c, dict) else None for c in value["chunks"]]
    if (
        not isinstance(seqs, list)
        or len(seqs) != len(value["chunks"])
        or not all(isinstance(s, int) and s >= 0 for s in seqs)
        or len(set(seqs)) != len(seqs)
    ):
        raise PackError(f"{key}: the sequence numbers of its chunks are missing or repeated")
    if header_seqs != seqs:
        raise PackError(f"{key}: its header and its content name different chunks")
    return dict(zip(seqs, value["chunks"], strict=True))
