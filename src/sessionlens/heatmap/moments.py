"""The moment picker: which recorded moments of a page view a heatmap can be drawn over.

A backdrop shows the page at one moment of one page view. By default that is
the page as first seen after load settled; a designer whose clicked elements
only exist later (an open menu, a filtered list) picks another moment from a
strip of thumbnails in the viewer. The choice travels as `pid` and `at` in
the heatmap's link and is written in the PNG's header.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from sessionlens.heatmap.backdrop import BackdropConfig, candidate_moments, render_thumbnail
from sessionlens.heatmap.render import Selection, choose_backdrop
from sessionlens.index import Index
from sessionlens.replay.pageview import PageViewReader
from sessionlens.stores.base import BlobStore

MAX_MOMENTS = 12  # each one is a thumbnail Chromium may have to render


def _candidates(reader: PageViewReader, site: str, sid: str, pid: str) -> list[dict[str, Any]]:
    """The backdrop renderer's candidate moments (page_moments: loaded, settled, complete, ...)."""
    return [{"at": m.at, "kind": m.kind, "label": m.label} for m in candidate_moments(reader, site, sid, pid)]


def moment_strip(
    index: Index, reader: PageViewReader, sel: Selection, width: int, pid: str | None = None
) -> dict[str, Any]:
    """The page view a heatmap of `sel` is drawn over, its default moment, and the candidates
    (each with the URL of its thumbnail), at most MAX_MOMENTS, in time order."""
    sid, pid, default_at = choose_backdrop(sel, sel.page_views(index), reader, width, pid, None)
    moments = {m["at"]: m for m in _candidates(reader, sel.site, sid, pid)}
    moments.setdefault(default_at, {"at": default_at, "kind": "default", "label": "default"})
    chosen = sorted(moments.values(), key=lambda m: m["at"])
    if len(chosen) > MAX_MOMENTS:  # keep the default and spread the rest over the page view
        step = len(chosen) / MAX_MOMENTS
        kept = {chosen[int(i * step)]["at"] for i in range(MAX_MOMENTS - 1)} | {default_at}
        chosen = [m for m in chosen if m["at"] in kept]
    for m in chosen:
        m["default"] = m["at"] == default_at
        q = {"site": sel.site, "sid": sid, "pid": pid, "at": m["at"], "width": width}
        m["thumbnail"] = "/api/heatmaps/thumbnail?" + urlencode(q)
    return {"sid": sid, "pid": pid, "at": default_at, "width": width, "moments": chosen}


def thumbnail_png(
    index: Index, store: BlobStore, reader: PageViewReader, site: str, sid: str, pid: str, at: int,
    width: int, config: BackdropConfig | None = None,
) -> bytes:  # fmt: skip
    """The first viewport of the page view at `at`, laid out at `width`, as a small PNG (backdrop.render_thumbnail)."""
    if not index.has_page_view(site, sid, pid):
        raise LookupError(f"no recorded page view {pid} in session {sid} of this site")
    return render_thumbnail(store, reader, site, sid, pid, at, width, config=config)
