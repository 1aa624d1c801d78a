"""The SQLite index: derived, rebuildable, written through one thread.

SQLite allows one writer at a time; funnelling every write through a single
thread (as datasette does) avoids "database is locked" under concurrent
ingest, while readers use their own connections thanks to WAL.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import queue
import sqlite3
import threading
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

import orjson

from sessionlens.contracts import SCHEMA_DIR
from sessionlens.device import classify
from sessionlens.facts import ACTIVE_GAP_MS, ChunkFacts
from sessionlens.url_patterns import page_matches, url_matches

T = TypeVar("T")
INDEX_SQL = SCHEMA_DIR / "index.sql"
_UTM = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")
# The tables `reindex` rebuilds from stored chunks. The derivation queue and
# other bookkeeping tables are not derived from chunks and are left alone.
REBUILT_TABLES = ("chunks", "page_views", "page_urls", "sessions", "clicks", "moves")


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, check_same_thread=False, timeout=30)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.create_function("url_matches", 2, url_matches, deterministic=True)
    conn.create_function("page_matches", 2, page_matches, deterministic=True)
    return conn


class IndexClosed(RuntimeError):
    """A write was submitted after close(); it would never run."""


class Index:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._closed = False
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._writes: queue.Queue[
            tuple[Callable[[sqlite3.Connection], Any], concurrent.futures.Future[Any]] | None
        ] = queue.Queue()
        writer = _connect(self.path)
        writer.executescript(INDEX_SQL.read_text())
        self._reader_local = threading.local()
        self._thread = threading.Thread(
            target=self._run_writer, args=(writer,), name="index-writer", daemon=True
        )
        self._thread.start()

    # -- writing -----------------------------------------------------------

    def _run_writer(self, conn: sqlite3.Connection) -> None:
        while True:
            item = self._writes.get()
            if item is None:
                conn.close()
                return
            fn, future = item
            if not future.set_running_or_notify_cancel():
                continue
            try:
                with conn:
                    result = fn(conn)
                future.set_result(result)
            except BaseException as exc:  # handed to the caller, never kills the writer
                future.set_exception(exc)

    def submit(self, fn: Callable[[sqlite3.Connection], T]) -> concurrent.futures.Future[T]:
        if self._closed:
            raise IndexClosed(f"index {self.path} is closed")
        future: concurrent.futures.Future[T] = concurrent.futures.Future()
        self._writes.put((fn, future))
        return future

    def write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        return self.submit(fn).result()

    async def write_async(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        return await asyncio.wrap_future(self.submit(fn))

    def close(self) -> None:
        self._closed = True
        self._writes.put(None)
        self._thread.join(timeout=10)
        conn = getattr(self._reader_local, "conn", None)
        if conn is not None:
            conn.close()

    # -- reading -----------------------------------------------------------

    def _reader(self) -> sqlite3.Connection:
        conn = getattr(self._reader_local, "conn", None)
        if conn is None:
            conn = _connect(self.path)
            self._reader_local.conn = conn
        return conn

    def query(self, sql: str, params: Iterable[Any] = ()) -> list[dict[str, Any]]:
        return [dict(row) for row in self._reader().execute(sql, tuple(params))]

    def batches_in_session(self, site: str, sid: str) -> int:
        row = (
            self._reader()
            .execute("SELECT COUNT(*) FROM chunks WHERE site = ? AND sid = ?", (site, sid))
            .fetchone()
        )
        return int(row[0])

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
                    "SELECT url FROM page_urls WHERE site = ? AND sid = ? AND pid = ?",
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

    # -- derived rows --------------------------------------------------------

    def record_chunks(self, rows: list[ChunkRow]) -> concurrent.futures.Future[None]:
        """Store chunk facts, then re-aggregate each touched page view and session once."""
        return self.submit(lambda conn: _record_chunks(conn, rows))

    def replace_clicks(self, site: str, sid: str, pid: str, t0: int, clicks: list, moves: list = ()) -> None:
        """Replace one page view's click and move facts (heatmap/signals.py)."""
        rows = [
            (site, sid, pid, t0, c.t, c.url, c.selector, c.fx, c.fy, c.px, c.py, c.vw, c.pw, c.ph, c.tag,
             int(c.rage), int(c.dead), int(c.error))
            for c in clicks
        ]  # fmt: skip

        move_rows = [(site, sid, pid, t0, m.t, m.url, m.x, m.y, m.vw) for m in moves]

        def write(conn: sqlite3.Connection) -> None:
            conn.execute("DELETE FROM clicks WHERE site = ? AND sid = ? AND pid = ?", (site, sid, pid))
            conn.executemany(f"INSERT INTO clicks VALUES ({','.join('?' * 18)})", rows)
            conn.execute("DELETE FROM moves WHERE site = ? AND sid = ? AND pid = ?", (site, sid, pid))
            conn.executemany(f"INSERT INTO moves VALUES ({','.join('?' * 9)})", move_rows)

        self.write(write)

    def clear(self) -> None:
        def wipe(conn: sqlite3.Connection) -> None:
            for table in REBUILT_TABLES:
                conn.execute(f"DELETE FROM {table}")  # noqa: S608 - fixed names

        self.write(wipe)

    def adopt_rebuild(
        self, fresh_path: Path, keep_received_since: int, exclude: set[tuple[str, str, str, int]] = frozenset()
    ) -> int:
        """Replace the rebuilt tables with those of the index at `fresh_path`, in one transaction.

        Readers see the old rows until the commit and the new ones after it
        (a running server included: it is the same database). Chunk rows
        received since `keep_received_since` that the rebuild does not hold
        (ingested while it ran) are kept, re-aggregated and queued for
        derivation, except those in `exclude` (the rebuild skipped them). Returns how many were kept. (PostgreSQL: build into a
        staging schema and run the same statements in one transaction.)
        """
        return self.write(lambda conn: _adopt_rebuild(conn, fresh_path, keep_received_since, exclude))

    # -- derivation work queue -------------------------------------------------
    # One row per page view with derivation to do (storage_schemas/index.sql).
    # Rows are added by _record_chunks in the chunk's own transaction. The
    # statements are plain SQL that PostgreSQL runs as well; there a claim
    # selects its rows `FOR UPDATE SKIP LOCKED` (here the single writer and
    # SQLite's write lock make the claiming UPDATE atomic).

    def claim_work(
        self, worker: str, now_ms: int, lease_ms: int, max_attempts: int, limit: int = 1
    ) -> list[WorkItem]:
        """Lease up to `limit` due page views to `worker` until now + lease."""

        def claim(conn: sqlite3.Connection) -> list[WorkItem]:
            rows = conn.execute(
                """UPDATE derivation_queue
                   SET claimed_by = :worker, available_at = :until, attempts = attempts + 1
                   WHERE rowid IN (
                       SELECT rowid FROM derivation_queue
                       WHERE available_at <= :now AND attempts < :max
                       ORDER BY available_at LIMIT :limit)
                   RETURNING site, sid, pid, generation, attempts""",
                {"worker": worker, "until": now_ms + lease_ms, "now": now_ms, "max": max_attempts,
                 "limit": limit},
            ).fetchall()  # fmt: skip
            return [WorkItem(*row) for row in rows]

        return self.write(claim)

    def finish_work(self, item: WorkItem, worker: str) -> None:
        """The derived data of `item.generation` is written: drop the row, or free it if a chunk came since."""

        def finish(conn: sqlite3.Connection) -> None:
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
        self.write(lambda conn: _enqueue(conn, views))

    def work_backlog(self, max_attempts: int) -> dict[str, int]:
        """Queued page views: still to derive, and given up on after max_attempts failures."""
        row = (
            self._reader()
            .execute(
                "SELECT COALESCE(SUM(attempts < ?), 0), COALESCE(SUM(attempts >= ?), 0) FROM derivation_queue",
                (max_attempts, max_attempts),
            )
            .fetchone()
        )
        return {"pending": int(row[0]), "failed": int(row[1])}


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


