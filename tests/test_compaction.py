"""Compaction (issue 9, stored bytes): packs, site assets, dictionaries, and that nothing changes for readers.

Every test compares what the readers give (replay reader, export, reindex)
before and after, so "compacted" can only mean "stored smaller".
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from sessionlens import codec, keys
from sessionlens.compaction.compact import compact_page_view
from sessionlens.compaction.dictionary import DictionaryError, train
from sessionlens.compaction.queue import Compactor
from sessionlens.compaction.source import ChunkSource
from sessionlens.contracts import make_event, make_node
from sessionlens.export import iter_session_events
from sessionlens.index import Index
from sessionlens.reindex import reindex
from sessionlens.replay.pageview import PageViewReader
from sessionlens.sites import Site
from sessionlens.stores.local import LocalStore
from tests.helpers import batch, click_event, meta_event, new_id

ROOT = Path(__file__).resolve().parent.parent
# A stylesheet every page of the site links: the thing stored again and again before.
SITE_CSS = "body{margin:0;font:16px/1.4 sans-serif}" + "".join(
    f".c{i}{{color:#{i * 2654435761 % 0xFFFFFF:06x};padding:{i % 17}px {i % 5}px}}" for i in range(300)
)
LOGO = "data:image/png;base64," + "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk" * 20
STEPS = ("assets", "pack", "verified", "removed")

View = tuple[str, str, str]


# -- recordings ----------------------------------------------------------------------


def snapshot(t: int, page: str) -> list[Any]:
    nodes = [
        make_node("document", id=1, props={"adopted": [SITE_CSS + "/*adopted*/"]}),
        make_node("doctype", id=2, parent=1, name="html", publicId="", systemId=""),
        make_node("element", id=3, parent=1, tag="html", attrs={"lang": "en"}),
        make_node("element", id=4, parent=3, tag="head", attrs={}),
        make_node(
            "element", id=5, parent=4, tag="link", attrs={"rel": "stylesheet"}, props={"css": SITE_CSS}
        ),
        make_node("element", id=6, parent=4, tag="style", attrs={}),
        make_node("text", id=7, parent=6, text=SITE_CSS + f"/* inline style of {page} */"),
        make_node("element", id=8, parent=3, tag="body", attrs={"class": page}),
        make_node("element", id=9, parent=8, tag="img", attrs={"src": LOGO, "alt": "logo"}),
        make_node(
            "element", id=10, parent=8, tag="canvas", attrs={}, props={"canvas": LOGO.replace("png", "webp")}
        ),
        make_node("element", id=11, parent=8, tag="button", attrs={"id": "buy"}),
        make_node("text", id=12, parent=11, text=f"Buy on {page}"),
    ]
    return make_event("snapshot", t=t, part=0, last=True, nodes=nodes)


def page_view_batches(sid: str, pid: str, t0: int, page: str, chunks: int = 3) -> list[dict[str, Any]]:
    out = [
        batch(
            sid,
            pid,
            0,
            [meta_event(0, f"https://shop.example/{page}"), snapshot(5, page), click_event(100)],
            t0,
        )
    ]
    for seq in range(1, chunks):
        t = seq * 5000
        events = [
            click_event(t, 100 + seq, 200),
            make_event("canvas", t=t + 10, target=10, data=LOGO + f"frame{seq}" * 100),
            make_event(
                "mutation",
                t=t + 20,
                removes=[],
                adds=[],
                attrs=[[9, "src", LOGO + "x" * seq]],
                texts=[[7, SITE_CSS + f"/* changed {seq} */"], [12, f"Bought {seq}"]],
            ),  # fmt: skip
        ]
        out.append(batch(sid, pid, seq, events, t0))
    return out


def ingest(client: TestClient, site: Site, batches: list[dict[str, Any]]) -> None:
    for b in batches:
        r = client.post(f"/ingest/{site.key}", json=b)
        assert r.status_code == 200, r.text


def record_sessions(
    client: TestClient, site: Site, sessions: int = 2, pages: int = 2, chunks: int = 3
) -> list[View]:
    views = []
    t0 = int(time.time() * 1000) - 60_000
    for _ in range(sessions):
        sid = new_id()
        for p in range(pages):
            pid = new_id()
            ingest(client, site, page_view_batches(sid, pid, t0 + p * 20_000, f"page{p}", chunks))
            views.append((site.key, sid, pid))
    wait_derived(client)
    return views


def wait_derived(client: TestClient) -> None:
    """Until the app's worker has nothing due: its keyframes are written, so listings are stable."""
    assert client.app.state.derivation.wait_idle(60)


