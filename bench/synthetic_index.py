"""What the index benchmarks (bench/forms.py, bench/funnel.py, bench/session_search.py) share
to build a synthetic index: the repository's code first on sys.path (so a copy of the
repository benchmarks its own code), the generated time span, an empty index per backend,
bulk loading of generated rows, and the percentile they print.

Import it before any sessionlens module (it puts src/ and the repository root first on sys.path).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
for _path in (ROOT, ROOT / "src"):
    if str(_path) not in sys.path[:2]:
        sys.path.insert(0, str(_path))

from index_backend import bench_index  # noqa: E402

from sessionlens.index import Index  # noqa: E402

DAY = 86_400_000
NOW = 1_790_000_000_000  # generated sessions start in the DAYS days before NOW
DAYS = 30

__all__ = ["DAY", "DAYS", "NOW", "ROOT", "bench_index", "fill", "p95"]


def fill(
    index: Index,
    tables: dict[str, tuple[str, ...]],
    data: dict[str, Sequence[tuple[Any, ...]]],
    postgres_url: str | None,
    *,
    analyze: bool = True,
) -> None:
    """Load the rows of each table (columns in `tables`) as fast as each backend takes them:
    one executemany per table on SQLite (then ANALYZE unless `analyze` is off: a benchmark
    whose SQL pins its plans measures without statistics), COPY on PostgreSQL (then VACUUM
    ANALYZE). Day partitions are made first for the PostgreSQL clicks table (t0 in column 3)."""
    if postgres_url is None:

        def write(conn: Any) -> None:
            for table, columns in tables.items():
                conn.executemany(
                    f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({','.join('?' * len(columns))})",  # noqa: S608
                    data[table],
                )
            if analyze:
                conn.execute("ANALYZE")

        index.write(write)
        return
    import psycopg

    for t0 in sorted({r[3] // DAY * DAY for r in data.get("clicks", ())}):
        index._ensure_partitions(t0)
    with psycopg.connect(postgres_url, options=f"-csearch_path={index.schema}") as conn:
        for table, columns in tables.items():
            with conn.cursor().copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in data[table]:
                    copy.write_row(row)
        conn.commit()
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE")


def p95(values: Sequence[float]) -> float:
    """The 95th percentile, nearest rank (as the benchmarks have printed it)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]
