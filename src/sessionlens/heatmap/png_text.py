"""Text chunks written into a finished PNG, so a downloaded heatmap says what it shows.

The chunks go right after IHDR without decoding the image again (a heatmap of
a long page is tens of megapixels). Readers (PIL's `Image.info`, exiftool)
show them as key/value pairs.
"""

from __future__ import annotations

import struct
import zlib

_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def with_text(png: bytes, fields: dict[str, str]) -> bytes:
    """png with one tEXt chunk per field (Latin-1 keywords and values, as the format requires)."""
    if not png.startswith(_SIGNATURE):
        raise ValueError("not a PNG")
    ihdr_end = len(_SIGNATURE) + 8 + struct.unpack(">I", png[8:12])[0] + 4
    text = b"".join(
        _chunk(b"tEXt", key.encode("latin-1")[:79] + b"\0" + value.encode("latin-1", "replace"))
        for key, value in fields.items()
    )
    return png[:ihdr_end] + text + png[ihdr_end:]