# -- what readers give --------------------------------------------------------------------


def reader_outputs(store: LocalStore, views: list[View]) -> dict[str, Any]:
    reader = PageViewReader(store)
    out: dict[str, Any] = {}
    for view in views:
        out[f"events {view}"] = list(reader.events(*view))
        out[f"window {view}"] = reader.events_between(*view, 0, 10**9, 10**6)
        for at in (0, 50, 5_015, 10_100, 60_000):
            out[f"dom {view} {at}"] = reader.dom_at(*view, at).keyframe()
    for site, sid in sorted({(v[0], v[1]) for v in views}):
        out[f"export {sid}"] = list(iter_session_events(store, site, sid))
    return out


def index_rows(store: LocalStore, index: Index) -> dict[str, Any]:
    result = reindex(store, index)
    assert result.skipped == []
    rows = {}
    for table in ("chunks", "page_views", "sessions", "clicks"):
        got = index.query(f"SELECT * FROM {table}")
        for row in got:
            row.pop("stored_bytes", None)  # smaller after compaction: the point of it
        rows[table] = sorted(got, key=repr)
    return rows


def loose_chunks(store: LocalStore) -> list[str]:
    return [k for k in store.list(keys.CHUNK_ROOT) if keys.parse_chunk_key(k)]


def packs(store: LocalStore) -> list[str]:
    return [k for k in store.list(keys.CHUNK_ROOT) if keys.parse_pack_key(k)]


def stored_bytes(store: LocalStore) -> int:
    return sum(len(store.get(k)) for k in store.list(keys.CHUNK_ROOT) if "/keyframes/" not in k)


def compact_all(store: LocalStore, views: list[View], **kw: Any) -> None:
    for view in views:
        compact_page_view(store, *view, **kw)


# -- tests -------------------------------------------------------------------------------


def test_readers_give_the_same_before_and_after_compaction(
    client: TestClient, store: LocalStore, index: Index, site: Site
) -> None:
    views = record_sessions(client, site)
    before, rows_before, size_before = (
        reader_outputs(store, views),
        index_rows(store, index),
        stored_bytes(store),
    )

    compact_all(store, views)

    assert loose_chunks(store) == []
    assert len(packs(store)) == len(views)
    assert reader_outputs(store, views) == before
    assert index_rows(store, index) == rows_before
    assert stored_bytes(store) < size_before  # packs and the site's assets, shared from here on


def test_compaction_is_idempotent(client: TestClient, store: LocalStore, index: Index, site: Site) -> None:
    views = record_sessions(client, site, sessions=1)
    compact_all(store, views)
    stored = {k: store.get(k) for k in store.list("v1/")}

    again = [compact_page_view(store, *v) for v in views]

    assert all(r.pack is None and r.removed == [] for r in again)
    assert {k: store.get(k) for k in store.list("v1/")} == stored


def test_stylesheets_and_images_are_stored_once_per_site(
    client: TestClient, store: LocalStore, index: Index, site: Site
) -> None:
    views = record_sessions(client, site, sessions=3)
    compact_all(store, views)

    assets = [k for k in store.list(keys.asset_prefix(site.key))]
    assert keys.asset_key(site.key, _sha(SITE_CSS)) in assets
    assert keys.asset_key(site.key, _sha(LOGO)) in assets
    # Six page views share the stylesheet and the logo; each pack refers to them, none holds them.
    for pack in packs(store):
        raw = codec.decompress(store.get(pack))
        assert SITE_CSS.encode() not in raw and LOGO.encode() not in raw
    # Every asset is referenced from the packs (what erasure scans before removing an asset).
    objects = ChunkSource(store).objects
    referenced = set().union(*(objects.references(site.key, store.get(p)) for p in packs(store)))
    assert {keys.asset_key(site.key, sha) for sha in referenced} == set(assets)
    # Distinct large strings: css, adopted css, two inline styles, logo, canvas prop, 2 canvas
    # frames, 2 changed srcs, 2 changed style texts -- shared by all three sessions.
    assert len(assets) == 12


