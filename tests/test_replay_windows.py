"""A time window of a long page view (the player's /events) decodes a few chunks, not all.

Chunks of a page view are in time order, so the window's first chunk is
found by bisection and reading stops past the window's end. Before, the
first window of a 60-minute page view decoded all 720 chunks (seconds),
and the player's next requests queued behind it (bench/replay_seek.py p95).
"""

from __future__ import annotations

import math
import random

import orjson

from sessionlens.contracts import make_event
from sessionlens.index import Index
from sessionlens.ingest import ingest_batch
from sessionlens.replay.pageview import PageViewReader
from sessionlens.settings import Settings
from sessionlens.sites import Site
from sessionlens.stores.local import LocalStore
from tests.helpers import batch, meta_event, new_id, snapshot_event

CHUNKS = 120


def _page_view(
    settings: Settings, store: LocalStore, index: Index, site: Site
) -> tuple[str, str, list[list]]:
    sid, pid = new_id(), new_id()
    every: list[list] = []
    for seq in range(CHUNKS):
        # 5 s per chunk, a move every second; several events in one ms now and then.
        events = [meta_event(0), snapshot_event(1)] if seq == 0 else []
        events += [
            make_event("move", t=seq * 5000 + i * 1000 + 10, x=i, y=seq, target=None) for i in range(5)
        ]
        if seq % 7 == 3:
            events += [make_event("move", t=seq * 5000 + 4010, x=9, y=9, target=None)] * 3
        every += events
        body = orjson.dumps(batch(sid, pid, seq, events))
        ingest_batch(site=site.key, body=body, content_encoding="", user_agent="pytest-browser/1.0",
                     settings=settings, store=store, index=index)  # fmt: skip
    return sid, pid, every


def _counting_reader(store: LocalStore) -> tuple[PageViewReader, list[int]]:
    """A cold reader, and the seqs of the chunks it decodes."""
    reader, decoded = PageViewReader(store), []
    chunk = reader.source.chunk

    def counted(site: str, sid: str, pid: str, seq: int) -> object:
        decoded.append(seq)
        return chunk(site, sid, pid, seq)

    reader.source.chunk = counted  # type: ignore[method-assign]
    return reader, decoded


def test_windows_are_right_and_read_few_chunks(
    settings: Settings, store: LocalStore, index: Index, site: Site
) -> None:
    sid, pid, every = _page_view(settings, store, index, site)
    end = every[-1][1]
    rng = random.Random(7)
    windows = [(0, 30_000), (end - 1000, end + 30_000), (end + 1, end + 5)]
    windows += [(a, a + rng.choice([1, 999, 30_000])) for a in rng.sample(range(end), 12)]
    for after, until in windows:
        for limit in (1000, 3):
            reader, decoded = _counting_reader(store)
            out, more, last = reader.events_between(site.key, sid, pid, after, until, limit)
            wanted = [e for e in every if after < e[1] <= until]
            assert last == end
            if more:
                assert wanted[: len(out)] == out and len(out) >= limit and wanted[len(out)][1] > out[-1][1]
            else:
                assert out == wanted, (after, until, limit)
            window_chunks = len({e[1] // 5000 for e in out}) + 2
            assert len(decoded) <= math.ceil(math.log2(CHUNKS)) + 1 + window_chunks, (after, until, decoded)


def test_a_chunk_of_back_dated_events_does_not_hide_the_chunk_before(
    settings: Settings, store: LocalStore, index: Index, site: Site
) -> None:
    """A request is sent when it ends and dated at its start (the page's own document: t=0),
    so a chunk holding only it ends earlier than the chunk before it. The window from the page
    view's first ms must still hold the snapshot of that earlier chunk (the player opened a page
    view at its first ms on a white frame: tests/test_funnel_e2e.py)."""
    sid, pid = new_id(), new_id()
    request = make_event(
        "request", t=0, how="resource", method="GET", url="https://shop.example/", status=200,
        duration=90, size=1000, failed=0,
    )  # fmt: skip
    chunks = [
        [meta_event(0), snapshot_event(14), make_event("move", t=40, x=1, y=1, target=None)],
        [request],
        [make_event("move", t=700, x=2, y=2, target=None)],
        [make_event("move", t=5_000, x=3, y=3, target=None), request],
        [make_event("move", t=9_000, x=4, y=4, target=None)],
    ]
    every = [e for events in chunks for e in events]
    for seq, events in enumerate(chunks):
        body = orjson.dumps(batch(sid, pid, seq, events))
        ingest_batch(site=site.key, body=body, content_encoding="", user_agent="pytest-browser/1.0",
                     settings=settings, store=store, index=index)  # fmt: skip
    for after, until in [(0, 30_000), (13, 20), (20, 800), (39, 5_000), (699, 30_000), (5_000, 9_000)]:
        out, more, last = PageViewReader(store).events_between(site.key, sid, pid, after, until, 1000)
        wanted = [e for e in every if after < e[1] <= until]
        assert (out, more, last) == (wanted, False, 9_000), (after, until)
