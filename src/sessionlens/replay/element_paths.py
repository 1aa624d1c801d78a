"""Naming clicked elements and submitted forms from the recorded DOM, where the recording is read.

The recorder used to compute, in the visitor's browser, the path of a
clicked element (heatmaps place clicks by it), the control it belongs to,
that control's visible text, the nearest anchored ancestor, and the names
of submitted forms and invalid fields. It now sends node ids (and, per
click, its offset from the target's and each ancestor's box: the
`offsets` field); this module computes the rest from the page view's DOM
as recorded (replay/dom.py), at the moment of the event. The heatmap
backdrop is that same recorded DOM, so a path made here is at least as
consistent with it as one made in the browser was.

Grammar and preferences are those of the recorder's old selector.js
(resolved by LOCATE_JS, heatmap/click_paths.py):

    path    = segment *(" >>> " segment)   next segment: inside the element's
                                           shadow root or its frame's document
    segment = part *(">" part)             each part a child of the one before;
                                           the first found anywhere in the root
    part    = CSS compound [":text(" escaped-text ")"]

Parts prefer an id without digits or ':', a data-test*/cy/qa/id/key
attribute, name, aria-label, title, alt (no digits outside data-*), an
<a>'s href suffix (the part after the page's origin when same-origin:
hrefs made absolute as the page did, recorded_urls.py), then tag + up to 2 classes that are not
state (STATE_CLASS) and were not seen changing during the page view
(volatile). A part whose attribute is unique in the element's own root
(document, shadow root, frame document) ends the walk up; siblings that
still match are told apart by the start of their recorded text (up to the
first digit, mask '*' or '>', 24 chars) before :nth-of-type. Attribute
values and classes holding a '>' are not used: LOCATE_JS splits a segment
at every '>', escaped or not.

Masked values are never used: masking writes every non-blank character
of a masked text or attribute as '*' (js_recorder/src/privacy/mask.js), so
an attribute value made of '*' and blanks is skipped and text keys stop at
the first '*'. Click handlers (onclick) are never recorded, so [onclick]
elements are not controls here (the browser version counted them).

Events that already carry a selector / form / field name (recorded by the
old recorder, stored before this change) are left as they are: storage is
the truth and a reindex gives the same result.

A click's `tag` and its flags 'a' (el.closest("a[href]")) and 'f'
(isFormControl(el) || el.isContentEditable || el.closest("label")) are
the server's too, for page views whose meta `gen` is CLASSIFY_GENERATION
or more (the recorder keeps only 'x', a text selection the DOM cannot
tell); older page views keep theirs as stored. The rules are the
browser's, as checked in Chromium: closest() and contenteditable
inheritance follow the element's ancestors within its own document or
shadow root (neither crosses a shadow root or a frame); a contenteditable
value "", "true" or "plaintext-only" (any case) makes an element and its
descendants editable unless a nearer "false"; other values inherit; an
SVG or MathML element is never editable, nor is what is under one. What
the recording cannot tell: a document in designMode (not recorded), and a
target that was not recorded (inside data-sl-block): its tag is then ""
and its flags are what it inherits from its nearest recorded ancestor
(the first entry of `offsets`). Lookups use an index of
attribute values (appended to as nodes and attributes arrive, checked when
read), so a 100,000-node page with hundreds of clicks is not quadratic;
walks are bounded; forged streams never raise.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import urlsplit

from sessionlens.contracts import change_fields, field, node_field
from sessionlens.replay.dom import DOCUMENT, ELEMENT, SHADOW, TEXT, DomState, Node
from sessionlens.replay.form_errors import FormErrors, meta_gen, submit_invalid
from sessionlens.replay.node_index import NodeIndex
from sessionlens.replay.recorded_urls import RecordedUrls
from sessionlens.replay.stream_fields import StreamFields

ROOT_SEP = " >>> "
MAX_PATH = 4096
MAX_TEXT = 80
MAX_FORM = 256
MAX_FIELD = 100
MAX_PARTS = 10  # per segment
MAX_SEGMENTS = 8
MAX_VOLATILE = 300
MAX_CANDIDATES = 32  # elements checked for uniqueness of one attribute value; more: not unique
MAX_WALK = 50_000  # ancestor steps per event (deep hostile trees stay bounded)
MAX_TEXT_NODES = 2_000  # nodes visited reading one element's text
# Children of one parent compared by class and text; a parent with more tells its children by
# position alone (cached per parent until its children change), so a click in a 50,000-row
# list does not compare 50,000 rows.
MAX_SIBLINGS = 200
# Meta `gen` from which a click's tag and flags 'a' / 'f' are the server's (the recorder
# sends tag "" and flags "" or "x").
CLASSIFY_GENERATION = 2

_C = {
    n: field("click", n)
    for n in ("target", "selector", "tag", "flags", "control", "text", "anchor", "ax", "ay", "offsets")
}
_SUBMIT_TARGET, _SUBMIT_FORM, _SUBMIT_INVALID = (field("submit", n) for n in ("target", "form", "invalid"))
_INVALID_TARGET, _INVALID_FIELD = field("invalid", "target"), field("invalid", "field")
_SNAP_NODES, _MUT_ADDS, _MUT_ATTRS = (
    field("snapshot", "nodes"),
    field("mutation", "adds"),
    field("mutation", "attrs"),
)
_SNAP_PART, _MUT_REMOVES = field("snapshot", "part"), field("mutation", "removes")
_ATTR_ID, _ATTR_NAME, _ATTR_VALUE = (change_fields()["attrs"].index(n) for n in ("id", "name", "value"))
_REC_ID, _REC_PARENT = node_field("element", "id"), node_field("element", "parent")

# A class naming a state (`active`, `nav-open`, `btn--selected`, `is-x`, `has-x`, `js-x`) or
# generated by a build (digits, css-in-js prefixes).
STATE_CLASS = re.compile(
    r"^(is|has|js)-|(^|[-_])(active|hover\w*|focus\w*|open\w*|selected|current|disabled|hidden|visible"
    r"|show\w*|expanded|collapsed|checked|dark|light|on|off)$|\d|^(css|sc|jsx|svelte|emotion)-",
    re.I | re.A,
)
# Attributes that name an element; values with digits are not used except in data-* ids.
NAMED = re.compile(r"^(data-(test\w*|cy|qa|id|key)|name|aria-label|title|alt)$", re.A)
GENERATED_ID = re.compile(r"[0-9:]")  # ember12, :r1:, radix-:r3:, mui-7
_DIGIT = re.compile(r"[0-9]")
# A text key stops at a digit (prices, counts), a mask or a '>' (LOCATE_JS splits a segment at
# every '>', escaped or not: a part must hold none).
_KEY_END = re.compile(r"[0-9*>][\s\S]*$")
_SPACE = re.compile(r"\s+")
_JS_URL = re.compile(r"^javascript:", re.I)
_HIDDEN_STYLE = re.compile(r"display\s*:\s*none", re.I)
_NO_TEXT = frozenset({"script", "style", "template", "noscript"})
_CONTROL_TAGS = frozenset({"a", "button", "input", "select", "textarea", "label", "summary"})
_CONTROL_ROLES = frozenset({"button", "link", "tab", "menuitem", "checkbox", "radio", "switch", "option"})
_FORM_NAMES = ("id", "name", "aria-label")
_FORM_CONTROLS = frozenset({"input", "textarea", "select"})  # mask.js isFormControl
_EDITABLE = frozenset({"", "true", "plaintext-only"})  # contenteditable states that edit


def css_escape(value: str) -> str:
    """CSS.escape (CSSOM spec), so a path has no raw '>' or ')' inside a value."""
    out = []
    n = len(value)
    for i, ch in enumerate(value):
        code = ord(ch)
        if code == 0:
            out.append("\ufffd")
        elif (
            0x1 <= code <= 0x1F
            or code == 0x7F
            or (i == 0 and ch.isdigit() and ch.isascii())
            or (i == 1 and ch.isascii() and ch.isdigit() and value[0] == "-")
        ):
            out.append(f"\\{code:x} ")
        elif i == 0 and ch == "-" and n == 1:
            out.append("\\-")
        elif code >= 0x80 or ch in "-_" or (ch.isascii() and ch.isalnum()):
            out.append(ch)
        else:
            out.append("\\" + ch)
    return "".join(out)


def squash(text: str) -> str:
    return _SPACE.sub(" ", text).strip()


def masked(value: str) -> bool:
    """A value masking wrote (every non-blank character '*'): not a name to use."""
    return "*" in value and not value.replace("*", "").strip()


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _no_nul(text: str) -> str:
    """Names go to the index: PostgreSQL text cannot hold NUL (a page can set one by script)."""
    return text.replace("\x00", "")


class _Walk:
    """Ancestor steps of one event, bounded (a 10,000-deep forged tree costs MAX_WALK at most)."""

    def __init__(self) -> None:
        self.left = MAX_WALK
        self.roots: dict[int, Node | None] = {}
        # Text nodes read telling siblings apart: 200 siblings of 2,000 nodes each, at every
        # level, made one click read the whole page (a 100,000-node page: 50 ms a click).
        self.text_left = MAX_WALK

    def root(self, node: Node) -> Node | None:
        """The node's root: its document or shadow root node (None when too deep or detached)."""
        seen: list[Node] = []
        n: Node | None = node
        found: Node | None = None
        while n is not None:
            known = self.roots.get(id(n), False)
            if known is not False:
                found = known
                break
            if n.type in (DOCUMENT, SHADOW):
                found = n
                break
            self.left -= 1
            if self.left < 0:
                return None
            seen.append(n)
            n = n.parent
        for s in seen:
            self.roots[id(s)] = found
        return found


