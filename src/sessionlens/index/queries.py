"""Queries built from parameters: session search and batch slots."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sessionlens.index.aggregate import lock_sessions
from sessionlens.index.dialect import Dialect
from sessionlens.index.saved_docs import collection_condition, note_condition
from sessionlens.index.url_keys import session_url_condition


class Slot(enum.Enum):
    """What reserving a batch's key decided (batch_slots.py)."""

    RESERVED = "reserved"  # a new key, now counted
    KNOWN = "known"  # the key was reserved or stored before (a retry or a re-send)
    FULL = "full"  # a new key and the session is at its limit


# Session columns a filter may compare or sort by (fixed names, never user text).
SIGNAL_COLUMNS = frozenset(
    {
        "rage_clicks",
        "dead_clicks",
        "error_clicks",
        "quick_backs",
        "excessive_scrolls",
        "thrashes",
        "form_errors",
    }
)
SORT_COLUMNS = frozenset({"start_time", "duration_ms", "active_ms", "frustration_score"})
ATTR_SCOPES = frozenset({"trait", "prop", "experiment"})
UTM_COLUMNS = frozenset({"utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content"})


def ascii_lower(text: str) -> str:
    """A-Z to a-z and nothing else: what both databases' lower() does in session search."""
    return text.translate(_ASCII_LOWER)


_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def _one(condition: tuple[str, list[Any]]) -> list[Any]:
    return [condition[0], *condition[1]]


def _marks(n: int) -> str:
    return ", ".join("?" * n)


def _url_test(d: Dialect, column: str, pattern: str) -> tuple[str, list[Any]]:
    """`column` (a URL of a row joined to url_keys `k` on it) matches a researcher's URL filter:
    a pattern with * the whole URL (or path and query, for "/..."), plain text a substring."""
    if "*" in pattern:
        return session_url_condition(d, pattern)
    return d.contains(column), [pattern]


def session_conditions(
    d: Dialect,
    f: Any,
    drive: frozenset[str] | None = None,
    driver: str | None = None,
    urls: Mapping[str, tuple[str, ...]] | None = None,
) -> tuple[list[str], list[Any]]:
    """WHERE terms (ANDed) on sessions `s` for a session_search.SessionFilter, without its cursor.

    Facts of a session held in other tables (visited pages, attributes, custom events, clicked
    text; and the user id) are tested per session (a correlated EXISTS, cheap while walking
    sessions in the list's order) except those named in `drive` (keys from fact_filters), which
    become `(s.site, s.sid) IN (rows)`: the rows are found once from their own index and the
    planner looks the sessions up by primary key. None keeps the callers' defaults (custom events
    by IN, the rest per session). `driver` is left out: the caller joins its rows. `urls` (from
    known_urls) holds the URLs a visited/not_visited filter matches, tested as a list per page view."""
    where: list[str] = []
    params: list[Any] = []

    def add(sql: str, *values: Any) -> None:
        where.append(sql)
        params.extend(values)

    def any_of(expr: str, values: tuple[Any, ...]) -> None:
        if values:
            add(f"{expr} IN ({_marks(len(values))})", *values)

    if f.site:
        add("s.site = ?", f.site)
    if f.start is not None:
        add("s.start_time >= ?", f.start)
    if f.end is not None:
        add("s.start_time < ?", f.end)
    if f.bots == "exclude":
        add("s.is_bot = 0")
    elif f.bots == "only":
        add("s.is_bot = 1")
    for column, low, high in (
        ("duration_ms", f.min_duration_ms, f.max_duration_ms),
        ("active_ms", f.min_active_ms, f.max_active_ms),
        ("page_count", f.min_pages, f.max_pages),
        ("visit_number", f.min_visits, f.max_visits),
    ):
        if low is not None:
            add(f"s.{column} >= ?", low)
        if high is not None:
            add(f"s.{column} <= ?", high)
    any_of("s.device", f.devices)
    any_of(d.ascii_lower("s.browser"), tuple(ascii_lower(b) for b in f.browsers))
    any_of("s.channel", f.channels)
    any_of("s.country", f.countries)
    any_of("s.timezone", f.timezones)
    for column, values in f.utm.items():
        if column not in UTM_COLUMNS:
            raise ValueError(f"unknown UTM column {column!r}")
        any_of(d.ascii_lower(f"s.{column}"), tuple(ascii_lower(v) for v in values))
    if f.languages:
        # "de" is German whatever the region: de, de-DE, de-AT.
        language = d.ascii_lower("s.language")
        terms = []
        for tag in f.languages:
            tag = ascii_lower(tag)
            terms.append(f"({language} = ? OR substr({language}, 1, ?) = ?)")
            params.extend((tag, len(tag) + 1, tag + "-"))
        where.append("(" + " OR ".join(terms) + ")")
    if f.referrer:
        add(d.contains(d.ascii_lower("s.referrer")), ascii_lower(f.referrer))
    if f.visitor == "new":
        add("s.visit_number = 1")
    elif f.visitor == "returning":
        add("s.visit_number > 1")
    for key, rows, rows_params, per_session, per_session_params in fact_filters(d, f, urls):
        if key == driver:
            continue  # session_search joins it
        use_rows = key in drive if drive is not None else key.startswith(("event:", "event_prop:"))
        if use_rows:
            add(f"(s.site, s.sid) IN ({rows})", *rows_params)
        else:
            add(per_session, *per_session_params)
    for pattern in f.not_visited:
        if urls is not None and pattern in urls:
            add(f"NOT EXISTS (SELECT 1 FROM page_urls u WHERE u.site = s.site AND u.sid = s.sid AND {_IN_LIST})",
                list(urls[pattern]))  # fmt: skip
            continue
        test, extra = _url_test(d, "u.url", pattern)
        keys = " JOIN url_keys k ON k.site = u.site AND k.url = u.url" if "*" in pattern else ""
        add(f"NOT EXISTS (SELECT 1 FROM page_urls u{keys} WHERE u.site = s.site AND u.sid = s.sid AND {test})",
            *extra)  # fmt: skip
    for text in f.notes:
        add(*_one(note_condition(d, text)))
    for collection in f.collections:
        add(*_one(collection_condition(collection)))
    if f.has_errors:
        add("s.errors > 0")
    for column in f.signals:
        if column not in SIGNAL_COLUMNS:
            raise ValueError(f"unknown signal column {column!r}")
        add(f"s.{column} > 0")
    if f.min_frustration is not None:
        add("s.frustration_score >= ?", f.min_frustration)
    if f.lcp_over_ms is not None:
        add("s.lcp_ms > ?", f.lcp_over_ms)
    return where, params


