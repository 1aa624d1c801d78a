"""Swapping a rebuilt index in (reindex): the live tables take the fresh ones' rows
in one transaction.

SQLite rebuilds into a file beside the live one and ATTACHes it; PostgreSQL
rebuilds into a staging schema of the same database. The statements are the
same, with the two databases' table prefixes.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sessionlens.index import aggregate

if TYPE_CHECKING:
    from sessionlens.index.database import Index


def staging_schema(index: Index, pid: int) -> str:
    live = index.query("SELECT current_schema() AS s")[0]["s"]
    return f"{live}_rebuild_{pid}"


def drop_schema(index: Index, schema: str) -> None:
    index.write(lambda conn: conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))


def fact_days(index: Index, schema: str) -> list[int]:
    """One t0 of each day the fresh click and move facts cover (their partitions must exist)."""
    rows = index.query(
        f'SELECT DISTINCT t0 / 86400000 * 86400000 AS day FROM "{schema}".clicks'  # noqa: S608
        f' UNION SELECT DISTINCT t0 / 86400000 * 86400000 FROM "{schema}".moves'
    )
    return [r["day"] for r in rows]


def _columns(conn: Any, index: Index, prefix: str, schema: str, table: str) -> list[str]:
    if index.dialect.is_postgresql:
        rows = conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = ? AND table_name = ?"
            " ORDER BY ordinal_position",
            (schema, table),
        ).fetchall()
        return [r[0] for r in rows]
    return [r["name"] for r in conn.execute(f"PRAGMA {schema}.table_info({table})").fetchall()]


def adopt(
    conn: Any, index: Index, fresh: Index, keep_received_since: int, exclude: set[tuple[str, str, str, int]]
) -> int:
    if index.dialect.is_postgresql:
        live = conn.execute("SELECT current_schema()").fetchone()[0]
        assert fresh.schema is not None
        main, other, other_name = f'"{live}".', f'"{fresh.schema}".', fresh.schema
        return _swap(conn, index, main, other, other_name, keep_received_since, exclude)
    assert fresh.path is not None
    conn.commit()
    conn.execute("ATTACH DATABASE ? AS fresh", (str(fresh.path),))
    try:
        conn.execute("BEGIN IMMEDIATE")
        kept = _swap(conn, index, "main.", "fresh.", "fresh", keep_received_since, exclude)
        conn.commit()
        return kept
    except BaseException:
        conn.rollback()
        raise
    finally:
        conn.execute("DETACH DATABASE fresh")


def _swap(
    conn: Any, index: Index, main: str, fresh: str, fresh_name: str, keep_received_since: int,
    exclude: set[tuple[str, str, str, int]],
) -> int:  # fmt: skip
    from sessionlens.index.database import REBUILT_TABLES

    kept = conn.execute(
        f"""SELECT * FROM {main}chunks AS c WHERE c.received >= ? AND NOT EXISTS (
               SELECT 1 FROM {fresh}chunks AS f
               WHERE f.site = c.site AND f.sid = c.sid AND f.pid = c.pid AND f.seq = c.seq)""",  # noqa: S608
        (keep_received_since,),
    ).fetchall()
    kept = [r for r in kept if (r["site"], r["sid"], r["pid"], r["seq"]) not in exclude]
    for table in REBUILT_TABLES:
        columns = ", ".join(_columns(conn, index, fresh, fresh_name, table))
        conn.execute(f"DELETE FROM {main}{table}")  # noqa: S608 - fixed names
        conn.execute(f"INSERT INTO {main}{table} ({columns}) SELECT {columns} FROM {fresh}{table}")  # noqa: S608
    if kept:
        for r in kept:
            aggregate.insert_chunk_values(conn, {k: r[k] for k in r.keys()})
        views = list(dict.fromkeys((r["site"], r["sid"], r["pid"]) for r in kept))
        for view in views:
            aggregate.refresh_page_view(conn, *view)
        for site, sid in dict.fromkeys(v[:2] for v in views):
            aggregate.refresh_session(conn, site, sid)
        aggregate.enqueue(conn, views)
    return len(kept)


def remove_index_files(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        with contextlib.suppress(FileNotFoundError):
            Path(f"{path}{suffix}").unlink()


def remove_leftovers(live: Path) -> None:
    """Drop rebuild files left by a reindex that was killed (its process is gone)."""
    for path in live.parent.glob(f"{live.name}.rebuild-*"):
        pid = path.name.rsplit("-", 1)[-1]
        if not pid.isdigit():
            continue  # -wal / -shm files go with their database below
        if int(pid) != os.getpid():
            try:
                os.kill(int(pid), 0)
                continue  # another reindex is running
            except PermissionError:
                continue
            except ProcessLookupError:
                pass
        remove_index_files(path)
