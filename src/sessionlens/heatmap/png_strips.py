"""Writing a tall PNG a strip at a time, so a 100,000 px page never sits in memory whole.

A 1440 x 100,000 RGB image is 432 MB as pixels; a heatmap of it is built and
encoded here one strip (a few thousand rows) at a time: the zlib stream of
the PNG's image data is fed row block by row block and flushed into IDAT
chunks as it goes. Text chunks (tEXt) carry what the image shows (the page
view and moment of the backdrop), so a downloaded file still says it.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterable, Mapping

import numpy as np

SIGNATURE = b"\x89PNG\r\n\x1a\n"
_IDAT_BYTES = 1 << 20


def _chunk(kind: bytes, data: bytes) -> bytes:
    return (
        struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    )


def text_chunk(key: str, value: str) -> bytes:
    """A tEXt chunk: Latin-1 keyword (1-79 chars) and text; anything else is replaced, not refused."""
    keyword = key.encode("latin-1", "replace")[:79] or b"?"
    return _chunk(b"tEXt", keyword + b"\0" + value.encode("latin-1", "replace"))


def encode_strips(
    width: int,
    height: int,
    strips: Iterable[np.ndarray],
    text: Mapping[str, str] | None = None,
    level: int = 1,
) -> bytes:
    """An 8-bit RGB PNG from strips of shape (rows, width, 3) whose rows add up to `height`."""
    out = [SIGNATURE, _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))]
    out.extend(text_chunk(k, v) for k, v in (text or {}).items())
    z = zlib.compressobj(level)
    pending = bytearray()
    rows = 0
    for strip in strips:
        if strip.ndim != 3 or strip.shape[1] != width or strip.shape[2] != 3:
            raise ValueError(f"strip of shape {strip.shape} does not fit a {width} px wide RGB image")
        rows += strip.shape[0]
        # Filter type 0 (none) before each row: cheap and, at level 1, nearly as small on screenshots.
        framed = np.empty((strip.shape[0], width * 3 + 1), dtype=np.uint8)
        framed[:, 0] = 0
        framed[:, 1:] = strip.reshape(strip.shape[0], width * 3)
        pending += z.compress(framed.tobytes())
        while len(pending) >= _IDAT_BYTES:
            out.append(_chunk(b"IDAT", bytes(pending[:_IDAT_BYTES])))
            del pending[:_IDAT_BYTES]
    if rows != height:
        raise ValueError(f"strips hold {rows} rows, the image is {height} high")
    pending += z.flush()
    out.append(_chunk(b"IDAT", bytes(pending)))
    out.append(_chunk(b"IEND", b""))
    return b"".join(out)


def read_text(png: bytes) -> dict[str, str]:
    """The tEXt chunks of a PNG (tests and tools read the moment back from the file)."""
    found: dict[str, str] = {}
    pos = len(SIGNATURE)
    while pos + 8 <= len(png):
        (length,) = struct.unpack(">I", png[pos : pos + 4])
        kind = png[pos + 4 : pos + 8]
        data = png[pos + 8 : pos + 8 + length]
        if kind == b"tEXt" and b"\0" in data:
            key, value = data.split(b"\0", 1)
            found[key.decode("latin-1")] = value.decode("latin-1")
        if kind == b"IEND":
            break
        pos += 12 + length
    return found
