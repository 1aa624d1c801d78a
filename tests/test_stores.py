"""One suite, every blob store: local directory and S3 (moto server over HTTP)."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from sessionlens.stores.base import BlobStore, StoreError
from sessionlens.stores.local import LocalStore
from sessionlens.stores.s3 import S3Store


@pytest.fixture(params=["local", "s3"])
def blob_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BlobStore]:
    if request.param == "local":
        yield LocalStore(tmp_path / "blobs")
        return
    endpoint = request.getfixturevalue("moto_server")
    request.getfixturevalue("aws_env")
    bucket = "sl-" + secrets.token_hex(6)
    boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket=bucket)
    yield S3Store(bucket=bucket, prefix="tenant-a", endpoint_url=endpoint, region="us-east-1")


def test_put_then_get_returns_the_same_bytes(blob_store: BlobStore) -> None:
    data = bytes(range(256)) * 1000
    blob_store.put("v1/a/b/c.bin", data)
    assert blob_store.get("v1/a/b/c.bin") == data


def test_put_overwrites_the_same_key(blob_store: BlobStore) -> None:
    blob_store.put("k/one", b"first")
    blob_store.put("k/one", b"second")
    assert blob_store.get("k/one") == b"second"
    assert list(blob_store.list("k/")) == ["k/one"]


def test_put_if_absent_creates_once_and_never_overwrites(blob_store: BlobStore) -> None:
    assert blob_store.put_if_absent("first/wins", b"first") is True
    assert blob_store.put_if_absent("first/wins", b"second") is False
    assert blob_store.get("first/wins") == b"first"
    assert list(blob_store.list("first/")) == ["first/wins"]


def test_missing_key_raises_key_error(blob_store: BlobStore) -> None:
    with pytest.raises(KeyError):
        blob_store.get("nothing/here")


def test_list_is_sorted_and_bounded_by_prefix(blob_store: BlobStore) -> None:
    for key in ["p/s1/b", "p/s1/a", "p/s2/a", "p/s10/a", "q/x", "p-other/x"]:
        blob_store.put(key, b"x")
    assert list(blob_store.list("p/")) == ["p/s1/a", "p/s1/b", "p/s10/a", "p/s2/a"]
    assert list(blob_store.list("p/s1/")) == ["p/s1/a", "p/s1/b"]
    assert list(blob_store.list("p/s1")) == ["p/s1/a", "p/s1/b", "p/s10/a"]
    assert list(blob_store.list("none/")) == []


def test_delete_prefix_removes_only_that_prefix(blob_store: BlobStore) -> None:
    for key in ["d/1", "d/2", "e/1"]:
        blob_store.put(key, b"x")
    assert blob_store.delete_prefix("d/") == 2
    assert list(blob_store.list("d/")) == []
    assert blob_store.get("e/1") == b"x"


def test_empty_and_large_values(blob_store: BlobStore) -> None:
    blob_store.put("z/empty", b"")
    assert blob_store.get("z/empty") == b""
    big = secrets.token_bytes(5 * 1024 * 1024)
    blob_store.put("z/big", big)
    assert blob_store.get("z/big") == big


def test_concurrent_writers_never_expose_partial_objects(blob_store: BlobStore) -> None:
    payloads = [bytes([i]) * 200_000 for i in range(8)]
    errors: list[Exception] = []

    def writer(i: int) -> None:
        try:
            for _ in range(3):
                blob_store.put("race/key", payloads[i])
        except Exception as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert blob_store.get("race/key") in payloads


def test_local_store_rejects_keys_that_escape_its_root(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "blobs")
    for bad in ["../outside", "/abs", "a/../../b"]:
        with pytest.raises(ValueError):
            store.put(bad, b"x")


def test_local_store_write_failure_is_a_store_error(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "blobs")
    (tmp_path / "blobs" / "v1").write_bytes(b"a file where a directory must be")
    with pytest.raises(StoreError):
        store.put("v1/sites/x/chunk", b"data")


def test_s3_store_unreachable_server_is_a_store_error(aws_env: None) -> None:
    store = S3Store(bucket="b", endpoint_url="http://127.0.0.1:9", region="us-east-1")
    with pytest.raises(StoreError):
        store.put("k", b"x")