class ElementPaths:
    """Follows one page view's events (feed them in order through `stream`, or call `enrich`
    before and `apply` after each) and fills the names the recorder left empty. `apply` returns
    the `invalid` events a mutation showed (form_errors.py), named: read them right after it."""

    def __init__(self, state: DomState | None = None) -> None:
        self.state = state if state is not None else DomState()
        self.volatile: set[str] = set()
        # Attribute value -> elements that had it when it was recorded, each once (keyed by the
        # node object: a value set again and again is one entry), checked when read: removed
        # nodes and changed values are dropped as a read meets them. Built from the DOM the
        # first time a name is needed (page views recorded before, or without clicks, never
        # pay for it), then kept up to date as nodes and attributes arrive.
        self._indexed = False
        self._index: NodeIndex[tuple[str, str, str]] = NodeIndex(self.state, lambda n, key: key in _keys(n))
        self._origin = ""
        self._origin_url: Any = None
        # Big parents: node -> its nth-of-type, kept while the parent's children are unchanged.
        self._positions: dict[int, tuple[Node, int, dict[int, int]]] = {}
        self._versions: dict[int, int] = {}  # parent node id -> changes of its children
        self.errors = FormErrors(self.state)
        self.fields = StreamFields()  # nav how, request failed/method, timing (stream_fields.py)
        self.gen = 0  # the meta event's gen: what the recorder left to the server
        # Hrefs name links by their absolute URL, as the backdrop's DOM (PageViewReader) has them.
        self.urls = RecordedUrls()

    # -- following the stream ------------------------------------------------------

    def stream(self, events: Iterable[list[Any]]) -> Iterator[list[Any]]:
        """Each event enriched; applied to the DOM once the caller asks for the next one, then
        the `invalid` events it showed (form_errors.py), at its time."""
        for event in events:
            out = self.enrich(event)
            yield out
            yield from self.apply(out)

    def apply(self, event: list[Any]) -> list[list[Any]]:
        """Apply the event to the DOM (state.apply) and keep the attribute index and the
        classes seen changing up to date. Returns the fields it showed invalid (aria-invalid,
        error text: form_errors.py) as `invalid` events named like the recorder's; they are
        not to be applied (they change nothing)."""
        kind = event[0] if isinstance(event, list) and event else None
        if kind == "meta":
            self.gen = meta_gen(event)
        elif kind == "mutation":
            self._note_classes(_list(event, _MUT_ATTRS))
            nodes = self.state.nodes
            for node_id in _list(event, _MUT_REMOVES):
                node = nodes.get(node_id) if _hashable(node_id) else None
                if node is not None and node.parent is not None:
                    self._changed(node.parent.id)
            self._moved(_list(event, _MUT_ADDS))
        elif kind == "snapshot":
            if len(event) > _SNAP_PART and event[_SNAP_PART] == 0:
                self._positions.clear()
                self._index.clear()
                self._indexed = False
            self._moved(_list(event, _SNAP_NODES))
        event = self.urls.event(event) if kind in ("snapshot", "mutation", "meta", "nav") else event
        self.state.apply(event)
        self.fields.note(event)
        if self._indexed and kind == "snapshot":
            self._index_records(_list(event, _SNAP_NODES))
        elif self._indexed and kind == "mutation":
            self._index_records(_list(event, _MUT_ADDS))
            for change in _list(event, _MUT_ATTRS):
                if isinstance(change, list) and len(change) > _ATTR_VALUE:
                    node = self.state.nodes.get(change[_ATTR_ID]) if _hashable(change[_ATTR_ID]) else None
                    if node is not None and node.type == ELEMENT:
                        self._index_attr(node, change[_ATTR_NAME], change[_ATTR_VALUE])
        return [self.enrich(shown) for shown in self.errors.after(event)]

    def _changed(self, parent_id: Any) -> None:
        if _hashable(parent_id) and parent_id in self._positions:
            self._versions[parent_id] = self._versions.get(parent_id, 0) + 1

    def _moved(self, records: list[Any]) -> None:
        """Parents whose children the added records change (where they go, where moves leave)."""
        if not self._positions:
            return
        nodes = self.state.nodes
        for rec in records:
            if isinstance(rec, list) and len(rec) > _REC_PARENT:
                self._changed(rec[_REC_PARENT])
                old = nodes.get(rec[_REC_ID]) if _hashable(rec[_REC_ID]) else None
                if old is not None and old.parent is not None:
                    self._changed(old.parent.id)

    def _position(self, parent: Node, el: Node) -> int:
        """el's nth-of-type among parent's children, from a per-parent table."""
        version = self._versions.get(parent.id, 0)
        kept = self._positions.get(parent.id)
        if kept is None or kept[0] is not parent or kept[1] != version:
            counts: dict[str, int] = {}
            table: dict[int, int] = {}
            for child in parent.children:
                if child.type == ELEMENT:
                    counts[child.tag] = counts.get(child.tag, 0) + 1
                    table[id(child)] = counts[child.tag]
            kept = (parent, version, table)
            self._positions[parent.id] = kept
        return kept[2].get(id(el), 0)

    def enrich(self, event: list[Any]) -> list[Any]:
        """The event with the names the recorder left empty filled in (a new list), or the event
        itself when it needs none. Never raises: a forged event is returned as it is."""
        try:
            kind = event[0]
            if kind == "click":
                out = event
                if len(event) > _C["selector"] and event[_C["selector"]] == "":
                    out = self._click(event)
                if self.gen >= CLASSIFY_GENERATION and len(out) > _C["flags"]:
                    out = self._classify(out)
                return out
            elif kind == "submit":
                # The form is named by every recorder that names: "" says this one did not.
                if len(event) > _SUBMIT_INVALID and event[_SUBMIT_FORM] == "":
                    return self._submit(event)
            elif kind == "invalid" and len(event) > _INVALID_FIELD and event[_INVALID_FIELD] == "":
                out = list(event)
                out[_INVALID_FIELD] = self.field_name(self._element(event[_INVALID_TARGET]))
                return out
            elif kind == "nav" or kind == "request" or kind == "timing":
                return self.fields.enrich(event)
        except (IndexError, TypeError, ValueError, KeyError, AttributeError, RecursionError):
            pass
        return event

    # -- events ------------------------------------------------------------------------

    def _click(self, event: list[Any]) -> list[Any]:
        el = self._element(event[_C["target"]])
        out = list(event)
        if len(out) <= _C["ay"]:
            out += ["", "", "", 0, 0][len(out) - _C["control"] :]
        if el is None:
            return out
        walk = _Walk()
        path, anchor_el = self._describe(el, walk)
        anchor = ""
        ax = ay = 0
        offsets = _offsets(event[_C["offsets"]] if len(event) > _C["offsets"] else None)
        # The anchor is kept only with its offset (beyond the recorded ancestors: none).
        if anchor_el is not None and anchor_el[0].id in offsets:
            anchor, (ax, ay) = anchor_el[1], offsets[anchor_el[0].id]
        control = self.control_of(el, walk)
        control_path = path if control is el else self._describe(control, walk)[0] if control else ""
        out[_C["selector"]] = path
        out[_C["control"]] = control_path
        out[_C["text"]] = self.visible_text(control or el)
        out[_C["anchor"]] = anchor
        out[_C["ax"]], out[_C["ay"]] = ax, ay
        return out

    def _classify(self, event: list[Any]) -> list[Any]:
        """The click with its tag and flags 'a' / 'f' from the DOM; its 'x' as recorded."""
        out = list(event)
        recorded = event[_C["flags"]]
        selected = "x" if isinstance(recorded, str) and "x" in recorded else ""
        el = self._element(event[_C["target"]])
        start = el if el is not None else self._recorded_ancestor(event)
        link, form = _target_flags(start, start is el) if start is not None else (False, False)
        out[_C["tag"]] = _no_nul(_str(el.tag))[:64] if el is not None else ""
        # 'b': inside (or on) a data-sl-block element, whose content and changes are not
        # recorded: whether the click did anything cannot be told (never a dead click).
        blocked = "b" if start is not None and "block" in start.props else ""
        out[_C["flags"]] = ("a" if link else "") + ("f" if form else "") + selected + blocked
        return out

    def _recorded_ancestor(self, event: list[Any]) -> Node | None:
        """The first element of the click's `offsets` in the DOM: the target's nearest recorded
        ancestor when the target itself was not recorded (inside data-sl-block)."""
        flat = event[_C["offsets"]] if len(event) > _C["offsets"] else None
        if not isinstance(flat, list):
            return None
        for i in range(0, min(len(flat), 3 * 32), 3):
            node = self._element(flat[i])
            if node is not None:
                return node
        return None

    def _submit(self, event: list[Any]) -> list[Any]:
        out = list(event)
        form = self._element(event[_SUBMIT_TARGET])
        out[_SUBMIT_FORM] = self.form_name(form)
        invalid = []
        # With the fields shown aria-invalid, which the recorder leaves to the server.
        for pair in submit_invalid(form, _list(event, _SUBMIT_INVALID), self.gen):
            if _unnamed(pair):
                invalid.append([pair[0], self.field_name(self._element(pair[0]))])
            else:
                invalid.append(pair)
        out[_SUBMIT_INVALID] = invalid
        return out

    def _element(self, node_id: Any) -> Node | None:
        node = self.state.nodes.get(node_id) if _hashable(node_id) else None
        return node if node is not None and node.type == ELEMENT else None

    # -- names -------------------------------------------------------------------------

    def form_name(self, form: Node | None) -> str:
        """The form's id, name or aria-label attribute as recorded (masked ones skipped), else its path."""
        if form is None:
            return ""
        for name in _FORM_NAMES:
            value = _no_nul(_str(form.attrs.get(name)))
            if value and not masked(value):
                return value[:MAX_FORM]
        return self._describe(form, _Walk())[0][:MAX_FORM]

    def field_name(self, el: Node | None) -> str:
        """A field as the visitor sees it named: its label's text, else its id, name or
        aria-label (masked values skipped, as field_labels.py does)."""
        if el is None:
            return ""
        label = self._label_of(el)
        text = self.visible_text(label) if label is not None else ""
        if text and not masked(text):
            return text[:MAX_FIELD]
        for name in _FORM_NAMES:
            value = _no_nul(_str(el.attrs.get(name)))
            if value and not masked(value):
                return value[:MAX_FIELD]
        return ""

    def _label_of(self, el: Node) -> Node | None:
        walk = _Walk()
        own = _str(el.attrs.get("id"))
        if own:
            root = walk.root(el)
            for label in self._candidates(("label", "for", own), MAX_CANDIDATES):
                if root is not None and walk.root(label) is root:
                    return label
        up, seen = el.parent, 0
        while up is not None and up.type == ELEMENT and seen < 256:
            if up.tag == "label":
                return up
            up, seen = up.parent, seen + 1
        return None

    def visible_text(self, el: Node) -> str:
        """What the element shows, short, as recorded (masked parts masked); else its aria-label."""
        text = squash(_no_nul(self.recorded_text(el, 999, visible=True)))[:MAX_TEXT]
        return text or squash(_no_nul(_str(el.attrs.get("aria-label"))))[:MAX_TEXT]

    def recorded_text(self, el: Node, limit: int, visible: bool = False, walk: _Walk | None = None) -> str:
        """The element's text as recorded in its light DOM (not shadow roots or frame documents):
        as textContent reads it in the backdrop (what :text() matches), or, `visible`, roughly as
        innerText would: no style/script/template text, nothing hidden by attribute or inline
        style, a space where an element starts or ends (blocks and flex items break the text)."""
        parts: list[str] = []
        size = visited = 0
        stack: list[Node | None] = list(reversed(el.children))
        while stack and size < limit and visited < MAX_TEXT_NODES:
            n = stack.pop()
            visited += 1
            if walk is not None:
                walk.text_left -= 1
            if n is None:
                parts.append(" ")
            elif n.type == TEXT:
                text = _str(n.text)
                parts.append(text)
                size += len(text)
            elif n.type == ELEMENT and n.tag != "template":
                if visible:
                    if n.tag in _NO_TEXT or _hidden(n):
                        continue
                    parts.append(" ")
                    stack.append(None)
                stack.extend(reversed(n.children))
        return "".join(parts)[:limit]

    def text_key(self, el: Node, walk: _Walk | None = None) -> str:
        """The start of the element's text, up to its first digit or mask; "" when too short."""
        text = squash(_KEY_END.sub("", squash(self.recorded_text(el, 999, walk=walk))))[:24]
        return text if len(text) > 1 else ""

    def control_of(self, el: Node, walk: _Walk) -> Node | None:
        """The closest interactive ancestor-or-self, across shadow roots (not frames)."""
        n: Node | None = el
        while n is not None and walk.left > 0:
            walk.left -= 1
            if n.type == ELEMENT and _is_control(n):
                return n
            if n.type == DOCUMENT:
                return None
            n = n.parent  # a shadow root's parent is its host
        return None

    # -- paths -------------------------------------------------------------------------

    def _describe(self, el: Node, walk: _Walk) -> tuple[str, tuple[Node, str] | None]:
        """The path of `el` from the top document, and its nearest anchored ancestor with that
        ancestor's path: the deepest one told by an attribute, its text or a class, or the
        frame or host holding a deeper segment."""
        segments: list[list[tuple[str, Node, bool]]] = []
        e: Node | None = el
        while e is not None and len(segments) < MAX_SEGMENTS:
            root = walk.root(e)
            if root is None:
                return "", None
            segments.insert(0, self._local_path(e, root, walk))
            e = root.parent if root.parent is not None and root.parent.type == ELEMENT else None
        sel = ""
        anchor: tuple[Node, str] | None = None
        for i, seg in enumerate(segments):
            for j, (part, node, told) in enumerate(seg):
                sel += (">" if j else ROOT_SEP if i else "") + part
                if node is not el and (told or (j == len(seg) - 1 and i < len(segments) - 1)):
                    anchor = (node, sel[:MAX_PATH])
        return sel[:MAX_PATH], anchor

    def _local_path(self, el: Node, root: Node, walk: _Walk) -> list[tuple[str, Node, bool]]:
        parts: list[tuple[str, Node, bool]] = []
        e: Node | None = el
        while e is not None and len(parts) < MAX_PARTS:
            tag = e.tag
            if tag in ("html", "body"):
                parts.insert(0, (tag, e, False))
                break
            named = self._named_parts(e)
            if named and self._unique(named[0], e, root, walk):
                parts.insert(0, (named[0][0], e, True))
                break
            part = named[0] if named else (tag + self._classes(e), ("class", tag, tuple(self._class_list(e))))
            text, test = part
            told = text != tag
            parent = e.parent
            if parent is not None and len(parent.children) > MAX_SIBLINGS:
                parts.insert(0, (text + f":nth-of-type({self._position(parent, e)})", e, False))
                e = parent if parent.type == ELEMENT else None
                continue
            siblings = [s for s in _element_children(parent) if self._matches(s, test)]
            if len(siblings) > 1:
                key = self.text_key(e, walk)
                if key and self._told_by_text(siblings, key, walk):
                    text += ":text(" + css_escape(key) + ")"
                else:
                    index = 0
                    for s in _element_children(parent):
                        if s.tag == tag:
                            index += 1
                        if s is e:
                            break
                    text += f":nth-of-type({index})"
                    told = False
            parts.insert(0, (text, e, told))
            e = parent if parent is not None and parent.type == ELEMENT else None
        return parts

    def _told_by_text(self, siblings: list[Node], key: str, walk: _Walk) -> bool:
        """Only one of the siblings' texts starts with `key`; unsure (text budget spent): no."""
        found = 0
        for s in siblings:
            if walk.text_left <= 0:
                return False
            if self.text_key(s, walk).startswith(key):
                found += 1
                if found > 1:
                    return False
        return found == 1 and walk.text_left > 0

    def _class_list(self, el: Node) -> list[str]:
        out: list[str] = []
        for c in _str(el.attrs.get("class")).split():
            if (
                len(out) < 2
                and len(c) < 40
                and ">" not in c
                and c not in out
                and not STATE_CLASS.search(c)
                and c not in self.volatile
            ):
                out.append(c)
        return out

    def _classes(self, el: Node) -> str:
        return "".join("." + css_escape(c) for c in self._class_list(el))

    def _named_parts(self, el: Node) -> list[tuple[str, tuple[Any, ...]]]:
        """(selector part, test) of each stable attribute, the id first; masked values skipped."""
        out: list[tuple[str, tuple[Any, ...]]] = []
        tag = el.tag
        for name, value in el.attrs.items():
            if not isinstance(value, str) or not value or len(value) > 99 or masked(value) or ">" in value:
                continue  # a '>' would split the part where LOCATE_JS reads it
            if name == "id":
                if not GENERATED_ID.search(value):
                    out.insert(0, ("#" + css_escape(value), ("id", "", value)))
            elif name == "href":
                suffix = self._href_suffix(value) if tag == "a" else ""
                if suffix and len(suffix) <= 99 and not _JS_URL.match(suffix):
                    out.append((f'{tag}[href$="{css_escape(suffix)}"]', ("href", tag, suffix)))
            elif isinstance(name, str) and NAMED.match(name) and (name[0] == "d" or not _DIGIT.search(value)):
                out.append((f'{tag}[{name}="{css_escape(value)}"]', ("attr", tag, name, value)))
        return out

    def _href_suffix(self, href: str) -> str:
        """The href (absolute: recorded_urls.py) after the page's origin when same-origin, else whole;
        "" when it has no '/' (the index finds suffix matches by the part after the last '/')."""
        url = self.state.url
        if url is not self._origin_url:
            self._origin_url = url
            try:
                parts = urlsplit(url) if isinstance(url, str) else None
                self._origin = f"{parts.scheme}://{parts.netloc}" if parts and parts.netloc else ""
            except ValueError:
                self._origin = ""
        suffix = href[len(self._origin) :] if self._origin and href.startswith(self._origin + "/") else href
        return suffix if "/" in suffix else ""

    def _matches(self, el: Node, test: tuple[Any, ...]) -> bool:
        kind = test[0]
        attrs = el.attrs
        if kind == "id":
            return attrs.get("id") == test[2]
        if el.tag != test[1]:
            return False
        if kind == "class":
            own = _str(attrs.get("class")).split()
            return all(c in own for c in test[2])
        if kind == "href":
            return _str(attrs.get("href")).endswith(test[2])
        return attrs.get(test[2]) == test[3]

    def _unique(self, named: tuple[str, tuple[Any, ...]], el: Node, root: Node, walk: _Walk) -> bool:
        """Is `el` the only element of its root the part selects? Unsure (too many): no."""
        test = named[1]
        if test[0] == "id":
            key = ("id", "", test[2])
        elif test[0] == "href":
            key = ("a", "href", test[2].rsplit("/", 1)[1])
        else:
            key = (test[1], test[2], test[3])
        found = 0
        candidates = self._candidates(key, MAX_CANDIDATES + 1)
        if len(candidates) > MAX_CANDIDATES:
            return False
        for node in candidates:
            if node is el or (self._matches(node, test) and walk.root(node) is root):
                found += 1
                if found > 1:
                    return False
        return found == 1

    # -- the attribute index ---------------------------------------------------------------

    def _candidates(self, key: tuple[str, str, str], limit: int) -> list[Node]:
        """The first `limit` live elements indexed under `key`; the removed or changed ones met
        before them are dropped (each once), so a read costs `limit` plus what it drops, not
        the size of the list (20,000 rows with the same title, clicked one by one)."""
        if not self._indexed:
            self._indexed = True
            for node in list(self.state.nodes.values()):
                if node.type == ELEMENT:
                    for found in _keys(node):
                        self._add(found, node)
        return self._index.candidates(key, limit)

    def _index_records(self, records: list[Any]) -> None:
        nodes = self.state.nodes
        for rec in records:
            if isinstance(rec, list) and len(rec) > _REC_ID and _hashable(rec[_REC_ID]):
                node = nodes.get(rec[_REC_ID])
                if node is not None and node.type == ELEMENT:
                    for key in _keys(node):
                        self._add(key, node)

    def _index_attr(self, node: Node, name: Any, value: Any) -> None:
        if isinstance(name, str) and isinstance(value, str):
            for key in _keys(node, only=name):
                self._add(key, node)

    def _add(self, key: tuple[str, str, str], node: Node) -> None:
        self._index.add(key, node)

    def _note_classes(self, changes: list[Any]) -> None:
        """Classes added or removed while the page is used are state, not identity."""
        for change in changes:
            if len(self.volatile) > MAX_VOLATILE:
                return
            if not isinstance(change, list) or len(change) <= _ATTR_VALUE or change[_ATTR_NAME] != "class":
                continue
            node = self.state.nodes.get(change[_ATTR_ID]) if _hashable(change[_ATTR_ID]) else None
            if node is None or node.type != ELEMENT:
                continue
            old = set(_str(node.attrs.get("class")).split())
            new = set(_str(change[_ATTR_VALUE]).split())
            self.volatile.update(old ^ new)