# A survey answer between line breaks (SQL string literals holding a real newline; both backends).
_NEWLINE_WRAPPED = "('\n' || r.value || '\n')"


def fact_filters(
    d: Dialect, f: Any, urls: Mapping[str, tuple[str, ...]] | None = None
) -> list[tuple[str, str, list[Any], str, list[Any]]]:
    """The filter's facts held outside the session row, each as (key, rows, params, per_session,
    params): `rows` selects (site, sid) of the matching sessions from the fact's own index (a
    session may come more than once), `per_session` is the same test as a term on one session `s`.
    Both forms give the same sessions; session_search picks one per fact by its size."""
    out: list[tuple[str, str, list[Any], str, list[Any]]] = []
    site = [f.site] if f.site else []

    def on(alias: str) -> str:
        return f"{alias}.site = ? AND " if f.site else ""

    def by(index: str) -> str:
        # SQLite: the fact's own index, also inside the DISTINCT of a driver (where it would rather
        # read the table's primary key, already in (site, sid) order, through every row).
        return "" if d.is_postgresql else f" INDEXED BY {index}"

    def keys_of(alias: str) -> str:  # a constant site keeps the url_keys subquery uncorrelated (run once)
        return "k.site = ?" if f.site else f"k.site = {alias}.site"

    if f.users:
        users = list(f.users)
        out.append(("user", f"SELECT x.site, x.sid FROM sessions x{by('sessions_user')} WHERE {on('x')}x.user_id IN ({_marks(len(users))})",
                    [*site, *users], f"s.user_id IN ({_marks(len(users))})", users))  # fmt: skip
    for column, pattern in (("entry_url", f.landing), ("exit_url", f.exit)):
        if pattern is None:
            continue
        # The entry and exit URLs are page URLs, so in url_keys (aggregate.py writes both): the
        # few distinct URLs that match are found there, then their sessions by (site, column, sid).
        if "*" in pattern:
            test, extra = session_url_condition(d, pattern)
            per_session = (
                f"EXISTS (SELECT 1 FROM url_keys k WHERE k.site = s.site AND k.url = s.{column} AND {test})"
            )
        else:
            test, extra = d.contains("k.url"), [pattern]
            per_session = d.contains(f"s.{column}")
        if d.is_postgresql and f.site:
            rows = _per_url(
                f"SELECT x.site, x.sid FROM sessions x WHERE x.site = ? AND x.{column} = k.url", test
            )
            rows_params = [f.site, *extra, f.site]
        else:
            rows = (f"SELECT x.site, x.sid FROM sessions x{by('sessions_' + column)} WHERE {on('x')}x.{column} IN"
                    f" (SELECT k.url FROM url_keys k WHERE {keys_of('x')} AND {test})")  # fmt: skip
            rows_params = [*site, *site, *extra]
        out.append((column, rows, rows_params, per_session, extra))
    for i, pattern in enumerate(f.visited):
        # Every recorded page URL is in url_keys (aggregate.py writes both): the few distinct URLs
        # that match are found there, then their page views by page_urls (site, url).
        if "*" in pattern:
            test, extra = session_url_condition(d, pattern)
        else:
            test, extra = d.contains("k.url"), [pattern]
        if d.is_postgresql and f.site:
            rows = _per_url("SELECT u.site, u.sid FROM page_urls u WHERE u.site = ? AND u.url = k.url", test)
            rows_params = [f.site, *extra, f.site]
        else:
            rows = (f"SELECT u.site, u.sid FROM page_urls u{by('page_urls_url_sid')} WHERE {on('u')}u.url IN"
                    f" (SELECT k.url FROM url_keys k WHERE {keys_of('u')} AND {test})")  # fmt: skip
            rows_params = [*site, *site, *extra]
        per_test, per_extra = _url_test(d, "u.url", pattern)
        keys = " JOIN url_keys k ON k.site = u.site AND k.url = u.url" if "*" in pattern else ""
        if urls is not None and pattern in urls:
            per_test, per_extra, keys = _IN_LIST, [list(urls[pattern])], ""
        per_session = (
            f"EXISTS (SELECT 1 FROM page_urls u{keys} WHERE u.site = s.site AND u.sid = s.sid AND {per_test})"
        )
        out.append((f"visited:{i}", rows, rows_params, per_session, per_extra))
    for i, (scope, key, value) in enumerate(f.attrs):
        if scope not in ATTR_SCOPES:
            raise ValueError(f"unknown attribute scope {scope!r}")
        value_term, value_params = (" AND a.value = ?", [value]) if value is not None else ("", [])
        rows = f"SELECT a.site, a.sid FROM session_attrs a{by('session_attrs_value_sid')} WHERE {on('a')}a.scope = ? AND a.key = ?{value_term}"
        # A point lookup on the table's key (site, sid, scope, key) per session.
        per_session = (f"EXISTS (SELECT 1 FROM session_attrs a WHERE a.site = s.site AND a.sid = s.sid"
                       f" AND a.scope = ? AND a.key = ?{value_term})")  # fmt: skip
        out.append(
            (f"attr:{i}", rows, [*site, scope, key, *value_params], per_session, [scope, key, *value_params])
        )
    for i, name in enumerate(f.events):
        rows = f"SELECT e.site, e.sid FROM custom_events e{by('custom_events_name_at')} WHERE {on('e')}e.name = ?"
        per_session = (
            "EXISTS (SELECT 1 FROM custom_events e WHERE e.site = s.site AND e.sid = s.sid AND e.name = ?)"
        )
        out.append((f"event:{i}", rows, [*site, name], per_session, [name]))
    for i, (name, key, value) in enumerate(f.event_props):
        value_term, value_params = (" AND e.value = ?", [value]) if value is not None else ("", [])
        rows = f"SELECT e.site, e.sid FROM custom_event_props e{by('custom_event_props_value_sid')} WHERE {on('e')}e.name = ? AND e.key = ?{value_term}"
        per_session = (f"EXISTS (SELECT 1 FROM custom_event_props e WHERE e.site = s.site AND e.sid = s.sid"
                       f" AND e.name = ? AND e.key = ?{value_term})")  # fmt: skip
        out.append((f"event_prop:{i}", rows, [*site, name, key, *value_params], per_session,
                    [name, key, *value_params]))  # fmt: skip
    # On-page surveys (migration 0015): sessions that answered a survey, or gave one answer (a
    # multi-select's answer is its option ids joined by "\n": each one matches on its own).
    answered = "r.action = 'answer' AND r.question <> ''"
    for i, survey in enumerate(f.surveys):
        rows = f"SELECT r.site, r.sid FROM survey_responses r{by('survey_responses_answer')} WHERE {on('r')}r.survey = ? AND {answered}"
        per_session = (f"EXISTS (SELECT 1 FROM survey_responses r WHERE r.site = s.site AND r.sid = s.sid"
                       f" AND r.survey = ? AND {answered})")  # fmt: skip
        out.append((f"survey:{i}", rows, [*site, survey], per_session, [survey]))
    for i, (survey, question, value) in enumerate(f.survey_answers):
        # "\n" || value || "\n" holds "\n" || wanted || "\n": the whole answer, or one line of it
        # (instr/strpos: case kept on both backends, no LIKE wildcards in the visitor's text).
        test = (f"r.survey = ? AND r.action = 'answer' AND r.question = ?"
                f" AND (r.value = ? OR {d.contains(_NEWLINE_WRAPPED)})")  # fmt: skip
        values = [survey, question, value, f"\n{value}\n"]
        rows = f"SELECT r.site, r.sid FROM survey_responses r{by('survey_responses_answer')} WHERE {on('r')}{test}"
        per_session = (
            f"EXISTS (SELECT 1 FROM survey_responses r WHERE r.site = s.site AND r.sid = s.sid AND {test})"
        )
        out.append((f"survey_answer:{i}", rows, [*site, *values], per_session, values))
    # Clicks: the whole site's click texts are read from clicks_text (site, text, sid, ...), from
    # the range's first day on when the filter has one (a page view starts within its session).
    # Per session they are probed by (site, sid); on PostgreSQL the session's time span lets each
    # probe skip the day partitions it cannot be in (SQLite would take that range for the
    # (site, t0) index instead and read every click of the site in the span).
    span = " AND c.t0 >= s.start_time AND c.t0 <= s.end_time" if d.is_postgresql else ""
    since, since_params = (" AND c.t0 >= ?", [f.start]) if f.start is not None else ("", [])
    for i, text in enumerate(f.clicked):
        test = d.contains(d.ascii_lower("c.text"))
        rows = f"SELECT c.site, c.sid FROM clicks c{by('clicks_text')} WHERE {on('c')}{test}{since}"
        per_session = (
            f"EXISTS (SELECT 1 FROM clicks c WHERE c.site = s.site AND c.sid = s.sid{span} AND {test})"
        )
        out.append((f"clicked:{i}", rows, [*site, ascii_lower(text), *since_params], per_session,
                    [ascii_lower(text)]))  # fmt: skip
    return out


