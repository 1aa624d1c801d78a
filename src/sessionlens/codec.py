"""Stored-object codec: msgpack, then zstandard. Stores see bytes only.

Two forms are read, both decoded by `decode`:

- plain: `zstd(msgpack(value))`, what ingest writes for a chunk (level 3,
  no dictionary: the hot path stays cheap) and what keyframes were written as;
- framed: `MAGIC | u32 header length | msgpack(header) | zstd(msgpack(value))`,
  written by compaction. The header names the dictionary the zstd frame was
  compressed with (0 = none) and carries small facts a reader needs without
  decompressing (a pack's sequence numbers). Dictionaries are immutable and
  versioned, so an object written with dictionary 1 still decodes after
  dictionary 2 is trained.

Values may hold msgpack extension types (compaction's asset references);
`ext_hook` resolves them while unpacking, so what callers get back is
exactly what was packed before the references were made.
"""

from __future__ import annotations

import struct
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import msgpack
import zstandard

INGEST_LEVEL = 3
# A stored chunk never legitimately inflates past this; guards reads of
# corrupt or hostile objects the same way ingest guards request bodies.
MAX_DECODED_BYTES = 256 * 1024 * 1024
MAX_HEADER_BYTES = 1 << 20
MAGIC = b"SLZ\x01"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"

# dictionary id -> the dictionary's bytes (raises KeyError when unknown)
DictionaryLookup = Callable[[int], bytes]
ExtHook = Callable[[int, bytes], Any]


class CodecError(ValueError):
    """The bytes are not an object this codec wrote, or name a missing dictionary."""


@dataclass(frozen=True, slots=True)
class Header:
    dictionary: int = 0  # 0: compressed without a dictionary
    level: int = INGEST_LEVEL
    extra: dict[str, Any] = field(default_factory=dict)
    framed: bool = False


def encode(value: Any, level: int = INGEST_LEVEL) -> bytes:
    """The plain form (ingest, keyframes before compaction)."""
    packed = msgpack.packb(value, use_bin_type=True)
    return zstandard.ZstdCompressor(level=level).compress(packed)


def pack(value: Any, default: Callable[[Any], Any] | None = None) -> bytes:
    return msgpack.packb(value, use_bin_type=True, default=default)


def encode_framed(
    packed: bytes,
    *,
    level: int,
    dictionary: tuple[int, bytes] | None = None,
    extra: dict[str, Any] | None = None,
) -> bytes:
    """The framed form of an already msgpack-packed value."""
    dict_id = dictionary[0] if dictionary else 0
    header = msgpack.packb({"dict": dict_id, "level": level, **(extra or {})}, use_bin_type=True)
    compressor = _compressor(level, dictionary)
    return MAGIC + struct.pack(">I", len(header)) + header + compressor.compress(packed)


def header(blob: bytes) -> Header:
    """What an object says about itself, without decompressing it."""
    if blob[:4] == ZSTD_MAGIC:
        return Header()
    if blob[:4] != MAGIC or len(blob) < 8:
        raise CodecError("not a sessionlens object (unknown magic bytes)")
    (size,) = struct.unpack(">I", blob[4:8])
    if size > MAX_HEADER_BYTES or 8 + size > len(blob):
        raise CodecError("object header is larger than the object")
    try:
        meta = msgpack.unpackb(blob[8 : 8 + size], raw=False)
    except Exception as exc:
        raise CodecError(f"object header does not decode: {exc}") from None
    if not isinstance(meta, dict) or not isinstance(meta.get("dict"), int) or meta["dict"] < 0:
        raise CodecError("object header has no valid dictionary id")
    extra = {k: v for k, v in meta.items() if k not in ("dict", "level")}
    return Header(meta["dict"], int(meta.get("level", 0)), extra, framed=True)


def decompress(blob: bytes, dictionaries: DictionaryLookup | None = None) -> bytes:
    """The msgpack bytes inside either form."""
    head = header(blob)
    if not head.framed:
        return _bounded(zstandard.ZstdDecompressor(), blob)
    (size,) = struct.unpack(">I", blob[4:8])
    body = blob[8 + size :]
    dict_data = None
    if head.dictionary:
        if dictionaries is None:
            raise CodecError(f"object needs dictionary {head.dictionary} and no dictionaries were given")
        try:
            dict_data = _dictionary(head.dictionary, dictionaries)
        except KeyError:
            raise CodecError(f"dictionary {head.dictionary} is not stored") from None
    decompressor = zstandard.ZstdDecompressor(dict_data=dict_data) if dict_data else zstandard.ZstdDecompressor()
    return _bounded(decompressor, body)


def _bounded(decompressor: zstandard.ZstdDecompressor, frame: bytes) -> bytes:
    # max_output_size only bounds frames that do not declare their size; a declared size is
    # allocated as declared, so it is checked first.
    try:
        declared = zstandard.frame_content_size(frame)
    except zstandard.ZstdError as exc:
        raise CodecError(f"not a zstd frame: {exc}") from None
    if declared > MAX_DECODED_BYTES:
        raise CodecError(f"object decompresses to {declared} bytes, more than {MAX_DECODED_BYTES}")
    return decompressor.decompress(frame, max_output_size=MAX_DECODED_BYTES)


def decode(blob: bytes, dictionaries: DictionaryLookup | None = None, ext_hook: ExtHook | None = None) -> Any:
    packed = decompress(blob, dictionaries)
    if ext_hook is None:
        return msgpack.unpackb(packed, raw=False, strict_map_key=False)
    return msgpack.unpackb(packed, raw=False, strict_map_key=False, ext_hook=ext_hook)


# -- compressor and dictionary caches -------------------------------------------------
# ZstdCompressionDict objects are costly to build (they digest the dictionary
# for a level); dictionaries are immutable, so they are kept by their bytes.

_lock = threading.Lock()
_dicts: dict[bytes, zstandard.ZstdCompressionDict] = {}


def _dict_object(data: bytes) -> zstandard.ZstdCompressionDict:
    with _lock:
        found = _dicts.get(data)
        if found is None:
            if len(_dicts) > 64:
                _dicts.clear()
            found = _dicts[data] = zstandard.ZstdCompressionDict(data)
        return found


def _dictionary(dict_id: int, lookup: DictionaryLookup) -> zstandard.ZstdCompressionDict:
    return _dict_object(lookup(dict_id))


def _compressor(level: int, dictionary: tuple[int, bytes] | None) -> zstandard.ZstdCompressor:
    if dictionary is None:
        return zstandard.ZstdCompressor(level=level)
    return zstandard.ZstdCompressor(level=level, dict_data=_dict_object(dictionary[1]))
