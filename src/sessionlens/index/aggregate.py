"""Chunk rows, and the page views and sessions aggregated from them.

Each function takes a connection inside a write transaction (a sqlite3
connection on the writer thread, or a PgTx) and uses only SQL both
databases run. On PostgreSQL several processes write at once, so a writer
first takes the session's lock (Dialect.lock_key_sql): two chunks of one
session arriving at two collectors are aggregated one after the other,
each seeing the other's row.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson

from sessionlens.bots import bot_reason
from sessionlens.channels import channel
from sessionlens.device import classify
from sessionlens.facts import ACTIVE_GAP_MS, ChunkFacts, index_text
from sessionlens.index.dialect import LOCK_SESSION, Dialect
from sessionlens.index.url_keys import INSERT_URL_KEYS, url_key_rows

_UTM = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")


class ChunkRow:
    """What the index needs to know of one stored chunk."""

    __slots__ = (
        "site", "sid", "pid", "seq", "t0", "received", "stored_bytes", "facts", "header_ua", "visitor_id", "country",
    )  # fmt: skip

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
        visitor_id: str | None = None,
        country: str | None = None,
    ) -> None:
        self.site, self.sid, self.pid, self.seq = site, sid, pid, seq
        self.t0, self.received, self.stored_bytes = t0, received, stored_bytes
        self.facts, self.header_ua = facts, header_ua
        self.visitor_id = visitor_id  # the batch envelope's `vid`, kept in the chunk
        self.country = country  # the stored chunk's geo.country (collector, trusted header)


def upsert_sql(table: str, columns: Iterable[str], key: Iterable[str]) -> str:
    """INSERT that replaces the row with the same key (SQLite and PostgreSQL both run it)."""
    columns, key = list(columns), list(key)
    updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c not in key)
    return (
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"  # noqa: S608
        f" ON CONFLICT ({', '.join(key)}) DO UPDATE SET {updates}"
    )


def lock_sessions(conn: Any, dialect: Dialect, sessions: Iterable[tuple[str, str]]) -> None:
    """Serialise writers of these sessions across processes (in sorted order: no deadlock)."""
    statement = dialect.lock_key_sql(LOCK_SESSION)
    if statement is None:
        return
    for site, sid in sorted(set(sessions)):
        conn.execute(statement, (f"{site}/{sid}",))


def record_chunks(conn: Any, dialect: Dialect, rows: list[ChunkRow]) -> None:
    lock_sessions(conn, dialect, ((r.site, r.sid) for r in rows))
    for row in rows:
        insert_chunk(conn, row)
    views = list(dict.fromkeys((r.site, r.sid, r.pid) for r in rows))
    for site, sid, pid in views:
        refresh_page_view(conn, site, sid, pid)
    # The page view's derived data is now behind its chunks: record the work
    # in this same transaction, so an acknowledged chunk is always derived.
    enqueue(conn, views)
    visits: list[Renumber] = []
    for site, sid in dict.fromkeys((r.site, r.sid) for r in rows):
        refresh_session(conn, site, sid, visits)
    renumber_all(conn, dialect, visits)


_CHUNK_KEY = ("site", "sid", "pid", "seq")


def chunk_values(row: ChunkRow) -> dict[str, Any]:
    facts = asdict(row.facts)
    facts["urls"] = orjson.dumps(facts["urls"]).decode()
    facts["has_snapshot"] = int(facts["has_snapshot"])
    facts["ua"] = facts["ua"] or row.header_ua
    return {
        "site": row.site,
        "sid": row.sid,
        "pid": row.pid,
        "seq": row.seq,
        "t0": row.t0,
        "received": row.received,
        "stored_bytes": row.stored_bytes,
        "visitor_id": row.visitor_id,
        "country": row.country,
        **facts,
    }


def insert_chunk(conn: Any, row: ChunkRow) -> None:
    values = chunk_values(row)
    conn.execute(upsert_sql("chunks", values, _CHUNK_KEY), tuple(values.values()))


def insert_chunk_values(conn: Any, values: dict[str, Any]) -> None:
    conn.execute(upsert_sql("chunks", values, _CHUNK_KEY), tuple(values.values()))


def enqueue(conn: Any, page_views: list[tuple[str, str, str]]) -> None:
    # A row being worked on keeps its lease: the worker sees the new
    # generation when it finishes and frees the row for another pass.
    conn.executemany(
        """INSERT INTO derivation_queue (site, sid, pid) VALUES (?, ?, ?)
           ON CONFLICT (site, sid, pid) DO UPDATE SET
               generation = derivation_queue.generation + 1, attempts = 0, last_error = NULL,
               available_at = CASE WHEN derivation_queue.claimed_by IS NULL THEN 0
                                   ELSE derivation_queue.available_at END""",
        page_views,
    )


_PAGE_VIEW_COLUMNS = (
    "site", "sid", "pid", "t0", "end_time", "duration_ms", "active_ms", "url", "title", "referrer",
    "vw", "vh", "device", "browser", "os", "chunks", "events", "clicks", "inputs", "errors",
    "customs", "navs", "max_scroll_y", "page_height", "stored_bytes", "lcp_ms", "cls", "inp_ms", "exit_url",
)  # fmt: skip
_UPSERT_PAGE_VIEW = upsert_sql("page_views", _PAGE_VIEW_COLUMNS, ("site", "sid", "pid"))


def refresh_page_view(conn: Any, site: str, sid: str, pid: str) -> None:
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

    values = {
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
        "lcp_ms": highest("lcp_ms"),
        "cls": highest("cls"),
        "inp_ms": highest("inp_ms"),
        # The last URL it showed: the last URL entered in its last chunk that entered one.
        "exit_url": next((u[-1] for u in (orjson.loads(c["urls"]) for c in reversed(chunks)) if u), None)
        or first["url"],
    }
    conn.execute(_UPSERT_PAGE_VIEW, tuple(values[c] for c in _PAGE_VIEW_COLUMNS))
    # Click arrays carry the page view's device class and width (index/click_arrays.py): a chunk
    # arriving late (the first, with the user agent) changes them here, in the same transaction.
    conn.execute(
        "UPDATE click_arrays SET device = ?, vw = ? WHERE site = ? AND sid = ? AND pid = ?",
        (values["device"], values["vw"], site, sid, pid),
    )
    conn.execute("DELETE FROM page_urls WHERE site = ? AND sid = ? AND pid = ?", (site, sid, pid))
    conn.executemany(
        "INSERT INTO page_urls (site, sid, pid, url) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
        [(site, sid, pid, u) for u in urls],
    )
    conn.executemany(INSERT_URL_KEYS, url_key_rows((site, u) for u in urls))


_SESSION_COLUMNS = (
    "site", "sid", "start_time", "end_time", "duration_ms", "active_ms", "entry_url", "exit_url",
    "page_count", "device", "browser", "os", "vw", "vh", "referrer", "utm_source", "utm_medium",
    "utm_campaign", "utm_term", "utm_content", "clicks", "inputs", "errors", "customs",
    "batches", "stored_bytes", "visitor_id", "user_id", "channel", "country", "language", "timezone",
    "is_bot", "bot_reason", "lcp_ms", "cls", "inp_ms",
)  # fmt: skip
_UPSERT_SESSION = upsert_sql("sessions", _SESSION_COLUMNS, ("site", "sid"))


# A visitor whose sessions need their visit numbers recounted from a start time on.
Renumber = tuple[str, str, int]  # (site, visitor_id, since start_time)


def refresh_session(conn: Any, site: str, sid: str, visits: list[Renumber] | None = None) -> None:
    """Aggregate a session from its page views and chunks.

    Visit numbers of the visitor's sessions that this one's arrival (or a
    change of its start) shifts are recounted: appended to `visits` for the
    caller to do under the visitors' locks (renumber_all), or at once when None.
    """
    before = conn.execute(
        "SELECT start_time, visitor_id, visit_number FROM sessions WHERE site = ? AND sid = ?", (site, sid)
    ).fetchone()
    views = conn.execute(
        "SELECT * FROM page_views WHERE site = ? AND sid = ? ORDER BY t0, pid", (site, sid)
    ).fetchall()
    entry, exit_ = views[0], views[-1]
    # The exit URL: the last URL the exit page view showed (refresh_page_view); page views
    # aggregated before that column existed: the first URL of its last chunk that entered one.
    exit_urls = [exit_["exit_url"]] if exit_["exit_url"] else []
    if not exit_urls:
        last_urls = conn.execute(
            "SELECT urls FROM chunks WHERE site = ? AND sid = ? AND pid = ? AND urls <> '[]'"
            " ORDER BY seq DESC LIMIT 1",
            (site, sid, exit_["pid"]),
        ).fetchone()
        exit_urls = orjson.loads(last_urls[0]) if last_urls else []
    # Who: the first visitor id sent, and the last user id identified (in chunk order).
    who = conn.execute(
        "SELECT visitor_id, user_id FROM chunks WHERE site = ? AND sid = ?"
        " AND (visitor_id IS NOT NULL OR user_id IS NOT NULL) ORDER BY t0, pid, seq",
        (site, sid),
    ).fetchall()
    visitor_id = next((w[0] for w in who if w[0] is not None), None)
    user_id = next((w[1] for w in reversed(who) if w[1] is not None), None)
    query = parse_qs(urlsplit(entry["url"] or "").query)
    # Decoded tags may hold anything (%00 included): kept as text the index can store.
    utm = {k: index_text(query[k][0], 2048) if query.get(k) else None for k in _UTM}
    start = min(v["t0"] for v in views)
    end = max(v["end_time"] for v in views)

    def total(name: str) -> int:
        return sum(v[name] for v in views)

    def worst(name: str) -> float | None:
        values = [v[name] for v in views if v[name] is not None]
        return max(values) if values else None

    # Language, time zone and user agent: the first page view's meta that sent them.
    metas = conn.execute(
        "SELECT ua, lang, tz FROM chunks WHERE site = ? AND sid = ? AND url IS NOT NULL ORDER BY t0, pid, seq",
        (site, sid),
    ).fetchall()
    country = conn.execute(
        "SELECT country FROM chunks WHERE site = ? AND sid = ? AND country IS NOT NULL ORDER BY t0, pid, seq"
        " LIMIT 1",
        (site, sid),
    ).fetchone()
    hints = conn.execute(
        "SELECT MAX(webdriver) AS webdriver, SUM(human) AS human, COUNT(*) - COUNT(human) AS unknown"
        " FROM chunks WHERE site = ? AND sid = ?",
        (site, sid),
    ).fetchone()
    ua = next((m["ua"] for m in metas if m["ua"]), None)
    # Chunks indexed before human input was counted (NULL) leave "no input" undecided.
    human = None if hints["unknown"] else int(hints["human"] or 0)
    reason = bot_reason(ua, bool(hints["webdriver"]), human)

    values = {
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
        "visitor_id": visitor_id,
        "user_id": user_id,
        "channel": channel(entry["referrer"], entry["url"]),
        "country": country[0] if country else "unknown",
        "language": next((m["lang"] for m in metas if m["lang"]), None),
        "timezone": next((m["tz"] for m in metas if m["tz"]), None),
        "is_bot": int(reason is not None),
        "bot_reason": reason,
        "lcp_ms": worst("lcp_ms"),
        "cls": worst("cls"),
        "inp_ms": worst("inp_ms"),
    }
    conn.execute(_UPSERT_SESSION, tuple(values[c] for c in _SESSION_COLUMNS))
    requests = _renumber_requests(site, before, start, visitor_id)
    if visits is None:
        for request in requests:
            renumber_visits(conn, *request)
    else:
        visits.extend(requests)


def _renumber_requests(site: str, before: Any, start: int, visitor: str | None) -> list[Renumber]:
    """Which visit numbers this session's refresh may have shifted."""
    if before is None:
        return [(site, visitor, start)] if visitor is not None else []
    old_start, old_visitor, number = before["start_time"], before["visitor_id"], before["visit_number"]
    requests: list[Renumber] = []
    if old_visitor is not None and old_visitor != visitor:
        requests.append((site, old_visitor, old_start))  # it left that visitor's sessions
    if visitor is not None and (old_visitor != visitor or number is None):
        requests.append((site, visitor, start))
    elif visitor is not None and old_start != start:
        requests.append((site, visitor, min(old_start, start)))
    return requests


