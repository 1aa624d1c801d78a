"""Everything that differs between SQLite and PostgreSQL, in one place.

Queries in this package are written once, in the SQL both databases
accept: `?` placeholders, `INSERT ... ON CONFLICT`, `RETURNING`, row-value
`IN`, `CASE` instead of boolean sums. What cannot be written once is a
method here: placeholders, column types in DDL, partitioning, row locks,
locks that serialise writers of one session across processes, substring
and case-insensitive tests, URL wildcard matching.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Large fact tables PostgreSQL partitions by day of the page view start
# (t0, epoch ms): per-site, per-day reads touch only their days' partitions.
PARTITIONED_BY_DAY = ("clicks", "moves")
DAY_MS = 86_400_000

# Namespaces of PostgreSQL advisory locks (first key of the two-key form).
LOCK_SESSION = 11  # chunk rows, aggregates and batch slots of one session
LOCK_PAGE_VIEW = 12  # click and move facts of one page view
LOCK_PARTITION = 13  # creating one day's partition
LOCK_MIGRATIONS = 14  # applying schema migrations


@dataclass(frozen=True)
class Dialect:
    name: str  # "sqlite" | "postgresql"

    @property
    def is_postgresql(self) -> bool:
        return self.name == "postgresql"

    # -- statements --------------------------------------------------------

    def sql(self, query: str) -> str:
        """The query with this driver's placeholders (`?` for sqlite3, `%s` for psycopg)."""
        if not self.is_postgresql:
            return query
        return query.replace("%", "%%").replace("?", "%s")

    def ddl(self, script: str) -> str:
        """A migration script as this database wants it.

        Migrations are written with SQLite's type names; PostgreSQL gets
        64-bit integers (epoch milliseconds overflow INTEGER), double
        precision floats, BYTEA for BLOB, plain tables for WITHOUT ROWID ones, and the large fact tables partitioned by day.
        """
        if not self.is_postgresql:
            return script
        script = re.sub(r"\bINTEGER\b", "BIGINT", script)
        script = re.sub(r"\bREAL\b", "DOUBLE PRECISION", script)
        script = re.sub(r"\bBLOB\b", "BYTEA", script)
        script = re.sub(r"\)\s*WITHOUT ROWID\s*;", ");", script)  # SQLite's clustered tables: a heap here
        for table in PARTITIONED_BY_DAY:
            script = re.sub(
                rf"(CREATE TABLE IF NOT EXISTS {table} \((?:[^;]*?)\n\))(\s*;)",
                r"\1 PARTITION BY RANGE (t0)\2",
                script,
            )
        return script

    def lock_for_update(self) -> str:
        """Appended to a claim's SELECT: PostgreSQL workers skip rows another worker holds.
        (SQLite's single writer thread and write lock make the claim atomic already.)"""
        return " FOR UPDATE SKIP LOCKED" if self.is_postgresql else ""

    def lock_key_sql(self, namespace: int) -> str | None:
        """A statement taking a transaction-scoped lock on one key, or None where writes are
        serialised anyway (SQLite: one writer thread, one write lock)."""
        if not self.is_postgresql:
            return None
        return f"SELECT pg_advisory_xact_lock({int(namespace)}, hashtext(?))"

    # -- expressions ---------------------------------------------------------

    def contains(self, column: str) -> str:
        """`column` contains the parameter as a substring (case-sensitive)."""
        return f"strpos({column}, ?) > 0" if self.is_postgresql else f"instr({column}, ?) > 0"

    def ascii_lower(self, expr: str) -> str:
        """`expr` with A-Z folded to a-z and every other character kept: SQLite's lower() does only
        that; PostgreSQL's follows the database's locale unless told the C collation."""
        return f'lower(({expr}) COLLATE "C")' if self.is_postgresql else f"lower({expr})"

    def equals_ignoring_case(self, column: str) -> str:
        """`column` equals the parameter, ASCII case ignored."""
        return f"lower({column}) = lower(?)" if self.is_postgresql else f"{column} = ? COLLATE NOCASE"

    @property
    def groups_by_sorting(self) -> bool:
        """GROUP BY sorts every row unless they come in group order (SQLite has no hash aggregate);
        PostgreSQL hashes, and sorting there spills to disk beyond work_mem."""
        return not self.is_postgresql

    def bulk_read_settings(self) -> list[str]:
        """Statements at the start of a read transaction that aggregates a million rows in one pass:
        PostgreSQL's JIT compiles such plans for ~0.15 s per statement, more than it saves here."""
        return ["SET LOCAL jit = off"] if self.is_postgresql else []

    def int_list_agg(self, expr: str) -> str:
        """An aggregate of integer `expr` as one text "1,2,3" (NULLs left out): many rows read as one
        value (SQLite has no array type; PostgreSQL's string_agg is as fast as its arrays here)."""
        return f"string_agg(CAST({expr} AS TEXT), ',')" if self.is_postgresql else f"group_concat({expr})"

    def truncate_int(self, expr: str) -> str:
        """`expr` (a float) as an integer, truncated toward zero as Python's int() and numpy's astype
        do (PostgreSQL's CAST rounds, SQLite's truncates)."""
        return f"CAST(trunc({expr}) AS BIGINT)" if self.is_postgresql else f"CAST({expr} AS INTEGER)"

    def finite_operand(self, column: str) -> str:
        """A stored float as an operand of arithmetic that must not fail: PostgreSQL raises an error on
        float underflow and overflow where Python and SQLite give 0 or inf, so magnitudes below 1e-150
        (never a real coordinate, offset or window width) are read as 0 there."""
        if not self.is_postgresql:
            return column
        return f"(CASE WHEN abs({column}) < 1e-150 THEN 0 ELSE {column} END)"

    def wildcard(self, column: str) -> str:
        """`column` matches a parameter made by wildcard_param (case-sensitive, `*` = any run)."""
        return f"{column} LIKE ? ESCAPE '\\'" if self.is_postgresql else f"{column} GLOB ?"

    def wildcard_param(self, pattern: str) -> str:
        """A researcher's pattern (`*` any run, everything else literal) in this dialect's syntax."""
        parts = re.split(r"(\*)", pattern)
        if self.is_postgresql:
            # LIKE: % and _ are wildcards; escape them (and the escape character).
            return "".join(
                "%" if p == "*" else p.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
                for p in parts
            )
        # GLOB (case-sensitive): ? and [ are wildcards; a bracket holds a literal.
        return "".join("*" if p == "*" else re.sub(r"([?\[])", r"[\1]", p) for p in parts)


SQLITE = Dialect("sqlite")
POSTGRESQL = Dialect("postgresql")


def day_bounds(t0: int) -> tuple[int, int]:
    """The epoch-ms range [start, end) of the UTC day holding t0."""
    start = (t0 // DAY_MS) * DAY_MS
    return start, start + DAY_MS
