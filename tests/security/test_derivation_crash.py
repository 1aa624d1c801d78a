"""Derived data survives crashes (issue 8, item 15).

Post-ingest derivation (keyframes, click and move facts) is a durable queue
in the index: the work row is written in the chunk row's transaction, claimed
with a lease, re-claimed after a crash, and removed only once the derived data
is written. A collector killed with SIGKILL while deriving completes every
acknowledged page view after a restart, without `reindex`.
"""

from __future__ import annotations

import concurrent.futures
import http.client
import time
from collections.abc import Callable
from pathlib import Path

import orjson
from starlette.testclient import TestClient

from sessionlens import codec, keys
from sessionlens.app import create_app
from sessionlens.derivation.clicks import ClickDeriver
from sessionlens.derivation.derivations import Context
from sessionlens.derivation.worker import Worker
from sessionlens.heatmap.signals import Thresholds
from sessionlens.index import Index
from sessionlens.ingest import row_for_stored_chunk
from sessionlens.replay.pageview import PageViewReader
from sessionlens.settings import Settings
from sessionlens.sites import Site
from sessionlens.stores.local import LocalStore
from tests.conftest import SITE_ORIGIN
from tests.helpers import batch, click_event, meta_event, new_id, settings_with
from tests.live import LiveCollector, wait_until


def big_snapshot(t: int, n: int) -> list:
    """A snapshot of n elements: enough DOM for derivation to take a while."""
    nodes = [[1, None, None, 9], [2, 1, None, 1, "html", {}], [3, 2, None, 1, "body", {}]]
    for i in range(n):
        nodes.append([10 + 2 * i, 3, None, 1, "button", {"id": f"b{i}", "class": "item"}])
        nodes.append([11 + 2 * i, 10 + 2 * i, None, 3, f"button number {i}"])
    return ["snapshot", t, 0, True, nodes]


def page_view_batches(sid: str, pid: str, t0: int, nodes: int = 300) -> list[dict]:
    first = [meta_event(0), big_snapshot(5, nodes), click_event(100), click_event(2000, 400, 300)]
    mutation = ["mutation", 6100, [], [], [[10, "class", "pressed"]], []]
    return [
        batch(sid, pid, 0, first, t0),
        batch(sid, pid, 1, [click_event(6000), mutation, click_event(7000, 10, 10)], t0),
        batch(sid, pid, 2, [click_event(12_000, 50, 60)], t0),
    ]


def clicks_in_chunks(store: LocalStore, site: str, sid: str, pid: str) -> int:
    reader = PageViewReader(store)
    return sum(1 for _, e in reader.events(site, sid, pid) if e[0] == "click")


# -- the queue in the index ------------------------------------------------------


def chunk_rows(site: Site, sid: str, pid: str, t0: int) -> list:
    rows = []
    for b in page_view_batches(sid, pid, t0, nodes=5):
        chunk = {**b, "site": site.key, "received": t0, "ua": ""}
        rows.append(row_for_stored_chunk(chunk, 100))
    return rows


def test_work_is_recorded_with_the_chunk_and_a_crashed_claim_is_taken_again(index: Index, site: Site) -> None:
    sid, pid = new_id(), new_id()
    index.record_chunks(chunk_rows(site, sid, pid, 1_000)).result()
    queued = index.query("SELECT site, sid, pid, claimed_by FROM derivation_queue")
    assert queued == [{"site": site.key, "sid": sid, "pid": pid, "claimed_by": None}]

    # Worker A claims and dies; nobody else gets the row until its lease expires.
    (a,) = index.claim_work("A", now_ms=10_000, lease_ms=5_000, max_attempts=5)
    assert index.claim_work("B", now_ms=14_999, lease_ms=5_000, max_attempts=5) == []
    (b,) = index.claim_work("B", now_ms=15_000, lease_ms=5_000, max_attempts=5)
    assert b.page_view == a.page_view == (site.key, sid, pid)

    # A chunk arriving while B works keeps the row for another pass.
    more = row_for_stored_chunk({**batch(sid, pid, 3, [click_event(20_000)], 1_000), "site": site.key,
                                 "received": 1, "ua": ""}, 10)  # fmt: skip
    index.record_chunks([more]).result()
    index.finish_work(b, "B")
    (again,) = index.claim_work("B", now_ms=15_001, lease_ms=5_000, max_attempts=5)
    assert again.generation == b.generation + 1
    index.finish_work(again, "B")
    assert index.query("SELECT * FROM derivation_queue") == []


def test_a_failing_derivation_is_retried_then_given_up_until_a_new_chunk(index: Index, site: Site) -> None:
    sid, pid = new_id(), new_id()
    index.record_chunks(chunk_rows(site, sid, pid, 1_000)).result()
    now = 0
    for attempt in range(1, 4):
        (item,) = index.claim_work("W", now_ms=now, lease_ms=1_000, max_attempts=3)
        assert item.attempts == attempt
        index.fail_work(item, "W", retry_at_ms=now + 10, error="boom")
        assert index.claim_work("W", now_ms=now + 9, lease_ms=1_000, max_attempts=3) == []
        now += 10
    assert index.claim_work("W", now_ms=now + 10**9, lease_ms=1_000, max_attempts=3) == []
    assert index.work_backlog(3) == {"pending": 0, "failed": 1}
    index.record_chunks(chunk_rows(site, sid, pid, 1_000)[:1]).result()
    assert len(index.claim_work("W", now_ms=now, lease_ms=1_000, max_attempts=3)) == 1