def enriched_events(events: Iterable[tuple[int, list[Any]]]) -> Iterator[tuple[int, list[Any]]]:
    """(seq, event) pairs of one page view (PageViewReader.events) with names filled in, and
    the `invalid` events the DOM changes showed (form_errors.py) after theirs, with its seq."""
    paths = ElementPaths()
    for seq, event in events:
        out = paths.enrich(event)
        yield seq, out
        for shown in paths.apply(out):
            yield seq, shown


def _keys(node: Node, only: str | None = None) -> list[tuple[str, str, str]]:
    """Index keys of an element's attributes (all, or the one named `only`)."""
    out: list[tuple[str, str, str]] = []
    items = ((only, node.attrs.get(only)),) if only is not None else node.attrs.items()
    for name, value in items:
        if not isinstance(value, str) or not value or len(value) > 2048:
            continue
        if name == "id":
            out.append(("id", "", value))
        elif name == "href" and node.tag == "a":
            out.append(("a", "href", value.rsplit("/", 1)[-1]))
        elif name == "for" and node.tag == "label":
            out.append(("label", "for", value))
        elif isinstance(name, str) and NAMED.match(name):
            out.append((node.tag, name, value))
    return out


def _element_children(node: Node | None) -> list[Node]:
    return [c for c in node.children if c.type == ELEMENT] if node is not None else []


