"""Chunk codec: msgpack, then zstandard. Stores see bytes only.

Level 3 keeps ingest cheap; later recompaction may use a higher level.
"""

from __future__ import annotations

from typing import Any

import msgpack
import zstandard

INGEST_LEVEL = 3
# A stored chunk never legitimately inflates past this; guards reads of
# corrupt or hostile objects the same way ingest guards request bodies.
MAX_DECODED_BYTES = 256 * 1024 * 1024


def encode(value: Any, level: int = INGEST_LEVEL) -> bytes:
    packed = msgpack.packb(value, use_bin_type=True)
    return zstandard.ZstdCompressor(level=level).compress(packed)


def decode(blob: bytes) -> Any:
    packed = zstandard.ZstdDecompressor().decompress(blob, max_output_size=MAX_DECODED_BYTES)
    return msgpack.unpackb(packed, raw=False, strict_map_key=False)
