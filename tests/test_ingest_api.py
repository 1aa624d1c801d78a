"""The ingest endpoint: what it accepts, what it refuses, and that refusals store nothing."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import orjson
import pytest
from starlette.testclient import TestClient

from sessionlens import codec, keys
from sessionlens.index import Index
from sessionlens.sites import Site
from sessionlens.stores.local import LocalStore
from tests.conftest import SITE_ORIGIN
from tests.helpers import batch, click_event

JSON = {"Content-Type": "text/plain"}


def post(client: TestClient, site: Site, body: bytes | dict, **headers: str):
    data = body if isinstance(body, bytes) else orjson.dumps(body)
    return client.post(f"/ingest/{site.key}", content=data, headers={**JSON, **headers})


def stored(store: LocalStore) -> list[str]:
    """Stored chunks (keyframes are derived from them and written in the background)."""
    return [k for k in store.list(keys.CHUNK_ROOT) if keys.parse_chunk_key(k)]


def test_valid_batch_is_stored_and_indexed(
    client: TestClient, site: Site, store: LocalStore, index: Index
) -> None:
    b = batch()
    r = post(client, site, b)
    assert r.status_code == 200, r.text
    assert r.json() == {"ok": True, "seq": 0, "events": 3}
    assert r.headers["access-control-allow-origin"] == SITE_ORIGIN
    key = keys.chunk_key(keys.ChunkAddress(site.key, b["sid"], b["pid"], 0))
    chunk = codec.decode(store.get(key))
    assert chunk["events"] == b["events"]
    assert chunk["ua"] == "pytest-browser/1.0"
    row = index.session(b["sid"])
    assert row is not None and row["clicks"] == 1 and row["page_count"] == 1
    assert row["entry_url"] == "https://shop.example/"


def test_gzip_body_is_accepted_by_magic_bytes_and_by_header(
    client: TestClient, site: Site, store: LocalStore
) -> None:
    b = batch()
    assert post(client, site, gzip.compress(orjson.dumps(b))).status_code == 200
    b2 = batch()
    assert (
        post(client, site, gzip.compress(orjson.dumps(b2)), **{"Content-Encoding": "gzip"}).status_code == 200
    )
    assert len(stored(store)) == 2


def test_retried_batch_is_stored_once(
    client: TestClient, site: Site, store: LocalStore, index: Index
) -> None:
    b = batch()
    for _ in range(3):
        assert post(client, site, b).status_code == 200
    assert len(stored(store)) == 1
    assert index.session(b["sid"])["clicks"] == 1


def test_preflight_allows_only_the_sites_origins(client: TestClient, site: Site) -> None:
    r = client.options(
        f"/ingest/{site.key}", headers={"Origin": SITE_ORIGIN, "Access-Control-Request-Method": "POST"}
    )
    assert r.status_code == 204
    assert r.headers["access-control-allow-origin"] == SITE_ORIGIN
    r = client.options(f"/ingest/{site.key}", headers={"Origin": "https://evil.example"})
    assert r.status_code == 403
    assert "access-control-allow-origin" not in r.headers


@pytest.mark.parametrize(
    ("case", "status", "message"),
    [
        ("unknown key", 404, "unknown site key"),
        ("wrong origin", 403, "not allowed"),
        ("no origin", 403, "missing Origin"),
        ("not json", 400, "not valid JSON"),
        ("json array", 400, "must be a JSON object"),
        ("empty", 400, "empty body"),
        ("bad gzip", 400, "not valid gzip"),
        ("truncated gzip", 400, "truncated"),
        ("oversized", 413, "larger than"),
        ("compression bomb", 413, "decompresses to more than"),
        ("too many events", 413, "events; at most"),
        ("unknown kind", 422, "unknown kind 'keylogger'"),
        ("wrong arity", 422, "expected 16"),
        ("bad session id", 422, "sid"),
        ("extra field", 422, "schema"),
        ("negative seq", 422, "seq"),
        ("deflate encoding", 415, "Content-Encoding"),
        ("seq over limit", 403, "batches"),
    ],
)
def test_bad_requests_get_a_clear_4xx_and_store_nothing(
    client: TestClient, site: Site, store: LocalStore, index: Index, case: str, status: int, message: str
) -> None:
    good = orjson.dumps(batch())
    url = f"/ingest/{site.key}"
    headers = dict(JSON)
    body: bytes = good
    if case == "unknown key":
        url = "/ingest/no-such-site-key"
    elif case == "wrong origin":
        headers["Origin"] = "https://evil.example"
    elif case == "no origin":
        headers["Origin"] = ""
    elif case == "not json":
        body = b"{nope"
    elif case == "json array":
        body = b"[1, 2]"
    elif case == "empty":
        body = b""
    elif case == "bad gzip":
        body = b"\x1f\x8b" + b"garbage" * 10
    elif case == "truncated gzip":
        body = gzip.compress(good)[:-12]
    elif case == "oversized":
        body = b" " * 1_000_001 + good
    elif case == "compression bomb":
        # ~10 KB on the wire, 100 MB once inflated.
        body = gzip.compress(b'{"v":1,"events":[' + b" " * 100_000_000 + b"]}", compresslevel=9)
        assert len(body) < 200_000
    elif case == "too many events":
        body = gzip.compress(orjson.dumps(batch(events=[click_event(i) for i in range(20_001)])))
    elif case == "unknown kind":
        body = orjson.dumps(batch(events=[["keylogger", 1, "secret"]]))
    elif case == "wrong arity":
        body = orjson.dumps(batch(events=[click_event(1)[:-1]]))
    elif case == "bad session id":
        body = orjson.dumps({**batch(), "sid": "../../etc"})
    elif case == "extra field":
        body = orjson.dumps({**batch(), "admin": True})
    elif case == "negative seq":
        body = orjson.dumps({**batch(), "seq": -1})
    elif case == "deflate encoding":
        headers["Content-Encoding"] = "deflate"
    elif case == "seq over limit":
        body = orjson.dumps(batch(seq=20_000))
    r = client.post(url, content=body, headers=headers)
    assert r.status_code == status, r.text
    assert message in r.json()["error"]
    assert stored(store) == []
    assert index.query("SELECT COUNT(*) AS n FROM chunks")[0]["n"] == 0


def test_storage_failure_answers_503_and_the_retry_succeeds(
    client: TestClient, site: Site, store: LocalStore, index: Index
) -> None:
    first = batch()
    assert post(client, site, first).status_code == 200
    # The worker writes the first page view's keyframe after the ack: let it, before the disk breaks.
    assert client.app.state.derivation.wait_idle(60)
    # Break the disk layout for real: a file where the chunk directory must go.
    chunk_root = Path(store.root) / "v1"
    shutil.move(chunk_root, Path(store.root) / "v1.moved")
    chunk_root.write_bytes(b"not a directory")
    retry = batch()
    r = post(client, site, retry)
    assert r.status_code == 503
    assert r.headers["retry-after"] == "5"
    assert "storage unavailable" in r.json()["error"]
    assert index.session(retry["sid"]) is None
    # Storage comes back: the same batch is accepted and nothing stored earlier is lost.
    chunk_root.unlink()
    shutil.move(Path(store.root) / "v1.moved", chunk_root)
    assert post(client, site, retry).status_code == 200
    assert len(stored(store)) == 2
    assert index.session(first["sid"]) is not None and index.session(retry["sid"]) is not None


def test_server_scrubs_emails_and_card_numbers_that_slipped_through(
    client: TestClient, site: Site, store: LocalStore
) -> None:
    events = [
        ["input", 10, 5, "jane.doe@example.com", None],
        ["custom", 11, "checkout", {"card": "4111 1111 1111 1111", "order": "12345678901234"}],
    ]
    b = batch(events=events)
    assert post(client, site, b).status_code == 200
    raw = codec.decode(store.get(keys.chunk_key(keys.ChunkAddress(site.key, b["sid"], b["pid"], 0))))
    blob = orjson.dumps(raw)
    assert b"jane.doe" not in blob and b"4111" not in blob
    assert raw["events"][0][3] == "*" * len("jane.doe@example.com")
    # Not Luhn-valid: an order number is not a card and stays readable.
    assert raw["events"][1][3]["order"] == "12345678901234"


def test_recorder_is_served_with_validators(client: TestClient) -> None:
    r = client.get("/recorder.js", headers={"Accept-Encoding": "gzip"})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/javascript")
    assert "max-age" in r.headers["cache-control"]
    etag = r.headers["etag"]
    again = client.get("/recorder.js", headers={"If-None-Match": etag})
    assert again.status_code == 304


def test_recorder_is_served_as_a_smaller_gzip_than_gzip_9() -> None:
    """What every visitor downloads: zopfli's gzip stream of the exact file, smaller than gzip -9's."""
    import gzip

    from sessionlens.recorder_asset import MEDIA_PATH, RECORDER_PATH, RecorderAsset

    for path in (RECORDER_PATH, MEDIA_PATH):
        asset, body = RecorderAsset(path), path.read_bytes()
        assert gzip.decompress(asset.gzipped) == body
        assert len(asset.gzipped) < len(gzip.compress(body, 9)), path.name


def test_snippet_names_the_site_and_its_privacy_options(client: TestClient, site: Site) -> None:
    r = client.get(f"/sites/{site.key}/snippet")
    assert r.status_code == 200
    assert f'data-site="{site.key}"' in r.text and "/recorder.js" in r.text
    assert client.get("/sites/unknown-key-123/snippet").status_code == 404


def test_unknown_paths_and_methods_answer_json(client: TestClient, site: Site) -> None:
    r = client.get("/ingest/no/such/path")
    assert r.status_code == 404 and r.json() == {"error": "Not Found"}
    r = client.get(f"/ingest/{site.key}")
    assert r.status_code == 405 and "error" in r.json()