def _enqueue(conn: sqlite3.Connection, page_views: list[tuple[str, str, str]]) -> None:
    # A row being worked on keeps its lease: the worker sees the new
    # generation when it finishes and frees the row for another pass.
    conn.executemany(
        """INSERT INTO derivation_queue (site, sid, pid) VALUES (?, ?, ?)
           ON CONFLICT (site, sid, pid) DO UPDATE SET
               generation = generation + 1, attempts = 0, last_error = NULL,
               available_at = CASE WHEN claimed_by IS NULL THEN 0 ELSE available_at END""",
        page_views,
    )


def _adopt_rebuild(
    conn: sqlite3.Connection, fresh_path: Path, keep_received_since: int, exclude: set[tuple[str, str, str, int]]
) -> int:
    conn.commit()
    conn.execute("ATTACH DATABASE ? AS fresh", (str(fresh_path),))
    try:
        conn.execute("BEGIN IMMEDIATE")
        kept = conn.execute(
            """SELECT * FROM main.chunks AS c WHERE c.received >= ? AND NOT EXISTS (
                   SELECT 1 FROM fresh.chunks AS f
                   WHERE f.site = c.site AND f.sid = c.sid AND f.pid = c.pid AND f.seq = c.seq)""",
            (keep_received_since,),
        ).fetchall()
        kept = [r for r in kept if (r["site"], r["sid"], r["pid"], r["seq"]) not in exclude]
        for table in REBUILT_TABLES:
            columns = ", ".join(r["name"] for r in conn.execute(f"PRAGMA fresh.table_info({table})"))
            conn.execute(f"DELETE FROM main.{table}")  # noqa: S608 - fixed names
            conn.execute(f"INSERT INTO main.{table} ({columns}) SELECT {columns} FROM fresh.{table}")  # noqa: S608
        if kept:
            names = kept[0].keys()
            conn.executemany(
                f"INSERT OR REPLACE INTO main.chunks ({', '.join(names)}) "  # noqa: S608
                f"VALUES ({', '.join('?' * len(names))})",
                [tuple(r) for r in kept],
            )
            views = list(dict.fromkeys((r["site"], r["sid"], r["pid"]) for r in kept))
            for view in views:
                _refresh_page_view(conn, *view)
            for site, sid in dict.fromkeys(v[:2] for v in views):
                _refresh_session(conn, site, sid)
            _enqueue(conn, views)
        conn.commit()
        return len(kept)
    except BaseException:
        conn.rollback()
        raise
    finally:
        conn.execute("DETACH DATABASE fresh")


