"""The asset lock of a site: compaction holds it shared, asset deletion exclusively.

Compaction writes an asset (create-if-absent, so an asset that is already
stored is not written again), then a pack or keyframe referencing it. If an
erasure deleted that asset in between, its scan having run before the pack
existed, the pack would reference nothing. So compaction holds the site's
assets (a row in asset_holds with an expiry) from before it writes assets
until its packs and keyframes are written, and deletion scans and deletes
only under the site's exclusive lease, which is refused while a live hold
exists and refuses new holds while it is held (index/lifecycle.py).
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
import uuid
from collections.abc import Iterator
from typing import Any

from sessionlens.index import lifecycle as sql

HOLD_MS = 30 * 60_000  # longer than any one page view's compaction
WAIT_SECONDS = 600.0  # an asset deletion's lease is bounded; waiting longer means something is stuck


def holder_name(role: str) -> str:
    return f"{role}:{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _now_ms() -> int:
    return int(time.time() * 1000)


class AssetsBusy(RuntimeError):
    """The site's assets stayed locked by a deletion for longer than the wait."""


@contextlib.contextmanager
def assets_held(index: Any, site: str, holder: str | None = None, wait_s: float = WAIT_SECONDS) -> Iterator[None]:
    """Hold the site's assets shared (compaction) for the duration of the block."""
    holder = holder or holder_name("compact")
    deadline = time.monotonic() + wait_s
    while not sql.hold_assets(index, site, holder, _now_ms(), HOLD_MS):
        if time.monotonic() > deadline:
            raise AssetsBusy(f"assets of site {site} are locked by an erasure or retention run; try later")
        time.sleep(0.2)
    try:
        yield
    finally:
        sql.release_assets(index, site, holder)
