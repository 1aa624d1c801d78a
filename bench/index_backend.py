"""An empty index on one backend for a benchmark: SQLite in a temp dir, or
PostgreSQL started the way the tests start it (tests/postgres_server.py)."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sessionlens.index import Index


@contextmanager
def bench_index(backend: str) -> Iterator[tuple[Index, str | None]]:
    """(index, PostgreSQL URL or None); everything is stopped and removed on exit."""
    with tempfile.TemporaryDirectory() as tmp:
        server = None
        if backend == "postgresql":
            from tests.postgres_server import PostgresServer

            server = PostgresServer().start()
            index = Index(server.url, schema="bench")
        else:
            index = Index(Path(tmp) / "index.sqlite3")
        try:
            yield index, server.url if server else None
        finally:
            index.close()
            if server is not None:
                server.stop()