# PostgreSQL, one site: a URL filter matching at most this many URLs is tested per page view against
# their list (known_urls), hashed once per statement, instead of joining url_keys for each page view
# (a pattern) or searching each URL (a substring): ~half the cost of the count that walks sessions
# ("visited A not B" at a million sessions: ~15,000 sessions tested, 0.13-0.2 s -> ~0.1 s).
URL_LIST_MAX = 1_000
_IN_LIST = "u.url = ANY(CAST(? AS TEXT[]))"


def known_urls(conn: Any, d: Dialect, f: Any) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """PostgreSQL, one site: (pattern, its URLs) for each visited / not_visited filter matching at
    most URL_LIST_MAX of the site's URLs (url_keys holds every page URL: the same sessions)."""
    if not (d.is_postgresql and f.site):
        return ()
    out = []
    for pattern in dict.fromkeys((*f.visited, *f.not_visited)):
        test, extra = (
            session_url_condition(d, pattern) if "*" in pattern else (d.contains("k.url"), [pattern])
        )
        found = conn.execute(
            f"SELECT k.url FROM url_keys k WHERE k.site = ? AND {test} LIMIT ?",
            [f.site, *extra, URL_LIST_MAX + 1],
        ).fetchall()
        if len(found) <= URL_LIST_MAX:
            out.append((pattern, tuple(r[0] for r in found)))
    return tuple(out)


