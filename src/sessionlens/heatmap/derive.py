"""Keeping the click facts of a page view in the index up to date."""

from __future__ import annotations

from sessionlens.heatmap.signals import Thresholds, page_view_facts
from sessionlens.index import Index
from sessionlens.replay.pageview import PageViewReader


def derive_clicks(index: Index, reader: PageViewReader, th: Thresholds, site: str, sid: str, pid: str) -> int:
    seqs = reader.chunk_seqs(site, sid, pid)
    if not seqs:
        return 0
    t0 = reader.chunk(site, sid, pid, seqs[0])["t0"]
    clicks, moves = page_view_facts((e for _, e in reader.events(site, sid, pid)), th)
    index.replace_clicks(site, sid, pid, t0, clicks, moves)
    return len(clicks)
