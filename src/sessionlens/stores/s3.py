"""Blob store on S3 (or any S3-protocol server) through boto3."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from sessionlens.stores.base import StoreError


class S3Store:
    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        endpoint_url: str | None = None,
        region: str | None = None,
        client: Any | None = None,
    ) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.client = client or boto3.client(
            "s3",
            endpoint_url=endpoint_url or None,
            region_name=region or None,
            # Fail fast so the collector answers 503 and the recorder retries,
            # instead of holding the request for minutes.
            config=Config(
                connect_timeout=3, read_timeout=10, retries={"max_attempts": 2, "mode": "standard"}
            ),
        )

    def put(self, key: str, data: bytes) -> None:
        try:
            # S3 PUT is atomic and durable once it returns 200.
            self.client.put_object(Bucket=self.bucket, Key=self.prefix + key, Body=data)
        except Exception as exc:
            raise StoreError(f"S3 store could not write {key}: {exc}") from exc

    def put_if_absent(self, key: str, data: bytes) -> bool:
        # S3 conditional writes: the PUT succeeds only when no object has the
        # key (412 PreconditionFailed otherwise), decided by S3, so two
        # collectors racing on one key cannot both win.
        try:
            self.client.put_object(Bucket=self.bucket, Key=self.prefix + key, Body=data, IfNoneMatch="*")
            return True
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "PreconditionFailed":
                return False
            # 409 ConditionalRequestConflict: a concurrent write of the same
            # key is in flight; the caller answers 503 and the client retries.
            raise StoreError(f"S3 store could not write {key}: {exc}") from exc
        except Exception as exc:
            raise StoreError(f"S3 store could not write {key}: {exc}") from exc

    def get(self, key: str) -> bytes:
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=self.prefix + key)
            return response["Body"].read()
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                raise KeyError(key) from None
            raise StoreError(f"S3 store could not read {key}: {exc}") from exc
        except Exception as exc:  # botocore or urllib3 errors, resets while reading the body
            raise StoreError(f"S3 store could not read {key}: {exc}") from exc

    def list(self, prefix: str) -> Iterator[str]:
        paginator = self.client.get_paginator("list_objects_v2")
        try:
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix + prefix):
                for obj in page.get("Contents", []):
                    yield obj["Key"][len(self.prefix) :]
        except Exception as exc:
            raise StoreError(f"S3 store could not list {prefix}: {exc}") from exc

    def delete_prefix(self, prefix: str) -> int:
        keys = list(self.list(prefix))
        for start in range(0, len(keys), 1000):
            batch = [{"Key": self.prefix + k} for k in keys[start : start + 1000]]
            try:
                self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": batch})
            except (BotoCoreError, ClientError) as exc:
                raise StoreError(f"S3 store could not delete under {prefix}: {exc}") from exc
        return len(keys)