def _per_url(rows: str, test: str) -> str:
    """PostgreSQL, one site: a URL fact's rows as the few matching URLs of url_keys first (OFFSET 0
    keeps them a subquery of their own), then each URL's rows by index (`rows`, a LATERAL on k.url).
    Written as IN (urls), PostgreSQL estimated a LIKE or strpos on URLs at a third of them and read
    every page view of the site, testing each URL (0.5-1.5 s at a million sessions); the LATERAL
    leaves it no plan but one index read per matching URL. Parameters: site, test's, then rows'."""
    return (
        f"SELECT r.site, r.sid FROM (SELECT k.url FROM url_keys k WHERE k.site = ? AND {test} OFFSET 0) k"
        f" CROSS JOIN LATERAL ({rows}) r"
    )


# SQLite: the index whose walk finds a filter's sessions newest first (partial indexes, 0013).
SIGNAL_INDEXES = {
    "rage_clicks": "sessions_rage",
    "dead_clicks": "sessions_dead",
    "error_clicks": "sessions_error_clicks",
    "quick_backs": "sessions_quick_backs",
    "excessive_scrolls": "sessions_excessive_scrolls",
    "thrashes": "sessions_thrashes",
    "form_errors": "sessions_form_errors",
}


@dataclass(frozen=True, slots=True)
class SearchPlan:
    """How the index should find a filter's sessions.

    drive: facts (fact_filters keys) tested as IN (rows); driver: the smallest of them, whose
    distinct sessions are the count's outer loop (looked up by primary key); page_driver: the
    same for the page when it is small enough that sorting its sessions beats walking sessions
    newest first until the page is full."""

    drive: frozenset[str] | None = None
    driver: str | None = None
    page_driver: str | None = None
    page_index: str | None = None  # the sessions index the page walks (no driver)
    # PostgreSQL, one site: the driver's distinct sessions, read with its count (search_plan) and
    # passed to the page and the count as one text (string_to_array), so neither statement depends
    # on PostgreSQL's estimate of the fact's share (a LIKE on URLs or click texts, a trait value:
    # off by 100x, whence a hash of every page view or session, 1-5 s at a million sessions).
    driver_sids: tuple[str, ...] | None = None
    # PostgreSQL, one site: the URLs of each visited / not_visited filter (known_urls), when few.
    urls: tuple[tuple[str, tuple[str, ...]], ...] = ()


