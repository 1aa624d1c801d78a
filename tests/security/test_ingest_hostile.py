"""Hostile input on the ingest path (issue 8, items 2, 6, 10-14, 16).

Every refusal is a JSON 4xx (or a 503 the recorder retries) and leaves
storage and the index exactly as they were.
"""

from __future__ import annotations

import concurrent.futures
import gzip
import os
import secrets
import select
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import orjson
import pytest
from starlette.testclient import TestClient

from sessionlens import codec, keys
from sessionlens.app import create_app
from sessionlens.index import Index
from sessionlens.scrub import scrub_value
from sessionlens.settings import Settings, load_settings
from sessionlens.sites import Site, SiteRegistry, new_site
from sessionlens.stores.local import LocalStore
from sessionlens.stores.s3 import S3Store
from tests.conftest import SITE_ORIGIN
from tests.helpers import batch, click_event, meta_event, new_id, settings_with, snapshot_event

HEADERS = {"Content-Type": "text/plain", "Origin": SITE_ORIGIN}


def post(client: TestClient, site: Site, body: bytes | dict, **headers: str):
    data = body if isinstance(body, bytes) else orjson.dumps(body)
    return client.post(f"/ingest/{site.key}", content=data, headers={**HEADERS, **headers})


def chunk_keys(store: Any) -> list[str]:
    return [k for k in store.list(keys.CHUNK_ROOT) if keys.parse_chunk_key(k)]


def chunk_rows(index: Index) -> list[dict]:
    return index.query("SELECT site, sid, pid, seq, t0, received, events FROM chunks ORDER BY sid, pid, seq")


def chain(depth: int, first_id: int = 10, parent: int | None = 4) -> list[list[Any]]:
    """Node records of a chain of nested divs `depth` levels deep under `parent`."""
    nodes = []
    for i in range(depth):
        nodes.append([first_id + i, parent if i == 0 else first_id + i - 1, None, 1, "div", {}])
    return nodes


def snapshot_with(extra: list[list[Any]]) -> list[Any]:
    return ["snapshot", 5, 0, True, [*snapshot_event()[4], *extra]]


# -- item 2: every number range-checked, integers where integers are meant ----

NOW = int(time.time() * 1000)
DAY = 86_400_000


def _with_event(event: list[Any]) -> dict:
    return batch(events=[meta_event(), snapshot_event(), event])


NUMBER_CASES = {
    "seq as float": ({**batch(), "seq": 3.0}, "seq"),
    "t0 of 2**63": ({**batch(), "t0": 2**63}, "t0"),
    "t0 of 2**64 (parsed as float)": (
        orjson.dumps({**batch(), "t0": 12345}).replace(b'"t0":12345', b'"t0":' + str(2**64).encode()),
        "t0",
    ),
    "t0 as float": ({**batch(), "t0": float(NOW)}, "t0"),
    "t0 a year ago": ({**batch(), "t0": NOW - 365 * DAY}, "t0"),
    "t0 a year ahead": ({**batch(), "t0": NOW + 365 * DAY}, "t0"),
    "t0 zero": ({**batch(), "t0": 0}, "t0"),
    "v as float": ({**batch(), "v": 1.0}, "v"),
    "event time as float": (_with_event(click_event(100)[:1] + [100.0] + click_event(100)[2:]), "(click) t"),
    "click target as float": (_with_event(["click", 9, 5.0, *click_event(9)[3:]]), "(click) target"),
    "click button as float": (_with_event([*click_event(9)[:10], 0.0, *click_event(9)[11:]]), "button"),
    "move x huge": (_with_event(["move", 9, 1e300, 5, None]), "(move) x"),
    "move y negative huge": (_with_event(["move", 9, 5, -1e300, None]), "(move) y"),
    "scroll height over 2^53": (_with_event(["scroll", 9, None, 0, 0, 1280, 2**60]), "(scroll) sh"),
    "node id as float": (batch(events=[meta_event(), snapshot_with([[7.0, 4, None, 1, "p", {}]])]), "nodes"),
    "node type as float": (
        batch(events=[meta_event(), snapshot_with([[7, 4, None, 1.0, "p", {}]])]),
        "nodes",
    ),
    "mutation remove id as float": (_with_event(["mutation", 9, [5.0], [], [], []]), "removes"),
    "error line as float": (_with_event(["error", 9, "error", "x", "y", 1.5, 2, ""]), "(error) line"),
    "custom prop over 2^53": (_with_event(["custom", 9, "order", {"total": 2**63}]), "props['total']"),
    "custom prop huge float": (_with_event(["custom", 9, "order", {"x": [1.5e308]}]), "props['x'][0]"),
    "snapshot part as float": (batch(events=[meta_event(), ["snapshot", 5, 0.0, True, []]]), "part"),
}


