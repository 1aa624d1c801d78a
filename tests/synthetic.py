"""Long synthetic recordings: a page that keeps changing for minutes.

Used by the seek tests and the replay benchmarks. Deterministic for a seed.
"""

from __future__ import annotations

import random
from typing import Any

from sessionlens.contracts import field, make_event, make_node
from tests.helpers import meta_event

CHUNK_MS = 5_000
_T = field("meta", "t")  # every kind starts [kind, t, ...]


def _mutation(t: int, removes: Any = (), adds: Any = (), attrs: Any = (), texts: Any = ()) -> list[Any]:
    return make_event(
        "mutation", t=t, removes=list(removes), adds=list(adds), attrs=list(attrs), texts=list(texts)
    )


def synthetic_page_view(minutes: float, seed: int = 7, rows: int = 200) -> list[list[list[Any]]]:
    """Chunks (lists of events) of one page view lasting `minutes`."""
    rng = random.Random(seed)
    nodes: list[list[Any]] = [
        make_node("document", id=1),
        make_node("doctype", id=2, parent=1, name="html", publicId="", systemId=""),
        make_node("element", id=3, parent=1, tag="html", attrs={"lang": "en"}),
        make_node("element", id=4, parent=3, tag="head", attrs={}),
        make_node("element", id=5, parent=4, tag="style", attrs={}),
        make_node("text", id=6, parent=5, text="li.hot{color:red} li:hover{background:#eee}"),
        make_node("element", id=7, parent=3, tag="body", attrs={}),
        make_node("element", id=8, parent=7, tag="ul", attrs={"id": "list"}),
    ]
    next_id = 9
    live: list[int] = []  # li ids in document order
    texts: dict[int, int] = {}  # li id -> its text node id
    for i in range(rows):
        nodes.append(make_node("element", id=next_id, parent=8, tag="li", attrs={"class": "row"}))
        nodes.append(make_node("text", id=next_id + 1, parent=next_id, text=f"row {i}"))
        live.append(next_id)
        texts[next_id] = next_id + 1
        next_id += 2
    chunks: list[list[list[Any]]] = []
    events: list[list[Any]] = [
        meta_event(0, "https://shop.example/list"),
        make_event("snapshot", t=10, part=0, last=True, nodes=nodes),
    ]
    t = 10
    end = int(minutes * 60_000)
    while t < end:
        t += rng.randint(50, 400)
        roll = rng.random()
        if roll < 0.35 and live:
            target = rng.choice(live)
            change = [target, "class", rng.choice(["row", "row hot", None])]
            events.append(_mutation(t, attrs=[change]))
        elif roll < 0.55 and live:
            target = rng.choice(live)
            events.append(_mutation(t, texts=[[texts[target], f"row {rng.randint(0, 10**6)}"]]))
        elif roll < 0.7:
            before = rng.choice(live) if live and rng.random() < 0.5 else None
            li, txt = next_id, next_id + 1
            next_id += 2
            adds = [
                make_node("element", id=li, parent=8, next=before, tag="li", attrs={"class": "row new"}),
                make_node("text", id=txt, parent=li, text=f"new {li}"),
            ]
            events.append(_mutation(t, adds=adds))
            pos = live.index(before) if before is not None else len(live)
            live.insert(pos, li)
            texts[li] = txt
        elif roll < 0.8 and len(live) > 20:
            target = live.pop(rng.randrange(len(live)))
            events.append(_mutation(t, removes=[target]))
        elif roll < 0.9:
            y = rng.randint(0, 4000)
            events.append(make_event("scroll", t=t, target=None, x=0, y=y, sw=1280, sh=9000))
        else:
            x, y = rng.randint(0, 1280), rng.randint(0, 800)
            events.append(make_event("move", t=t, x=x, y=y, target=None))
        if events and t // CHUNK_MS != events[0][_T] // CHUNK_MS and len(events) > 1:
            chunks.append(events)
            events = []
    if events:
        chunks.append(events)
    return chunks