def search_plan(conn: Any, d: Dialect, f: Any) -> SearchPlan:
    """Count each fact's rows on its own index, up to DRIVE_ROWS + 1 (index-only reads). PostgreSQL
    plans the rest from its statistics, but its estimate of a fact's share of sessions (a LIKE on
    URLs, a trait value) can be far off: it gets the same facts as IN lists and outer loops, and
    with one site the driver's sessions themselves, read in the same pass (driver_sids)."""
    sizes: dict[str, int] = {}
    found_sids: dict[str, tuple[str, ...] | None] = {}
    for key, rows, params, _, _ in fact_filters(d, f):
        if d.is_postgresql and f.site:
            found, found_sids[key] = _count_and_sessions(conn, rows, params)
        else:
            found = conn.execute(
                f"SELECT COUNT(*) FROM ({rows} LIMIT ?) x", [*params, DRIVE_ROWS + 1]
            ).fetchone()[0]
        if found <= DRIVE_ROWS:
            sizes[key] = int(found)
    driver = min(sizes, key=sizes.__getitem__) if sizes else None
    page_driver = driver if driver is not None and sizes[driver] <= PAGE_DRIVE_ROWS else None
    page_index = None if page_driver or d.is_postgresql else _page_index(conn, f)
    sids = found_sids.get(driver) if driver is not None else None
    return SearchPlan(frozenset(sizes), driver, page_driver, page_index, sids, known_urls(conn, d, f))