@pytest.mark.parametrize("case", list(NUMBER_CASES))
def test_numbers_out_of_range_or_not_integers_get_422_naming_the_field(
    client: TestClient, site: Site, store: LocalStore, index: Index, case: str
) -> None:
    body, field = NUMBER_CASES[case]
    r = post(client, site, body)
    assert r.status_code == 422, r.text
    assert field in r.json()["error"], r.json()
    assert chunk_keys(store) == []
    assert chunk_rows(index) == []


# Non-finite literals (1e400, NaN, Infinity) never reach these checks: orjson
# refuses them while parsing (400, "not valid JSON").


def test_the_t0_window_is_a_setting_and_numbers_inside_the_limits_are_kept_exactly(
    settings: Settings, store: LocalStore, index: Index, site: Site
) -> None:
    with TestClient(create_app(settings_with(settings, t0_window_days=400), store=store, index=index)) as c:
        assert post(c, site, {**batch(), "t0": NOW - 401 * DAY}).status_code == 422
        events = [meta_event(), ["move", 9, 2**53 - 1, -0.5, None], ["custom", 10, "x", {"n": -(2**53) + 1}]]
        assert post(c, site, batch(t0=NOW - 365 * DAY, events=events)).status_code == 200
    (key,) = chunk_keys(store)
    stored = codec.decode(store.get(key))
    assert stored["events"][1][2] == 2**53 - 1 and stored["events"][2][3] == {"n": -(2**53) + 1}


# -- item 6 and 12: depth limits, iterative walks, JSON 4xx only -------------


def deeply_nested_custom(levels: int) -> bytes:
    inner = b"[" * levels + b"]" * levels
    return orjson.dumps(_with_event(["custom", 9, "deep", {"x": "PLACEHOLDER"}])).replace(
        b'"PLACEHOLDER"', inner
    )


@pytest.mark.parametrize("levels", [100, 500, 990, 1020])
def test_deep_json_nesting_gets_a_json_4xx(
    client: TestClient, site: Site, store: LocalStore, levels: int
) -> None:
    r = post(client, site, deeply_nested_custom(levels))
    assert r.status_code in (400, 422), r.text
    assert "nest" in r.json()["error"] or "depth" in r.json()["error"]
    assert chunk_keys(store) == []


def test_deep_dom_in_a_snapshot_gets_422(client: TestClient, site: Site, store: LocalStore) -> None:
    r = post(client, site, batch(events=[meta_event(), snapshot_with(chain(3000))]))
    assert r.status_code == 422, r.text
    assert "max_dom_depth" in r.json()["error"]
    assert chunk_keys(store) == []
    # Only depth counts: cycles in hostile parent ids end the walk, wide trees
    # are fine, and deep-but-real pages (parsers stop at 512) are accepted.
    cycle = [[20, 21, None, 1, "div", {}], [21, 20, None, 1, "div", {}]]
    assert post(client, site, batch(events=[meta_event(), snapshot_with(cycle)])).status_code == 200
    wide = [[10 + i, 4, None, 1, "li", {}] for i in range(20_000)]
    assert post(client, site, batch(events=[meta_event(), snapshot_with(wide)])).status_code == 200
    assert post(client, site, batch(events=[meta_event(), snapshot_with(chain(600))])).status_code == 200


