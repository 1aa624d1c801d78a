"""The wire contract, read from storage_schemas/ so code never restates it.

Event kinds and the names of their positional fields come from the schema's
``x-fields``; validation uses a compiled validator because ingest runs it on
every batch.
"""

from __future__ import annotations

import copy
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


class _Validators:
    """Validators compiled from the schema, dispatched by kind.

    A plain ``oneOf`` over sixteen event kinds (and five node types) makes
    every event fail fifteen branches, which dominated ingest time. The
    schema file stays the single contract: these are cut from it, not
    restated.
    """

    def __init__(self, schema: dict[str, Any]) -> None:
        definitions = copy.deepcopy(schema["definitions"])
        node_branches = definitions["node"].pop("oneOf")
        envelope = copy.deepcopy(schema)
        envelope["properties"]["events"]["items"] = {
            "type": "array",
            "minItems": 2,
            "items": [{"type": "string"}, {"$ref": "#/definitions/t"}],
        }
        envelope["definitions"] = definitions
        self.envelope = fastjsonschema.compile(envelope)

        def compiled(sub: dict[str, Any]) -> Callable[[Any], Any]:
            return fastjsonschema.compile({"definitions": definitions, **sub})

        self.kinds = {
            kind: compiled({"$ref": f"#/definitions/kinds/{kind}"}) for kind in definitions["kinds"]
        }
        self.nodes = {
            branch["items"][3]["const"]: compiled({"allOf": [{"$ref": "#/definitions/node"}, branch]})
            for branch in node_branches
        }


@functools.cache
def _validators() -> _Validators:
    return _Validators(batch_schema())


def warm_up() -> None:
    _validators()


def validate_batch(batch: Any) -> None:
    """Raise ContractError naming what is wrong, or return quietly."""
    v = _validators()
    try:
        v.envelope(batch)
    except fastjsonschema.JsonSchemaValueException as exc:
        raise ContractError(f"{exc.name or 'batch'}: {exc.message}") from None
    kinds = event_fields()
    for i, event in enumerate(batch["events"]):
        kind = event[0]
        check = v.kinds.get(kind)
        if check is None:
            raise ContractError(f"events[{i}] has unknown kind {kind!r}")
        if len(event) != len(kinds[kind]):
            raise ContractError(f"events[{i}] ({kind}) has {len(event)} fields, expected {len(kinds[kind])}")
        try:
            check(event)
        except fastjsonschema.JsonSchemaValueException as exc:
            raise ContractError(f"events[{i}] ({kind}): {exc.name} {exc.message}") from None
        if kind == "snapshot" or kind == "mutation":
            _validate_nodes(
                v, event[field(kind, "nodes" if kind == "snapshot" else "adds")], f"events[{i}] ({kind})"
            )


def _validate_nodes(v: _Validators, nodes: list[Any], where: str) -> None:
    for j, node in enumerate(nodes):
        check = v.nodes.get(node[3])
        if check is None:
            raise ContractError(f"{where} node {j} has unknown type {node[3]!r}")
        try:
            check(node)
        except fastjsonschema.JsonSchemaValueException as exc:
            raise ContractError(f"{where} node {j}: {exc.message}") from None


def event_as_dict(event: list[Any]) -> dict[str, Any]:
    """Name the positional fields of one event (for export and debugging)."""
    names = event_fields().get(event[0])
    if names is None:
        return {"kind": event[0], "t": event[1], "fields": event[2:]}
    return dict(zip(names, event, strict=False))
