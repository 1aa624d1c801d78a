"""Many collectors, many workers (issue 11): separate processes sharing one S3 server and one PostgreSQL.

Two collectors (`serve --role ingest`), one viewer (`serve --role viewer`) and
two workers (`sessionlens worker`) run on loopback. A bounded load generator
sends every page view's batches in order, round-robin over the collectors,
re-sending some to the other collector. Mid-run one collector and one worker
are killed with SIGKILL and started again. Afterwards:

- every acknowledged batch is stored exactly once (the bucket is listed);
- every page view's derived data is complete (keyframes, click facts) and the
  viewer, another process, shows it;
- the index equals what `reindex` rebuilds from storage into a fresh database.
"""

from __future__ import annotations

import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import orjson
import pytest

from sessionlens import codec, keys
from sessionlens.auth.users import Accounts
from sessionlens.index import REBUILT_TABLES, Index
from sessionlens.ingest import content_digest
from sessionlens.settings import load_settings
from sessionlens.sites import SiteRegistry, new_site
from sessionlens.stores.factory import open_store
from tests.cluster import Cluster, new_database, s3_env
from tests.helpers import batch, click_event, new_id

ORIGIN = "https://shop.example"
SESSIONS = 20
PAGES_PER_SESSION = 2  # 40 page views
BATCHES = 6  # per page view: 240 batches
THREADS = 8
RESEND_EVERY = 4  # every 4th acknowledged batch is sent again to the other collector
DELIVERY_TRIES = 100


@pytest.fixture
def cluster(tmp_path: Path, moto_server: str, postgres: Any, aws_env: None) -> Iterator[Cluster]:
    env = s3_env(moto_server, f"mp-{new_id().lower().replace('_', '-')[:12]}")
    env.update(
        {
            "SESSIONLENS_INDEX_URL": new_database(postgres.url, "mp"),
            "SESSIONLENS_DERIVATION_LEASE_SECONDS": "3",  # the killed worker's claims come back soon
            "SESSIONLENS_SITE_CACHE_SECONDS": "1",
        }
    )
    c = Cluster(tmp_path, env)
    try:
        yield c
    finally:
        c.stop_all()


def _settings(c: Cluster) -> Any:
    return load_settings(environ={**c._environ()})


def _page_views() -> list[tuple[str, str, int]]:
    t0 = int(time.time() * 1000)
    return [(sid, new_id(), t0 + i * 1000) for sid in (new_id() for _ in range(SESSIONS)) for i in range(PAGES_PER_SESSION)]  # fmt: skip


def _batch(sid: str, pid: str, t0: int, seq: int) -> dict[str, Any]:
    if seq == 0:
        return batch(sid, pid, 0, t0=t0)  # meta, snapshot, one click
    return batch(sid, pid, seq, [click_event(100 * seq, x=10 * seq, y=20 * seq)], t0=t0)


class Load:
    """Sends batches to the collectors; retries on the other one until acknowledged (as the recorder)."""

    def __init__(self, collectors: list[Any], site: str) -> None:
        self.collectors = collectors
        self.site = site
        self.acked: dict[tuple[str, str, int], dict[str, Any]] = {}
        self.resends = 0
        self.retries = 0
        self._turn = 0
        self._lock = threading.Lock()

    def _post(self, url: str, body: bytes) -> int | None:
        req = urllib.request.Request(
            f"{url}/ingest/{self.site}", data=body, method="POST",
            headers={"Origin": ORIGIN, "Content-Type": "application/json", "User-Agent": "multiprocess-test"},
        )  # fmt: skip
        try:
            with urllib.request.urlopen(req, timeout=15) as r:
                return r.status
        except urllib.error.HTTPError as exc:
            return exc.code
        except OSError:
            return None  # refused or cut: the collector is down

    def deliver(self, b: dict[str, Any]) -> None:
        body = orjson.dumps(b)
        with self._lock:
            self._turn += 1
            first = self._turn
        for attempt in range(DELIVERY_TRIES):
            target = self.collectors[(first + attempt) % len(self.collectors)]
            status = self._post(target.url, body)
            if status == 200:
                break
            # Only "down" and "busy, retry" are expected here; anything else is a bug.
            assert status in (None, 503), f"batch {b['seq']} of {b['pid']} refused with {status}"
            with self._lock:
                self.retries += 1
            time.sleep(0.1)
        else:
            raise AssertionError(f"batch {b['seq']} of {b['pid']} never acknowledged")
        with self._lock:
            self.acked[(b["sid"], b["pid"], b["seq"])] = b
            resend = len(self.acked) % RESEND_EVERY == 0
        if resend:  # the same bytes to the other collector: acknowledged again, stored once
            other = self.collectors[(first + attempt + 1) % len(self.collectors)]
            for _ in range(DELIVERY_TRIES):
                status = self._post(other.url, body)
                if status == 200:
                    break
                assert status in (None, 503), f"re-send refused with {status}"
                other = self.collectors[(self.collectors.index(other) + 1) % len(self.collectors)]
                time.sleep(0.1)
            with self._lock:
                self.resends += 1


def _rows(index: Index, table: str) -> list[tuple]:
    return sorted(tuple(r.values()) for r in index.query(f"SELECT * FROM {table}"))  # noqa: S608 - fixed names


