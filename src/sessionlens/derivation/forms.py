"""Form analytics facts of a page view (docs/forms.md): its forms and fields as the visitor used
them, replayed from the page view's stored chunks (forms/track.py) and written to the index
(index/forms.py). Each pass replays the page view from its first chunk, so a rebuild and the
worker write the same rows."""

from __future__ import annotations

from collections.abc import Callable

from sessionlens.forms.track import FormTracker
from sessionlens.index import Index
from sessionlens.index.forms import write_forms
from sessionlens.replay.pageview import PageViewReader

PageView = tuple[str, str, str]


def derive_forms(
    index: Index, reader: PageViewReader, view: PageView, on_chunk: Callable[[int], None] = lambda seq: None
) -> int:
    """Replace the page view's form rows; returns how many forms it has."""
    seqs = reader.chunk_seqs(*view)
    if not seqs:
        return 0
    tracker = FormTracker()
    t0 = None
    for seq in seqs:
        on_chunk(seq)
        chunk = reader.chunk(*view, seq)
        t0 = chunk["t0"] if t0 is None else t0
        tracker.add(chunk["events"])
    tracker.finish()
    write_forms(index, view, int(t0 or 0), list(tracker.forms.values()))
    return len(tracker.forms)
