"""The small interface every blob store implements."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol


class StoreError(Exception):
    """The store could not do what was asked; the caller must not acknowledge.

    Callers on the ingest path also treat any other exception a store raises
    (a driver error, a reset connection) as this one: a store that fails in
    an unexpected way is still only unavailable."""


class BlobStore(Protocol):
    """Keys are '/'-separated strings made by sessionlens.keys.

    ``put`` returns only when the bytes are durable; a later ``get`` of the
    same key returns them whole or raises KeyError, never a partial object.
    """

    def put(self, key: str, data: bytes) -> None: ...

    def put_if_absent(self, key: str, data: bytes) -> bool:
        """Create key atomically unless it exists: True when written, False when
        another object already held the key (which is then left untouched).
        Durable on True, like ``put``."""
        ...

    def get(self, key: str) -> bytes: ...

    def list(self, prefix: str) -> Iterator[str]:
        """Keys under prefix, in lexicographic order."""
        ...

    def delete_prefix(self, prefix: str) -> int:
        """Delete every key under prefix; returns how many were deleted."""
        ...
