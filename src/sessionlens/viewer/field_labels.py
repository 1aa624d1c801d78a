"""Names of form fields as the visitor saw them, from the recorded DOM at the moment.

Follows a page view's snapshot and mutations with just enough of the tree
(tag, attributes, parent; text nodes' text) to answer "what is this field
called": its aria-label, its <label> (for= or wrapping), placeholder, name,
id or title. Never its value. Everything here is recorded text (masked at
capture where masking applies) and is shown by the player as text.
"""

from __future__ import annotations

from typing import Any

from sessionlens.contracts import change_fields, field, node_field, node_types

_TYPES = node_types()
_ELEMENT, _TEXT = _TYPES["element"], _TYPES["text"]
_ID, _PARENT, _TYPE = (node_field("element", n) for n in ("id", "parent", "type"))
_TAG, _ATTRS = node_field("element", "tag"), node_field("element", "attrs")
_TEXT_TEXT = node_field("text", "text")
_SNAPSHOT_NODES = field("snapshot", "nodes")
_REMOVES, _ADDS = field("mutation", "removes"), field("mutation", "adds")
_ATTR_CHANGES, _TEXT_CHANGES = field("mutation", "attrs"), field("mutation", "texts")
_ATTR = {name: i for i, name in enumerate(change_fields()["attrs"])}
_TXT = {name: i for i, name in enumerate(change_fields()["texts"])}
MAX_NODES = 200_000  # a recording growing without bound stops being followed, not the server
MAX_NAME = 80


class FieldNames:
    """The tree as far as field names need it; feed it every event of a page view in order."""

    def __init__(self) -> None:
        self.elements: dict[int, tuple[Any, str, dict[str, Any]]] = {}  # id -> (parent, tag, attrs)
        self.texts: dict[int, tuple[Any, str]] = {}  # id -> (parent, text)

    def add(self, event: list[Any]) -> None:
        kind = event[0]
        if kind == "snapshot":
            if len(event) > _SNAPSHOT_NODES:
                self._records(event[_SNAPSHOT_NODES])
        elif kind == "mutation":
            for node_id in _list(event, _REMOVES):
                self.elements.pop(node_id, None)
                self.texts.pop(node_id, None)
            self._records(_list(event, _ADDS))
            for change in _list(event, _ATTR_CHANGES):
                el = self.elements.get(change[_ATTR["id"]]) if isinstance(change, list) else None
                if el is not None and isinstance(change[_ATTR["name"]], str):
                    value = change[_ATTR["value"]]
                    if value is None:
                        el[2].pop(change[_ATTR["name"]], None)
                    else:
                        el[2][change[_ATTR["name"]]] = value
            for change in _list(event, _TEXT_CHANGES):
                if isinstance(change, list) and change[_TXT["id"]] in self.texts:
                    parent = self.texts[change[_TXT["id"]]][0]
                    self.texts[change[_TXT["id"]]] = (parent, str(change[_TXT["text"]]))

    def _records(self, records: Any) -> None:
        if not isinstance(records, list):
            return
        for rec in records:
            if not isinstance(rec, list) or len(rec) <= _TYPE:
                continue
            if len(self.elements) + len(self.texts) >= MAX_NODES:
                return
            if rec[_TYPE] == _ELEMENT and len(rec) > _TAG:
                attrs = rec[_ATTRS] if len(rec) > _ATTRS and isinstance(rec[_ATTRS], dict) else {}
                self.elements[rec[_ID]] = (rec[_PARENT], str(rec[_TAG]).lower(), dict(attrs))
            elif rec[_TYPE] == _TEXT and len(rec) > _TEXT_TEXT:
                self.texts[rec[_ID]] = (rec[_PARENT], str(rec[_TEXT_TEXT]))

    def tag(self, node_id: Any) -> tuple[str, str]:
        """(tag, type attribute) of a node, ("", "") when unknown."""
        el = self.elements.get(node_id)
        return (el[1], str(el[2].get("type", "")).lower()) if el else ("", "")

    def name(self, node_id: Any) -> str:
        """The field's name as shown to the visitor, "" when it has none we can tell."""
        el = self.elements.get(node_id)
        if el is None:
            return ""
        attrs = el[2]
        for found in (
            attrs.get("aria-label"),
            self._label_for(attrs.get("id")),
            self._wrapping_label(node_id),
            attrs.get("placeholder"),
            attrs.get("name"),
            attrs.get("title"),
            attrs.get("id"),
        ):
            # Masked text (data-sl-mask, maskAllText) is a row of '*': no name, try the next
            # (the id is never masked).
            if isinstance(found, str) and found.replace("*", "").strip():
                return " ".join(found.split())[:MAX_NAME]
        return ""

    def _label_for(self, field_id: Any) -> str:
        if not isinstance(field_id, str) or not field_id:
            return ""
        for node_id, (_, tag, attrs) in self.elements.items():
            if tag == "label" and attrs.get("for") == field_id:
                return self._text_of(node_id)
        return ""

    def _wrapping_label(self, node_id: Any) -> str:
        parent, seen = self.elements[node_id][0], 0
        while parent in self.elements and seen < 64:
            if self.elements[parent][1] == "label":
                return self._text_of(parent)
            parent, seen = self.elements[parent][0], seen + 1
        return ""

    def _text_of(self, root: Any) -> str:
        # Text nodes under root, in id order (ids are given in document order when recorded).
        parts = []
        for _, (parent, text) in sorted(
            self.texts.items(), key=lambda kv: kv[0] if isinstance(kv[0], int) else 0
        ):
            seen = 0
            while parent is not None and parent != root and seen < 64:
                el = self.elements.get(parent)
                if el is None or el[1] in ("script", "style"):
                    parent = None
                    break
                parent, seen = el[0], seen + 1
            if parent == root:
                parts.append(text)
        return " ".join(" ".join(parts).split())


def _list(event: list[Any], at: int) -> list[Any]:
    value = event[at] if len(event) > at else None
    return value if isinstance(value, list) else []