class ChunkRow:
    """What the index needs to know of one stored chunk."""

    __slots__ = ("site", "sid", "pid", "seq", "t0", "received", "stored_bytes", "facts", "header_ua")

    def __init__(
        self,
        site: str,
        sid: str,
        pid: str,
        seq: int,
        t0: int,
        received: int,
        stored_bytes: int,
        facts: ChunkFacts,
        header_ua: str,
    ) -> None:
        self.site, self.sid, self.pid, self.seq = site, sid, pid, seq
        self.t0, self.received, self.stored_bytes = t0, received, stored_bytes
        self.facts, self.header_ua = facts, header_ua


def _record_chunks(conn: sqlite3.Connection, rows: list[ChunkRow]) -> None:
    for row in rows:
        _insert_chunk(conn, row)
    views = list(dict.fromkeys((r.site, r.sid, r.pid) for r in rows))
    for site, sid, pid in views:
        _refresh_page_view(conn, site, sid, pid)
    # The page view's derived data is now behind its chunks: record the work
    # in this same transaction, so an acknowledged chunk is always derived.
    _enqueue(conn, views)
    for site, sid in dict.fromkeys((r.site, r.sid) for r in rows):
        _refresh_session(conn, site, sid)


def _insert_chunk(conn: sqlite3.Connection, row: ChunkRow) -> None:
    facts = asdict(row.facts)
    facts["urls"] = orjson.dumps(facts["urls"]).decode()
    facts["has_snapshot"] = int(facts["has_snapshot"])
    facts["ua"] = facts["ua"] or row.header_ua
    values = {
        "site": row.site,
        "sid": row.sid,
        "pid": row.pid,
        "seq": row.seq,
        "t0": row.t0,
        "received": row.received,
        "stored_bytes": row.stored_bytes,
        **facts,
    }
    columns = ", ".join(values)
    marks = ", ".join(f":{k}" for k in values)
    conn.execute(f"INSERT OR REPLACE INTO chunks ({columns}) VALUES ({marks})", values)  # noqa: S608


