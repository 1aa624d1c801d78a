"""Blob stores: bytes in, bytes out, by key. The codec lives elsewhere."""

from sessionlens.stores.base import BlobStore, StoreError

__all__ = ["BlobStore", "StoreError"]
