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

from sessionlens.contracts import change_fields, field, node_field, node_fields, node_types

_TYPES = node_types()
ELEMENT, TEXT, DOCUMENT, DOCTYPE, SHADOW = (
    _TYPES["element"], _TYPES["text"], _TYPES["document"], _TYPES["doctype"], _TYPES["shadow"]
)  # fmt: skip

# Positions, by the schema's names (storage_schemas/batch.v1.schema.json).
_ID, _PARENT, _NEXT, _TYPE = (node_field("element", n) for n in ("id", "parent", "next", "type"))
_TAG, _ATTRS, _PROPS = (node_field("element", n) for n in ("tag", "attrs", "props"))
_TEXT = node_field("text", "text")
_DOCTYPE = tuple(node_field("doctype", n) for n in ("name", "publicId", "systemId"))
_DOCUMENT_PROPS = node_field("document", "props")
_SHADOW_PROPS = node_field("shadow", "props")
_ATTR_CHANGE = tuple(change_fields()["attrs"].index(n) for n in ("id", "name", "value"))
_TEXT_CHANGE = tuple(change_fields()["texts"].index(n) for n in ("id", "text"))

_HEAD_LENGTH = _TYPE + 1
_RECORD_LENGTH = {_TYPES[name]: len(fields) for name, fields in node_fields().items()}

_KIND, _T = field("meta", "kind"), field("meta", "t")  # every kind starts [kind, t, ...]
_MUT_REMOVES = field("mutation", "removes")
_MUT_ADDS = field("mutation", "adds")
_MUT_ATTRS = field("mutation", "attrs")
_MUT_TEXTS = field("mutation", "texts")
_SNAP_PART = field("snapshot", "part")
_SNAP_NODES = field("snapshot", "nodes")
_META_URL, _META_VW, _META_VH = (field("meta", n) for n in ("url", "vw", "vh"))
_RESIZE_VW, _RESIZE_VH = field("resize", "vw"), field("resize", "vh")
_SCROLL_TARGET, _SCROLL_X, _SCROLL_Y = (field("scroll", n) for n in ("target", "x", "y"))
_INPUT_TARGET, _INPUT_VALUE, _INPUT_CHECKED = (field("input", n) for n in ("target", "value", "checked"))
_FOCUS_TARGET = field("focus", "target")
_BLUR_TARGET = field("blur", "target")
_NAV_URL = field("nav", "url")
_MOVE_X, _MOVE_Y = field("move", "x"), field("move", "y")
_CANVAS_TARGET, _CANVAS_DATA = field("canvas", "target"), field("canvas", "data")
_TOPLAYER_TARGET, _TOPLAYER_MODAL, _TOPLAYER_OPEN = (
    field("toplayer", n) for n in ("target", "modal", "open")
)


class Node:
    __slots__ = ("id", "type", "parent", "children", "tag", "attrs", "props", "text", "doctype")

    def __init__(self, record: list[Any]) -> None:
        self.id: int = record[_ID]
        self.type: int = record[_TYPE]
        self.parent: Node | None = None
        self.children: list[Node] = []
        self.tag: str = ""
        self.attrs: dict[str, str] = {}
        self.props: dict[str, Any] = {}
        self.text: str = ""
        self.doctype: tuple[str, str, str] = ("html", "", "")
        if self.type == ELEMENT:
            self.tag = record[_TAG]
            self.attrs = dict(record[_ATTRS])
            self.props = dict(record[_PROPS]) if len(record) > _PROPS else {}
        elif self.type == TEXT:
            self.text = record[_TEXT]
        elif self.type == DOCTYPE:
            self.doctype = (record[_DOCTYPE[0]], record[_DOCTYPE[1]], record[_DOCTYPE[2]])
        elif self.type == DOCUMENT and len(record) > _DOCUMENT_PROPS:
            self.props = dict(record[_DOCUMENT_PROPS])
        elif self.type == SHADOW and len(record) > _SHADOW_PROPS:
            self.props = dict(record[_SHADOW_PROPS])

    def record(self) -> list[Any]:
        """The node as a record (props left out when empty); next sibling null: records are in order."""
        out: list[Any] = [None] * _RECORD_LENGTH.get(self.type, _HEAD_LENGTH)
        out[_ID], out[_PARENT], out[_TYPE] = self.id, self.parent.id if self.parent else None, self.type
        if self.type == ELEMENT:
            out[_TAG], out[_ATTRS] = self.tag, dict(self.attrs)
            if self.props:
                out[_PROPS] = dict(self.props)
            else:
                del out[_PROPS]
        elif self.type == TEXT:
            out[_TEXT] = self.text
        elif self.type == DOCTYPE:
            for position, value in zip(_DOCTYPE, self.doctype, strict=True):
                out[position] = value
        elif self.type in (DOCUMENT, SHADOW):
            props_at = _DOCUMENT_PROPS if self.type == DOCUMENT else _SHADOW_PROPS
            if self.props:
                out[props_at] = dict(self.props)
            else:
                del out[props_at]
        return out


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
        kind = event[_KIND]
        self.t = max(self.t, event[_T])
        if kind == "mutation":
            for node_id in event[_MUT_REMOVES]:
                self.remove(node_id)
            self.add_records(event[_MUT_ADDS])
            for change in event[_MUT_ATTRS]:
                node_id, name, value = (change[i] for i in _ATTR_CHANGE)
                node = self.nodes.get(node_id)
                if node is None or node.type != ELEMENT:
                    continue
                if value is None:
                    node.attrs.pop(name, None)
                else:
                    node.attrs[name] = value
            for change in event[_MUT_TEXTS]:
                node_id, text = change[_TEXT_CHANGE[0]], change[_TEXT_CHANGE[1]]
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
            self.url = event[_META_URL]
            self.viewport = [event[_META_VW], event[_META_VH]]
        elif kind == "resize":
            self.viewport = [event[_RESIZE_VW], event[_RESIZE_VH]]
        elif kind == "scroll":
            self.scroll[event[_SCROLL_TARGET]] = [event[_SCROLL_X], event[_SCROLL_Y]]
        elif kind == "input":
            if event[_INPUT_TARGET] in self.nodes:
                self.inputs[event[_INPUT_TARGET]] = [event[_INPUT_VALUE], event[_INPUT_CHECKED]]
        elif kind == "focus":
            self.focus = event[_FOCUS_TARGET]
        elif kind == "blur":
            if self.focus == event[_BLUR_TARGET]:
                self.focus = None
        elif kind == "nav":
            self.url = event[_NAV_URL]
        elif kind == "move":
            self.pointer = [event[_MOVE_X], event[_MOVE_Y]]
        elif kind == "canvas":
            node = self.nodes.get(event[_CANVAS_TARGET])
            if node is not None and node.type == ELEMENT:
                node.props["canvas"] = event[_CANVAS_DATA]
        elif kind == "toplayer":
            node = self.nodes.get(event[_TOPLAYER_TARGET])
            if node is not None and node.type == ELEMENT:
                if event[_TOPLAYER_OPEN]:
                    node.props["open"] = True
                    node.props["modal"] = bool(event[_TOPLAYER_MODAL])
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
            parent_id, next_id = record[_PARENT], record[_NEXT]
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
