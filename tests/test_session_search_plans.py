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
    search_plan,
    session_count,
    session_search,
)
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
