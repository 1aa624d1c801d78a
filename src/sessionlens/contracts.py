"""The wire contract, read from storage_schemas/ so code never restates it.

Event kinds and the names of their positional fields come from the schema's
``x-fields``; validation uses a compiled validator because ingest runs it on
every batch.
"""

from __future__ import annotations

import copy
import functools
import re
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
def activity_kinds() -> frozenset[str]:
    """Kinds that are the visitor's own doing (``x-activity`` in the schema)."""
    kinds = batch_schema()["definitions"]["kinds"]
    return frozenset(kind for kind, spec in kinds.items() if spec.get("x-activity"))


@functools.cache
def node_types() -> dict[str, int]:
    """Node record type name -> its number (element 1, text 3, ...)."""
    return dict(batch_schema()["definitions"]["node"]["x-types"])


@functools.cache
def node_fields() -> dict[str, tuple[str, ...]]:
    """Node type name -> field names of its record, in order."""
    by_number = {number: name for name, number in node_types().items()}
    return {
        by_number[branch["items"][3]["const"]]: tuple(branch["x-fields"])
        for branch in batch_schema()["definitions"]["node"]["oneOf"]
    }


def node_field(node_type: str, name: str) -> int:
    """Position of a named field inside a node record of ``node_type``."""
    return node_fields()[node_type].index(name)


@functools.cache
def change_fields() -> dict[str, tuple[str, ...]]:
    """Field names of a mutation's attribute and text changes ("attrs", "texts")."""
    items = batch_schema()["definitions"]["kinds"]["mutation"]["items"]
    return {name: tuple(items[field("mutation", name)]["items"]["x-fields"]) for name in ("attrs", "texts")}


def make_event(kind: str, **values: Any) -> list[Any]:
    """An event of ``kind`` from named fields (tests and tools; the recorder builds its own).

    Trailing fields past the schema's minItems may be left out; any other missing field is an error.
    """
    names = event_fields()[kind]
    unknown = set(values) - set(names)
    if unknown:
        raise KeyError(f"{kind} has no field {sorted(unknown)}")
    required = batch_schema()["definitions"]["kinds"][kind].get("minItems", len(names))
    last = max([names.index(n) for n in values] + [required - 1])
    missing = [n for n in names[1 : last + 1] if n not in values]
    if missing:
        raise KeyError(f"{kind} needs {missing}")
    return [kind, *(values[n] for n in names[1 : last + 1])]


def make_node(node_type: str, **values: Any) -> list[Any]:
    """A node record of ``node_type`` ("element", "text", ...) from named fields.

    parent and next default to null; trailing optional fields (props) may be left out.
    """
    names = node_fields()[node_type]
    unknown = set(values) - set(names)
    if unknown:
        raise KeyError(f"{node_type} record has no field {sorted(unknown)}")
    values = {"parent": None, "next": None, **values, "type": node_types()[node_type]}
    last = max(names.index(n) for n in values)
    missing = [n for n in names[: last + 1] if n not in values]
    if missing:
        raise KeyError(f"{node_type} record needs {missing}")
    return [values[n] for n in names[: last + 1]]


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
        low, high = _arity()[kind]
        if not low <= len(event) <= high:
            expected = str(high) if low == high else f"{low} to {high}"
            raise ContractError(f"events[{i}] ({kind}) has {len(event)} fields, expected {expected}")
        try:
            check(event)
        except fastjsonschema.JsonSchemaValueException as exc:
            where = _field_name(kinds[kind], exc.name or "")
            message = exc.message.replace(exc.name, where) if exc.name else exc.message
            raise ContractError(f"events[{i}] ({kind}) {where}: {message}") from None
        if kind == "snapshot" or kind == "mutation":
            _validate_nodes(
                v, event[field(kind, "nodes" if kind == "snapshot" else "adds")], f"events[{i}] ({kind})"
            )


@functools.cache
def _arity() -> dict[str, tuple[int, int]]:
    """kind -> (fewest, most) fields, from the schema (trailing fields may be optional)."""
    kinds = batch_schema()["definitions"]["kinds"]
    return {
        kind: (spec.get("minItems", len(spec["x-fields"])), spec.get("maxItems", len(spec["x-fields"])))
        for kind, spec in kinds.items()
    }


def _field_name(fields: tuple[str, ...], name: str) -> str:
    """fastjsonschema's "data[5][0]" as "line[0]": the field's name from x-fields."""
    match = re.match(r"data\[(\d+)\](.*)", name)
    if match and int(match[1]) < len(fields):
        return fields[int(match[1])] + match[2]
    return name


def _validate_nodes(v: _Validators, nodes: list[Any], where: str) -> None:
    for j, node in enumerate(nodes):
        check = v.nodes.get(node[3])
        if check is None:
            raise ContractError(f"{where} node {j} has unknown type {node[3]!r}")
        try:
            check(node)
        except fastjsonschema.JsonSchemaValueException as exc:
            raise ContractError(f"{where} node {j}: {exc.message}") from None


