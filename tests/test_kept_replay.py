"""Replays kept between derivation passes (derivation/kept_replay.py): bounded by count and by the
nodes of their replayed DOMs, reused only while their chunks are still the page view's first."""

from __future__ import annotations

from pathlib import Path

from sessionlens import codec, keys
from sessionlens.contracts import make_event
from sessionlens.derivation.clicks import _Cursor
from sessionlens.derivation.kept_replay import KeptReplays
from sessionlens.replay.pageview import PageViewReader
from sessionlens.stores.local import LocalStore
from tests.backdrop_pages import meta, snapshot

SITE, SID = "site", "s1"


def _page(store: LocalStore, pid: str, items: int, seq: int = 0) -> None:
    events = [meta(1000, 800)] if seq == 0 else []
    if seq == 0:
        events.append(snapshot("<ul>" + "<li>x</li>" * items + "</ul>")[0])
    else:
        events.append(make_event("scroll", t=50 + seq, target=1, x=0, y=seq, sw=1000, sh=2000))
    store.put(
        keys.chunk_key(keys.ChunkAddress(SITE, SID, pid, seq)), codec.encode({"t0": 1, "events": events})
    )


def _run(kept: KeptReplays, reader: PageViewReader, pid: str) -> int:
    """Feeds the page view and returns how many chunks this pass read."""
    read: list[int] = []
    kept.run(reader, (SITE, SID, pid), lambda cursor, t0: None, on_chunk=read.append)
    return len(read) - 1  # on_chunk also reports the first chunk, read again for its t0


def test_kept_replays_are_bounded_by_the_nodes_of_their_doms(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    reader = PageViewReader(store)
    for pid, items in (("small-a", 10), ("small-b", 10), ("big", 200)):
        _page(store, pid, items)
    kept = KeptReplays(_Cursor, cache_size=64, max_nodes=120)
    _run(kept, reader, "small-a")
    _run(kept, reader, "small-b")
    assert kept.kept() == [(SITE, SID, "small-a"), (SITE, SID, "small-b")]
    _run(kept, reader, "big")  # over the budget alone: not kept, and it pushed out the others
    assert kept.kept() == []
    _run(kept, reader, "small-a")
    assert kept.kept() == [(SITE, SID, "small-a")]


def test_a_kept_replay_is_fed_only_new_chunks_and_the_count_bounds_too(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    reader = PageViewReader(store)
    _page(store, "p", 5)
    kept = KeptReplays(_Cursor, cache_size=1)
    assert _run(kept, reader, "p") == 1
    _page(store, "p", 5, seq=1)
    assert _run(kept, reader, "p") == 1  # only chunk 1: chunk 0's replay was kept
    _page(store, "q", 5)
    _run(kept, reader, "q")
    assert kept.kept() == [(SITE, SID, "q")]  # one kept at most
    assert _run(kept, reader, "p") == 2  # p was dropped: read from its first chunk again
