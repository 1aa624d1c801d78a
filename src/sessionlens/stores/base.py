"""The small interface every blob store implements."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol


class StoreError(Exception):
    """The store could not do what was asked; the caller must not acknowledge."""


class BlobStore(Protocol):
    """Keys are '/'-separated strings made by sessionlens.keys.

    ``put`` returns only when the bytes are durable; a later ``get`` of the
    same key returns them whole or raises KeyError, never a partial object.
    """

    def put(self, key: str, data: bytes) -> None: ...

    def get(self, key: str) -> bytes: ...

    def list(self, prefix: str) -> Iterator[str]:
        """Keys under prefix, in lexicographic order."""
        ...

    def delete_prefix(self, prefix: str) -> int:
        """Delete every key under prefix; returns how many were deleted."""
        ...
