"""Connections to the two databases, behind one small interface.

- SQLite (embedded default): every write goes through one writer thread (as
  datasette does), which avoids "database is locked" under concurrent ingest;
  readers use their own connection per thread thanks to WAL. Queries get the
  sqlite3 connection itself, so this path costs nothing over plain sqlite3.
- PostgreSQL: a psycopg connection pool; a write runs in a transaction on a
  pooled connection in a small thread pool, so several run at once and many
  processes share the database. Queries get a thin wrapper (`PgTx`) with the
  sqlite3 interface (execute / executemany / fetchone / rowcount) that turns
  `?` placeholders into psycopg's.

`submit(fn)` runs `fn(conn)` in one transaction and returns a future.
"""

from __future__ import annotations

import concurrent.futures
import queue
import sqlite3
import threading
from collections.abc import Callable, Iterable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

from sessionlens.index.dialect import POSTGRESQL, SQLITE, Dialect

T = TypeVar("T")


class IndexClosed(RuntimeError):
    """A write was submitted after close(); it would never run."""


def is_postgresql_url(location: str | Path) -> bool:
    return isinstance(location, str) and location.startswith(("postgresql://", "postgres://"))


# -- SQLite -------------------------------------------------------------------


def sqlite_connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, check_same_thread=False, timeout=30)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    return conn


class SqliteConnections:
    dialect: Dialect = SQLITE

    def __init__(self, path: Path) -> None:
        self.path = path
        self.location = str(path)
        self._closed = False
        path.parent.mkdir(parents=True, exist_ok=True)
        self._writes: queue.Queue[
            tuple[Callable[[Any], Any], concurrent.futures.Future[Any]] | None
        ] = queue.Queue()
        self._writer = sqlite_connect(path)
        self._reader_local = threading.local()
        self._thread: threading.Thread | None = None

    def setup(self, fn: Callable[[Any], None]) -> None:
        """Run `fn(conn)` on the writer connection before the writer thread starts (migrations)."""
        fn(self._writer)

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._run_writer, args=(self._writer,), name="index-writer", daemon=True
        )
        self._thread.start()

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

    def submit(self, fn: Callable[[Any], T]) -> concurrent.futures.Future[T]:
        if self._closed:
            raise IndexClosed(f"index {self.location} is closed")
        future: concurrent.futures.Future[T] = concurrent.futures.Future()
        self._writes.put((fn, future))
        return future

    def reader(self) -> sqlite3.Connection:
        conn = getattr(self._reader_local, "conn", None)
        if conn is None:
            conn = sqlite_connect(self.path)
            self._reader_local.conn = conn
        return conn

    def query(self, sql: str, params: Iterable[Any] = ()) -> list[dict[str, Any]]:
        return [dict(row) for row in self.reader().execute(sql, tuple(params))]

    def query_row(self, sql: str, params: Iterable[Any] = ()) -> Any:
        return self.reader().execute(sql, tuple(params)).fetchone()

    def read(self, fn: Callable[[Any], T]) -> T:
        """fn(conn) in one read transaction on this thread's reader (one snapshot for all its
        statements), rolled back: temporary tables it fills are gone after, nothing else is written."""
        conn = self.reader()
        if conn.in_transaction:
            conn.rollback()
        conn.execute("BEGIN")
        try:
            return fn(conn)
        finally:
            conn.rollback()

    def close(self) -> None:
        self._closed = True
        self._writes.put(None)
        if self._thread is not None:
            self._thread.join(timeout=10)
        else:
            self._writer.close()
        conn = getattr(self._reader_local, "conn", None)
        if conn is not None:
            conn.close()


# -- PostgreSQL ---------------------------------------------------------------


class Row:
    """A result row like sqlite3.Row: by position or by name, keys(), dict(row)."""

    __slots__ = ("_values", "_names")

    def __init__(self, values: Sequence[Any], names: dict[str, int]) -> None:
        self._values, self._names = values, names

    def __getitem__(self, key: int | str) -> Any:
        return self._values[self._names[key]] if isinstance(key, str) else self._values[key]

    def keys(self) -> list[str]:
        return list(self._names)

    def __iter__(self):  # noqa: ANN204 - as sqlite3.Row: the values
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"Row({dict(zip(self._names, self._values, strict=True))!r})"


