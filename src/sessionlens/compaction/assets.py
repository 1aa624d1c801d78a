"""Large strings of a recording stored once per site, by their SHA-256.

Stylesheet text (linked and changed-through-CSSOM sheets, adopted sheets,
inline <style> text), data: URLs in attributes (images, fonts) and canvas
bitmaps repeat across page views and sessions of a site. Compaction replaces
each such string of at least MIN_CHARS with a reference, a msgpack extension
(code ASSET_EXT, the 32-byte digest), and stores the string once under
`v1/sites/{site}/assets/{sha256}`. The reader resolves references while
unpacking, so every consumer (sanitisers included) sees the original events.

Only the positions named here are considered, located by the schema's field
names; anything of an unexpected shape is left as it is.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import msgpack

from sessionlens.contracts import change_fields, node_field, node_types
from sessionlens.contracts import field as event_field

ASSET_EXT = 1
MIN_CHARS = 512
# Distinct assets one page view may create; past it, strings stay inline in the pack. A forged
# recording of thousands of distinct large strings must not become thousands of objects.
MAX_ASSETS = 1000

_T = node_types()
_ELEMENT, _TEXT, _DOCUMENT, _SHADOW = _T["element"], _T["text"], _T["document"], _T["shadow"]
_TYPE = node_field("element", "type")
_ID = node_field("element", "id")
_PARENT = node_field("element", "parent")
_TAG = node_field("element", "tag")
_ATTRS = node_field("element", "attrs")
_PROPS = node_field("element", "props")
_TEXT_TEXT = node_field("text", "text")
_DOC_PROPS = node_field("document", "props")
_SHADOW_PROPS = node_field("shadow", "props")
_SNAP_NODES = event_field("snapshot", "nodes")
_MUT_ADDS = event_field("mutation", "adds")
_MUT_ATTRS = event_field("mutation", "attrs")
_MUT_TEXTS = event_field("mutation", "texts")
_CANVAS_DATA = event_field("canvas", "data")
_ATTR_ID, _ATTR_VALUE = change_fields()["attrs"].index("id"), change_fields()["attrs"].index("value")
_TEXTCH_ID, _TEXTCH_TEXT = change_fields()["texts"].index("id"), change_fields()["texts"].index("text")
_PROP_STRINGS = ("css", "canvas")


def digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass
class Extractor:
    """Replaces large strings of one page view's events, in stream order.

    Keeps which node ids are <style> elements and their text nodes, so the
    text of an inline style (in a snapshot or a later text change) is found.
    """

    min_chars: int = MIN_CHARS
    max_assets: int = MAX_ASSETS
    found: dict[str, str] = field(default_factory=dict)  # sha256 hex -> string
    _style_ids: set[int] = field(default_factory=set)
    _style_text_ids: set[int] = field(default_factory=set)

    def ref(self, value: Any) -> Any:
        if not isinstance(value, str) or len(value) < self.min_chars:
            return value
        sha = digest(value)
        if sha not in self.found:
            if len(self.found) >= self.max_assets:
                return value
            self.found[sha] = value
        return msgpack.ExtType(ASSET_EXT, bytes.fromhex(sha))

    def events(self, events: list[Any]) -> list[Any]:
        return [self._event(e) for e in events]

    def _event(self, event: Any) -> Any:
        if not isinstance(event, list) or not event:
            return event
        kind = event[0]
        try:
            if kind == "snapshot":
                return _replace(event, _SNAP_NODES, self._nodes(event[_SNAP_NODES]))
            if kind == "mutation":
                out = _replace(event, _MUT_ADDS, self._nodes(event[_MUT_ADDS]))
                out = _replace(out, _MUT_ATTRS, [self._attr_change(c) for c in event[_MUT_ATTRS]])
                return _replace(out, _MUT_TEXTS, [self._text_change(c) for c in event[_MUT_TEXTS]])
            if kind == "canvas":
                return _replace(event, _CANVAS_DATA, self.ref(event[_CANVAS_DATA]))
        except (IndexError, TypeError, KeyError):
            return event  # not the shape the schema says: stored as it is
        return event

    def _nodes(self, nodes: Any) -> Any:
        if not isinstance(nodes, list):
            return nodes
        return [self._node(n) for n in nodes]

    def _node(self, node: Any) -> Any:
        if not isinstance(node, list) or len(node) <= _TYPE:
            return node
        kind = node[_TYPE]
        if kind == _ELEMENT and len(node) > _ATTRS:
            if isinstance(node[_TAG], str) and node[_TAG].lower() == "style" and isinstance(node[_ID], int):
                self._style_ids.add(node[_ID])
            out = _replace(node, _ATTRS, self._attrs(node[_ATTRS]))
            if len(node) > _PROPS:
                out = _replace(out, _PROPS, self._props(node[_PROPS]))
            return out
        if kind == _TEXT and len(node) > _TEXT_TEXT:
            if node[_PARENT] in self._style_ids:
                self._style_text_ids.add(node[_ID])
                return _replace(node, _TEXT_TEXT, self.ref(node[_TEXT_TEXT]))
            return node
        props_at = _DOC_PROPS if kind == _DOCUMENT else _SHADOW_PROPS if kind == _SHADOW else None
        if props_at is not None and len(node) > props_at:
            return _replace(node, props_at, self._props(node[props_at]))
        return node

    def _attrs(self, attrs: Any) -> Any:
        if not isinstance(attrs, dict):
            return attrs
        return {k: self.ref(v) if _is_data_url(v) else v for k, v in attrs.items()}

    def _props(self, props: Any) -> Any:
        if not isinstance(props, dict):
            return props
        out = dict(props)
        for name in _PROP_STRINGS:
            if name in out:
                out[name] = self.ref(out[name])
        if isinstance(out.get("adopted"), list):
            out["adopted"] = [self.ref(s) for s in out["adopted"]]
        return out

    def _attr_change(self, change: Any) -> Any:
        if isinstance(change, list) and len(change) > _ATTR_VALUE and _is_data_url(change[_ATTR_VALUE]):
            return _replace(change, _ATTR_VALUE, self.ref(change[_ATTR_VALUE]))
        return change

    def _text_change(self, change: Any) -> Any:
        if (
            isinstance(change, list)
            and len(change) > _TEXTCH_TEXT
            and change[_TEXTCH_ID] in self._style_text_ids
        ):
            return _replace(change, _TEXTCH_TEXT, self.ref(change[_TEXTCH_TEXT]))
        return change


def _is_data_url(value: Any) -> bool:
    return isinstance(value, str) and value[:5].lower() == "data:"


def _replace(seq: list[Any], at: int, value: Any) -> list[Any]:
    if seq[at] is value:
        return seq
    out = list(seq)
    out[at] = value
    return out


def is_reference(code: int, data: bytes) -> bool:
    return code == ASSET_EXT and len(data) == 32
