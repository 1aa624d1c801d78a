"""The index is derived: rebuilding it from chunks alone gives the same rows."""

from __future__ import annotations

import time

import orjson
from starlette.testclient import TestClient

from sessionlens.index import Index
from sessionlens.reindex import reindex
from sessionlens.sites import Site
from sessionlens.stores.local import LocalStore
from tests.helpers import batch, click_event, meta_event, new_id, snapshot_event

TABLES = ("chunks", "page_views", "page_urls", "sessions")


def snapshot_of(index: Index) -> dict[str, list[dict]]:
    out = {}
    for table in TABLES:
        rows = index.query(f"SELECT * FROM {table}")
        for row in rows:
            row.pop("received", None)
        out[table] = sorted(rows, key=lambda r: tuple(str(v) for v in r.values()))
    return out


def ingest_session(client: TestClient, site: Site) -> dict:
    sid = new_id()
    t0 = int(time.time() * 1000) - 3_600_000  # within the accepted window of the server clock
    first, second = new_id(), new_id()
    batches = [
        batch(
            sid,
            first,
            0,
            [
                meta_event(0, "https://shop.example/?utm_source=news&utm_campaign=fall"),
                snapshot_event(3),
                click_event(1000),
            ],
            t0,
        ),
        batch(
            sid,
            first,
            1,
            [
                click_event(2000),
                ["scroll", 2100, None, 0, 1800, 1280, 5000],
                ["nav", 2500, "https://shop.example/app/inbox", "push", "Inbox"],
            ],
            t0,
        ),
        batch(
            sid,
            first,
            2,
            [["error", 3000, "error", "boom", "app.js", 1, 2, ""], ["input", 3100, 5, "***", None]],
            t0,
        ),
        batch(
            sid,
            second,
            0,
            [
                meta_event(0, "https://shop.example/product/1"),
                snapshot_event(3),
                click_event(400),
                ["custom", 500, "add_to_cart", {"sku": "A1"}],
            ],
            t0 + 10_000,
        ),
    ]
    for b in batches:
        r = client.post(f"/ingest/{site.key}", content=orjson.dumps(b))
        assert r.status_code == 200, r.text
    return {"sid": sid, "first": first, "second": second, "t0": t0}


def test_session_and_page_view_rows_hold_what_researchers_filter_on(
    client: TestClient, site: Site, index: Index
) -> None:
    ids = ingest_session(client, site)
    session = index.session(ids["sid"])
    assert session["page_count"] == 2
    assert (
        session["clicks"] == 3
        and session["errors"] == 1
        and session["inputs"] == 1
        and session["customs"] == 1
    )
    assert session["entry_url"].startswith("https://shop.example/?utm_source")
    assert session["exit_url"] == "https://shop.example/product/1"
    assert session["utm_source"] == "news" and session["utm_campaign"] == "fall"
    assert session["start_time"] == ids["t0"]
    assert session["duration_ms"] == 10_500
    assert session["device"] == "desktop" and session["browser"] == "Chrome" and session["os"] == "Linux"
    assert session["vw"] == 1280 and session["batches"] == 4
    views = index.page_views(site.key, ids["sid"])
    assert [v["pid"] for v in views] == [ids["first"], ids["second"]]
    assert views[0]["urls"] == [
        "https://shop.example/?utm_source=news&utm_campaign=fall",
        "https://shop.example/app/inbox",
    ]
    assert views[0]["max_scroll_y"] == 1800 and views[0]["page_height"] == 5000
    # Active time: clicks at 1000 and 2000 ms and the later actions, gaps capped at 5 s.
    assert 0 < views[0]["active_ms"] <= 3100


def test_reindex_rebuilds_identical_rows_from_chunks_alone(
    client: TestClient, site: Site, store: LocalStore, index: Index
) -> None:
    for _ in range(3):
        ingest_session(client, site)
    # Sessions carry derived signal counts (migration 0008): compare once the worker is done.
    assert client.app.state.derivation.wait_idle()
    before = snapshot_of(index)
    index.clear()
    assert index.sessions() == []
    result = reindex(store, index)
    assert result.chunks == 12 and result.sessions == 3 and result.unreadable == []
    assert snapshot_of(index) == before


def test_reindex_skips_a_damaged_chunk_and_keeps_it(
    client: TestClient, site: Site, store: LocalStore, index: Index
) -> None:
    ids = ingest_session(client, site)
    victim = next(k for k in store.list("v1/") if ids["second"] in k)
    store.put(victim, b"garbage")
    result = reindex(store, index)
    assert result.chunks == 3 and len(result.unreadable) == 1
    assert store.get(victim) == b"garbage"
    assert index.session(ids["sid"])["page_count"] == 1