def test_a_killed_compaction_loses_nothing_and_a_rerun_finishes(
    client: TestClient, store: LocalStore, index: Index, site: Site, tmp_path: Path
) -> None:
    views = record_sessions(client, site, sessions=1, pages=1)
    before = reader_outputs(store, views)
    view = views[0]
    for step in STEPS:
        if packs(store):  # start every round from loose chunks again
            _unpack(store, view)
        marker = tmp_path / f"reached-{step}"
        proc = subprocess.Popen(
            [sys.executable, "-c", KILL_SCRIPT, str(store.root), *view, step, str(marker)],
            env={**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)])},
        )
        try:
            deadline = time.monotonic() + 60
            while not marker.exists() and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.02)
            assert marker.exists(), f"compaction never reached {step}"
            os.kill(proc.pid, signal.SIGKILL)
        finally:
            proc.wait(timeout=30)
        assert reader_outputs(store, views) == before, f"killed at {step}"
        compact_page_view(store, *view)  # the restart finishes the job
        assert loose_chunks(store) == [] and len(packs(store)) == 1
        assert reader_outputs(store, views) == before, f"rerun after a kill at {step}"


KILL_SCRIPT = """
import sys, time
from pathlib import Path
from sessionlens.stores.local import LocalStore
from sessionlens.compaction.compact import compact_page_view
root, site, sid, pid, step, marker = sys.argv[1:]
def checkpoint(reached):
    if reached == step:
        Path(marker).write_text(reached)
        time.sleep(120)  # killed here
compact_page_view(LocalStore(root), site, sid, pid, checkpoint=checkpoint)
"""


@pytest.mark.parametrize("step", STEPS)
def test_a_crash_between_steps_leaves_every_reader_whole(
    client: TestClient, store: LocalStore, index: Index, site: Site, step: str
) -> None:
    views = record_sessions(client, site, sessions=1, pages=1)
    before = reader_outputs(store, views)

    def crash(reached: str) -> None:
        if reached == step:
            raise SystemExit(f"crash at {step}")

    with pytest.raises(SystemExit):
        compact_page_view(store, *views[0], checkpoint=crash)
    assert reader_outputs(store, views) == before
    compact_page_view(store, *views[0])
    assert loose_chunks(store) == []
    assert reader_outputs(store, views) == before


def test_every_object_decodes_after_a_dictionary_change(
    client: TestClient, store: LocalStore, index: Index, site: Site
) -> None:
    views = record_sessions(client, site, sessions=2, pages=2, chunks=4)
    before = reader_outputs(store, views)
    first = train(store, site.key)
    dict1 = (first, store.get(keys.dictionary_key(site.key, first)))
    compact_all(store, views[:2], dictionary=dict1)

    second = train(store, site.key)
    assert second == first + 1
    dict2 = (second, store.get(keys.dictionary_key(site.key, second)))
    compact_all(store, views[2:], dictionary=dict2)

    named = {codec.header(store.get(k)).dictionary for k in packs(store)}
    assert named == {first, second}
    assert reader_outputs(store, views) == before  # a fresh reader: dictionaries read from storage
    # Recompaction with the new dictionary at a higher level rewrites the old packs; still the same.
    compact_all(store, views[:2], dictionary=dict2, level=22)
    assert {codec.header(store.get(k)).dictionary for k in packs(store)} == {second}
    assert reader_outputs(store, views) == before


def test_a_dictionary_needs_enough_chunks(store: LocalStore, site: Site) -> None:
    with pytest.raises(DictionaryError, match="at least"):
        train(store, site.key)


def test_a_late_retry_of_a_compacted_chunk_is_answered_as_before(
    client: TestClient, store: LocalStore, index: Index, site: Site
) -> None:
    sid, pid = new_id(), new_id()
    batches = page_view_batches(sid, pid, int(time.time() * 1000), "retry")
    ingest(client, site, batches)
    wait_derived(client)
    compact_page_view(store, site.key, sid, pid)
    assert loose_chunks(store) == []

    same = client.post(f"/ingest/{site.key}", json=batches[1])
    assert same.status_code == 200, same.text
    different = client.post(f"/ingest/{site.key}", json={**batches[1], "events": [click_event(1)]})
    assert different.status_code == 409
    assert "first write wins" in different.json()["error"]
    assert loose_chunks(store) == []  # neither re-send stored a second copy
    # A new chunk of the compacted page view is stored loose, read with the pack, merged next time.
    late = batch(sid, pid, 3, [click_event(16_000)], batches[0]["t0"])
    assert client.post(f"/ingest/{site.key}", json=late).status_code == 200
    assert PageViewReader(store).chunk_seqs(site.key, sid, pid) == [0, 1, 2, 3]
    compact_page_view(store, site.key, sid, pid)
    assert loose_chunks(store) == [] and len(packs(store)) == 1