def _target_flags(el: Node, own: bool) -> tuple[bool, bool]:
    """(el.closest("a[href]"), isFormControl(el) || el.isContentEditable || el.closest("label"))
    as the recorder computed them (js_recorder/src/privacy/mask.js, interaction/pointer.js) for
    the target `el`; not `own`: for an unknown descendant of `el` (what it inherits only)."""
    html = "ns" not in el.props  # the recorder marks SVG and MathML elements props.ns
    # tagName is upper case for HTML elements; SVG/MathML ones have no isContentEditable.
    form = own and html and _str(el.tag).lower() in _FORM_CONTROLS
    editable: bool | None = None if html else False
    link = label = False
    n: Node | None = el
    steps = 0
    # Ancestors within the element's document or shadow root: a shadow root's or a frame
    # document's parent is its host / frame element, never reached (parentElement is null).
    while n is not None and n.type == ELEMENT and steps < MAX_WALK:
        steps += 1
        is_html = "ns" not in n.props
        # Type selectors match HTML elements in any ASCII case, others exactly.
        name = _str(n.tag).lower() if is_html else _str(n.tag)
        if name == "a" and "href" in n.attrs:
            link = True
        elif name == "label":
            label = True
        if editable is None:
            if not is_html:
                editable = False  # what is under an SVG/MathML element does not inherit it
            else:
                value = n.attrs.get("contenteditable")
                if isinstance(value, str):
                    state = value.lower()
                    if state in _EDITABLE:
                        editable = True
                    elif state == "false":
                        editable = False
                    # any other value inherits the parent's state
        if link and label and editable is not None:
            break
        n = n.parent
    return link, form or bool(editable) or label