def renumber_all(conn: Any, dialect: Dialect, visits: Iterable[Renumber]) -> None:
    """Recount visit numbers, each visitor once from its earliest start, under the visitors' locks
    (taken in sorted order after the sessions' own: two collectors adding sessions of one visitor
    count one after the other)."""
    since: dict[tuple[str, str], int] = {}
    for site, visitor, start in visits:
        since[(site, visitor)] = min(start, since.get((site, visitor), start))
    statement = dialect.lock_key_sql(LOCK_SESSION)
    for (site, visitor), start in sorted(since.items()):
        if statement is not None:
            conn.execute(statement, (f"{site}/visitor/{visitor}",))
        renumber_visits(conn, site, visitor, start)


def renumber_visits(conn: Any, site: str, visitor: str, since: int) -> None:
    """visit_number = rank by (start_time, sid) among the visitor's stored sessions, for those
    starting at or after `since` (earlier ones keep theirs: nothing before them changed)."""
    base = conn.execute(
        "SELECT COUNT(*) FROM sessions WHERE site = ? AND visitor_id = ? AND start_time < ?",
        (site, visitor, since),
    ).fetchone()[0]
    rows = conn.execute(
        "SELECT sid, visit_number FROM sessions WHERE site = ? AND visitor_id = ? AND start_time >= ?"
        " ORDER BY start_time, sid",
        (site, visitor, since),
    ).fetchall()
    changed = [(base + i + 1, site, r[0]) for i, r in enumerate(rows) if r[1] != base + i + 1]
    conn.executemany("UPDATE sessions SET visit_number = ? WHERE site = ? AND sid = ?", changed)
