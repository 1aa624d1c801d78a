"""The wire contract, read from storage_schemas/ so code never restates it.

Event kinds and the names of their positional fields come from the schema's
``x-fields``; validation uses a compiled validator because ingest runs it on
every batch.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import fastjsonschema
import orjson

SCHEMA_DIR = Path(__file__).resolve().parent / "schemas"
BATCH_SCHEMA_PATH = SCHEMA_DIR / "batch.v1.schema.json"


class ContractError(ValueError):
    """A payload does not match the wire contract; the message names the field."""


@functools.cache
def batch_schema() -> dict[str, Any]:
    return orjson.loads(BATCH_SCHEMA_PATH.read_bytes())


@functools.cache
def event_fields() -> dict[str, tuple[str, ...]]:
    """kind -> field names, in the order the recorder sends them."""
    kinds = batch_schema()["definitions"]["kinds"]
    return {kind: tuple(spec["x-fields"]) for kind, spec in kinds.items()}


@functools.cache
def _field_index() -> dict[str, dict[str, int]]:
    return {kind: {name: i for i, name in enumerate(fields)} for kind, fields in event_fields().items()}


def field(kind: str, name: str) -> int:
    """Position of a named field inside an event of ``kind``."""
    return _field_index()[kind][name]


@functools.cache
def _compiled_validator() -> Callable[[Any], Any]:
    return fastjsonschema.compile(batch_schema())


def validate_batch(batch: Any) -> None:
    """Raise ContractError naming what is wrong, or return quietly."""
    try:
        _compiled_validator()(batch)
    except fastjsonschema.JsonSchemaValueException as exc:
        # The generic oneOf message hides which event failed; point at it.
        raise ContractError(_describe(batch, exc)) from None


def _describe(batch: Any, exc: fastjsonschema.JsonSchemaValueException) -> str:
    path = exc.name or "batch"
    if isinstance(batch, dict) and isinstance(batch.get("events"), list):
        kinds = event_fields()
        for i, event in enumerate(batch["events"]):
            if not isinstance(event, list) or len(event) < 2 or not isinstance(event[0], str):
                return f"events[{i}] must be an array [kind, t, ...]"
            if event[0] not in kinds:
                return f"events[{i}] has unknown kind {event[0]!r}"
            expected = len(kinds[event[0]])
            if len(event) != expected:
                return f"events[{i}] ({event[0]}) has {len(event)} fields, expected {expected}"
    return f"{path}: {exc.message}"


def event_as_dict(event: list[Any]) -> dict[str, Any]:
    """Name the positional fields of one event (for export and debugging)."""
    names = event_fields().get(event[0])
    if names is None:
        return {"kind": event[0], "t": event[1], "fields": event[2:]}
    return dict(zip(names, event, strict=False))
