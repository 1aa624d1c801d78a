"""Long synthetic recordings: a page that keeps changing for minutes.

Used by the seek tests and the replay benchmarks. Deterministic for a seed.
"""

from __future__ import annotations

import random
from typing import Any

from tests.helpers import meta_event

CHUNK_MS = 5_000


def synthetic_page_view(minutes: float, seed: int = 7, rows: int = 200) -> list[list[list[Any]]]:
    """Chunks (lists of events) of one page view lasting `minutes`."""
    rng = random.Random(seed)
    nodes: list[list[Any]] = [
        [1, None, None, 9],
        [2, 1, None, 10, "html", "", ""],
        [3, 1, None, 1, "html", {"lang": "en"}],
        [4, 3, None, 1, "head", {}],
        [5, 4, None, 1, "style", {}],
        [6, 5, None, 3, "li.hot{color:red} li:hover{background:#eee}"],
        [7, 3, None, 1, "body", {}],
        [8, 7, None, 1, "ul", {"id": "list"}],
    ]
    next_id = 9
    live: list[int] = []  # li ids in document order
    texts: dict[int, int] = {}  # li id -> its text node id
    for i in range(rows):
        nodes.append([next_id, 8, None, 1, "li", {"class": "row"}])
        nodes.append([next_id + 1, next_id, None, 3, f"row {i}"])
        live.append(next_id)
        texts[next_id] = next_id + 1
        next_id += 2
    chunks: list[list[list[Any]]] = []
    events: list[list[Any]] = [meta_event(0, "https://shop.example/list"), ["snapshot", 10, 0, True, nodes]]
    t = 10
    end = int(minutes * 60_000)
    while t < end:
        t += rng.randint(50, 400)
        roll = rng.random()
        if roll < 0.35 and live:
            target = rng.choice(live)
            events.append(
                ["mutation", t, [], [], [[target, "class", rng.choice(["row", "row hot", None])]], []]
            )
        elif roll < 0.55 and live:
            target = rng.choice(live)
            events.append(["mutation", t, [], [], [], [[texts[target], f"row {rng.randint(0, 10**6)}"]]])
        elif roll < 0.7:
            before = rng.choice(live) if live and rng.random() < 0.5 else None
            li, txt = next_id, next_id + 1
            next_id += 2
            events.append(
                [
                    "mutation",
                    t,
                    [],
                    [[li, 8, before, 1, "li", {"class": "row new"}], [txt, li, None, 3, f"new {li}"]],
                    [],
                    [],
                ]
            )
            pos = live.index(before) if before is not None else len(live)
            live.insert(pos, li)
            texts[li] = txt
        elif roll < 0.8 and len(live) > 20:
            target = live.pop(rng.randrange(len(live)))
            events.append(["mutation", t, [target], [], [], []])
        elif roll < 0.9:
            events.append(["scroll", t, None, 0, rng.randint(0, 4000), 1280, 9000])
        else:
            events.append(["move", t, rng.randint(0, 1280), rng.randint(0, 800), None])
        if events and t // CHUNK_MS != events[0][1] // CHUNK_MS and len(events) > 1:
            chunks.append(events)
            events = []
    if events:
        chunks.append(events)
    return chunks
