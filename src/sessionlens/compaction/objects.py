"""Decoding stored objects of a site in either form, resolving assets and dictionaries.

One `SiteObjects` per blob store keeps the immutable things it has read:
dictionaries (by site and id) and asset strings (by site and digest, up to
a byte budget). Neither can change under a key, so caching them is safe.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

import msgpack

from sessionlens import codec, keys
from sessionlens.compaction.assets import ASSET_EXT, digest
from sessionlens.stores.base import BlobStore

ASSET_CACHE_BYTES = 64 * 1024 * 1024


class MissingAsset(LookupError):
    pass


class SiteObjects:
    def __init__(self, store: BlobStore, asset_cache_bytes: int = ASSET_CACHE_BYTES) -> None:
        self.store = store
        self.asset_cache_bytes = asset_cache_bytes
        self._lock = threading.Lock()
        self._dicts: dict[tuple[str, int], bytes] = {}
        self._assets: OrderedDict[tuple[str, str], str] = OrderedDict()
        self._asset_bytes = 0

    # -- dictionaries -----------------------------------------------------------

    def dictionary(self, site: str, dict_id: int) -> bytes:
        with self._lock:
            found = self._dicts.get((site, dict_id))
        if found is None:
            found = self.store.get(keys.dictionary_key(site, dict_id))  # KeyError when missing
            with self._lock:
                self._dicts[(site, dict_id)] = found
        return found

    def latest_dictionary(self, site: str) -> tuple[int, bytes] | None:
        ids = [i for k in self.store.list(keys.dictionary_prefix(site)) if (i := keys.dictionary_id(k))]
        if not ids:
            return None
        return max(ids), self.dictionary(site, max(ids))

    # -- assets -------------------------------------------------------------------

    def asset(self, site: str, sha: str, *, verify: bool = False) -> str:
        with self._lock:
            found = self._assets.get((site, sha))
            if found is not None:
                self._assets.move_to_end((site, sha))
        if found is not None and not verify:
            return found
        try:
            blob = self.store.get(keys.asset_key(site, sha))
        except KeyError:
            raise MissingAsset(f"asset {sha} of site {site} is not stored") from None
        text = codec.decode(blob, lambda i: self.dictionary(site, i))
        if not isinstance(text, str) or digest(text) != sha:
            raise MissingAsset(f"asset {sha} of site {site} does not hold the content its name says")
        with self._lock:
            if (site, sha) not in self._assets:
                self._assets[(site, sha)] = text
                self._asset_bytes += len(text)
                while self._asset_bytes > self.asset_cache_bytes and self._assets:
                    _, dropped = self._assets.popitem(last=False)
                    self._asset_bytes -= len(dropped)
        return text

    # -- objects ---------------------------------------------------------------------

    def decode(self, site: str, blob: bytes, *, verify_assets: bool = False) -> Any:
        """A stored object of `site` (chunk, pack, keyframe) with its references resolved."""
        return codec.decode(blob, lambda i: self.dictionary(site, i), self._resolver(site, verify_assets))

    def unpack(self, site: str, packed: bytes, *, verify_assets: bool = False) -> Any:
        """msgpack bytes held inside an object (a packed chunk), with its references resolved."""
        return msgpack.unpackb(
            packed, raw=False, strict_map_key=False, ext_hook=self._resolver(site, verify_assets)
        )

    def references(self, site: str, blob: bytes) -> set[str]:
        """SHA-256 hex names of the assets a stored object (pack, keyframe) refers to; assets are
        not read. Looks inside a pack's chunks, which are msgpack bytes of their own."""
        found: set[str] = set()

        def note(code: int, data: bytes) -> Any:
            if code == ASSET_EXT and len(data) == 32:
                found.add(data.hex())
            return msgpack.ExtType(code, data)

        value = codec.decode(blob, lambda i: self.dictionary(site, i), note)
        if isinstance(value, dict) and isinstance(value.get("chunks"), list):
            for entry in value["chunks"]:
                if isinstance(entry, bytes):
                    msgpack.unpackb(entry, raw=False, strict_map_key=False, ext_hook=note)
        return found

    def _resolver(self, site: str, verify: bool) -> codec.ExtHook:
        def resolve(code: int, data: bytes) -> Any:
            if code != ASSET_EXT or len(data) != 32:
                raise codec.CodecError(f"unknown reference (extension {code}, {len(data)} bytes)")
            return self.asset(site, data.hex(), verify=verify)

        return resolve