def test_the_worker_compacts_page_views_once_idle(store: LocalStore, index: Index, site: Site) -> None:
    from sessionlens.derivation.derivations import Context
    from sessionlens.derivation.worker import Worker
    from sessionlens.ingest import row_for_stored_chunk

    sid, pid = new_id(), new_id()
    t0 = int(time.time() * 1000)
    for b in page_view_batches(sid, pid, t0, "queued"):
        chunk = {**b, "site": site.key, "received": t0, "ua": ""}
        store.put(keys.chunk_key(keys.ChunkAddress(site.key, sid, pid, b["seq"])), codec.encode(chunk))
        index.record_chunks([row_for_stored_chunk(chunk, 1)]).result()
    reader = PageViewReader(store)
    compactor = Compactor(store, index, idle_ms=3_600_000, lease_ms=1_000)
    worker = Worker(Context(store, index, reader, compactor=compactor))
    worker.drain()  # derives, and schedules compaction an hour from now
    (row,) = compactor.backlog()
    assert row["available_at"] >= t0 + 3_600_000
    assert packs(store) == []

    now = row["available_at"]
    # A worker that claims it and dies: the row comes back after the lease.
    (claimed,) = compactor.claim("dead-worker", now)
    assert compactor.claim("other", now + 999) == []
    assert compactor.run_due("other", now_ms=now + 1_000) == 1
    assert packs(store) and loose_chunks(store) == []
    assert compactor.backlog() == []
    assert claimed.page_view == (site.key, sid, pid)


def test_a_damaged_chunk_stops_compaction_and_nothing_is_removed(
    client: TestClient, store: LocalStore, index: Index, site: Site
) -> None:
    from sessionlens.compaction.compact import CompactionError

    views = record_sessions(client, site, sessions=1, pages=1)
    key = loose_chunks(store)[1]
    store.put(key, b"\x28\xb5\x2f\xfd not really zstd")
    listed = sorted(store.list("v1/"))
    with pytest.raises(CompactionError) as caught:
        compact_page_view(store, *views[0])
    assert caught.value.key == key
    assert sorted(store.list("v1/")) == listed


# -- helpers -------------------------------------------------------------------------------


def _sha(text: str) -> str:
    import hashlib

    return hashlib.sha256(text.encode()).hexdigest()


def _unpack(store: LocalStore, view: View) -> None:
    """Put a page view back into loose chunks (as ingest wrote them) for another round."""
    source = ChunkSource(store)
    for pack in packs(store):
        for seq, chunk in source.pack(pack).chunks().items():
            store.put(keys.chunk_key(keys.ChunkAddress(*view, seq)), codec.encode(chunk))
        store.delete_prefix(pack)


def test_a_chunk_stored_without_a_digest_reads_back_without_one(store: LocalStore, site: Site) -> None:
    sid, pid = new_id(), new_id()
    legacy = {**batch(sid, pid, 0), "site": site.key, "received": 1, "ua": "old"}
    assert "digest" not in legacy
    store.put(keys.chunk_key(keys.ChunkAddress(site.key, sid, pid, 0)), codec.encode(legacy))
    compact_page_view(store, site.key, sid, pid)
    assert loose_chunks(store) == []
    assert PageViewReader(store).chunk(site.key, sid, pid, 0) == legacy


def test_dictionaries_are_trained_when_there_is_enough_and_made_of_content_when_not() -> None:
    import random

    from sessionlens.compaction.dictionary import TRAINED_MAGIC, build

    rng = random.Random(3)
    words = [f'<div class="card c{i}">item {i}</div>'.encode() for i in range(400)]
    many = [b"".join(rng.choice(words) for _ in range(60)) for _ in range(3000)]
    few = many[:10]
    for samples, trained in ((many, True), (few, False)):
        data = build(samples, 16 * 1024)
        assert (data[:4] == TRAINED_MAGIC) is trained
        blob = codec.encode_framed(few[0], level=19, dictionary=(7, data))
        assert codec.decompress(blob, {7: data}.__getitem__) == few[0]


