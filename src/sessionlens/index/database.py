"""The index: derived, rebuildable, in SQLite (default) or PostgreSQL.

`Index(path)` opens (and migrates) a SQLite file; `Index("postgresql://...")`
a PostgreSQL database (optionally in `schema`). Every query sessionlens runs
is a method of this class or a function of this package.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from sessionlens.index import aggregate, click_arrays, queries, rebuild
from sessionlens.index.aggregate import ChunkRow
from sessionlens.index.connections import (
    IndexClosed,
    PostgresConnections,
    SqliteConnections,
    is_postgresql_url,
)
from sessionlens.index.dialect import LOCK_PAGE_VIEW, LOCK_PARTITION, PARTITIONED_BY_DAY, day_bounds
from sessionlens.index.migrate import migrate
from sessionlens.index.url_keys import INSERT_URL_KEYS, url_key_rows

T = TypeVar("T")
# The tables `reindex` rebuilds from stored chunks. The derivation queue and
# other bookkeeping tables are not derived from chunks and are left alone.
REBUILT_TABLES = (
    "chunks", "page_views", "page_urls", "sessions", "clicks", "moves", "url_keys", "event_markers",
    "session_attrs", "custom_events", "custom_event_props", "session_signals", "route_changes", "form_submits",
    "form_views", "form_fields", "survey_responses", "click_arrays",
)  # fmt: skip

CLICK_COLUMNS = (
    "site", "sid", "pid", "t0", "t", "url", "selector", "fx", "fy", "px", "py", "vw", "pw", "ph", "tag",
    "rage", "dead", "error", "control", "text", "anchor", "ax", "ay",
)  # fmt: skip
MOVE_COLUMNS = ("site", "sid", "pid", "t0", "t", "url", "x", "y", "vw")


@dataclass(frozen=True, slots=True)
class WorkItem:
    """A claimed row of the derivation queue."""

    site: str
    sid: str
    pid: str
    generation: int
    attempts: int

    @property
    def page_view(self) -> tuple[str, str, str]:
        return self.site, self.sid, self.pid


class Index:
    def __init__(self, location: str | Path, schema: str | None = None, pool_size: int = 8) -> None:
        if is_postgresql_url(location):
            self._db: SqliteConnections | PostgresConnections = PostgresConnections(
                str(location), schema, pool_size
            )
        else:
            self._db = SqliteConnections(Path(location))
        self.dialect = self._db.dialect
        self.path: Path | None = self._db.path  # the SQLite file (None on PostgreSQL)
        self.url = str(location) if self.dialect.is_postgresql else None
        self.schema = schema
        self._partitions: set[tuple[str, int]] = set()
        try:
            self._db.setup(lambda conn: migrate(conn, self.dialect, schema))
        except BaseException:
            self._db.close()
            raise
        self._db.start()

    @property
    def location(self) -> str:
        """Where the index is, for messages (no password)."""
        return self._db.location + (f" (schema {self.schema})" if self.schema else "")

    # -- transactions --------------------------------------------------------

    def submit(self, fn: Callable[[Any], T]) -> concurrent.futures.Future[T]:
        """Run fn(conn) in one write transaction; conn speaks sqlite3's interface with `?` marks."""
        return self._db.submit(fn)

    def write(self, fn: Callable[[Any], T]) -> T:
        return self.submit(fn).result()

    async def write_async(self, fn: Callable[[Any], T]) -> T:
        return await asyncio.wrap_future(self.submit(fn))

    def close(self) -> None:
        self._db.close()

    def query(self, sql: str, params: Iterable[Any] = ()) -> list[dict[str, Any]]:
        """Rows of a read-only query written with `?` marks (tests and tools; the app uses methods)."""
        return self._db.query(sql, params)

    def read(self, fn: Callable[[Any], T]) -> T:
        """Run fn(conn) in one read-only transaction (one snapshot), rolled back after; conn speaks
        sqlite3's interface with `?` marks. For reads that fill a temporary table first."""
        return self._db.read(fn)

    def ping(self, timeout: float) -> bool:
        """The writer answers a trivial statement (health checks)."""
        row = self.submit(lambda conn: conn.execute("SELECT 1").fetchone()).result(timeout=timeout)
        return row is not None and row[0] == 1

    def columns(self, table: str) -> frozenset[str]:
        if self.dialect.is_postgresql:
            rows = self.query(
                "SELECT column_name AS name FROM information_schema.columns"
                " WHERE table_schema = current_schema() AND table_name = ?",
                (table,),
            )
        else:
            rows = self.query("SELECT name FROM pragma_table_info(?)", (table,))
        return frozenset(r["name"] for r in rows)

    # -- reading -------------------------------------------------------------

    def batches_in_session(self, site: str, sid: str) -> int:
        row = self._db.query_row("SELECT COUNT(*) FROM chunks WHERE site = ? AND sid = ?", (site, sid))
        return int(row[0])

    def has_chunk(self, site: str, sid: str, pid: str, seq: int) -> bool:
        return bool(
            self.query(
                "SELECT 1 FROM chunks WHERE site = ? AND sid = ? AND pid = ? AND seq = ?", (site, sid, pid, seq)
            )
        )

    def has_page_view(self, site: str, sid: str, pid: str) -> bool:
        return bool(
            self.query("SELECT 1 FROM page_views WHERE site = ? AND sid = ? AND pid = ?", (site, sid, pid))
        )

    def session(self, sid: str, site: str | None = None) -> dict[str, Any] | None:
        sql = "SELECT * FROM sessions WHERE sid = ?"
        params: list[Any] = [sid]
        if site:
            sql += " AND site = ?"
            params.append(site)
        rows = self.query(sql, params)
        return rows[0] if rows else None

    def page_views(self, site: str, sid: str) -> list[dict[str, Any]]:
        rows = self.query("SELECT * FROM page_views WHERE site = ? AND sid = ? ORDER BY t0", (site, sid))
        for row in rows:
            row["urls"] = [
                r["url"]
                for r in self.query(
                    "SELECT url FROM page_urls WHERE site = ? AND sid = ? AND pid = ? ORDER BY url",
                    (site, sid, row["pid"]),
                )
            ]
        return rows

    def sessions(self, site: str | None = None, limit: int = 50, offset: int = 0) -> list[dict[str, Any]]:
        sql = "SELECT * FROM sessions"
        params: list[Any] = []
        if site:
            sql += " WHERE site = ?"
            params.append(site)
        sql += " ORDER BY start_time DESC, sid LIMIT ? OFFSET ?"
        return self.query(sql, [*params, limit, offset])

    def search_sessions(self, f: Any, count_cap: int = 10_000) -> dict[str, Any]:
        """Sessions matching a session_search.SessionFilter: {"rows": limit + 1 rows (for the cursor),
        each with its experiment buckets, "total": matches counted up to count_cap + 1}."""
        return self.read(lambda conn: queries.search_sessions(conn, self.dialect, f, count_cap))

    def signal_clicks(self, site: str, sid: str) -> list[dict[str, Any]]:
        """A session's clicks with a frustration signal (the timeline's markers)."""
        return self.query(
            "SELECT pid, t, selector, rage, dead, error FROM clicks"
            " WHERE site = ? AND sid = ? AND (rage = 1 OR dead = 1 OR error = 1) ORDER BY t0, t",
            (site, sid),
        )

    # -- derived rows --------------------------------------------------------

    def record_chunks(self, rows: list[ChunkRow]) -> concurrent.futures.Future[None]:
        """Store chunk facts, then re-aggregate each touched page view and session once."""
        return self.submit(lambda conn: aggregate.record_chunks(conn, self.dialect, rows))

    def replace_clicks(self, site: str, sid: str, pid: str, t0: int, clicks: list, moves: list = ()) -> None:
        """Replace one page view's click and move facts (heatmap/signals.py)."""
        rows = [
            (site, sid, pid, t0, c.t, c.url, c.selector, c.fx, c.fy, c.px, c.py, c.vw, c.pw, c.ph, c.tag,
             int(c.rage), int(c.dead), int(c.error), c.control, c.text, c.anchor, c.ax, c.ay)
            for c in clicks
        ]  # fmt: skip
        move_rows = [(site, sid, pid, t0, m.t, m.url, m.x, m.y, m.vw) for m in moves]
        packed = list(map(click_arrays.fact_fields, clicks))
        keys = url_key_rows([(site, c.url) for c in clicks] + [(site, m.url) for m in moves])
        self._ensure_partitions(t0)
        lock = self.dialect.lock_key_sql(LOCK_PAGE_VIEW)

        def write(conn: Any) -> None:
            if lock:  # two workers deriving one page view write one after the other
                conn.execute(lock, (f"{site}/{sid}/{pid}",))
            conn.execute("DELETE FROM clicks WHERE site = ? AND sid = ? AND pid = ?", (site, sid, pid))
            conn.executemany(
                f"INSERT INTO clicks ({', '.join(CLICK_COLUMNS)}) VALUES ({','.join('?' * len(CLICK_COLUMNS))})",
                rows,
            )
            # The same clicks packed for heatmaps (index/click_arrays.py), in the same transaction.
            conn.execute("DELETE FROM click_arrays WHERE site = ? AND sid = ? AND pid = ?", (site, sid, pid))
            view = conn.execute(
                "SELECT device, vw FROM page_views WHERE site = ? AND sid = ? AND pid = ?", (site, sid, pid)
            ).fetchone()
            device, vw = (view[0], view[1]) if view is not None else (None, None)
            conn.executemany(click_arrays.INSERT, click_arrays.rows(site, sid, pid, t0, device, vw, packed))
            conn.execute("DELETE FROM moves WHERE site = ? AND sid = ? AND pid = ?", (site, sid, pid))
            conn.executemany(
                f"INSERT INTO moves ({', '.join(MOVE_COLUMNS)}) VALUES ({','.join('?' * len(MOVE_COLUMNS))})",
                move_rows,
            )
            conn.executemany(INSERT_URL_KEYS, keys)

        self.write(write)

    def _ensure_partitions(self, t0: int) -> None:
        """PostgreSQL: the day partitions of clicks and moves holding t0 exist.

        Created on first use, each in its own short transaction under a lock
        (creating a partition locks its parent table), so concurrent workers
        create each once. t0 is within t0_window_days of the clock at ingest,
        so the days are bounded.
        """
        if not self.dialect.is_postgresql:
            return
        start, end = day_bounds(t0)
        day = start // 86_400_000
        for table in PARTITIONED_BY_DAY:
            if (table, day) in self._partitions:
                continue

            def create(conn: Any, table: str = table) -> None:
                conn.execute(f"SELECT pg_advisory_xact_lock({LOCK_PARTITION}, ?)", (day,))
                conn.execute(
                    f"CREATE TABLE IF NOT EXISTS {table}_d{day} PARTITION OF {table}"
                    f" FOR VALUES FROM ({start}) TO ({end})"
                )

            self.write(create)
            self._partitions.add((table, day))

    def clear(self) -> None:
        def wipe(conn: Any) -> None:
            for table in REBUILT_TABLES:
                conn.execute(f"DELETE FROM {table}")  # noqa: S608 - fixed names

        self.write(wipe)

    # -- rebuild (reindex) -----------------------------------------------------

    def open_rebuild(self) -> Index:
        """A fresh, empty index beside this one to rebuild into (SQLite: a file, PostgreSQL: a schema)."""
        if self.dialect.is_postgresql:
            schema = rebuild.staging_schema(self, os.getpid())
            rebuild.drop_schema(self, schema)
            return Index(self.url or "", schema=schema)
        assert self.path is not None
        rebuild.remove_leftovers(self.path)
        return Index(self.path.with_name(f"{self.path.name}.rebuild-{os.getpid()}"))

    def discard_rebuild(self, fresh: Index) -> None:
        fresh.close()
        if fresh.dialect.is_postgresql:
            assert fresh.schema is not None
            rebuild.drop_schema(self, fresh.schema)
        else:
            assert fresh.path is not None
            rebuild.remove_index_files(fresh.path)

    def adopt_rebuild(
        self, fresh: Index, keep_received_since: int, exclude: set[tuple[str, str, str, int]] = frozenset()
    ) -> int:
        """Replace the rebuilt tables with those of `fresh`, in one transaction.

        Readers see the old rows until the commit and the new ones after it
        (a running server included: it is the same database). Chunk rows
        received since `keep_received_since` that the rebuild does not hold
        (ingested while it ran) are kept, re-aggregated and queued for
        derivation, except those in `exclude` (the rebuild skipped them).
        Returns how many were kept.
        """
        fresh.close()
        if self.dialect.is_postgresql:
            assert fresh.schema is not None
            for t0 in rebuild.fact_days(self, fresh.schema):
                self._ensure_partitions(t0)
        return self.write(lambda conn: rebuild.adopt(conn, self, fresh, keep_received_since, exclude))

    # -- derivation work queue -------------------------------------------------
    # One row per page view with derivation to do (derivation_queue). Rows are
    # added by record_chunks in the chunk's own transaction. On PostgreSQL a
    # claim selects its rows FOR UPDATE SKIP LOCKED, so workers in many
    # processes never take the same row; on SQLite the single writer and its
    # write lock make the claiming UPDATE atomic.

    def claim_work(
        self, worker: str, now_ms: int, lease_ms: int, max_attempts: int, limit: int = 1
    ) -> list[WorkItem]:
        """Lease up to `limit` due page views to `worker` until now + lease."""
        sql = (
            "UPDATE derivation_queue SET claimed_by = ?, available_at = ?, attempts = attempts + 1"
            " WHERE (site, sid, pid) IN ("
            " SELECT site, sid, pid FROM derivation_queue WHERE available_at <= ? AND attempts < ?"
            f" ORDER BY available_at LIMIT ?{self.dialect.lock_for_update()})"
            " RETURNING site, sid, pid, generation, attempts"
        )

        def claim(conn: Any) -> list[WorkItem]:
            rows = conn.execute(sql, (worker, now_ms + lease_ms, now_ms, max_attempts, limit)).fetchall()
            return [WorkItem(*row) for row in rows]

        return self.write(claim)

    def finish_work(self, item: WorkItem, worker: str) -> None:
        """The derived data of `item.generation` is written: drop the row, or free it if a chunk came since."""

        def finish(conn: Any) -> None:
            done = conn.execute(
                "DELETE FROM derivation_queue WHERE site = ? AND sid = ? AND pid = ? AND generation = ?",
                (item.site, item.sid, item.pid, item.generation),
            ).rowcount
            if not done:
                conn.execute(
                    "UPDATE derivation_queue SET claimed_by = NULL, available_at = 0 "
                    "WHERE site = ? AND sid = ? AND pid = ? AND claimed_by = ?",
                    (item.site, item.sid, item.pid, worker),
                )

        self.write(finish)

    def fail_work(self, item: WorkItem, worker: str, retry_at_ms: int, error: str) -> None:
        """Free a claim that failed; it becomes due again at `retry_at_ms`."""
        self.write(
            lambda conn: conn.execute(
                "UPDATE derivation_queue SET claimed_by = NULL, available_at = ?, last_error = ? "
                "WHERE site = ? AND sid = ? AND pid = ? AND claimed_by = ?",
                (retry_at_ms, error[:2000], item.site, item.sid, item.pid, worker),
            )
        )

    def enqueue_work(self, page_views: Iterable[tuple[str, str, str]]) -> None:
        """Queue derivation of these page views (as a new chunk would)."""
        views = list(page_views)
        self.write(lambda conn: aggregate.enqueue(conn, views))

    def work_backlog(self, max_attempts: int) -> dict[str, int]:
        """Queued page views: still to derive, and given up on after max_attempts failures."""
        row = self._db.query_row(
            "SELECT COALESCE(SUM(CASE WHEN attempts < ? THEN 1 ELSE 0 END), 0),"
            " COALESCE(SUM(CASE WHEN attempts >= ? THEN 1 ELSE 0 END), 0) FROM derivation_queue",
            (max_attempts, max_attempts),
        )
        return {"pending": int(row[0]), "failed": int(row[1])}

    # -- batch slots -------------------------------------------------------------

    def reserve_batch_slot(
        self, site: str, sid: str, pid: str, seq: int, limit: int
    ) -> concurrent.futures.Future[queries.Slot]:
        """Reserve (site, sid, pid, seq) unless the session has `limit` batches (batch_slots.py)."""
        return self.submit(lambda conn: queries.reserve_batch_slot(conn, self.dialect, site, sid, pid, seq, limit))


__all__ = ["ChunkRow", "Index", "IndexClosed", "REBUILT_TABLES", "WorkItem"]
