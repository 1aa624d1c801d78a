"""The index side of the data lifecycle: finding a person's sessions, old sessions,
removing every row of a session, job leases and the asset lock (src/sessionlens/lifecycle/).

Every function takes the Index and runs SQL both databases accept. Leases
are rows claimed with a conditional UPDATE: on PostgreSQL a second
transaction updating the same row waits for the first and then re-checks
its WHERE against the committed row, so only one holder wins; on SQLite
the single writer makes it atomic.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

Session = tuple[str, str]  # (site, sid)

# Every table holding rows of a session, keyed by (site, sid). tests/test_lifecycle.py
# checks that no table with a `sid` column is missing here.
SESSION_TABLES = (
    "chunks", "page_views", "page_urls", "sessions", "clicks", "moves", "event_markers",
    "session_attrs", "custom_events", "custom_event_props", "session_signals",
    "derivation_queue", "compaction_queue", "batch_slots", "saved_docs", "saved_doc_sessions",
    "route_changes", "form_submits", "form_views", "form_fields", "survey_responses", "click_arrays",
)  # fmt: skip
# Tables holding another table's rows again in another form: left out of the export (`clicks` has them).
_REPACKED = ("click_arrays",)
# Tables whose rows carry URLs that url_keys keys (a URL row is kept while any of them uses it).
_URL_TABLES = ("page_urls", "clicks", "moves", "click_arrays")
LOCK_ASSETS = 15  # PostgreSQL advisory lock namespace: the asset lock of one site
_IN_CHUNK = 500  # rows per IN (...) list


def _chunks(items: list[Any], size: int = _IN_CHUNK) -> Iterable[list[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


# -- finding sessions ------------------------------------------------------------------


def sessions_of(
    index: Any, *, visitor: str | None = None, user: str | None = None, sid: str | None = None,
    site: str | None = None,
) -> list[Session]:  # fmt: skip
    """Sessions recorded for a visitor id, a user id or one session id (optionally on one site)."""
    conditions, params = [], []
    for column, value in (("visitor_id", visitor), ("user_id", user), ("sid", sid)):
        if value is not None:
            conditions.append(f"{column} = ?")
            params.append(value)
    if not conditions:
        raise ValueError("name a visitor id, a user id or a session id")
    where = " OR ".join(conditions)
    if site is not None:
        where = f"({where}) AND site = ?"
        params.append(site)
    found: set[Session] = set()
    for table in ("chunks", "sessions"):  # chunks: a session whose aggregate is behind
        rows = index.query(f"SELECT DISTINCT site, sid FROM {table} WHERE {where}", params)  # noqa: S608
        found.update((r["site"], r["sid"]) for r in rows)
    # batch slots of a session whose chunk rows are gone (or never indexed) still name it.
    if sid is not None:
        q = "SELECT DISTINCT site, sid FROM batch_slots WHERE sid = ?" + (" AND site = ?" if site else "")
        found.update((r["site"], r["sid"]) for r in index.query(q, [sid] + ([site] if site else [])))
    return sorted(found)


def sessions_received_before(index: Any, site: str, cutoff_ms: int) -> list[Session]:
    """Sessions of `site` whose last chunk was received before cutoff_ms (server clock)."""
    rows = index.query(
        "SELECT site, sid FROM chunks WHERE site = ? GROUP BY site, sid HAVING MAX(received) < ?",
        (site, cutoff_ms),
    )
    return [(r["site"], r["sid"]) for r in rows]


def session_rows(index: Any, sessions: list[Session]) -> dict[str, list[dict[str, Any]]]:
    """table -> every row of these sessions (the right of access's index export)."""
    out: dict[str, list[dict[str, Any]]] = {}
    for table in SESSION_TABLES:
        if table in _REPACKED:
            continue
        rows: list[dict[str, Any]] = []
        for site, sid in sessions:
            rows += index.query(f"SELECT * FROM {table} WHERE site = ? AND sid = ?", (site, sid))  # noqa: S608
        out[table] = rows
    return out


def page_views_of(index: Any, site: str, sid: str) -> list[str]:
    return [r["pid"] for r in index.query(
        "SELECT DISTINCT pid FROM chunks WHERE site = ? AND sid = ? ORDER BY pid", (site, sid)
    )]  # fmt: skip


_IN_FLIGHT = "claimed_by IS NOT NULL AND available_at > ?"


def drop_unclaimed_work(index: Any, sessions: list[Session], now_ms: int) -> int:
    """Delete the queue rows of these sessions no worker holds (derivation or compaction), so
    none is claimed while the sessions are removed; returns how many. A claim made between a
    wait for claims and the removal would write its rows after the removal."""

    def drop(conn: Any) -> int:
        n = 0
        for table in ("derivation_queue", "compaction_queue"):
            for site, sid in sessions:
                n += conn.execute(
                    f"DELETE FROM {table} WHERE site = ? AND sid = ? AND NOT ({_IN_FLIGHT})",  # noqa: S608
                    (site, sid, now_ms),
                ).rowcount
        return n

    return index.write(drop)


def claims_in_flight(index: Any, sessions: list[Session], now_ms: int) -> int:
    """Queue rows of these sessions a worker holds right now (derivation or compaction)."""
    total = 0
    for table in ("derivation_queue", "compaction_queue"):
        for site, sid in sessions:
            row = index.query(
                f"SELECT COUNT(*) AS n FROM {table} WHERE site = ? AND sid = ? AND {_IN_FLIGHT}",  # noqa: S608
                (site, sid, now_ms),
            )
            total += int(row[0]["n"])
    return total


# -- removing ------------------------------------------------------------------------------


def delete_sessions(index: Any, sessions: list[Session]) -> dict[str, int]:
    """Remove every row of these sessions, and URL keys no other row uses; table -> rows removed."""
    from sessionlens.index.aggregate import Renumber, lock_sessions, renumber_all

    def remove(conn: Any) -> dict[str, int]:
        lock_sessions(conn, index.dialect, sessions)
        counts = dict.fromkeys((*SESSION_TABLES, "url_keys"), 0)
        urls: set[tuple[str, str]] = set()
        visits: list[Renumber] = []  # the visitors' later sessions move up one visit each
        for site, sid in sessions:
            row = conn.execute(
                "SELECT visitor_id, start_time FROM sessions WHERE site = ? AND sid = ?", (site, sid)
            ).fetchone()
            if row is not None and row[0] is not None:
                visits.append((site, row[0], row[1]))
            for table in _URL_TABLES:
                rows = conn.execute(
                    f"SELECT DISTINCT url FROM {table} WHERE site = ? AND sid = ?", (site, sid)  # noqa: S608
                ).fetchall()
                urls.update((site, r[0]) for r in rows)
            for table in SESSION_TABLES:
                counts[table] += conn.execute(
                    f"DELETE FROM {table} WHERE site = ? AND sid = ?", (site, sid)  # noqa: S608
                ).rowcount
        unused = " AND ".join(
            f"NOT EXISTS (SELECT 1 FROM {t} WHERE {t}.site = url_keys.site AND {t}.url = url_keys.url)"
            for t in _URL_TABLES
        )
        for site, url in sorted(urls):
            counts["url_keys"] += conn.execute(
                f"DELETE FROM url_keys WHERE site = ? AND url = ? AND {unused}", (site, url)  # noqa: S608
            ).rowcount
        renumber_all(conn, index.dialect, visits)
        return counts

    return index.write(remove)


# -- job leases --------------------------------------------------------------------------


def take_lease(index: Any, name: str, holder: str, now_ms: int, lease_ms: int, period_ms: int = 0) -> bool:
    """Take the lease `name` until now + lease_ms if it is free (or expired) and the job's last
    run finished at least period_ms ago; True when this holder has it."""

    def take(conn: Any) -> bool:
        conn.execute("INSERT INTO job_leases (name) VALUES (?) ON CONFLICT (name) DO NOTHING", (name,))
        return _take(conn, name, holder, now_ms, lease_ms, period_ms)

    return index.write(take)


def _take(conn: Any, name: str, holder: str, now_ms: int, lease_ms: int, period_ms: int) -> bool:
    return conn.execute(
        "UPDATE job_leases SET holder = ?, expires_at = ? WHERE name = ?"
        " AND (holder IS NULL OR expires_at <= ? OR holder = ?) AND last_run <= ?",
        (holder, now_ms + lease_ms, name, now_ms, holder, now_ms - period_ms),
    ).rowcount == 1


def finish_lease(index: Any, name: str, holder: str, now_ms: int | None, ran: bool = True) -> None:
    """Give the lease back; with `ran`, record now_ms as the job's last run."""
    sql = "UPDATE job_leases SET holder = NULL, expires_at = 0"
    params: list[Any] = []
    if ran:
        sql += ", last_run = ?"
        params.append(now_ms)
    index.write(lambda conn: conn.execute(sql + " WHERE name = ? AND holder = ?", (*params, name, holder)))


def lease(index: Any, name: str) -> dict[str, Any] | None:
    rows = index.query("SELECT * FROM job_leases WHERE name = ?", (name,))
    return rows[0] if rows else None


# -- the asset lock of a site: shared holds (compaction) vs an exclusive lease (deletion) -----


def _asset_lease_name(site: str) -> str:
    return f"assets/{site}"


def _lock_site_assets(conn: Any, index: Any, site: str) -> None:
    statement = index.dialect.lock_key_sql(LOCK_ASSETS)
    if statement:
        conn.execute(statement, (site,))


def hold_assets(index: Any, site: str, holder: str, now_ms: int, hold_ms: int) -> bool:
    """A shared hold on the site's assets until now + hold_ms, unless a deletion holds the lease."""

    def hold(conn: Any) -> bool:
        _lock_site_assets(conn, index, site)
        busy = conn.execute(
            "SELECT 1 FROM job_leases WHERE name = ? AND holder IS NOT NULL AND expires_at > ?",
            (_asset_lease_name(site), now_ms),
        ).fetchone()
        if busy:
            return False
        conn.execute(
            "INSERT INTO asset_holds (site, holder, expires_at) VALUES (?, ?, ?)"
            " ON CONFLICT (site, holder) DO UPDATE SET expires_at = excluded.expires_at",
            (site, holder, now_ms + hold_ms),
        )
        return True

    return index.write(hold)


def release_assets(index: Any, site: str, holder: str) -> None:
    index.write(
        lambda conn: conn.execute("DELETE FROM asset_holds WHERE site = ? AND holder = ?", (site, holder))
    )


def lock_assets(index: Any, site: str, holder: str, now_ms: int, lease_ms: int) -> bool:
    """The exclusive asset lease of a site, when no live shared hold exists; True when taken.

    Taken under the same per-site lock as holds, so a hold and the lease are never both granted."""
    name = _asset_lease_name(site)

    def take(conn: Any) -> bool:
        _lock_site_assets(conn, index, site)
        held = conn.execute(
            "SELECT 1 FROM asset_holds WHERE site = ? AND expires_at > ?", (site, now_ms)
        ).fetchone()
        if held:
            return False
        conn.execute("INSERT INTO job_leases (name) VALUES (?) ON CONFLICT (name) DO NOTHING", (name,))
        return _take(conn, name, holder, now_ms, lease_ms, 0)

    return index.write(take)


def unlock_assets(index: Any, site: str, holder: str) -> None:
    finish_lease(index, _asset_lease_name(site), holder, None, ran=False)
