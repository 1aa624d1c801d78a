"""Elements of a replayed DOM found by a key of their attributes, checked when read.

Followers of a page view (element_paths.py, form_errors.py) add an element under a key when
a record or an attribute change gives it one; a removed node or a changed value is not taken
out then, but skipped (and dropped, once) when a read meets it. A read costs the live entries
it returns plus the dead ones it drops, never the whole bucket, and a bucket is pruned when
churn doubles it past what was last seen live.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, ValuesView
from typing import Generic, TypeVar

from sessionlens.replay.dom import DomState, Node

K = TypeVar("K", bound=Hashable)


class NodeIndex(Generic[K]):
    def __init__(self, state: DomState, still_has: Callable[[Node, K], bool]) -> None:
        self.state = state
        self.still_has = still_has  # whether the node's attributes still give it the key
        self._buckets: dict[K, dict[int, Node]] = {}
        self._live: dict[K, int] = {}  # entries left by the last read to a bucket's end

    # Read-only views of the buckets as a mapping (how big they grew: tests, debugging).
    def __getitem__(self, key: K) -> dict[int, Node]:
        return self._buckets[key]

    def values(self) -> ValuesView[dict[int, Node]]:
        return self._buckets.values()

    def clear(self) -> None:
        self._buckets.clear()
        self._live.clear()

    def add(self, key: K, node: Node) -> None:
        bucket = self._buckets.setdefault(key, {})
        bucket[id(node)] = node  # the bucket holds the node: its id() is not reused meanwhile
        if len(bucket) > 64 and len(bucket) > 2 * self._live.get(key, 32):
            self.candidates(key, len(bucket))

    def candidates(self, key: K, limit: int) -> list[Node]:
        """The first `limit` live elements under `key`; removed or changed ones met before them
        are dropped (each once)."""
        bucket = self._buckets.get(key)
        if not bucket:
            return []
        live: list[Node] = []
        dead: list[int] = []
        read = 0
        for ref, node in bucket.items():
            read += 1
            if self.state.nodes.get(node.id) is node and self.still_has(node, key):
                live.append(node)
                if len(live) >= limit:
                    break
            else:
                dead.append(ref)
        if read == len(bucket):
            self._live[key] = len(live)
        for ref in dead:
            del bucket[ref]
        return live