def _count_and_sessions(conn: Any, rows: str, params: list[Any]) -> tuple[int, tuple[str, ...] | None]:
    """PostgreSQL: a fact's rows up to DRIVE_ROWS + 1 and, when they are no more than DRIVE_ROWS,
    their distinct sessions (as driver_sessions), in one read of the fact's index (a click text
    is a LIKE over every click of the site: reading it twice cost ~0.15 s at a million sessions).
    The sessions are sorted byte-wise (COLLATE "C": ids are ASCII; the database's locale
    compared them ~30 % slower over 50,000), close enough to the key order for the probes."""
    n, joined, comma = conn.execute(
        f"WITH r AS MATERIALIZED ({rows} LIMIT ?) SELECT c.n, a.joined, a.comma FROM (SELECT COUNT(*) AS n FROM r) c"
        ' CROSS JOIN LATERAL (SELECT string_agg(DISTINCT r.sid COLLATE "C", \',\' ORDER BY r.sid COLLATE "C") AS joined,'
        " bool_or(strpos(r.sid, ',') > 0) AS comma FROM r WHERE c.n <= ?) a",
        [*params, DRIVE_ROWS + 1, DRIVE_ROWS],
    ).fetchone()
    if n > DRIVE_ROWS or comma:
        return int(n), None
    return int(n), tuple(joined.split(",")) if joined else ()


def driver_sessions(conn: Any, d: Dialect, f: Any, key: str) -> tuple[str, ...] | None:
    """The distinct sessions (of site f.site) of the fact `key`, known to have at most DRIVE_ROWS
    rows: read from the fact's own index, the same rows search_plan counted. They travel as one
    comma-separated text each way (a list of 30,000 strings costs ~0.1 s to send as an array
    parameter, the text ~0.015 s). None if a sid holds a comma (ids are [A-Za-z0-9_-] on the wire)."""
    rows, params = next((r[1], r[2]) for r in fact_filters(d, f) if r[0] == key)
    joined, comma = conn.execute(
        f'SELECT string_agg(DISTINCT r.sid COLLATE "C", \',\' ORDER BY r.sid COLLATE "C"),'
        f" bool_or(strpos(r.sid, ',') > 0) FROM ({rows}) r",
        params,
    ).fetchone()
    if comma:
        return None
    return tuple(joined.split(",")) if joined else ()


# Range filters with an index on (site, column, sid) (0008): few matches are read from it and
# sorted; many are met soon enough walking sessions_start newest first.
RANGE_INDEXES = (
    ("sessions_duration", "duration_ms", "min_duration_ms", "max_duration_ms"),
    ("sessions_active", "active_ms", "min_active_ms", "max_active_ms"),
    ("sessions_frustration", "frustration_score", "min_frustration", None),
)


def _page_index(conn: Any, f: Any) -> str | None:
    """SQLite, newest first: the index the page walks when a range filter is present (SQLite
    would take the range's index and sort every match, ~0.4 s for 100,000)."""
    if f.sort_column != "start_time" or not f.site or f.has_errors or f.signals:
        return None  # other orders walk their own index; signals have theirs (_source)
    best: tuple[int, str] | None = None
    for index, column, low_name, high_name in RANGE_INDEXES:
        low, high = getattr(f, low_name), getattr(f, high_name) if high_name else None
        if low is None and high is None:
            continue
        terms = [f"{column} >= ?" if low is not None else "", f"{column} <= ?" if high is not None else ""]
        sql = (f"SELECT COUNT(*) FROM (SELECT 1 FROM sessions INDEXED BY {index} WHERE site = ? AND "
               f"{' AND '.join(t for t in terms if t)} LIMIT ?) x")  # fmt: skip
        values = [v for v in (low, high) if v is not None]
        found = int(conn.execute(sql, [f.site, *values, PAGE_DRIVE_ROWS + 1]).fetchone()[0])
        if best is None or found < best[0]:
            best = (found, index)
    if best is None:
        return None
    return best[1] if best[0] <= PAGE_DRIVE_ROWS else "sessions_start"