def _is_control(el: Node) -> bool:
    return el.tag in _CONTROL_TAGS or _str(el.attrs.get("role")) in _CONTROL_ROLES


def _hidden(el: Node) -> bool:
    return "hidden" in el.attrs or bool(_HIDDEN_STYLE.search(_str(el.attrs.get("style"))))


def _hashable(value: Any) -> bool:
    return isinstance(value, int | str) and not isinstance(value, bool)


def _unnamed(pair: Any) -> bool:
    return isinstance(pair, list) and len(pair) > 1 and pair[1] == ""


def _list(event: list[Any], at: int) -> list[Any]:
    value = event[at] if len(event) > at else None
    return value if isinstance(value, list) else []


def _offsets(flat: Any) -> dict[int, tuple[float, float]]:
    """The click's `offsets` field, [id, dx, dy, ...], as id -> (dx, dy); bad entries skipped."""
    out: dict[int, tuple[float, float]] = {}
    if not isinstance(flat, list):
        return out
    for i in range(0, len(flat) - 2, 3):
        node_id, dx, dy = flat[i], flat[i + 1], flat[i + 2]
        if _hashable(node_id) and all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in (dx, dy)
        ):
            if abs(dx) < 1e9 and abs(dy) < 1e9:
                out.setdefault(node_id, (dx, dy))
    return out
