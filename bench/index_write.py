"""Index write cost on SQLite: chunk rows recorded (each re-aggregating its page view and
session) per second, median of several rounds. Prints figures; not a test.

    .venv/bin/python bench/index_write.py [--sessions 200] [--chunks 10] [--rounds 5]
    .venv/bin/python bench/index_write.py --url postgresql://...   # the same on PostgreSQL
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from sessionlens.facts import ChunkFacts
from sessionlens.index import ChunkRow, Index


def rows(sessions: int, chunks: int) -> list[list[ChunkRow]]:
    now = int(time.time() * 1000)
    out = []
    for s in range(sessions):
        sid = f"s{s:06d}"
        for seq in range(chunks):
            facts = ChunkFacts(events=50, t_first=seq * 5000, t_last=seq * 5000 + 4000, active_ms=3000, clicks=2,
                               url="https://shop.example/p/1" if seq == 0 else None, ua="Mozilla/5.0", vw=1280,
                               vh=800, urls=["https://shop.example/p/1"] if seq == 0 else [])  # fmt: skip
            out.append([ChunkRow("site", sid, "p1", seq, now, now, 1000, facts, "")])
    return out


def one_round(make_index, batches: list[list[ChunkRow]]) -> float:
    index = make_index()
    try:
        start = time.perf_counter()
        futures = [index.record_chunks(b) for b in batches]  # queued as concurrent requests would
        for future in futures:
            future.result()
        return len(batches) / (time.perf_counter() - start)
    finally:
        index.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sessions", type=int, default=200)
    ap.add_argument("--chunks", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--url", default="")
    args = ap.parse_args()
    batches = rows(args.sessions, args.chunks)
    tmp = Path(tempfile.mkdtemp())

    def make_index() -> Index:
        if args.url:
            return Index(args.url, schema=f"bench_{uuid.uuid4().hex[:8]}")
        return Index(tmp / f"{uuid.uuid4().hex}.sqlite3")

    rates = [one_round(make_index, batches) for _ in range(args.rounds)]
    backend = "postgresql" if args.url else "sqlite"
    print(f"{backend}: {statistics.median(rates):,.0f} chunk rows/s recorded (median of {args.rounds}; "
          f"{len(batches)} rows, {args.sessions} sessions)")  # fmt: skip


if __name__ == "__main__":
    main()
