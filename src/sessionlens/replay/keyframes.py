"""Writing keyframes after ingest, so a seek loads one keyframe, not the stream.

A keyframe is written at the end of a chunk once enough has happened since
the last one: KEYFRAME_MS of recorded time with DOM changes, or
KEYFRAME_MUTATIONS changed nodes. Keyframes are derived data: losing them
only makes seeks slower. The derivation worker (sessionlens.derivation)
writes them after ingest, and `sessionlens reindex` rewrites them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sessionlens import codec, keys
from sessionlens.contracts import field
from sessionlens.replay.dom import DomState
from sessionlens.replay.pageview import PageViewReader
from sessionlens.replay.recorded_urls import RecordedUrls
from sessionlens.stores.base import BlobStore

KEYFRAME_MS = 5_000
KEYFRAME_MUTATIONS = 2_000
_DOM_KINDS = frozenset({"snapshot", "mutation", "scroll", "input", "resize", "nav"})
_MUT = [field("mutation", n) for n in ("removes", "adds", "attrs", "texts")]


def _weight(event: list[Any]) -> int:
    if event[0] == "mutation":
        return sum(len(event[i]) for i in _MUT)
    if event[0] == "snapshot":
        return len(event[field("snapshot", "nodes")])
    return 1


def write_keyframes(
    store: BlobStore,
    reader: PageViewReader,
    site: str,
    sid: str,
    pid: str,
    *,
    rebuild: bool = False,
    on_chunk: Callable[[int], None] = lambda seq: None,
) -> int:
    """Bring one page view's keyframes up to date; returns how many were written.

    Continues from the last stored keyframe, or with `rebuild` starts from the
    first chunk and then deletes stored keyframes it did not write again.
    `on_chunk(seq)` is told which chunk is being read (to name it on failure).
    """
    existing = reader.keyframe_times(site, sid, pid)
    if existing and not rebuild:
        last = reader.keyframe(site, sid, pid, existing[-1])
        state, last_seq, last_t = DomState.from_keyframe(last), last["seq"], last["t"]
        urls = RecordedUrls.from_keyframe(last)
    else:
        state, last_seq, last_t = DomState(), -1, None
        urls = RecordedUrls()
    written: set[int] = set()
    changed = 0
    seqs = [s for s in reader.chunk_seqs(site, sid, pid) if s > last_seq]
    expected = last_seq + 1
    for seq in seqs:
        if seq != expected:
            break  # a batch is still missing (being retried): keyframe only a complete prefix
        expected += 1
        on_chunk(seq)
        for event in reader.chunk(site, sid, pid, seq)["events"]:
            # Keyframes hold absolute URLs: a seek follows on from one with the bases it had.
            state.apply(urls.event(event))
            if event[0] in _DOM_KINDS:
                changed += _weight(event)
        due = last_t is None or state.t - last_t >= KEYFRAME_MS or changed >= KEYFRAME_MUTATIONS
        if changed and due and state.root is not None and (last_t is None or state.t > last_t):
            frame = state.keyframe()
            frame["seq"] = seq
            store.put(keys.keyframe_key(site, sid, pid, state.t), codec.encode(frame))
            last_t, changed = state.t, 0
            written.add(state.t)
    if rebuild:
        for t in existing:
            if t not in written:
                # The key is a whole key, so the "prefix" is this one object.
                store.delete_prefix(keys.keyframe_key(site, sid, pid, t))
    return len(written)