# -- integer positions -------------------------------------------------------
#
# JSON Schema (and so fastjsonschema) counts 3.0 as an "integer". Stored
# sequence numbers, times and node ids must be Python ints, so the positions
# the schema types as integer are read from the schema here and checked by
# type after validation (see integer_violation).

INT = "int"
# A rule is INT, or ("at", {position: rule}) for a positional array, or
# ("each", rule) for an array whose items all follow one rule.
Rule = Any


def _int_rule(schema: dict[str, Any], definitions: dict[str, Any]) -> Rule | None:
    while "$ref" in schema:
        target: Any = {"definitions": definitions}
        for part in schema["$ref"].lstrip("#/").split("/"):
            target = target[part]
        schema = target
    kind = schema.get("type")
    if kind == "integer" or (isinstance(kind, list) and "integer" in kind):
        return INT
    if "enum" in schema and all(type(x) is int for x in schema["enum"]):
        return INT
    if type(schema.get("const")) is int:
        return INT
    items = schema.get("items")
    if isinstance(items, list):
        positions = {i: r for i, sub in enumerate(items) if (r := _int_rule(sub, definitions)) is not None}
        return ("at", positions) if positions else None
    if isinstance(items, dict):
        rule = _int_rule(items, definitions)
        return ("each", rule) if rule is not None else None
    return None


@functools.cache
def integer_rules() -> tuple[dict[str, Rule], dict[str, Rule]]:
    """(envelope property -> rule, event kind -> rule), both read from the schema."""
    schema = batch_schema()
    definitions = schema["definitions"]
    envelope = {
        name: rule
        for name, sub in schema["properties"].items()
        if name != "events" and (rule := _int_rule(sub, definitions)) is not None
    }
    kinds = {
        kind: rule
        for kind, sub in definitions["kinds"].items()
        if (rule := _int_rule(sub, definitions)) is not None
    }
    return envelope, kinds


def integer_violation(value: Any, rule: Rule) -> tuple[int, ...] | None:
    """Path (positions) of the first float where the rule wants an integer, or None.

    Iterative: the shape of a rule is bounded by the schema, but the arrays it
    walks are as long as the batch makes them.
    """
    stack: list[tuple[Any, Rule, tuple[int, ...]]] = [(value, rule, ())]
    while stack:
        v, r, path = stack.pop()
        if r is INT:
            if type(v) is float:
                return path
        elif not isinstance(v, list):
            continue
        elif r[0] == "at":
            for i, sub in r[1].items():
                if i < len(v):
                    stack.append((v[i], sub, (*path, i)))
        else:
            stack.extend((item, r[1], (*path, i)) for i, item in enumerate(v))
    return None


# (positions that are integers, ((position, item positions or None for "each int"), ...))
FlatRule = tuple[tuple[int, ...], tuple[tuple[int, tuple[int, ...] | None], ...]]


def _flatten(rule: Rule) -> FlatRule | None:
    """The two-level form every event kind has today, checked without a stack; None if deeper."""
    if rule is INT or rule[0] != "at":
        return None
    flat, nested = [], []
    for pos, sub in rule[1].items():
        if sub is INT:
            flat.append(pos)
        elif sub[0] == "each" and sub[1] is INT:
            nested.append((pos, None))
        elif sub[0] == "each" and sub[1][0] == "at" and all(r is INT for r in sub[1][1].values()):
            nested.append((pos, tuple(sub[1][1])))
        else:
            return None
    return tuple(flat), tuple(nested)


@functools.cache
def flat_integer_rules() -> dict[str, FlatRule | None]:
    """kind -> its integer positions in a form that is fast to check (None: use integer_violation)."""
    return {kind: _flatten(rule) for kind, rule in integer_rules()[1].items()}


def _free_form(schema: dict[str, Any]) -> bool:
    """An object the schema does not describe further (custom event properties)."""
    return (
        schema.get("type") == "object" and "properties" not in schema and "additionalProperties" not in schema
    )


@functools.cache
def free_form_positions() -> dict[str, tuple[int, ...]]:
    """kind -> positions whose values the schema leaves free (nesting and numbers unchecked by it)."""
    out = {}
    for kind, spec in batch_schema()["definitions"]["kinds"].items():
        positions = tuple(i for i, sub in enumerate(spec.get("items", [])) if _free_form(sub))
        if positions:
            out[kind] = positions
    return out


def event_as_dict(event: list[Any]) -> dict[str, Any]:
    """Name the positional fields of one event (for export and debugging)."""
    names = event_fields().get(event[0])
    if names is None:
        return {"kind": event[0], "t": event[1], "fields": event[2:]}
    return dict(zip(names, event, strict=False))
