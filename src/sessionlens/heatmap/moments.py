"""The moment picker: which recorded moments of a page view a heatmap can be drawn over.

A backdrop shows the page at one moment of one page view. By default that is
the page as first seen after load settled; a designer whose clicked elements
only exist later (an open menu, a filtered list) picks another moment from a
strip of thumbnails in the viewer. The choice travels as `pid` and `at` in
the heatmap's link and is written in the PNG's header.
"""

from __future__ import annotations

import io
from typing import Any
from urllib.parse import urlencode

from PIL import Image

from sessionlens.heatmap import backdrop
from sessionlens.heatmap.backdrop import BackdropConfig, render_backdrop
from sessionlens.heatmap.render import Selection, choose_backdrop
from sessionlens.index import Index
from sessionlens.replay.pageview import PageViewReader
from sessionlens.stores.base import BlobStore

MAX_MOMENTS = 12  # each one is a thumbnail Chromium may have to render
THUMBNAIL_WIDTH = 240  # px of the PNG; the page is laid out at the heatmap's width


def _candidates(reader: PageViewReader, site: str, sid: str, pid: str) -> list[dict[str, Any]]:
    """Candidate moments from the backdrop renderer when it names them, else the page view's keyframes."""
    named = getattr(backdrop, "candidate_moments", None)
    if named is not None:
        return [
            {"at": int(m.at), "kind": str(getattr(m, "kind", "")), "label": str(getattr(m, "label", ""))}
            for m in named(reader, site, sid, pid)
        ]
    return [{"at": t, "kind": "keyframe", "label": "keyframe"} for t in reader.keyframe_times(site, sid, pid)]


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
    """The first viewport of the page view at `at`, laid out at `width`, scaled to THUMBNAIL_WIDTH."""
    if not index.has_page_view(site, sid, pid):
        raise LookupError(f"no recorded page view {pid} in session {sid} of this site")
    named = getattr(backdrop, "render_thumbnail", None)
    if named is not None:
        return named(store, reader, site, sid, pid, at, width, config=config)
    bd = render_backdrop(store, reader, site, sid, pid, at, width, [], config=config)
    image = bd.image.crop((0, 0, bd.width, min(bd.height, bd.fold or bd.height))).convert("RGB")
    height = max(1, round(image.height * THUMBNAIL_WIDTH / image.width))
    image = image.resize((THUMBNAIL_WIDTH, height), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    image.save(out, "PNG", optimize=True)
    return out.getvalue()
