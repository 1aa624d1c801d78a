"""What /healthz checks: the collector can acknowledge a batch only when it can
write to storage and reach the index's writer, so both are tried for real."""

from __future__ import annotations

import time

from sessionlens import keys
from sessionlens.index import Index
from sessionlens.stores.base import BlobStore


def problems(store: BlobStore, index: Index, timeout: float = 3.0) -> dict[str, str]:
    """{"storage" | "index": what failed}; empty when healthy."""
    found: dict[str, str] = {}
    try:
        store.put(keys.HEALTH_PROBE_KEY, str(time.time()).encode())
        float(store.get(keys.HEALTH_PROBE_KEY))  # another collector may have written its own time
    except Exception as exc:
        found["storage"] = f"{type(exc).__name__}: {exc}"
    try:
        if not index.ping(timeout):
            found["index"] = "SELECT 1 returned nothing"
    except TimeoutError:
        found["index"] = f"index writer did not answer within {timeout:g} s"
    except Exception as exc:
        found["index"] = f"{type(exc).__name__}: {exc}"
    return found
