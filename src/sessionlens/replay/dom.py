"""The DOM of one page view, rebuilt from the recorded stream.

Applies wire events (batch.v1.schema.json) to an id -> node model and
serialises it back to flat node records in document order, the same shape
as a snapshot. Everything is iterative: recorded pages can be 100,000 nodes
and thousands deep. Forged or partial streams never raise: unknown ids are
ignored, the way a browser ignores a stale reference.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from sessionlens.contracts import field

ELEMENT, TEXT, DOCUMENT, DOCTYPE, SHADOW = 1, 3, 9, 10, 11

_MUT_REMOVES = field("mutation", "removes")
_MUT_ADDS = field("mutation", "adds")
_MUT_ATTRS = field("mutation", "attrs")
_MUT_TEXTS = field("mutation", "texts")
_SNAP_PART = field("snapshot", "part")
_SNAP_NODES = field("snapshot", "nodes")


class Node:
    __slots__ = ("id", "type", "parent", "children", "tag", "attrs", "props", "text", "doctype")

    def __init__(self, record: list[Any]) -> None:
        self.id: int = record[0]
        self.type: int = record[3]
        self.parent: Node | None = None
        self.children: list[Node] = []
        self.tag: str = ""
        self.attrs: dict[str, str] = {}
        self.props: dict[str, Any] = {}
        self.text: str = ""
        self.doctype: tuple[str, str, str] = ("html", "", "")
        if self.type == ELEMENT:
            self.tag = record[4]
            self.attrs = dict(record[5])
            self.props = dict(record[6]) if len(record) > 6 else {}
        elif self.type == TEXT:
            self.text = record[4]
        elif self.type == DOCTYPE:
            self.doctype = (record[4], record[5], record[6])
        elif self.type in (DOCUMENT, SHADOW) and len(record) > 4:
            self.props = dict(record[4])

    def record(self) -> list[Any]:
        parent_id = self.parent.id if self.parent else None
        head = [self.id, parent_id, None, self.type]
        if self.type == ELEMENT:
            return (
                [*head, self.tag, dict(self.attrs), dict(self.props)]
                if self.props
                else [*head, self.tag, dict(self.attrs)]
            )
        if self.type == TEXT:
            return [*head, self.text]
        if self.type == DOCTYPE:
            return [*head, *self.doctype]
        return [*head, dict(self.props)] if self.props else head


class DomState:
    """State of one page view: the tree plus what is not in the tree."""

    def __init__(self) -> None:
        self.nodes: dict[int, Node] = {}
        self.root: Node | None = None
        self.t = 0
        self.url = ""
        self.viewport: list[float] = [0, 0]
        self.scroll: dict[int | None, list[float]] = {}
        self.inputs: dict[int, list[Any]] = {}
        self.focus: int | None = None
        self.pointer: list[float] | None = None

    # -- events ------------------------------------------------------------

    def apply(self, event: list[Any]) -> None:
        kind = event[0]
        self.t = max(self.t, event[1])
        if kind == "mutation":
            for node_id in event[_MUT_REMOVES]:
                self.remove(node_id)
            self.add_records(event[_MUT_ADDS])
            for node_id, name, value in event[_MUT_ATTRS]:
                node = self.nodes.get(node_id)
                if node is None or node.type != ELEMENT:
                    continue
                if value is None:
                    node.attrs.pop(name, None)
                else:
                    node.attrs[name] = value
            for node_id, text in event[_MUT_TEXTS]:
                node = self.nodes.get(node_id)
                if node is not None and node.type == TEXT:
                    node.text = text
        elif kind == "snapshot":
            if event[_SNAP_PART] == 0:
                self.nodes.clear()
                self.root = None
                self.scroll = {k: v for k, v in self.scroll.items() if k is None}
                self.inputs.clear()
            self.add_records(event[_SNAP_NODES])
        elif kind == "meta":
            self.url = event[2]
            self.viewport = [event[5], event[6]]
        elif kind == "resize":
            self.viewport = [event[2], event[3]]
        elif kind == "scroll":
            self.scroll[event[2]] = [event[3], event[4]]
        elif kind == "input":
            if event[2] in self.nodes:
                self.inputs[event[2]] = [event[3], event[4]]
        elif kind == "focus":
            self.focus = event[2]
        elif kind == "blur":
            if self.focus == event[2]:
                self.focus = None
        elif kind == "nav":
            self.url = event[2]
        elif kind == "move":
            self.pointer = [event[2], event[3]]
        elif kind == "canvas":
            node = self.nodes.get(event[2])
            if node is not None and node.type == ELEMENT:
                node.props["canvas"] = event[3]
        elif kind == "toplayer":
            node = self.nodes.get(event[2])
            if node is not None and node.type == ELEMENT:
                if event[4]:
                    node.props["open"] = True
                    node.props["modal"] = bool(event[3])
                else:
                    node.props.pop("open", None)
                    node.props.pop("modal", None)

    def apply_all(self, events: Iterable[list[Any]]) -> DomState:
        for event in events:
            self.apply(event)
        return self

    # -- tree edits --------------------------------------------------------

    def add_records(self, records: Iterable[list[Any]]) -> None:
        for record in records:
            try:
                node = Node(record)
            except (IndexError, TypeError, ValueError):
                continue  # malformed record: skip it, keep the rest
            old = self.nodes.get(node.id)
            if old is not None:
                self.remove(old.id)
            parent_id, next_id = record[1], record[2]
            if parent_id is None:
                if node.type != DOCUMENT:
                    continue
                self.root = node
                self.nodes[node.id] = node
                continue
            parent = self.nodes.get(parent_id)
            if parent is None or parent is node:
                continue
            sibling = self.nodes.get(next_id) if next_id is not None else None
            if sibling is not None and sibling.parent is parent:
                parent.children.insert(parent.children.index(sibling), node)
            else:
                parent.children.append(node)
            node.parent = parent
            self.nodes[node.id] = node

    def remove(self, node_id: int) -> None:
        node = self.nodes.get(node_id)
        if node is None:
            return
        if node.parent is not None:
            try:
                node.parent.children.remove(node)
            except ValueError:
                pass
        if node is self.root:
            self.root = None
        stack = [node]
        while stack:
            n = stack.pop()
            self.nodes.pop(n.id, None)
            self.inputs.pop(n.id, None)
            self.scroll.pop(n.id, None)
            stack.extend(n.children)

    # -- reading -----------------------------------------------------------

    def walk(self) -> Iterator[Node]:
        """Nodes in document order."""
        if self.root is None:
            return
        stack = [self.root]
        while stack:
            node = stack.pop()
            yield node
            stack.extend(reversed(node.children))

    def records(self) -> list[list[Any]]:
        return [node.record() for node in self.walk()]

    def keyframe(self) -> dict[str, Any]:
        """The replay contract's keyframe (storage_schemas/replay_api.md)."""
        return {
            "v": 1,
            "t": self.t,
            "nodes": self.records(),
            "viewport": list(self.viewport),
            "scroll": [[k, v[0], v[1]] for k, v in self.scroll.items()],
            "inputs": [[k, v[0], v[1]] for k, v in self.inputs.items()],
            "focus": self.focus,
            "url": self.url,
            "pointer": self.pointer,
        }

    @classmethod
    def from_keyframe(cls, frame: dict[str, Any]) -> DomState:
        state = cls()
        state.add_records(frame["nodes"])
        state.t = frame["t"]
        state.url = frame["url"]
        state.viewport = list(frame["viewport"])
        state.scroll = {k: [x, y] for k, x, y in frame["scroll"]}
        state.inputs = {k: [v, c] for k, v, c in frame["inputs"]}
        state.focus = frame["focus"]
        state.pointer = frame["pointer"]
        return state
