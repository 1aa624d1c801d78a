"""Audit records of erasures and retention runs: configuration in the blob store, never erased."""

from __future__ import annotations

import secrets
from typing import Any

import orjson

from sessionlens import keys
from sessionlens.stores.base import BlobStore


def write_audit(store: BlobStore, action: str, when_ms: int, record: dict[str, Any]) -> str:
    """Store one record under config/audit/...; returns its key."""
    record_id = secrets.token_hex(8)
    key = keys.audit_key(when_ms, action, record_id)
    body = {"id": record_id, "action": action, "at": when_ms, **record}
    store.put(key, orjson.dumps(body, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS))
    return key


def audit_records(store: BlobStore) -> list[dict[str, Any]]:
    return [orjson.loads(store.get(k)) for k in store.list(keys.AUDIT_PREFIX)]