def _refresh_page_view(conn: sqlite3.Connection, site: str, sid: str, pid: str) -> None:
    chunks = conn.execute(
        "SELECT * FROM chunks WHERE site = ? AND sid = ? AND pid = ? ORDER BY seq", (site, sid, pid)
    ).fetchall()
    t0 = chunks[0]["t0"]
    active = 0
    previous_last: int | None = None
    urls: list[str] = []
    first = {"url": None, "title": None, "referrer": None, "ua": None, "vw": None, "vh": None}
    for c in chunks:
        active += c["active_ms"]
        if c["act_first"] is not None:
            if previous_last is not None:
                active += min(max(c["act_first"] - previous_last, 0), ACTIVE_GAP_MS)
            previous_last = c["act_last"]
        for url in orjson.loads(c["urls"]):
            if url not in urls:
                urls.append(url)
        for key in first:
            if first[key] is None and c[key] is not None:
                first[key] = c[key]
    t_last = max((c["t_last"] or 0) for c in chunks)
    device = classify(first["ua"] or "", first["vw"])

    def total(name: str) -> int:
        return sum(c[name] for c in chunks)

    def highest(name: str) -> float | None:
        values = [c[name] for c in chunks if c[name] is not None]
        return max(values) if values else None

    conn.execute(
        """INSERT OR REPLACE INTO page_views VALUES (
            :site, :sid, :pid, :t0, :end_time, :duration_ms, :active_ms, :url, :title, :referrer,
            :vw, :vh, :device, :browser, :os, :chunks, :events, :clicks, :inputs, :errors,
            :customs, :navs, :max_scroll_y, :page_height, :stored_bytes)""",
        {
            "site": site,
            "sid": sid,
            "pid": pid,
            "t0": t0,
            "end_time": t0 + t_last,
            "duration_ms": t_last,
            "active_ms": active,
            "url": first["url"] or (urls[0] if urls else None),
            "title": first["title"],
            "referrer": first["referrer"],
            "vw": first["vw"],
            "vh": first["vh"],
            "device": device.device,
            "browser": device.browser,
            "os": device.os,
            "chunks": len(chunks),
            "events": total("events"),
            "clicks": total("clicks"),
            "inputs": total("inputs"),
            "errors": total("errors"),
            "customs": total("customs"),
            "navs": total("navs"),
            "max_scroll_y": highest("max_scroll_y"),
            "page_height": highest("page_height"),
            "stored_bytes": total("stored_bytes"),
        },
    )
    conn.execute("DELETE FROM page_urls WHERE site = ? AND sid = ? AND pid = ?", (site, sid, pid))
    conn.executemany(
        "INSERT OR IGNORE INTO page_urls VALUES (?, ?, ?, ?)", [(site, sid, pid, u) for u in urls]
    )


def _refresh_session(conn: sqlite3.Connection, site: str, sid: str) -> None:
    views = conn.execute(
        "SELECT * FROM page_views WHERE site = ? AND sid = ? ORDER BY t0, pid", (site, sid)
    ).fetchall()
    entry, exit_ = views[0], views[-1]
    exit_urls = conn.execute(
        "SELECT url FROM chunks, json_each(chunks.urls) WHERE site = ? AND sid = ? AND pid = ? "
        "ORDER BY seq DESC LIMIT 1",
        (site, sid, exit_["pid"]),
    ).fetchone()
    query = parse_qs(urlsplit(entry["url"] or "").query)
    utm = {k: (query.get(k) or [None])[0] for k in _UTM}
    start = min(v["t0"] for v in views)
    end = max(v["end_time"] for v in views)

    def total(name: str) -> int:
        return sum(v[name] for v in views)

    conn.execute(
        """INSERT OR REPLACE INTO sessions VALUES (
            :site, :sid, :start_time, :end_time, :duration_ms, :active_ms, :entry_url, :exit_url,
            :page_count, :device, :browser, :os, :vw, :vh, :referrer, :utm_source, :utm_medium,
            :utm_campaign, :utm_term, :utm_content, :clicks, :inputs, :errors, :customs,
            :batches, :stored_bytes)""",
        {
            "site": site,
            "sid": sid,
            "start_time": start,
            "end_time": end,
            "duration_ms": end - start,
            "active_ms": total("active_ms"),
            "entry_url": entry["url"],
            "exit_url": exit_urls[0] if exit_urls else exit_["url"],
            "page_count": len(views),
            "device": entry["device"],
            "browser": entry["browser"],
            "os": entry["os"],
            "vw": entry["vw"],
            "vh": entry["vh"],
            "referrer": entry["referrer"],
            **utm,
            "clicks": total("clicks"),
            "inputs": total("inputs"),
            "errors": total("errors"),
            "customs": total("customs"),
            "batches": total("chunks"),
            "stored_bytes": total("stored_bytes"),
        },
    )