def test_the_compact_command(
    client: TestClient, store: LocalStore, index: Index, site: Site, settings: Any, index_env: dict[str, str]
) -> None:
    from tests.test_cli import run

    data = Path(settings.data_dir)
    too_few = run(data, "compact", "--train-dictionary", site.key, check=False, index_env=index_env)
    assert too_few.returncode == 1 and "at least" in too_few.stderr and "Traceback" not in too_few.stderr
    bad = run(data, "compact", "--train-dictionary", "../etc", check=False, index_env=index_env)
    assert bad.returncode == 1 and "not a valid id" in bad.stderr
    views = record_sessions(client, site, sessions=2, pages=2, chunks=3)
    before = reader_outputs(store, views)

    idle = run(data, "compact", index_env=index_env)  # nothing has been idle for compaction_idle_seconds yet
    assert "compacted 0 of 4" in idle.stdout and packs(store) == []
    trained = run(data, "compact", "--train-dictionary", site.key, index_env=index_env)
    assert f"trained dictionary 1 for site {site.key}" in trained.stdout
    done = run(data, "compact", "--all", "--site", site.key, index_env=index_env)
    assert "compacted 4 of 4 page view(s); 0 failed" in done.stdout
    assert loose_chunks(store) == [] and {codec.header(store.get(k)).dictionary for k in packs(store)} == {1}
    assert "compacted 0 of 4" in run(data, "compact", "--all", index_env=index_env).stdout  # nothing left to do
    run(data, "compact", "--train-dictionary", site.key, index_env=index_env)
    again = run(data, "compact", "--all", "--recompress", "--level", "20", index_env=index_env)
    assert "compacted 4 of 4" in again.stdout
    assert {codec.header(store.get(k)).dictionary for k in packs(store)} == {2}
    assert reader_outputs(store, views) == before


@pytest.fixture(params=["local", "s3"])
def blob_store(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    """As in test_stores: a directory, and S3 through moto over HTTP."""
    if request.param == "local":
        return LocalStore(tmp_path / "blobs")
    import secrets

    import boto3

    from sessionlens.stores.s3 import S3Store

    endpoint = request.getfixturevalue("moto_server")
    request.getfixturevalue("aws_env")
    bucket = "sl-" + secrets.token_hex(6)
    boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket=bucket)
    return S3Store(bucket=bucket, prefix="tenant-a", endpoint_url=endpoint, region="us-east-1")


def test_compaction_on_every_blob_store(blob_store: Any) -> None:
    """The same steps through S3 (moto over HTTP: create-if-absent, list, delete by key) as on disk."""
    from sessionlens.ingest import content_digest

    site, views = "s3site", []
    for n in range(3):
        sid, pid = new_id(), new_id()
        for b in page_view_batches(sid, pid, 1_700_000_000_000, f"p{n}", chunks=4):
            digest = content_digest(site, sid, pid, b["seq"], b["t0"], b["events"])
            chunk = {**b, "site": site, "received": 1, "ua": "x", "digest": digest}
            blob_store.put_if_absent(
                keys.chunk_key(keys.ChunkAddress(site, sid, pid, b["seq"])), codec.encode(chunk)
            )
        views.append((site, sid, pid))
    reader_before = PageViewReader(blob_store)
    before = [list(reader_before.events(*v)) for v in views]
    dict_id = train(blob_store, site)
    compact_all(
        blob_store, views[:2], dictionary=(dict_id, blob_store.get(keys.dictionary_key(site, dict_id)))
    )
    compact_all(blob_store, views[2:])
    compact_all(blob_store, views)  # idempotent

    listed = list(blob_store.list(keys.site_prefix(site)))
    assert not [k for k in listed if keys.parse_chunk_key(k)]
    assert len([k for k in listed if keys.parse_pack_key(k)]) == 3
    reader = PageViewReader(blob_store)
    assert [list(reader.events(*v)) for v in views] == before


class CountingStore(LocalStore):
    """The local store, counting LIST requests (each is a paid, slow request on S3)."""

    lists = 0

    def list(self, prefix: str):  # type: ignore[override]
        self.lists += 1
        return super().list(prefix)


def test_a_page_view_is_listed_once_per_pass_and_a_stale_listing_still_reads_right(
    client: TestClient, store: LocalStore, index: Index, site: Site
) -> None:
    views = record_sessions(client, site, sessions=1, pages=1, chunks=6)
    view = views[0]
    counting = CountingStore(store.root)
    reader = PageViewReader(counting)
    events = list(reader.events(*view))
    assert len({seq for seq, _ in events}) == 6
    assert counting.lists <= 2  # one listing (loose + pack prefixes), not two per chunk

    # Compaction removes the loose chunks the reader's listing points at: it looks again.
    source = ChunkSource(counting)
    loose_listing = source.listing(*view)
    assert len(loose_listing.loose) == 6
    compact_all(store, views)
    assert loose_chunks(store) == []
    assert [source.chunk(*view, seq)["seq"] for seq in range(6)] == list(range(6))