def test_deep_dom_sent_child_first_or_spread_over_mutations_gets_422(
    client: TestClient, site: Site, store: LocalStore
) -> None:
    reversed_chain = list(reversed(chain(1500)))
    r = post(client, site, batch(events=[meta_event(), snapshot_with(reversed_chain)]))
    assert r.status_code == 422, r.text
    nodes = chain(1200)
    mutations = [["mutation", 10 + i, [], nodes[i * 100 : (i + 1) * 100], [], []] for i in range(12)]
    r = post(client, site, batch(events=[meta_event(), snapshot_event(), *mutations]))
    assert r.status_code == 422, r.text
    assert chunk_keys(store) == []


def test_scrubber_walks_any_depth_without_recursion() -> None:
    value: Any = "jane.doe@example.com"
    for _ in range(50_000):
        value = [value]
    out = scrub_value(value)
    for _ in range(50_000):
        out = out[0]
    assert out == "*" * len("jane.doe@example.com")


def test_anything_raising_inside_ingest_is_a_json_4xx(
    settings: Settings, store: LocalStore, index: Index, site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(value: Any, level: int = 3) -> bytes:
        raise ValueError("Deeply nested object")

    monkeypatch.setattr(codec, "encode", broken)
    app = create_app(settings, store=store, index=index)
    with TestClient(app, raise_server_exceptions=False) as c:
        r = post(c, site, batch())
    assert 400 <= r.status_code < 500, r.text
    assert r.headers["content-type"] == "application/json" and "error" in r.json()
    assert r.headers["access-control-allow-origin"] == SITE_ORIGIN


# -- item 16: gzip trailing garbage, /healthz ---------------------------------


def test_gzip_with_trailing_garbage_is_refused(client: TestClient, site: Site, store: LocalStore) -> None:
    body = gzip.compress(orjson.dumps(batch())) + b"trailing garbage"
    r = post(client, site, body)
    assert r.status_code == 400 and "after the end of the gzip" in r.json()["error"]
    two_members = gzip.compress(orjson.dumps(batch())) + gzip.compress(b"{}")
    assert post(client, site, two_members).status_code == 400
    assert chunk_keys(store) == []


def test_healthz_checks_storage_and_index(
    settings: Settings, store: LocalStore, index: Index, site: Site
) -> None:
    app = create_app(settings, store=store, index=index)
    with TestClient(app) as c:
        assert c.get("/healthz").json() == {"ok": True}
        health_dir = Path(store.root) / "health"
        if health_dir.exists():
            for f in health_dir.iterdir():
                f.unlink()
            health_dir.rmdir()
        health_dir.write_bytes(b"a file where the probe's directory must be")
        r = c.get("/healthz")
        assert r.status_code == 503
        assert set(r.json()["failed"]) == {"storage"} and "storage" in r.json()["error"]
        health_dir.unlink()
        assert c.get("/healthz").status_code == 200

        def failing_submit(fn: Any) -> concurrent.futures.Future:
            future: concurrent.futures.Future = concurrent.futures.Future()
            future.set_exception(sqlite3.OperationalError("disk I/O error"))
            return future

        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(index, "submit", failing_submit)
            r = c.get("/healthz")
        assert r.status_code == 503 and set(r.json()["failed"]) == {"index"}
        assert "disk I/O error" in r.json()["error"]


# -- item 11: first write wins ------------------------------------------------


def test_identical_resend_is_acknowledged_and_a_different_one_refused(
    client: TestClient, site: Site, store: LocalStore, index: Index
) -> None:
    first = batch()
    assert post(client, site, first).status_code == 200
    (key,) = chunk_keys(store)
    blob = store.get(key)
    rows = chunk_rows(index)
    time.sleep(0.01)  # a rewrite would carry a later `received`
    again = post(client, site, gzip.compress(orjson.dumps(first)))
    assert again.status_code == 200 and again.json()["seq"] == 0
    assert store.get(key) == blob
    forged = {**first, "events": [meta_event(url="https://evil.example/"), click_event(5)]}
    r = post(client, site, forged)
    assert r.status_code == 409, r.text
    assert "first write wins" in r.json()["error"]
    assert r.headers["access-control-allow-origin"] == SITE_ORIGIN
    assert store.get(key) == blob
    assert chunk_rows(index) == rows
    assert index.session(first["sid"])["entry_url"] == "https://shop.example/"
    forged_t0 = {**first, "t0": first["t0"] - 1000}
    assert post(client, site, forged_t0).status_code == 409
    assert store.get(key) == blob
    assert codec.decode(blob)["digest"].startswith("sha256:")


def test_resend_of_a_chunk_stored_without_digest_compares_its_content(
    client: TestClient, site: Site, store: LocalStore
) -> None:
    first = batch()
    assert post(client, site, first).status_code == 200
    (key,) = chunk_keys(store)
    legacy = codec.decode(store.get(key))
    del legacy["digest"]
    store.put(key, codec.encode(legacy))
    assert post(client, site, first).status_code == 200
    assert post(client, site, {**first, "events": [click_event(1)]}).status_code == 409
    assert codec.decode(store.get(key)) == legacy


@pytest.mark.parametrize("move", ["renameat2", "link"])
def test_put_if_absent_lets_exactly_one_concurrent_writer_win(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, move: str
) -> None:
    from sessionlens.stores import local

    if move == "link":
        monkeypatch.setattr(local, "_RENAMEAT2", None)
    store = LocalStore(tmp_path / "blobs")
    payloads = [bytes([i]) * 100_000 for i in range(16)]
    won: list[int] = []
    barrier = threading.Barrier(16)

    def writer(i: int) -> None:
        barrier.wait()
        if store.put_if_absent("race/key", payloads[i]):
            won.append(i)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(won) == 1
    assert store.get("race/key") == payloads[won[0]]
    assert list(store.list("race/")) == ["race/key"]
    assert list(store.temp_dir.iterdir()) == []  # the losers' temp files are gone


# -- item 14: the batches-per-session limit under concurrency -----------------


@pytest.fixture
def limited(settings: Settings, store: LocalStore, index: Index, site: Site) -> Iterator[TestClient]:
    with TestClient(
        create_app(settings_with(settings, max_batches_per_session=5), store=store, index=index)
    ) as c:
        yield c


def test_session_limit_holds_under_concurrent_posts(
    limited: TestClient, site: Site, store: LocalStore, index: Index
) -> None:
    sid = new_id()
    bodies = [orjson.dumps(batch(sid, new_id(), 0)) for _ in range(40)]
    statuses: list[int] = []
    barrier = threading.Barrier(40)

    def send(body: bytes) -> None:
        barrier.wait()
        statuses.append(post(limited, site, body).status_code)

    threads = [threading.Thread(target=send, args=(b,)) for b in bodies]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == [200] * 5 + [403] * 35
    assert len(chunk_keys(store)) == 5
    assert index.query("SELECT batches FROM sessions WHERE sid = ?", (sid,))[0]["batches"] == 5


def test_retry_of_a_stored_batch_after_the_limit_is_acknowledged(
    limited: TestClient, site: Site, store: LocalStore
) -> None:
    sid, pid = new_id(), new_id()
    sent = [batch(sid, pid, seq) for seq in range(5)]
    for b in sent:
        assert post(limited, site, b).status_code == 200
    assert post(limited, site, batch(sid, pid, 5)).status_code == 403
    for b in sent:
        r = post(limited, site, b)
        assert r.status_code == 200, r.text
    assert post(limited, site, {**sent[2], "events": [click_event(7)]}).status_code == 409
    assert len(chunk_keys(store)) == 5


# -- item 10: storage errors anywhere on the ingest path -> 503 ---------------


class DroppingProxy:
    """TCP proxy on 127.0.0.1 in front of the S3 server; `dropping` closes
    every new connection at once (RST), as a failing network would."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.dropping = False
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.closed = False
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while not self.closed:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            if self.dropping:
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                conn.close()
                continue
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            for a, b in ((conn, upstream), (upstream, conn)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _pipe(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                if self.dropping:
                    break
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()

    def close(self) -> None:
        self.closed = True
        self.listener.close()


@pytest.fixture
def s3_behind_proxy(moto_server: str, aws_env: None) -> Iterator[tuple[S3Store, DroppingProxy]]:
    bucket = "sl-" + secrets.token_hex(6)
    boto3.client("s3", endpoint_url=moto_server, region_name="us-east-1").create_bucket(Bucket=bucket)
    proxy = DroppingProxy(int(moto_server.rsplit(":", 1)[1]))
    try:
        yield S3Store(bucket=bucket, endpoint_url=f"http://127.0.0.1:{proxy.port}", region="us-east-1"), proxy
    finally:
        proxy.close()


@pytest.mark.parametrize("cached_site", [False, True])
def test_s3_outage_answers_503_with_retry_after_and_cors(
    settings: Settings, index: Index, s3_behind_proxy: tuple[S3Store, DroppingProxy], cached_site: bool
) -> None:
    store, proxy = s3_behind_proxy
    settings = settings_with(settings, site_cache_seconds=3600 if cached_site else 0)
    site = new_site("Shop", [SITE_ORIGIN])
    SiteRegistry(store).save(site)
    with TestClient(create_app(settings, store=store, index=index), raise_server_exceptions=False) as c:
        assert post(c, site, batch()).status_code == 200
        proxy.dropping = True
        lost = batch()
        r = post(c, site, lost)
        assert r.status_code == 503, r.text
        assert r.headers["retry-after"] == "5"
        assert r.headers["access-control-allow-origin"] == SITE_ORIGIN
        assert "storage unavailable" in r.json()["error"]
        pre = c.options(f"/ingest/{site.key}", headers={"Origin": SITE_ORIGIN})
        if not cached_site:
            assert pre.status_code == 503 and pre.headers["access-control-allow-origin"] == SITE_ORIGIN
        assert c.get("/healthz").status_code == 503
        proxy.dropping = False
        assert post(c, site, lost).status_code == 200
        assert len(chunk_keys(store)) == 2


class ResettingStore(LocalStore):
    """A store whose writes fail with a driver error that is not a StoreError."""

    def put_if_absent(self, key: str, data: bytes) -> bool:
        raise ConnectionResetError(104, "Connection reset by peer")

    put = put_if_absent  # type: ignore[assignment]


def test_a_store_raising_something_else_is_still_a_503(
    settings: Settings, index: Index, tmp_path: Path
) -> None:
    good = LocalStore(Path(settings.data_dir) / "blobs")
    site = new_site("Shop", [SITE_ORIGIN])
    SiteRegistry(good).save(site)
    store = ResettingStore(good.root)
    with TestClient(create_app(settings, store=store, index=index), raise_server_exceptions=False) as c:
        r = post(c, site, batch())
    assert r.status_code == 503 and r.headers["retry-after"] == "5"
    assert r.headers["access-control-allow-origin"] == SITE_ORIGIN and "error" in r.json()


# -- orphaned temp files ------------------------------------------------------


def test_orphaned_temp_files_are_swept_when_the_store_opens(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "blobs")
    store.put("v1/a", b"kept")
    old = store.temp_dir / ".tmp-killed-writer"
    old.write_bytes(b"half a chunk")
    os.utime(old, (time.time() - 3600, time.time() - 3600))
    fresh = store.temp_dir / ".tmp-live-writer"
    fresh.write_bytes(b"a concurrent writer's chunk")
    reopened = LocalStore(tmp_path / "blobs")
    assert not old.exists() and fresh.exists()
    assert reopened.swept == 1
    assert reopened.get("v1/a") == b"kept"


# -- item 13: slow clients are cut off; a connection cap ----------------------


def test_serve_passes_a_connection_cap_and_a_header_deadline_to_uvicorn(tmp_path: Path) -> None:
    from sessionlens.http_timeouts import serve_options

    settings = load_settings(
        overrides={"data_dir": str(tmp_path)},
        environ={"SESSIONLENS_MAX_CONNECTIONS": "77", "SESSIONLENS_BACKLOG": "99"},
    )
    options = serve_options(settings)
    assert options["limit_concurrency"] == 77 and options["backlog"] == 99
    assert options["http"].__name__ == "HeaderDeadlineProtocol"


@pytest.fixture
def slow_limited_collector(
    tmp_path: Path, settings: Settings, index_env: dict[str, str]
) -> Iterator[tuple[int, Site]]:
    from tests.helpers import free_port, wait_for_port

    data = Path(settings.data_dir)
    site = new_site("Shop", [SITE_ORIGIN])
    SiteRegistry(LocalStore(data / "blobs")).save(site)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SESSIONLENS_")}
    env.update(SESSIONLENS_BODY_TIMEOUT_SECONDS="2", SESSIONLENS_HEADER_TIMEOUT_SECONDS="2", **index_env)
    cmd = ["serve", "--port", str(port), "--host", "127.0.0.1", "--data-dir", str(data)]
    with open(tmp_path / "collector.log", "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "sessionlens.cli", *cmd], env=env, stdout=log, stderr=log
        )
    try:
        wait_for_port(port, timeout=30)
        yield port, site
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def _slow_client(port: int, site: Site, part: str, outcome: dict[int, str], n: int) -> None:
    """Dribble a request a few bytes every 0.3 s for at most 15 s; record how it ended."""
    body = orjson.dumps(batch())
    head = (
        f"POST /ingest/{site.key} HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: {SITE_ORIGIN}\r\n"
        f"Content-Type: text/plain\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    outcome[n] = "open"
    try:
        if part == "body":
            sock.sendall(head)
            rest = body
        else:
            rest = head + body
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and rest:
            sock.sendall(rest[:3])
            rest = rest[3:]
            ready, _, _ = select.select([sock], [], [], 0.3)
            if ready:
                answer = sock.recv(65536)
                while answer and (more := sock.recv(65536)):  # the answer ends when the server closes
                    answer += more
                if answer.startswith(b"HTTP/1.1 408"):
                    outcome[n] = "408 " + answer.split(b"\r\n\r\n", 1)[1].decode(errors="replace")
                else:
                    outcome[n] = (
                        "closed" if not answer else "answered " + answer[:12].decode(errors="replace")
                    )
                return
        outcome[n] = "open" if rest else "sent everything"
    except OSError:
        outcome[n] = "closed"
    finally:
        sock.close()


def test_slow_clients_are_cut_off_and_normal_batches_still_get_through(
    slow_limited_collector: tuple[int, Site],
) -> None:
    import http.client

    port, site = slow_limited_collector
    outcome: dict[int, str] = {}
    threads = [
        threading.Thread(target=_slow_client, args=(port, site, "body" if n % 2 else "headers", outcome, n))
        for n in range(16)
    ]
    for t in threads:
        t.start()
    time.sleep(0.5)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("POST", f"/ingest/{site.key}", orjson.dumps(batch()), {"Origin": SITE_ORIGIN})
    r = conn.getresponse()
    assert r.status == 200, r.read()
    conn.close()
    for t in threads:
        t.join(timeout=30)
    slow_bodies = [outcome[n] for n in range(16) if n % 2]
    slow_headers = [outcome[n] for n in range(16) if not n % 2]
    assert all(o.startswith("408 ") and orjson.loads(o[4:])["error"] for o in slow_bodies), slow_bodies
    assert all(o == "closed" for o in slow_headers), slow_headers
