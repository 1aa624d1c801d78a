"""A page view's clicks packed as one array per URL, for heatmaps to read a million at once.

A click map needs, of each click, only where it can be placed: its element
and nearest anchored ancestor (as 64-bit hashes of their paths), its offset
in each, its page position and window width, and its signals. Read as rows
(one per click) a million clicks cost seconds in any driver; packed here
into one `click_arrays` row per (page view, URL) they are a hundred
thousand blobs that numpy reads as they are (index/fact_arrays.py).

The rows are written with the page view's `clicks` rows, in the same
transaction (Index.replace_clicks), so the two always agree; the `clicks`
table stays the one to query by element, text or session. A hash is turned
back into its path through the clicks of a page view holding it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import numpy as np

# Little-endian, packed: 73 bytes a click. Floats as stored in `clicks` (None as NaN), so a
# click is placed as heatmap/render.py's `_place` places its row.
CLICK = np.dtype(
    [("sel", "<i8"), ("anchor", "<i8"), ("fx", "<f8"), ("fy", "<f8"), ("px", "<f8"), ("py", "<f8"),
     ("vw", "<f8"), ("ax", "<f8"), ("ay", "<f8"), ("flags", "u1")]
)  # fmt: skip
RAGE, DEAD, ERROR = 1, 2, 4
FLAGS = {"rage": RAGE, "dead": DEAD, "error": ERROR}

# device and vw: the page view's (page_views), so page-view filters need no look-up (migration 18).
COLUMNS = ("site", "sid", "pid", "url", "t0", "device", "vw", "clicks", "data")
INSERT = f"INSERT INTO click_arrays ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"


def name_hash(name: str) -> int:
    """A path's 64-bit key (signed, as both databases store integers); '' (no anchor) is 0."""
    if not name:
        return 0
    return int.from_bytes(
        hashlib.blake2b(name.encode("utf-8", "surrogatepass"), digest_size=8).digest(), "little", signed=True
    )


def _number(value: Any) -> float:
    return float("nan") if value is None else float(value)


def pack(clicks: Sequence[Sequence[Any]]) -> bytes:
    """(selector, anchor, fx, fy, px, py, vw, ax, ay, rage, dead, error) of each click, packed."""
    out = np.empty(len(clicks), dtype=CLICK)
    for i, (selector, anchor, fx, fy, px, py, vw, ax, ay, rage, dead, error) in enumerate(clicks):
        out[i] = (
            name_hash(selector or ""), name_hash(anchor or ""), _number(fx), _number(fy), _number(px),
            _number(py), _number(vw), _number(ax), _number(ay),
            (RAGE if rage else 0) | (DEAD if dead else 0) | (ERROR if error else 0),
        )  # fmt: skip
    return out.tobytes()


def unpack(data: bytes | memoryview) -> np.ndarray:
    return np.frombuffer(data, dtype=CLICK)


def rows(
    site: str, sid: str, pid: str, t0: int, device: str | None, vw: float | None,
    clicks: Iterable[tuple[str, Sequence[Any]]],
) -> list[tuple[Any, ...]]:  # fmt: skip
    """click_arrays rows of one page view (its device class and window width as page_views has
    them) from (url, click fields as `pack` takes them), in order."""
    by_url: dict[str, list[Sequence[Any]]] = {}
    for url, fields in clicks:
        by_url.setdefault(url, []).append(fields)
    return [(site, sid, pid, url, t0, device, vw, len(found), pack(found)) for url, found in by_url.items()]


def fact_fields(c: Any) -> tuple[str, tuple[Any, ...]]:
    """(url, fields to pack) of a ClickFact (heatmap/signals.py)."""
    return c.url, (c.selector, c.anchor, c.fx, c.fy, c.px, c.py, c.vw, c.ax, c.ay, c.rage, c.dead, c.error)


def view_rows(clicks: Iterable[Sequence[Any]]) -> Iterator[tuple[Any, ...]]:
    """click_arrays rows from click rows read as (site, sid, pid, t0, device, vw, url, selector,
    anchor, fx, fy, px, py, vw, ax, ay, rage, dead, error), a page view's together (in t order):
    what Index.replace_clicks writes, for rows already in `clicks` (migration, bench)."""
    view: tuple[Any, ...] | None = None
    found: list[tuple[str, tuple[Any, ...]]] = []
    for row in clicks:
        if view != tuple(row[:6]):
            if view is not None:
                yield from rows(*view, found)
            view, found = tuple(row[:6]), []
        found.append((row[6], tuple(row[7:])))
    if view is not None:
        yield from rows(*view, found)
