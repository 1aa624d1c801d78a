"""Compaction throughput: page views compacted per second, and what they shrink to.

Page views are synthetic (tests/synthetic.py: a list page that keeps
changing, ~5 s chunks) with a snapshot that links the same stylesheet and
logo on every page, stored as ingest stores them (msgpack + zstd 3) in a
local store on disk. Each round compacts every page view (read, verify,
write pack and assets, remove chunks, re-encode keyframes: none here) and is
timed; the medians over rounds are printed, without and with a dictionary.

    .venv/bin/python bench/compaction.py [--page-views 40] [--minutes 1] [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sessionlens import codec, keys  # noqa: E402
from sessionlens.compaction.compact import PACK_LEVEL, compact_page_view  # noqa: E402
from sessionlens.compaction.dictionary import train  # noqa: E402
from sessionlens.compaction.source import ChunkSource  # noqa: E402
from sessionlens.contracts import field, make_node  # noqa: E402
from sessionlens.stores.local import LocalStore  # noqa: E402
from tests.synthetic import synthetic_page_view  # noqa: E402

SITE = "benchsite"
CSS = "body{margin:0}" + "".join(
    f".c{i}{{color:#{i * 7919 % 0xFFFFFF:06x};margin:{i % 9}px}}" for i in range(1500)
)
LOGO = "data:image/png;base64," + "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJ" * 60
_NODES = field("snapshot", "nodes")


def store_page_views(store: LocalStore, n: int, minutes: float) -> tuple[list[tuple[str, str, str]], int]:
    views, total = [], 0
    for i in range(n):
        sid, pid = f"s{i // 4:04d}", f"p{i:05d}"
        chunks = synthetic_page_view(minutes, seed=i, rows=150)
        for event in chunks[0]:
            if event[0] == "snapshot":
                head = [
                    make_node("element", id=900_001, parent=4, tag="link", attrs={"rel": "stylesheet"}, props={"css": CSS}),
                    make_node("element", id=900_002, parent=7, tag="img", attrs={"src": LOGO}),
                ]  # fmt: skip
                event[_NODES] = event[_NODES] + head
        for seq, events in enumerate(chunks):
            chunk = {"v": 1, "site": SITE, "sid": sid, "pid": pid, "seq": seq, "t0": 1_700_000_000_000 + i,
                     "received": 1_700_000_000_000 + i, "ua": "bench", "events": events}  # fmt: skip
            blob = codec.encode(chunk)
            total += len(blob)
            store.put(keys.chunk_key(keys.ChunkAddress(SITE, sid, pid, seq)), blob)
        views.append((SITE, sid, pid))
    return views, total


def one_round(n: int, minutes: float, with_dictionary: bool) -> tuple[float, int, int]:
    with tempfile.TemporaryDirectory() as tmp:
        store = LocalStore(Path(tmp))
        views, before = store_page_views(store, n, minutes)
        dictionary = None
        if with_dictionary:
            dict_id = train(store, SITE)
            dictionary = (dict_id, store.get(keys.dictionary_key(SITE, dict_id)))
        source = ChunkSource(store)
        started = time.perf_counter()
        for view in views:
            compact_page_view(store, *view, level=PACK_LEVEL, dictionary=dictionary, source=source)
        elapsed = time.perf_counter() - started
        after = sum(len(store.get(k)) for k in store.list(keys.site_prefix(SITE)) if "/dicts/" not in k)
    return elapsed, before, after


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--page-views", type=int, default=40)
    parser.add_argument("--minutes", type=float, default=1.0, help="recorded length of each page view")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    print(
        f"{args.page_views} page views of {args.minutes:g} min each, zstd level {PACK_LEVEL}, {args.rounds} rounds"
    )
    for with_dictionary in (False, True):
        runs = [one_round(args.page_views, args.minutes, with_dictionary) for _ in range(args.rounds)]
        elapsed = statistics.median(r[0] for r in runs)
        before, after = runs[0][1], runs[0][2]
        label = "with dictionary" if with_dictionary else "no dictionary  "
        print(
            f"{label}: {args.page_views / elapsed:7.1f} page views/s (median {elapsed:.2f} s), "
            f"{before / 1024 / elapsed:8.0f} KB/s of chunks in; stored {before / 1024:.0f} KB -> {after / 1024:.0f} KB "
            f"({after / before:.2f}x)"
        )


if __name__ == "__main__":
    main()
