"""Session search gives the same sessions whichever way the index finds them.

On SQLite, session search chooses per query how each fact filter (visited page, landing/exit
page, user, trait/prop/experiment, custom event, clicked text) is found: tested per session
while sessions are walked in the list's order, or read from the fact's own index and joined
(index/queries.py search_plan). At test sizes every fact is small, so the API tests see one
choice only; here every filter of tests/test_session_filters.py is run under each plan (per
session, all facts as IN, each fact as the outer loop; on PostgreSQL also each fact's sessions
read first and passed as an array), page by page and counted, on both backends, against the
sessions that test expects.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

import pytest

from sessionlens.index import Index
from sessionlens.index.queries import (
    SearchPlan,
    driver_sessions,
    fact_filters,
    known_urls,
    search_plan,
    session_count,
    session_search,
)
from sessionlens.index.url_keys import INSERT_URL_KEYS, url_key_rows
from sessionlens.session_search import SessionFilter
from tests import test_session_filters as cases

QUERIES: list[tuple[str, set[str]]] = next(
    m.args[1] for m in cases.test_each_filter_finds_exactly_its_sessions.pytestmark if m.name == "parametrize"
)


def _plans(index: Index, f: SessionFilter) -> dict[str, SearchPlan]:
    keys = frozenset(r[0] for r in fact_filters(index.dialect, f))
    plans = {
        "per session": SearchPlan(drive=frozenset()),
        "facts as IN": SearchPlan(drive=keys),
        "chosen": index.read(lambda conn: search_plan(conn, index.dialect, f)),
    }
    urls = index.read(lambda conn: known_urls(conn, index.dialect, f))
    if urls:
        # PostgreSQL: visited / not_visited URLs read first and tested per page view as a list.
        plans["per session, URLs as lists"] = SearchPlan(drive=frozenset(), urls=urls)
        plans["facts as IN, URLs as lists"] = SearchPlan(drive=keys, urls=urls)
    for key in keys:
        plans[f"{key} outer"] = SearchPlan(drive=keys, driver=key, page_driver=key)
        plans[f"{key} outer for the count only"] = SearchPlan(drive=frozenset(), driver=key)
        if index.dialect.is_postgresql and f.site:
            # PostgreSQL: the driver's sessions read first and passed as an array.
            sids = index.read(lambda conn, k=key: driver_sessions(conn, index.dialect, f, k))
            plans[f"{key} as an array"] = SearchPlan(
                drive=keys, driver=key, page_driver=key, driver_sids=sids
            )
            plans[f"{key} as an array, the rest per session"] = SearchPlan(
                drive=frozenset(), driver=key, driver_sids=sids
            )
    return plans


def _all_pages(index: Index, q: dict[str, Any], plan: SearchPlan) -> list[str]:
    """Every matching sid in the list's order, one row per page (keyset pagination)."""
    sids: list[str] = []
    page = SessionFilter.from_query({**q, "limit": "1"})
    while True:
        rows = index.read(lambda conn: conn.execute(*session_search(index.dialect, page, plan)).fetchall())
        sids += [r["sid"] for r in rows[:1]]
        if len(rows) < 2:
            return sids
        last = rows[0]
        page.cursor = (last[page.sort_column], last["sid"])


@pytest.mark.parametrize(("query", "expected"), QUERIES)
def test_every_plan_finds_the_same_sessions(index: Index, query: str, expected: set[str]) -> None:
    _check_every_plan(index, query, expected)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("site=s1&not_visited=/nowhere*", {"ann", "bob", "cai", "dot"}),
        ("site=s1&url=nowhere", set()),
        ("site=s1&url=pricing&not_visited=nowhere", {"ann", "bob", "dot"}),
        ("site=s1&url=/pricing*&not_visited=signup", {"dot"}),
    ],
)
def test_url_filters_matching_no_url(index: Index, query: str, expected: set[str]) -> None:
    """A URL filter matching none of the site's URLs (on PostgreSQL an empty list of URLs)."""
    _check_every_plan(index, query, expected)