def test_incremental_click_facts_equal_a_replay_from_scratch(
    store: LocalStore, index: Index, site: Site
) -> None:
    sid, pid = new_id(), new_id()
    t0 = int(time.time() * 1000)
    reader = PageViewReader(store)
    deriver = ClickDeriver()
    view = (site.key, sid, pid)
    batches = page_view_batches(sid, pid, t0, nodes=20)
    # Chunks arrive out of order (seq 2 before seq 1): the kept replay must start over.
    for b in (batches[0], batches[2], batches[1]):
        chunk = {**b, "site": site.key, "received": t0, "ua": ""}
        store.put(keys.chunk_key(keys.ChunkAddress(site.key, sid, pid, b["seq"])), codec.encode(chunk))
        deriver.derive(index, reader, Thresholds(), view)
    incremental = index.query("SELECT * FROM clicks WHERE pid = ? ORDER BY t", (pid,))
    deriver.derive(index, reader, Thresholds(), view, rebuild=True)
    assert index.query("SELECT * FROM clicks WHERE pid = ? ORDER BY t", (pid,)) == incremental
    assert len(incremental) == 5 and any(c["dead"] for c in incremental)


def test_work_left_by_a_stopped_collector_is_derived_when_one_starts_again(
    settings: Settings, store: LocalStore, index: Index, site: Site, index_location: dict
) -> None:
    """No worker ran (as after a kill): the next app's worker derives from the queue alone."""
    off = settings_with(settings, derivation_worker=False)
    sid, pid = new_id(), new_id()
    t0 = int(time.time() * 1000)
    with TestClient(create_app(off, store=store, index=index), headers={"Origin": SITE_ORIGIN}) as c:
        for b in page_view_batches(sid, pid, t0, nodes=20):
            assert c.post(f"/ingest/{site.key}", content=orjson.dumps(b)).status_code == 200
    assert index.query("SELECT count(*) AS n FROM clicks")[0]["n"] == 0
    assert PageViewReader(store).keyframe_times(site.key, sid, pid) == []

    restarted = Index(**index_location)
    app = create_app(settings, store=store, index=restarted)
    with TestClient(app):
        assert app.state.derivation.wait_idle(60)
    assert len(index.query("SELECT * FROM clicks WHERE pid = ?", (pid,))) == 5
    assert PageViewReader(store).keyframe_times(site.key, sid, pid)
    assert index.query("SELECT * FROM derivation_queue") == []


def test_sessionlens_worker_once_derives_what_is_queued(settings: Settings, store: LocalStore, index: Index,
                                                       site: Site) -> None:  # fmt: skip
    sid, pid = new_id(), new_id()
    index.record_chunks(chunk_rows(site, sid, pid, int(time.time() * 1000))).result()
    for b in page_view_batches(sid, pid, 0, nodes=5):
        chunk = {**b, "site": site.key, "received": 0, "ua": ""}
        store.put(keys.chunk_key(keys.ChunkAddress(site.key, sid, pid, b["seq"])), codec.encode(chunk))
    worker = Worker(Context(store, index, PageViewReader(store)))
    assert worker.drain() == 1
    assert len(index.query("SELECT * FROM clicks WHERE pid = ?", (pid,))) == 5
    assert worker.wait_idle(1)


# -- kill -9 of a live collector while it derives ----------------------------------


def post_page_views(collector: LiveCollector, site: Site, count: int) -> list[tuple[str, str]]:
    """Post `count` page views (3 batches each) from 4 clients; returns the acknowledged ones."""
    t0 = int(time.time() * 1000) - 60_000

    def one(_: int) -> tuple[str, str]:
        sid, pid = new_id(), new_id()
        conn = http.client.HTTPConnection("127.0.0.1", collector.port, timeout=30)
        try:
            for b in page_view_batches(sid, pid, t0):
                conn.request("POST", f"/ingest/{site.key}", orjson.dumps(b), {"Origin": SITE_ORIGIN})
                response = conn.getresponse()
                assert response.status == 200, response.read()
                response.read()
        finally:
            conn.close()
        return sid, pid

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        return list(pool.map(one, range(count)))


def test_kill_9_while_deriving_then_restart_completes_every_page_view(
    tmp_path: Path, new_collector: Callable[..., LiveCollector]
) -> None:
    collector = new_collector(tmp_path / "data", env={"SESSIONLENS_DERIVATION_LEASE_SECONDS": "2"})
    collector.start()
    try:
        site = collector.add_site(SITE_ORIGIN)
        acked: list[tuple[str, str]] = []
        for _ in range(2):
            acked += post_page_views(collector, site, 60)
            collector.kill()  # right after the last acknowledgement, while derivation is behind
            collector.start()
        store = collector.store
        reader = PageViewReader(store)
        expected = {pid: clicks_in_chunks(store, site.key, sid, pid) for sid, pid in acked}
        assert all(n == 5 for n in expected.values())

        def incomplete() -> list[str]:
            counts = {r["pid"]: r["n"] for r in collector.index_rows(
                "SELECT pid, count(*) AS n FROM clicks WHERE site = ? GROUP BY pid", (site.key,))}  # fmt: skip
            return [
                pid
                for sid, pid in acked
                if counts.get(pid) != expected[pid] or not reader.keyframe_times(site.key, sid, pid)
            ]

        wait_until(lambda: not incomplete(), timeout=120, interval=0.5, message="every page view derived")
        assert collector.index_rows("SELECT * FROM derivation_queue") == []
    finally:
        collector.stop()
