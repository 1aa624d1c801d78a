"""Indexes only one backend gets (migration steps that check the dialect).

Session search on PostgreSQL counts a driving fact's sessions (index/queries.py `_source`) by
probing each one by key with `is_bot = 0` (people are counted, bots only on request): up to
COUNT_CAP + 1 probes per search. Through the primary key each probe also reads the session's
table row for is_bot (~10 µs, 0.1 s per count at a million sessions); a partial index of the
people's (site, sid) answers the probe from the index alone (index-only scan: the predicate
is the filter), about half the time. SQLite does not get it: it plans without statistics and
would walk it for reads of every session (the list newest first, counts), where its
searches name the index they want (queries.py `_source`).
"""

from __future__ import annotations

from typing import Any

from sessionlens.index.dialect import Dialect

PEOPLE_INDEX = "sessions_people"


def create_postgresql_search_indexes(conn: Any, dialect: Dialect) -> None:
    """Migration 16: the people's (site, sid) index, on PostgreSQL only (a no-op on SQLite).
    Built inside the migration's transaction (CREATE INDEX CONCURRENTLY cannot be): writes to
    sessions wait for it, about a second per million sessions."""
    if not dialect.is_postgresql:
        return
    conn.execute(f"CREATE INDEX IF NOT EXISTS {PEOPLE_INDEX} ON sessions (site, sid) WHERE is_bot = 0")