def _row_factory(cursor: Any) -> Callable[[Sequence[Any]], Row]:
    names = {c.name: i for i, c in enumerate(cursor.description or ())}
    return lambda values: Row(values, names)


def _number(value: Decimal) -> int | float:
    # SUM over BIGINT columns gives NUMERIC; callers expect what SQLite gives.
    return int(value) if value == value.to_integral_value() else float(value)


class PgTx:
    """A transaction's connection with the sqlite3 calling convention."""

    dialect = POSTGRESQL

    def __init__(self, conn: Any) -> None:
        self.conn = conn

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        cur = self.conn.cursor()
        cur.execute(POSTGRESQL.sql(sql), tuple(params))
        return cur

    def tuples(self, sql: str, params: Sequence[Any] = (), binary: bool = False) -> list[tuple[Any, ...]]:
        """Every row as a plain tuple (no Row per row: reads of a hundred thousand rows), in
        PostgreSQL's binary format when asked (bytea as its bytes, not as hex text)."""
        from psycopg.rows import tuple_row

        cur = self.conn.cursor(row_factory=tuple_row, binary=binary)
        cur.execute(POSTGRESQL.sql(sql), tuple(params))
        return cur.fetchall()

    def executemany(self, sql: str, seq: Iterable[Sequence[Any]]) -> Any:
        cur = self.conn.cursor()
        rows = [tuple(r) for r in seq]
        if rows:
            cur.executemany(POSTGRESQL.sql(sql), rows)
        return cur


class PostgresConnections:
    dialect: Dialect = POSTGRESQL

    def __init__(self, url: str, schema: str | None = None, max_size: int = 8) -> None:
        import psycopg
        from psycopg.adapt import Loader
        from psycopg_pool import ConnectionPool

        class NumericLoader(Loader):
            def load(self, data: Any) -> int | float:
                return _number(Decimal(bytes(data).decode()))

        def configure(conn: Any) -> None:
            conn.adapters.register_loader("numeric", NumericLoader)

        self.url = url
        self.path = None
        self.location = _redact(url)
        self.schema = schema
        self._closed = False
        kwargs: dict[str, Any] = {"autocommit": True, "row_factory": _row_factory}
        if schema:
            kwargs["options"] = f"-csearch_path={schema}"
        self._psycopg = psycopg
        self._kwargs = kwargs
        self._configure = configure
        self.pool = ConnectionPool(
            url, min_size=1, max_size=max_size, kwargs=kwargs, configure=configure, open=False,
            name="sessionlens-index",
        )  # fmt: skip
        self.pool.open(wait=True, timeout=30)
        self._executor = concurrent.futures.ThreadPoolExecutor(max_size, thread_name_prefix="index-pg")

    def setup(self, fn: Callable[[Any], None]) -> None:
        self._transaction(fn)

    def start(self) -> None:
        pass

    def _transaction(self, fn: Callable[[Any], T]) -> T:
        with self.pool.connection() as conn, conn.transaction():
            return fn(PgTx(conn))

    def submit(self, fn: Callable[[Any], T]) -> concurrent.futures.Future[T]:
        if self._closed:
            raise IndexClosed(f"index {self.location} is closed")
        return self._executor.submit(self._transaction, fn)

    def _reading(self) -> Any:
        # Reads after close() still work, as on SQLite (a tool reading what an app left).
        if self._closed:
            conn = self._psycopg.connect(self.url, **self._kwargs)
            self._configure(conn)
            return conn
        return self.pool.connection()

    def query(self, sql: str, params: Iterable[Any] = ()) -> list[dict[str, Any]]:
        with self._reading() as conn:
            rows = conn.execute(POSTGRESQL.sql(sql), tuple(params)).fetchall()
        return [dict(row) for row in rows]

    def query_row(self, sql: str, params: Iterable[Any] = ()) -> Any:
        with self._reading() as conn:
            return conn.execute(POSTGRESQL.sql(sql), tuple(params)).fetchone()

    def read(self, fn: Callable[[Any], T]) -> T:
        """fn(conn) in one transaction that is rolled back (see SqliteConnections.read)."""
        with self._reading() as conn, conn.transaction(force_rollback=True):
            return fn(PgTx(conn))

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._executor.shutdown(wait=True)
        self.pool.close()


def _redact(url: str) -> str:
    """The URL without its password, for messages."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))