def _source(
    d: Dialect, f: Any, plan: SearchPlan, counting: bool
) -> tuple[str, list[Any], list[str], list[Any]]:
    """FROM clause (and its parameters) and the WHERE terms of a search under a plan."""
    driver = plan.driver if counting else plan.page_driver
    if plan.driver_sids is not None:
        # PostgreSQL: the driver is a list of sessions of the site (sorted: the lookups follow the
        # primary key). The count and a small driver's page look each one up (a nested loop over
        # the array, stopping at the cap); a larger driver's page walks sessions in the list's
        # order testing each against the array (hashed), as few sessions as the page needs.
        where, params = session_conditions(d, f, plan.drive, plan.driver, dict(plan.urls))
        sids = ",".join(plan.driver_sids)
        if driver is not None:
            return (
                "unnest(string_to_array(?, ',')) x (sid) JOIN sessions s ON s.sid = x.sid",
                [sids],
                where,
                params,
            )
        return "sessions s", [], ["s.sid = ANY(string_to_array(?, ','))", *where], [sids, *params]
    where, params = session_conditions(d, f, plan.drive, driver, dict(plan.urls))
    if driver is not None:
        rows, rows_params = next((r[1], r[2]) for r in fact_filters(d, f) if r[0] == driver)
        # CROSS JOIN keeps the driver's sessions as SQLite's outer loop (it would rather walk
        # sessions_start, whose order is the list's, through every session).
        source = f"(SELECT DISTINCT site, sid FROM ({rows}) r) x CROSS JOIN sessions s"
        return source, rows_params, ["s.site = x.site", "s.sid = x.sid", *where], params
    if d.is_postgresql:
        return "sessions s", [], where, params
    signal = next((SIGNAL_INDEXES[c] for c in f.signals if c in SIGNAL_INDEXES), None)
    if signal is None and f.has_errors:
        signal = "sessions_errors"
    if signal is not None and (counting or f.sort_column == "start_time"):
        hint = f"INDEXED BY {signal}"  # the few sessions with that signal, newest first
    elif not counting:
        hint = f"INDEXED BY {plan.page_index}" if plan.page_index else ""
    elif plan.page_index not in (None, "sessions_start"):
        hint = f"INDEXED BY {plan.page_index}"  # a range with few matches (_page_index)
    elif f.bots == "only":
        hint = "INDEXED BY sessions_bots"
    elif f.min_frustration is not None:
        hint = "INDEXED BY sessions_frustration"
    elif f.start is not None or f.end is not None:
        hint = "INDEXED BY sessions_start"
    else:
        # A count without a narrowing index reads sessions in storage order: a sequential read
        # costs a fraction of a lookup per row and stops at the cap.
        hint = "NOT INDEXED"
    return f"sessions s {hint}".rstrip(), [], where, params


def session_search(d: Dialect, f: Any, plan: SearchPlan | None = None) -> tuple[str, list[Any]]:
    """SQL for one page of a session_search.SessionFilter in its order, limit + 1 rows.

    Keyset pagination on (sort key, sid): every sort column is NOT NULL, so
    the order is total and a page never repeats or skips a row.
    """
    source, params, where, where_params = _source(d, f, plan or SearchPlan(), counting=False)
    params += where_params
    column = f.sort_column
    if column not in SORT_COLUMNS:
        raise ValueError(f"unknown sort column {column!r}")
    direction = "DESC" if f.order == "desc" else "ASC"
    if f.cursor is not None:
        op = "<" if f.order == "desc" else ">"
        where.append(f"(s.{column} {op} ? OR (s.{column} = ? AND s.sid {op} ?))")
        params += [f.cursor[0], f.cursor[0], f.cursor[1]]
    sql = f"SELECT s.* FROM {source}"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += f" ORDER BY s.{column} {direction}, s.sid {direction} LIMIT ?"
    params.append(f.limit + 1)
    return sql, params


def session_count(d: Dialect, f: Any, cap: int, plan: SearchPlan | None = None) -> tuple[str, list[Any]]:
    """SQL counting the filter's sessions (all pages), stopping at cap + 1: a count past the cap
    would cost a scan of every match for a number nobody reads exactly."""
    source, params, where, where_params = _source(d, f, plan or SearchPlan(), counting=True)
    inner = f"SELECT 1 FROM {source}" + (" WHERE " + " AND ".join(where) if where else "")
    return f"SELECT COUNT(*) FROM ({inner} LIMIT ?) matching", [*params, *where_params, cap + 1]


# A fact filter matching at most this many rows (clicks, page views, ...) drives the search on
# SQLite: its sessions are looked up by key and sorted (cost ~ its rows). A larger one is tested
# per session while sessions are walked in the list's order (cost ~ sessions read until the page,
# or the count's cap, is full: few when the fact is common). SQLite plans without statistics of
# the data, so the choice is made here from a capped count on the fact's own index.
DRIVE_ROWS = 50_000
# The page (limit + 1 rows in the list's order) is found by walking sessions in that order and
# testing each: ~ limit / share of sessions matching lookups. From its fact's rows it costs one
# lookup per row, then a sort: the better way below ~ sqrt(limit * sessions), 8,000 at 1.2 M.
PAGE_DRIVE_ROWS = 8_000