def _check_every_plan(index: Index, query: str, expected: set[str]) -> None:
    sids = cases._write(index)
    names = {sid: name for name, sid in sids.items()}
    items = parse_qsl(query, keep_blank_values=True)
    q: dict[str, Any] = {}
    for k, v in items:
        q.setdefault(k, []).append(v)
    f = SessionFilter.from_query(q)
    orders = set()
    for name, plan in _plans(index, f).items():
        found = _all_pages(index, q, plan)
        assert {names[s] for s in found} == expected, (query, name)
        assert len(found) == len(set(found)), (query, name)  # a session comes once
        orders.add(tuple(found))
        total = index.read(
            lambda conn, p=plan: conn.execute(*session_count(index.dialect, f, 100, p)).fetchone()[0]
        )
        assert total == len(expected), (query, name)
        capped = index.read(
            lambda conn, p=plan: conn.execute(*session_count(index.dialect, f, 0, p)).fetchone()[0]
        )
        assert capped == min(1, len(expected)), (query, name)  # the count stops at cap + 1
    assert len(orders) == 1, query  # and in the same order


def _explain(index: Index, sql: str, params: list[Any], *settings: str) -> str:
    """The plan of `sql` under the settings session search runs its statements with (plus `settings`)."""

    def read(conn: Any) -> str:
        if not index.dialect.is_postgresql:
            return "\n".join(
                str(tuple(r)) for r in conn.execute("EXPLAIN QUERY PLAN " + sql, params).fetchall()
            )
        for statement in ("SET LOCAL enable_hashjoin = off", "SET LOCAL enable_mergejoin = off", *settings):
            conn.execute(statement)
        return "\n".join(r[0] for r in conn.execute("EXPLAIN " + sql, params).fetchall())

    return index.read(read)


def test_a_url_fact_reads_only_the_page_views_of_its_urls(index: Index) -> None:
    """A visited-URL filter finds its few matching URLs in url_keys first, then their page views by
    page_urls (site, url, sid): PostgreSQL estimated a substring or LIKE on URLs at a third of them and
    read every page view of the site instead (0.5-1.5 s at a million sessions), here already at 3,000
    page views of 200 URLs with statistics."""
    urls = [f"https://shop.example/p/{i}" for i in range(200)]

    def write(conn: Any) -> None:
        conn.executemany(
            "INSERT INTO page_urls (site, sid, pid, url) VALUES (?, ?, ?, ?)",
            [("s", f"x{i:05d}", "p", urls[i % 200]) for i in range(3000)],
        )
        conn.executemany(INSERT_URL_KEYS, url_key_rows(("s", u) for u in urls))
        conn.execute("ANALYZE")

    index.write(write)
    for url in ("/p/17", "/p/17*"):  # a substring, a pattern
        f = SessionFilter.from_query({"site": "s", "url": url})
        rows, params = next((r[1], r[2]) for r in fact_filters(index.dialect, f))
        plan = _explain(index, f"SELECT COUNT(*) FROM ({rows} LIMIT ?) x", [*params, 50_001])
        assert "page_urls_url_sid" in plan, plan
        assert "Seq Scan on page_urls" not in plan, plan
        found = index.read(
            lambda conn, r=rows, p=params: conn.execute(f"SELECT COUNT(*) FROM ({r}) x", p).fetchone()
        )
        # "/p/17*" is the path /p/17 and what follows (/p/170-/p/179 too), as the substring "/p/17".
        assert found[0] == 15 * 11


def test_people_index_serves_the_count_on_postgresql_only(index: Index) -> None:
    """Migration 16: the people's (site, sid) (is_bot = 0) on PostgreSQL, where the count of a driving
    fact's sessions probes it without reading the sessions' rows; SQLite does not get it (it would walk
    it for unhinted reads of every session)."""
    sids = cases._write(index)
    if not index.dialect.is_postgresql:
        names = index.read(
            lambda conn: conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'").fetchall()
        )
        assert "sessions_people" not in {r[0] for r in names}
        return
    f = SessionFilter.from_query({"site": cases.SITE, "url": "pricing"})
    plan = index.read(lambda conn: search_plan(conn, index.dialect, f))
    assert plan.driver_sids is not None and set(plan.driver_sids) >= {sids["ann"], sids["bob"]}
    count_sql, count_params = session_count(index.dialect, f, 10_000, plan)
    # At test size a sequential read of the table costs less than any index: it is ruled out to see
    # which index the count's probes use (the cheapest; at a million sessions it is chosen as is).
    shown = _explain(index, count_sql, count_params, "SET LOCAL enable_seqscan = off")
    assert "Index Only Scan using sessions_people" in shown, shown
    assert index.read(lambda conn: conn.execute(count_sql, count_params).fetchone()[0]) == 3  # ann, bob, dot