def test_collectors_and_workers_killed_mid_run_lose_nothing(cluster: Cluster) -> None:
    settings = _settings(cluster)
    store = open_store(settings)
    site = new_site("Shop", [ORIGIN])
    SiteRegistry(store).save(site)
    accounts = Accounts(store)
    accounts.add_user("ops", "a long enough password")
    token = accounts.create_token("ops", "multiprocess test")

    with ThreadPoolExecutor(5) as starting:  # start in parallel: each process imports for a second or two
        a, b, viewer = starting.map(lambda args: cluster.serve(*args), [("a", "ingest"), ("b", "ingest"), ("viewer", "viewer")])  # fmt: skip
        starting.submit(cluster.worker, "w1")
        starting.submit(cluster.worker, "w2")
    load = Load([a, b], site.key)
    views = _page_views()

    # Round 1 (seq 0-1): A and worker 1 are killed once a sixth of the batches is in.
    # Round 2 (seq 2-3): A is down; its share goes to B. Round 3 (seq 4-5): A is back.
    total = len(views) * BATCHES
    killed = threading.Event()

    def killer() -> None:
        while len(load.acked) < total // 6:
            time.sleep(0.01)
        cluster.kill("a")
        cluster.kill("w1")
        killed.set()

    kill_thread = threading.Thread(target=killer, daemon=True)
    kill_thread.start()
    with ThreadPoolExecutor(THREADS) as pool:
        for first in (0, 2, 4):
            if first == 4:
                cluster.restart("a")
                cluster.restart("w1")
            page_views = [(sid, pid, t0) for sid, pid, t0 in views]
            list(pool.map(lambda v, f=first: [load.deliver(_batch(*v, s)) for s in (f, f + 1)], page_views))
            if first == 0:
                assert killed.wait(30), "the kill never happened"
    kill_thread.join(5)
    assert cluster.procs["a"].starts == 2 and cluster.procs["w1"].starts == 2
    assert len(load.acked) == total and load.resends >= total // RESEND_EVERY - 1
    assert load.retries > 0  # batches meant for the killed collector went to the other one

    index = Index(settings.index_url)
    try:
        # Derivation by the two workers (one of them restarted) finishes by itself.
        deadline = time.monotonic() + 60
        while index.work_backlog(settings.derivation_max_attempts)["pending"] and time.monotonic() < deadline:
            time.sleep(0.25)
        assert index.work_backlog(settings.derivation_max_attempts) == {"pending": 0, "failed": 0}

        # Every acknowledged batch stored exactly once, as sent (nothing extra, nothing rewritten).
        stored = list(store.list(keys.CHUNK_ROOT))
        chunk_keys = [k for k in stored if keys.parse_chunk_key(k)]
        assert len(chunk_keys) == len(set(chunk_keys)) == total
        expected = {keys.chunk_key(keys.ChunkAddress(site.key, sid, pid, seq)): b for (sid, pid, seq), b in load.acked.items()}  # fmt: skip
        assert set(chunk_keys) == set(expected)
        for key in chunk_keys:
            chunk, sent = codec.decode(store.get(key)), expected[key]
            assert chunk["digest"] == content_digest(site.key, sent["sid"], sent["pid"], sent["seq"], sent["t0"], sent["events"])  # fmt: skip
        assert index.query("SELECT COUNT(*) AS n FROM chunks")[0]["n"] == total

        # Every page view's derived data is complete: keyframes in the bucket, one click fact per click.
        with_keyframes = {tuple(k.split("/")[4:6]) for k in stored if "/keyframes/" in k}
        assert with_keyframes == {(sid, pid) for sid, pid, _ in views}
        clicks = index.query("SELECT sid, pid, COUNT(*) AS n FROM clicks GROUP BY sid, pid")
        assert {(r["sid"], r["pid"]): r["n"] for r in clicks} == {
            (sid, pid): BATCHES for sid, pid, _ in views
        }

        # The viewer (another process) shows what the workers derived.
        for sid, pid, _ in views[:4]:
            req = urllib.request.Request(f"{viewer.url}/api/sessions/{sid}/pages/{pid}/state?at=1000",
                                         headers={"Authorization": f"Bearer {token}"})  # fmt: skip
            with urllib.request.urlopen(req, timeout=15) as r:
                assert r.status == 200 and orjson.loads(r.read())
        before = {t: _rows(index, t) for t in REBUILT_TABLES}
    finally:
        index.close()

    # The index equals what reindex rebuilds from storage alone, in a fresh database.
    fresh_url = new_database(settings.index_url.rsplit("/", 1)[0] + "/postgres", "mp_rebuilt")
    done = cluster.run("reindex", "--no-keyframes", env={"SESSIONLENS_INDEX_URL": fresh_url})
    assert done.returncode == 0, done.stderr
    rebuilt = Index(fresh_url)
    try:
        for table in REBUILT_TABLES:
            assert _rows(rebuilt, table) == before[table], f"{table} differs from the rebuilt index"
    finally:
        rebuilt.close()

    # A site change made once (in the bucket) reaches every collector within site_cache_seconds.
    SiteRegistry(store).save(new_site("Shop", ["https://elsewhere.example"], key=site.key))
    late = orjson.dumps(_batch(new_id(), new_id(), int(time.time() * 1000), 0))
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and {load._post(c.url, late) for c in (a, b)} != {403}:
        time.sleep(0.2)
    assert {load._post(c.url, late) for c in (a, b)} == {403}
    assert len([k for k in store.list(keys.CHUNK_ROOT) if keys.parse_chunk_key(k)]) == total
