"""Compaction against hostile recordings and damaged stored objects (issue 9, stored bytes).

A forged recording must not turn into unbounded objects; a pack, asset or
dictionary that is damaged or lies about itself is reported with its key and
a reason, is never deleted, and never makes a reader return other data.
"""

from __future__ import annotations

import struct
import time

import msgpack
import pytest
from starlette.testclient import TestClient

from sessionlens import codec, keys
from sessionlens.compaction.assets import MAX_ASSETS
from sessionlens.compaction.compact import CompactionError, compact_page_view
from sessionlens.compaction.objects import MissingAsset
from sessionlens.compaction.source import ChunkSource, PackError
from sessionlens.contracts import make_event, make_node
from sessionlens.index import Index
from sessionlens.reindex import reindex
from sessionlens.replay.pageview import PageViewReader
from sessionlens.sites import Site
from sessionlens.stores.local import LocalStore
from tests.helpers import batch, click_event, meta_event, new_id
from tests.test_compaction import packs, page_view_batches


def test_many_distinct_large_strings_make_a_bounded_number_of_assets(
    client: TestClient, store: LocalStore, site: Site
) -> None:
    sid, pid = new_id(), new_id()
    body = make_node("element", id=3, parent=1, tag="body", attrs={})
    images = [
        make_node(
            "element", id=10 + i, parent=3, tag="img", attrs={"src": f"data:image/png;base64,{_letters(i)}"}
        )
        for i in range(MAX_ASSETS + 100)
    ]
    nodes = [make_node("document", id=1), body, *images]
    events = [meta_event(0), make_event("snapshot", t=5, part=0, last=True, nodes=nodes), click_event(50)]
    r = client.post(f"/ingest/{site.key}", json=batch(sid, pid, 0, events))
    assert r.status_code == 200, r.text
    before = list(PageViewReader(store).events(site.key, sid, pid))

    compact_page_view(store, site.key, sid, pid)

    assert len(list(store.list(keys.asset_prefix(site.key)))) == MAX_ASSETS
    assert list(PageViewReader(store).events(site.key, sid, pid)) == before


def _letters(i: int) -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
    return (
        "".join(alphabet[(i >> (k % 11)) % 52] for k in range(540)) + alphabet[i % 52] * 8 + f"{i:x}".upper()
    )


def _compacted(client: TestClient, store: LocalStore, site: Site) -> tuple[str, str, str, str]:
    sid, pid = new_id(), new_id()
    for b in page_view_batches(sid, pid, int(time.time() * 1000) - 60_000, "hostile"):
        assert client.post(f"/ingest/{site.key}", json=b).status_code == 200
    compact_page_view(store, site.key, sid, pid)
    (pack,) = packs(store)
    return site.key, sid, pid, pack


def _damages(store: LocalStore, pack: str) -> dict[str, bytes]:
    blob = store.get(pack)
    raw = codec.decompress(blob)  # these packs have no dictionary
    seqs = codec.header(blob).extra["seqs"]
    value = msgpack.unpackb(raw, raw=False, strict_map_key=False)
    first = msgpack.unpackb(value["chunks"][0], raw=False, strict_map_key=False)
    other = dict(value, seqs=[0], chunks=[codec.pack({**first, "pid": "someoneelse"})])
    return {
        "header names a seq the pack lacks": codec.encode_framed(raw, level=3, extra={"seqs": [*seqs, 7]}),
        "holds another page view's chunk": codec.encode_framed(
            codec.pack(other), level=3, extra={"seqs": [0]}
        ),
        "names a dictionary that is not stored": codec.encode_framed(
            raw, level=3, dictionary=(4242, b"never stored " * 100), extra={"seqs": seqs}
        ),
        "header longer than the object": codec.MAGIC + struct.pack(">I", 10**6) + b"\x80",
        "unknown magic": b"GIF89a" + blob,
    }


@pytest.mark.parametrize(
    "damage",
    [
        "header names a seq the pack lacks",
        "holds another page view's chunk",
        "names a dictionary that is not stored",
        "header longer than the object",
        "unknown magic",
    ],
)
def test_a_damaged_pack_is_reported_never_deleted_and_never_read_as_other_data(
    client: TestClient, store: LocalStore, index: Index, site: Site, damage: str
) -> None:
    site_key, sid, pid, pack = _compacted(client, store, site)
    bad = _damages(store, pack)[damage]
    store.put(pack, bad)

    result = reindex(store, index)
    assert result.skipped, damage
    assert store.get(pack) == bad  # reported, left in place
    with pytest.raises(Exception) as caught:
        list(PageViewReader(store).events(site_key, sid, pid))
    assert isinstance(caught.value, (PackError, codec.CodecError, KeyError, LookupError)), caught.value
    with pytest.raises(Exception):  # noqa: B017 - any clear refusal; nothing is changed
        compact_page_view(store, site_key, sid, pid)
    assert store.get(pack) == bad


def test_a_missing_asset_is_named_and_compaction_refuses_to_go_on(
    client: TestClient, store: LocalStore, site: Site
) -> None:
    site_key, sid, pid, pack = _compacted(client, store, site)
    asset = next(iter(store.list(keys.asset_prefix(site_key))))
    store.delete_prefix(asset)

    with pytest.raises(MissingAsset, match=asset.rsplit("/", 1)[-1]):
        ChunkSource(store).pack(pack).chunks()
    with pytest.raises(CompactionError) as caught:
        compact_page_view(store, site_key, sid, pid, level=22)
    assert caught.value.key == pack
    assert store.get(pack)  # still there


def test_an_asset_whose_content_does_not_match_its_name_is_refused(
    client: TestClient, store: LocalStore, site: Site
) -> None:
    site_key, sid, pid, pack = _compacted(client, store, site)
    asset = next(iter(store.list(keys.asset_prefix(site_key))))
    store.put(asset, codec.encode_framed(codec.pack("body{display:none}"), level=3))
    with pytest.raises(MissingAsset, match="does not hold the content"):
        ChunkSource(store).pack(pack).chunks()


def test_a_bomb_is_refused_by_the_decoded_size_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    """zstd allocates a frame's declared size whatever max_output_size says: checked first."""
    monkeypatch.setattr(codec, "MAX_DECODED_BYTES", 10_000)
    for blob in (codec.encode_framed(b"\x00" * 100_000, level=3), codec.encode(b"\x00" * 100_000)):
        with pytest.raises(codec.CodecError, match="more than 10000"):
            codec.decompress(blob)


def test_references_cannot_arrive_from_the_recorder(
    client: TestClient, store: LocalStore, site: Site
) -> None:
    """JSON has no extension types: a recording can only hold strings, never a reference to an asset."""
    sid, pid = new_id(), new_id()
    fake = {"__ext__": 1, "data": "00" * 32}
    events = [meta_event(0), ["custom", 10, "x", fake]]
    r = client.post(f"/ingest/{site.key}", json=batch(sid, pid, 0, events))
    if r.status_code == 200:
        compact_page_view(store, site.key, sid, pid)
        (stored,) = [e for _, e in PageViewReader(store).events(site.key, sid, pid) if e[0] == "custom"]
        assert stored[3] == fake
    else:
        assert r.status_code == 422
