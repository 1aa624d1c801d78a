"""Open the blob store the settings ask for."""

from __future__ import annotations

from pathlib import Path

from sessionlens.settings import Settings
from sessionlens.stores.base import BlobStore


def open_store(settings: Settings) -> BlobStore:
    if settings.store == "s3":
        from sessionlens.stores.s3 import S3Store

        return S3Store(
            bucket=settings.s3_bucket,
            prefix=settings.s3_prefix,
            endpoint_url=settings.s3_endpoint or None,
            region=settings.s3_region or None,
        )
    from sessionlens.stores.local import LocalStore

    return LocalStore(Path(settings.data_dir) / "blobs")
