"""Range, depth and size limits of one batch, checked at ingest.

Every number the recorder sends ends up in the index (SQLite integers are
64-bit), in msgpack and in the renderers, so a batch is refused (422, naming
the field) unless:

- it nests at most ``max_json_depth`` arrays/objects deep (msgpack refuses
  past 512 levels and recursive code past ~1000; orjson itself stops at 1024);
- every number is finite and within +-2**53 (JavaScript's safe integers: the
  recorder cannot produce anything larger);
- every position the schema types as integer holds an int, not 3.0;
- ``t0`` lies within ``t0_window_days`` of the server clock;
- the node tree its snapshot and mutation records build is at most
  ``max_dom_depth`` deep.

The schema bounds every number it types (+-2**53) and fixes every shape
except custom event properties, which check_free_form walks. orjson refuses
NaN, Infinity and 1e400 while parsing. Every walk here is iterative: the
input decides how deep the data goes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sessionlens import contracts

MAX_SAFE = 2**53 - 1  # Number.MAX_SAFE_INTEGER
DAY_MS = 86_400_000


class LimitError(ValueError):
    """The batch is over a limit; the message names the field."""


@dataclass(frozen=True, slots=True)
class Limits:
    max_json_depth: int
    max_dom_depth: int
    t0_window_ms: int

    @classmethod
    def from_settings(cls, settings: Any) -> Limits:
        return cls(settings.max_json_depth, settings.max_dom_depth, settings.t0_window_days * DAY_MS)


def check_free_form(batch: dict[str, Any], max_depth: int) -> None:
    """Nesting depth and number ranges where the schema leaves values free
    (custom event properties); the schema bounds every other number and
    fixes every other shape.

    The common case (nothing wrong) walks without building paths; only a
    refusal walks again to name where the problem is.
    """
    free = contracts.free_form_positions()
    fields = contracts.event_fields()
    for i, event in enumerate(batch["events"]):
        for pos in free.get(event[0], ()):
            value = event[pos]
            # envelope (1) > events (2) > event (3) > this value (4)
            if _first_problem(value, 4, max_depth, with_path=False) is not None:
                found = _first_problem(value, 4, max_depth, with_path=True) or ""
                where, _, why = found.rpartition(": ")
                if len(where) > 80:  # a path 60 levels deep says nothing more than its start
                    where = where[:80] + "..."
                raise LimitError(f"events[{i}] ({event[0]}) {fields[event[0]][pos]}{where}: {why}")


def _first_problem(value: Any, depth: int, max_depth: int, *, with_path: bool) -> str | None:
    if type(value) is not list and type(value) is not dict:
        return _number_problem(value, "") if with_path else ("" if _number_problem(value, "") else None)
    if depth > max_depth:
        return f": nested deeper than {max_depth} levels (max_json_depth)" if with_path else ""
    stack: list[tuple[Any, int, str]] = [(value, depth, "")]
    while stack:
        container, level, path = stack.pop()
        items = container.items() if type(container) is dict else enumerate(container)
        for key, v in items:
            t = type(v)
            if t is str or v is None or t is bool:
                continue
            if t is int or t is float:
                # NaN fails both comparisons, so it is refused too.
                if not (-MAX_SAFE <= v <= MAX_SAFE):
                    where = f"{path}[{key!r}]" if with_path else ""
                    return f"{where}: number {v!r} is outside +-2^53" if with_path else ""
            elif t is list or t is dict:
                if level >= max_depth:
                    where = f"{path}[{key!r}]" if with_path else ""
                    return (
                        f"{where}: nested deeper than {max_depth} levels (max_json_depth)"
                        if with_path
                        else ""
                    )
                stack.append((v, level + 1, f"{path}[{key!r}]" if with_path else ""))
    return None


def _number_problem(value: Any, where: str) -> str | None:
    if (type(value) is int or type(value) is float) and not (-MAX_SAFE <= value <= MAX_SAFE):
        return f"{where}: number {value!r} is outside +-2^53"
    return None


def check_integers(batch: dict[str, Any]) -> None:
    """After the schema check: integer positions hold ints (3.0 is refused)."""
    envelope, kinds = contracts.integer_rules()
    for name, rule in envelope.items():
        if contracts.integer_violation(batch.get(name), rule) is not None:
            raise LimitError(f"{name}: must be an integer, got {batch[name]!r}")
    flat_rules = contracts.flat_integer_rules()
    for i, event in enumerate(batch["events"]):
        kind = event[0]
        flat = flat_rules.get(kind)
        if flat is None:
            path = contracts.integer_violation(event, kinds[kind]) if kind in kinds else None
        else:
            path = _flat_violation(event, flat)
        if path is not None:
            where = "".join(f"[{p}]" for p in path[1:])
            raise LimitError(
                f"events[{i}] ({kind}) {contracts.event_fields()[kind][path[0]]}{where}: must be an integer"
            )


def _flat_violation(event: list[Any], rule: contracts.FlatRule) -> tuple[int, ...] | None:
    positions, nested = rule
    for p in positions:
        if p < len(event) and type(event[p]) is float:  # trailing fields may be absent
            return (p,)
    for p, item_positions in nested:
        if p >= len(event):
            continue
        items = event[p]
        if item_positions is None:
            for j, x in enumerate(items):
                if type(x) is float:
                    return (p, j)
        else:
            for j, item in enumerate(items):
                for q in item_positions:
                    if q < len(item) and type(item[q]) is float:
                        return (p, j, q)
    return None


def check_t0(t0: int, now_ms: int, window_ms: int) -> None:
    if abs(t0 - now_ms) > window_ms:
        raise LimitError(f"t0: {t0} is more than {window_ms // DAY_MS} days from the server clock ({now_ms})")


def check_dom_depth(batch: dict[str, Any], max_depth: int) -> None:
    """Depth of the node tree the batch's snapshot and mutation records build.

    Records are flat ([id, parentId, ...], see the schema's node definition);
    depth is followed through parent ids known inside this batch, with a
    memo so every node is visited a bounded number of times, and loops in
    hostile parent chains end the walk instead of spinning.
    """
    snapshot_nodes = contracts.field("snapshot", "nodes")
    mutation_adds = contracts.field("mutation", "adds")
    parent: dict[Any, Any] = {}
    for event in batch["events"]:
        kind = event[0]
        if kind == "snapshot":
            records = event[snapshot_nodes]
        elif kind == "mutation":
            records = event[mutation_adds]
        else:
            continue
        for record in records:
            parent[record[0]] = record[1]
    if len(parent) <= max_depth:
        return  # a tree of n nodes is at most n deep
    depth: dict[Any, int] = {}
    for start in parent:
        if start in depth:
            continue
        chain = []
        on_chain = set()
        node = start
        while node in parent and node not in depth and node not in on_chain:
            chain.append(node)
            on_chain.add(node)
            node = parent[node]
        base = depth.get(node, 0)
        for offset, n in enumerate(reversed(chain), start=1):
            depth[n] = base + offset
        if base + len(chain) > max_depth:
            raise LimitError(
                f"node {start}: the batch's node tree is {base + len(chain)} levels deep; "
                f"at most {max_depth} accepted (max_dom_depth)"
            )


def check_after_schema(batch: dict[str, Any], limits: Limits, now_ms: int) -> None:
    """Everything above; needs the shape validate_batch guarantees, so runs after it."""
    check_free_form(batch, limits.max_json_depth)
    check_integers(batch)
    check_t0(batch["t0"], now_ms, limits.t0_window_ms)
    check_dom_depth(batch, limits.max_dom_depth)
