"""The index on both backends: URL patterns in SQL, the derivation queue's claims,
batch slots across processes, migrations and day partitions.

Each test runs on SQLite and on PostgreSQL (tests/conftest.py). Two Index
objects on one database stand for two processes: each has its own
connections (PostgreSQL: its own pool), nothing in-process is shared.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest

from sessionlens.index import Index, SchemaTooNew
from sessionlens.index.migrate import latest_version
from sessionlens.index.queries import Slot
from sessionlens.index.url_keys import page_url_condition, session_url_condition
from sessionlens.url_patterns import page_matches, url_matches

URLS = [
    "https://shop.example/product/42?utm_source=x#reviews",
    "https://Shop.Example/product/42",
    "https://shop.example/product/",
    "https://shop.example/products/7",
    "https://other.example/product/9?color=red",
    "https://shop.example/a_b%c/[x]?q=1",
    "https://shop.example/a?b/c",
    "http://shop.example/",
    "https://shop.example",
    "https://shop.example/PRODUCT/1",
]
PATTERNS = [
    "/product/*", "/product/42", "/product/4?", "https://shop.example/*", "*://shop.example/product/*",
    "/a_b%c/[x]*", "/a_b*", "/a?b/c", "/*", "*", "https://shop.example/product/42", "/product/*?color=red",
    "/PRODUCT/*", "shop", "/a%b*", "/products/*",
]  # fmt: skip


def _store_urls(index: Index, site: str, urls: list[str]) -> None:
    from sessionlens.index.url_keys import INSERT_URL_KEYS, url_key_rows

    index.write(lambda conn: conn.executemany(INSERT_URL_KEYS, url_key_rows((site, u) for u in urls)))


@pytest.mark.parametrize("pattern", PATTERNS)
def test_url_patterns_match_in_sql_as_the_python_reference_does(index: Index, pattern: str) -> None:
    _store_urls(index, "s", URLS)
    for condition, reference in ((session_url_condition, url_matches), (page_url_condition, page_matches)):
        if condition is session_url_condition and "*" not in pattern:
            continue  # plain text in session search is a substring test
        sql, params = condition(index.dialect, pattern)
        found = {r["url"] for r in index.query(f"SELECT k.url FROM url_keys k WHERE k.site = ? AND {sql}", ["s", *params])}
        assert found == {u for u in URLS if reference(u, pattern)}, (condition.__name__, pattern)


def _open_second(index: Index, index_location: dict[str, Any]) -> Index:
    return Index(**index_location)


def test_concurrent_claims_from_two_processes_never_take_the_same_page_view(
    index: Index, index_location: dict[str, Any]
) -> None:
    views = [("s", f"sid{i:03d}", "p") for i in range(60)]
    index.enqueue_work(views)
    other = _open_second(index, index_location)
    claimed: list[tuple[str, tuple[str, str, str]]] = []
    lock = threading.Lock()

    def claimer(ix: Index, name: str) -> None:
        while items := ix.claim_work(name, 1_000, 60_000, 5, limit=3):
            with lock:
                claimed.extend((name, item.page_view) for item in items)

    try:
        threads = [threading.Thread(target=claimer, args=(ix, f"w{n}")) for n, ix in enumerate([index, other] * 3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    finally:
        other.close()
    taken = [view for _, view in claimed]
    assert sorted(taken) == sorted(views)  # each exactly once
    # Claimed, leased, not done: nothing is due until the lease ends, and done only after finish.
    assert index.claim_work("late", 2_000, 60_000, 5, limit=100) == []
    assert index.work_backlog(5) == {"pending": 60, "failed": 0}


def test_a_claim_is_done_only_when_finished_and_a_new_chunk_keeps_it_queued(index: Index) -> None:
    index.enqueue_work([("s", "a", "p")])
    [item] = index.claim_work("w", 1_000, 30_000, 5)
    index.enqueue_work([("s", "a", "p")])  # a chunk arrived while deriving
    index.finish_work(item, "w")
    [again] = index.claim_work("w", 1_001, 30_000, 5)
    assert again.generation == item.generation + 1
    index.finish_work(again, "w")
    assert index.work_backlog(5) == {"pending": 0, "failed": 0}
    # An expired lease is claimed again by another worker.
    index.enqueue_work([("s", "b", "p")])
    [first] = index.claim_work("w1", 1_000, 10, 5)
    [second] = index.claim_work("w2", 2_000, 30_000, 5)
    assert second.page_view == first.page_view and second.attempts == 2


def test_batch_slots_hold_the_limit_across_processes(index: Index, index_location: dict[str, Any]) -> None:
    other = _open_second(index, index_location)
    try:
        futures = [
            ix.reserve_batch_slot("s", "sid", "p", seq, 5)
            for seq in range(40)
            for ix in ((index, other) if seq % 2 else (other, index))[:1]
        ]
        results = [f.result(30) for f in futures]
        again = [other.reserve_batch_slot("s", "sid", "p", seq, 5).result(30) for seq in range(40)]
    finally:
        other.close()
    assert results.count(Slot.RESERVED) == 5 and results.count(Slot.FULL) == 35
    reserved = {seq for seq, r in enumerate(results) if r is Slot.RESERVED}
    assert {seq for seq, r in enumerate(again) if r is Slot.KNOWN} == reserved


def test_every_migration_is_recorded_and_a_newer_schema_is_refused(
    index: Index, index_location: dict[str, Any]
) -> None:
    versions = [r["version"] for r in index.query("SELECT version FROM schema_migrations ORDER BY version")]
    assert versions == list(range(1, latest_version() + 1))
    index.write(
        lambda conn: conn.execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, 'future', 0)",
            (latest_version() + 1,),
        )
    )
    with pytest.raises(SchemaTooNew, match="upgrade sessionlens"):
        Index(**index_location)


def test_an_index_made_before_migrations_is_migrated_in_place(tmp_path: Path) -> None:
    old = tmp_path / "old.sqlite3"
    conn = sqlite3.connect(old)
    conn.executescript((Path(__file__).parent.parent / "storage_schemas/migrations/0001_initial.sql").read_text())
    conn.execute("INSERT INTO page_urls VALUES ('s', 'x', 'p', 'https://shop.example/product/1?utm_source=a')")
    conn.execute("ALTER TABLE clicks ADD COLUMN control TEXT NOT NULL DEFAULT ''")  # as index.py once did
    conn.commit()
    conn.close()
    index = Index(old)
    try:
        assert {"control", "text", "anchor", "ax", "ay"} <= index.columns("clicks")
        assert index.query("SELECT norm_url FROM url_keys") == [{"norm_url": "https://shop.example/product/1"}]
    finally:
        index.close()


def test_click_facts_land_in_day_partitions_on_postgresql_and_one_table_on_sqlite(index: Index) -> None:
    from types import SimpleNamespace

    click = SimpleNamespace(t=5, url="https://shop.example/", selector="a", fx=0.5, fy=0.5, px=1, py=2, vw=800,
                            pw=800, ph=900, tag="a", rage=False, dead=False, error=False, control="", text="",
                            anchor="", ax=0, ay=0)  # fmt: skip
    day = 86_400_000
    for n, t0 in enumerate((1_790_000_000_000, 1_790_000_000_000 + day)):
        index.replace_clicks("s", f"sid{n}", "p", t0, [click])
    if index.dialect.is_postgresql:  # one partition per day of t0
        parts = index.query(
            "SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
            " JOIN pg_class p ON p.oid = i.inhparent JOIN pg_namespace n ON n.oid = p.relnamespace"
            " WHERE p.relname = 'clicks' AND n.nspname = current_schema()"
        )
        assert len(parts) == 2
    else:  # SQLite has no partitions: both days are rows of the one clicks table
        assert index.query("SELECT type FROM sqlite_master WHERE name = 'clicks'") == [{"type": "table"}]
    assert index.query("SELECT count(*) AS n FROM clicks") == [{"n": 2}]
    assert index.query("SELECT count(*) AS n FROM clicks WHERE site = ? AND t0 >= ?", ("s", 1_790_000_000_000 + day)) == [
        {"n": 1}
    ]


def _click(url: str, selector: str, control: str = "", rage: bool = False, text: str = "") -> Any:
    from types import SimpleNamespace

    return SimpleNamespace(t=5, url=url, selector=selector, fx=0.5, fy=0.5, px=1, py=2, vw=800, pw=800, ph=900,
                           tag="a", rage=rage, dead=False, error=False, control=control, text=text, anchor="",
                           ax=0, ay=0)  # fmt: skip


def test_heatmap_selections_run_in_sql_on_both_backends(index: Index) -> None:
    from sessionlens.heatmap.render import Selection

    day = 86_400_000
    t0 = 1_790_000_000_000
    index.replace_clicks("s", "a", "p", t0, [
        _click("https://shop.example/product/1?utm_source=x", "a > span", "a", text="Buy"),
        _click("https://shop.example/product/1", "a", "a", rage=True, text="Buy"),
        _click("https://shop.example/product/2", "button", ""),
    ])  # fmt: skip
    index.replace_clicks("s", "b", "p", t0 + day, [_click("https://shop.example/cart", "a", "a")])
    index.replace_clicks("other", "c", "p", t0, [_click("https://shop.example/product/1", "a", "a")])

    def urls(sel: Selection) -> list[str]:
        return sorted(c["url"] for c in sel.clicks(index, "click"))

    assert len(urls(Selection("s", "/product/*"))) == 3
    assert len(urls(Selection("s", "https://shop.example/product/1"))) == 2  # tracking parameter dropped
    assert urls(Selection("s", "/cart")) == ["https://shop.example/cart"]
    assert urls(Selection("s", "/*", start=t0 + day)) == ["https://shop.example/cart"]
    assert [c["selector"] for c in Selection("s", "/product/*").clicks(index, "rage")] == ["a"]
    assert Selection("s", "/product/*").urls(index) == [
        "https://shop.example/product/1", "https://shop.example/product/1?utm_source=x",
        "https://shop.example/product/2",
    ]  # fmt: skip
    elements = Selection("s", "/product/*").elements(index, "click")
    assert [(e["selector"], e["clicks"], e["rage"], e["text"]) for e in elements] == [
        ("a", 2, 1, "Buy"), ("button", 1, 0, ""),
    ]  # fmt: skip
    assert elements[0]["inner"] == [{"selector": "a > span", "clicks": 1}]
