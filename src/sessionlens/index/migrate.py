"""Schema migrations: versioned, forward-only, run by both backends at open.

The migrations are the files storage_schemas/migrations/NNNN_what.sql (see
the README there), each applied once and recorded in `schema_migrations`.
A version may also have a Python step in STEPS (filling a new table or
column from existing rows); it runs after the file in the same transaction.
All pending versions are applied in one transaction, under a lock, so
several processes starting together apply each version once. An index
holding a version this code does not know is refused: the code is older
than the database.
"""

from __future__ import annotations

import itertools
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sessionlens.contracts import SCHEMA_DIR
from sessionlens.index import click_arrays
from sessionlens.index.dialect import LOCK_MIGRATIONS, Dialect
from sessionlens.index.search_indexes import create_postgresql_search_indexes
from sessionlens.index.url_keys import url_key_rows

MIGRATIONS_DIR = SCHEMA_DIR / "migrations"


class SchemaTooNew(RuntimeError):
    """The index was migrated by a newer sessionlens."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    path: Path


def migrations() -> list[Migration]:
    found = []
    for path in sorted(MIGRATIONS_DIR.glob("*.sql")):
        match = re.fullmatch(r"(\d{4})_(\w+)\.sql", path.name)
        if match:
            found.append(Migration(int(match[1]), match[2], path))
    versions = [m.version for m in found]
    if versions != list(range(1, len(found) + 1)):
        raise RuntimeError(f"migrations in {MIGRATIONS_DIR} must be numbered 1, 2, 3... without gaps: {versions}")
    return found


def latest_version() -> int:
    return len(migrations())


def migrate(conn: Any, dialect: Dialect, schema: str | None = None) -> list[int]:
    """Apply the pending migrations on `conn` (a sqlite3 connection or PgTx in a transaction).

    Returns the versions applied.
    """
    if dialect.is_postgresql:
        conn.execute(f"SELECT pg_advisory_xact_lock({LOCK_MIGRATIONS}, 0)")
        if schema:
            conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
    else:
        conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute(
            dialect.ddl(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)"
            )
        )
        done = {row[0] for row in conn.execute("SELECT version FROM schema_migrations").fetchall()}
        known = migrations()
        unknown = sorted(v for v in done if v > len(known))
        if unknown:
            raise SchemaTooNew(
                f"the index has schema version {max(unknown)} but this sessionlens knows up to "
                f"{len(known)}: upgrade sessionlens (migrations are forward-only)"
            )
        applied = []
        for m in known:
            if m.version in done:
                continue
            _run_script(conn, dialect, dialect.ddl(m.path.read_text()))
            step = STEPS.get(m.version)
            if step is not None:
                step(conn, dialect)
            conn.execute(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                (m.version, m.name, int(time.time() * 1000)),
            )
            applied.append(m.version)
        if not dialect.is_postgresql:
            conn.commit()
        return applied
    except BaseException:
        if not dialect.is_postgresql:
            conn.rollback()
        raise


_ADD_COLUMN = re.compile(r"ALTER\s+TABLE\s+(\w+)\s+ADD\s+COLUMN\s+(\w+)", re.IGNORECASE)


def _run_script(conn: Any, dialect: Dialect, script: str) -> None:
    # Statement by statement (sqlite3's executescript would commit the transaction).
    for statement in _statements(script):
        # Adding a column that is there already is skipped: indexes created
        # before migrations may have columns a later migration adds.
        added = _ADD_COLUMN.match(statement)
        if added and added[2] in _table_columns(conn, dialect, added[1]):
            continue
        conn.execute(statement)


def _statements(script: str) -> list[str]:
    text = "\n".join(line.split("--", 1)[0] for line in script.splitlines())
    return [s.strip() for s in text.split(";") if s.strip()]


# -- Python steps ---------------------------------------------------------------


def _table_columns(conn: Any, dialect: Dialect, table: str) -> set[str]:
    if dialect.is_postgresql:
        rows = conn.execute(
            "SELECT column_name FROM information_schema.columns"
            " WHERE table_schema = current_schema() AND table_name = ?",
            (table,),
        ).fetchall()
        return {r[0] for r in rows}
    return {r[1] for r in conn.execute(f"PRAGMA table_info({table})").fetchall()}


def _fill_url_keys(conn: Any, dialect: Dialect) -> None:
    urls = conn.execute(
        "SELECT DISTINCT site, url FROM page_urls UNION SELECT DISTINCT site, url FROM clicks"
        " UNION SELECT DISTINCT site, url FROM moves"
    ).fetchall()
    conn.executemany(
        "INSERT INTO url_keys (site, url, path, norm_url, norm_path) VALUES (?, ?, ?, ?, ?)"
        " ON CONFLICT DO NOTHING",
        url_key_rows((r[0], r[1]) for r in urls),
    )


def _fill_click_arrays(conn: Any, dialect: Dialect) -> None:
    """click_arrays of the page views indexed before them (any there before made again), from their
    `clicks` rows (in t order) and their page views' device class and width."""
    conn.execute("DELETE FROM click_arrays")
    cursor = conn.execute(
        "SELECT c.site, c.sid, c.pid, c.t0, p.device, p.vw, c.url, c.selector, c.anchor, c.fx, c.fy, c.px, c.py,"
        " c.vw, c.ax, c.ay, c.rage, c.dead, c.error FROM clicks c LEFT JOIN page_views p"
        " ON p.site = c.site AND p.sid = c.sid AND p.pid = c.pid ORDER BY c.site, c.sid, c.pid, c.t"
    )

    def fetched() -> Iterator[Any]:
        while batch := cursor.fetchmany(10_000):
            yield from batch

    arrays = click_arrays.view_rows(fetched())
    while chunk := list(itertools.islice(arrays, 1_000)):
        conn.executemany(click_arrays.INSERT, chunk)


STEPS: dict[int, Callable[[Any, Dialect], None]] = {
    2: _fill_url_keys,
    16: create_postgresql_search_indexes,  # PostgreSQL only: the file 0016 has no statement
    18: _fill_click_arrays,  # 0017 made the table, 0018 its page-view columns
}