def search_sessions(conn: Any, d: Dialect, f: Any, cap: int) -> dict[str, Any]:
    """One page, the capped count and the page's experiment buckets, in one read transaction."""
    for (
        statement
    ) in d.bulk_read_settings():  # a rare filter scans every session: JIT costs more than it saves
        conn.execute(statement)
    if d.is_postgresql:
        # PostgreSQL estimates a LIKE on URLs (url_keys) or a trait value as a large share and
        # hashes every page view or session for it (2-4 s at a million): the facts' few rows are
        # counted and read by nested loops (index probes), and so is a driver's page and count.
        conn.execute("SET LOCAL enable_hashjoin = off")
        conn.execute("SET LOCAL enable_mergejoin = off")
    plan = search_plan(conn, d, f)
    if d.is_postgresql and plan.driver is None:
        # No fact is small: the page walks sessions and the count reads them; PostgreSQL plans freely.
        conn.execute("SET LOCAL enable_hashjoin = on")
        conn.execute("SET LOCAL enable_mergejoin = on")
    rows = [dict(r) for r in conn.execute(*session_search(d, f, plan)).fetchall()]
    # The count is for the first page (shown before the list); later pages skip its scan.
    total: int | None = None
    if f.cursor is None and len(rows) <= f.limit:
        total = len(rows)  # the first page holds every match: no second scan (rare filters scan everything)
    elif f.cursor is None:
        total = int(conn.execute(*session_count(d, f, cap, plan)).fetchone()[0])
    if rows:
        # Primary-key probes (site, sid, scope) for the page's rows. SQLite, planning without
        # statistics, would rather read every experiment row of the site from the covering
        # session_attrs_value_sid (~0.2 s at a million sessions): it is told the index.
        by_site: dict[str, list[str]] = {}
        for r in rows:
            by_site.setdefault(r["site"], []).append(r["sid"])
        terms = " OR ".join(f"(site = ? AND sid IN ({_marks(len(sids))}))" for sids in by_site.values())
        hint = "" if d.is_postgresql else " INDEXED BY sqlite_autoindex_session_attrs_1"
        found = conn.execute(
            f"SELECT site, sid, key, value FROM session_attrs{hint} WHERE scope = 'experiment' AND ({terms})"
            " ORDER BY key",
            [v for site, sids in by_site.items() for v in (site, *sids)],
        ).fetchall()
        buckets: dict[tuple[str, str], dict[str, str]] = {}
        for r in found:
            buckets.setdefault((r[0], r[1]), {})[r[2]] = r[3]
        for r in rows:
            r["experiments"] = buckets.get((r["site"], r["sid"]), {})
    return {"rows": rows, "total": total}


def reserve_batch_slot(conn: Any, d: Dialect, site: str, sid: str, pid: str, seq: int, limit: int) -> Slot:
    """Count and reserve in one transaction.

    On SQLite the single writer thread decides requests one after another;
    on PostgreSQL the session's lock (taken first) does, across processes.
    """
    lock_sessions(conn, d, [(site, sid)])
    key = (site, sid, pid, seq)
    # One statement in the common case: insert the slot while the session is
    # under its limit. Slots cover every stored chunk except after the index
    # was rebuilt from storage (reindex fills `chunks`, not this table), so
    # both are counted.
    inserted = conn.execute(
        "INSERT INTO batch_slots (site, sid, pid, seq) SELECT ?, ?, ?, ? "
        "WHERE (SELECT COUNT(*) FROM batch_slots WHERE site = ? AND sid = ?) < ? "
        "AND (SELECT COUNT(*) FROM chunks WHERE site = ? AND sid = ?) < ? "
        "ON CONFLICT DO NOTHING",
        (*key, site, sid, limit, site, sid, limit),
    )
    if inserted.rowcount == 1:
        return Slot.RESERVED
    # Not inserted: the key was reserved or stored before (a retry), or the
    # session is full.
    known = conn.execute(
        "SELECT 1 FROM batch_slots WHERE site = ? AND sid = ? AND pid = ? AND seq = ? "
        "UNION ALL SELECT 1 FROM chunks WHERE site = ? AND sid = ? AND pid = ? AND seq = ?",
        key + key,
    ).fetchone()
    return Slot.KNOWN if known else Slot.FULL
