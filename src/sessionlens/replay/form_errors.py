"""Fields the page shows invalid, found in the recorded DOM changes (docs/forms.md).

The recorder used to watch its own mutation records for two signs that a
field is shown invalid and sent an `invalid` event for each: `aria-invalid`
becoming "true" (reason "aria-invalid"), and error text appearing next to a
field (reason "error-text"). Both are in the recorded `mutation` events, so
the server derives them instead (issue 12: a smaller recorder). `FormErrors`
follows one page view's DomState and, after each mutation is applied,
returns the `invalid` events the recorder would have sent, at the mutation's
time, with field "" (named by element_paths.py like the recorder's own).
The recorder still sends constraint-validation `invalid` events (reason
"invalid") and the invalid list of a submit attempt: those need the browser.

Rules (js_recorder/src/interaction/forms.js before this change):
- aria-invalid: an attribute change of aria-invalid to "true" (any case).
- error text: text appears at an element (below); walking up from it, at
  most 3 elements (not across a shadow root or frame), the first ancestor
  that is either (a) an element with an id that a field of the start's
  closest <form> names in aria-describedby (one of its space-separated
  tokens) or aria-errormessage (the whole value): that field, the first in
  document order; or (b) a [role=alert] or [aria-live] element whose parent
  or grandparent contains a field (input, select, textarea; the first in
  document order): that field. The element found must hold non-blank text
  (masked text is '*': non-blank), else nothing (the walk stops there).
  Text appears: a text change counts at the text's parent element; an added
  subtree with non-blank text counts at its own [role=alert] (itself or the
  first descendant) else at the element it was added to.
- once per field, reason and submit attempt (attempts: `submit` events seen
  so far); at most MAX_EVENTS `invalid` events per page view, the recorded
  ones (reason "invalid", or any reason from older recorders) included.

Differences from the browser, by what a recording keeps: a mutation event
is one flush of the recorder (changes made and undone within it are not
seen), it keeps no record boundaries (every added subtree with text is
looked at; the browser looked at the first one of each record), masked text
that masks as before is not sent again, blocked subtrees (data-sl-block)
have no recorded text, and masked subtrees have their aria-* values masked
(aria-invalid and the id references then match nothing). Searches are
bounded: a field further than MAX_SCAN nodes into a region's parent (a toast
region under <body> of a long page) is not found; the browser found the
page's first field there. When more than MAX_CANDIDATES elements name one
id, the field naming it is looked for in the form's first MAX_SCAN nodes.

Which page views: only those whose recorder says it leaves this to the
server, by the meta event's `gen` field (GENERATION or more). Older
recorders either sent these events themselves or never looked for them;
their page views are read exactly as stored, so a reindex of old data
gives the same result as before. (Telling them apart from the stream alone
does not work: the old recorder sent its events from the observer callback,
usually before the mutation event but after it when another event flushed
the mutations first, and recorders older still sent none.)

Costs: nothing for page views of older recorders. Otherwise an index of
aria-describedby tokens and aria-errormessage values (checked when read), a
cache of the first field under an element (dropped when a field is added),
walks bounded by MAX_UP / MAX_DEPTH / MAX_SCAN: no scan of the whole DOM per
mutation. Forged streams never raise.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from sessionlens.contracts import change_fields, event_fields, field, make_event, node_field
from sessionlens.replay.dom import DOCUMENT, ELEMENT, SHADOW, TEXT, DomState, Node
from sessionlens.replay.node_index import NodeIndex

GENERATION = 1  # meta `gen` from which the server derives these events
SUBMIT_GENERATION = 2  # meta `gen` from which a submit's aria-invalid fields are the server's
MAX_EVENTS = 100  # invalid events per page view (forms.js MAX)
MAX_UP = 3  # elements looked at walking up from where text appeared
MAX_DEPTH = 1_000  # ancestor steps finding a closest <form> or checking one holds a field
MAX_SCAN = 5_000  # nodes visited by one descendant search (first field, first alert, text)
MAX_CANDIDATES = 32  # fields naming one id checked for document order
MAX_CACHED = 256
MAX_SUBMIT_INVALID = 50  # fields in a submit attempt's invalid list (forms.js, the schema's maxItems)

FIELD_TAGS = frozenset({"input", "select", "textarea"})
# JavaScript's \s: forms.js tested text with /\S/.
_JS_SPACE = "\t\n\v\f\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
_NON_BLANK = re.compile(f"[^{_JS_SPACE}]")
_HTML_SPACE = re.compile(r"[ \t\n\f\r]+")  # what separates the tokens [attr~=v] matches
_TRUE = re.compile("true", re.I | re.A)

_META_GEN = event_fields()["meta"].index("gen") if "gen" in event_fields()["meta"] else None
_SNAP_PART, _SNAP_NODES = field("snapshot", "part"), field("snapshot", "nodes")
_MUT_ADDS, _MUT_ATTRS, _MUT_TEXTS = (field("mutation", n) for n in ("adds", "attrs", "texts"))
_ATTR_ID, _ATTR_NAME = (change_fields()["attrs"].index(n) for n in ("id", "name"))
_TEXT_ID = change_fields()["texts"].index("id")
_REC_ID, _REC_PARENT, _REC_TYPE = (node_field("element", n) for n in ("id", "parent", "type"))
_REC_TAG = node_field("element", "tag")
_ELEMENT_TYPE = ELEMENT
_REFS = ("aria-describedby", "aria-errormessage")


def meta_gen(event: list[Any]) -> int:
    """The meta event's `gen` (what its recorder leaves to the server); 0 when absent or forged."""
    gen = event[_META_GEN] if _META_GEN is not None and len(event) > _META_GEN else None
    return gen if isinstance(gen, int) and not isinstance(gen, bool) else 0


class FormErrors:
    """Follows one page view: call `after(event)` once each event has been applied to `state`
    (in stream order); it returns the `invalid` events the event showed (usually none)."""

    def __init__(self, state: DomState) -> None:
        self.state = state
        self.on = False  # the recorder leaves aria-invalid and error text to the server
        self.attempts = 0
        self.count = 0
        self._shown: dict[tuple[int, str], int] = {}  # (field id, reason) -> attempt last sent in
        # ("aria-describedby", token) / ("aria-errormessage", value) -> elements that had it,
        # each once (keyed by the node object: a value set again and again is one entry).
        self._refs: NodeIndex[tuple[str, str]] = NodeIndex(state, lambda n, key: key in _ref_keys(n, key[0]))
        self._first_field: dict[int, tuple[Node, Node | None]] = {}  # element id -> (it, first field)
        # Elements whose text was read during the current mutation (the DOM does not change
        # within it): 2,000 text changes under one region read its text once.
        self._texts: dict[int, bool] = {}

    def after(self, event: Any) -> list[list[Any]]:
        try:
            return self._after(event)
        except (IndexError, TypeError, ValueError, KeyError, AttributeError, RecursionError):
            return []

    def _after(self, event: Any) -> list[list[Any]]:
        if not isinstance(event, list) or len(event) < 2:
            return []
        kind = event[0]
        if kind == "meta":
            if meta_gen(event) >= GENERATION:
                self.on = True
            return []
        if not self.on:
            return []
        if kind == "submit":
            self.attempts += 1
        elif kind == "invalid":
            self.count += 1
        elif kind == "snapshot":
            if len(event) > _SNAP_PART and event[_SNAP_PART] == 0:
                self._refs.clear()
            self._first_field.clear()  # any part may add fields: firsts may change
            self._index_records(_list(event, _SNAP_NODES))
        elif kind == "mutation":
            return self._mutation(event)
        return []

    # -- a mutation ------------------------------------------------------------------------

    def _mutation(self, event: list[Any]) -> list[list[Any]]:
        self._texts.clear()
        adds = _list(event, _MUT_ADDS)
        attrs = _list(event, _MUT_ATTRS)
        self._index_records(adds)
        nodes = self.state.nodes
        for change in attrs:
            if isinstance(change, list) and len(change) > _ATTR_NAME and change[_ATTR_NAME] in _REFS:
                node = _get(nodes, change[_ATTR_ID])
                if node is not None and node.type == ELEMENT:
                    self._index_node(node, change[_ATTR_NAME])
        t = event[1]
        out: list[list[Any]] = []
        if self.count >= MAX_EVENTS or not isinstance(t, int | float) or isinstance(t, bool):
            return out
        for change in attrs:
            if isinstance(change, list) and len(change) > _ATTR_NAME and change[_ATTR_NAME] == "aria-invalid":
                node = _get(nodes, change[_ATTR_ID])
                value = node.attrs.get("aria-invalid") if node is not None and node.type == ELEMENT else None
                if isinstance(value, str) and _TRUE.fullmatch(value):
                    self._invalid(node, "aria-invalid", t, out)  # type: ignore[arg-type]
        self._added(adds, t, out)
        seen: set[int] = set()  # a parent whose texts change many times is looked at once
        for change in _list(event, _MUT_TEXTS):
            if isinstance(change, list) and len(change) > _TEXT_ID:
                node = _get(nodes, change[_TEXT_ID])
                if node is not None and node.type == TEXT and _blank(node.text) is False:
                    if node.parent is not None and id(node.parent) not in seen:
                        seen.add(id(node.parent))
                        self._error_text(node.parent, t, out)
        return out

    def _added(self, adds: list[Any], t: Any, out: list[list[Any]]) -> None:
        """Each added subtree (a record whose parent was not added with it) with text."""
        nodes = self.state.nodes
        ids: set[Any] = set()
        starts: list[Node] = []
        seen: set[int] = set()
        for rec in adds:
            if not isinstance(rec, list) or len(rec) <= _REC_TYPE:
                continue
            rec_id, parent_id = rec[_REC_ID], rec[_REC_PARENT]
            if not _hashable(rec_id):
                continue
            top = _hashable(parent_id) and parent_id not in ids
            ids.add(rec_id)
            if rec[_REC_TYPE] == _ELEMENT_TYPE and isinstance(
                rec[_REC_TAG] if len(rec) > _REC_TAG else None, str
            ):
                if rec[_REC_TAG].lower() in FIELD_TAGS:
                    self._first_field.clear()  # a field added (or moved) anywhere: firsts may change
            if not top:
                continue
            node = nodes.get(rec_id)
            if node is None or node.parent is None or node.parent.id != parent_id:
                continue  # not applied (forged), or moved again later in this event
            if node.type == ELEMENT:
                if not self._has_text(node):
                    continue
                start = self._alert(node) or node.parent
            elif node.type == TEXT:
                if _blank(node.text) is not False:
                    continue
                start = node.parent
            else:
                continue
            if id(start) not in seen:
                seen.add(id(start))
                starts.append(start)
        for start in starts:
            self._error_text(start, t, out)

    # -- the rules ------------------------------------------------------------------------

    def _invalid(self, el: Node, reason: str, t: Any, out: list[list[Any]]) -> None:
        """Once per field, reason and submit attempt; at most MAX_EVENTS."""
        if self.count >= MAX_EVENTS:
            return
        key = (el.id, reason)
        if self._shown.get(key) == self.attempts:
            return
        self._shown[key] = self.attempts
        self.count += 1
        out.append(make_event("invalid", t=t, target=el.id, field="", reason=reason))

    def _error_text(self, el: Node | None, t: Any, out: list[list[Any]]) -> None:
        """Text appeared in or under `el`: is it a field's error message?"""
        if el is None or el.type != ELEMENT or self.count >= MAX_EVENTS:
            return
        form = self._closest_form(el)
        e: Node | None = el
        for _ in range(MAX_UP):
            if e is None or e.type != ELEMENT:
                return
            found = None
            own = e.attrs.get("id")
            if form is not None and isinstance(own, str) and own:
                found = self._naming(form, own)
            if found is None and _region(e):
                p: Node | None = e
                for _ in range(2):
                    p = p.parent if p is not None else None
                    if p is None or p.type != ELEMENT:
                        break
                    found = self._field_under(p)
                    if found is not None:
                        break
            if found is not None:
                # Already shown in this attempt: nothing to send, no text to read again.
                if self._shown.get((found.id, "error-text")) != self.attempts and self._region_text(e):
                    self._invalid(found, "error-text", t, out)
                return
            e = e.parent

    def _closest_form(self, el: Node) -> Node | None:
        n: Node | None = el
        for _ in range(MAX_DEPTH):
            if n is None or n.type != ELEMENT:
                return None
            if n.tag.lower() == "form":
                return n
            n = n.parent
        return None

    def _naming(self, form: Node, own: str) -> Node | None:
        """The first element inside `form` (document order) whose aria-describedby has the token
        `own` or whose aria-errormessage is `own`."""
        found: list[Node] = []
        keys = [("aria-errormessage", own)]
        if not _HTML_SPACE.search(own):
            keys.insert(0, ("aria-describedby", own))
        for key in keys:
            live = self._candidates(key, MAX_CANDIDATES + 1)
            if len(live) > MAX_CANDIDATES:
                # Too many elements name it (fields elsewhere on the page): walking up from each
                # would cost their number times their depth, per text change; read the form.
                return _first(form, lambda n: _names(n, own))
            for node in live:
                if node not in found and _inside(node, form):
                    found.append(node)
        if len(found) < 2:
            return found[0] if found else None
        return min(found, key=lambda n: _order(n, form))

    def _field_under(self, p: Node) -> Node | None:
        """p.querySelector("input,select,textarea"), cached until a field is added."""
        kept = self._first_field.get(p.id)
        if kept is not None and kept[0] is p:
            first = kept[1]
            if first is None or self.state.nodes.get(first.id) is first:
                return first
        first = _first(p, lambda n: n.tag.lower() in FIELD_TAGS)
        if len(self._first_field) >= MAX_CACHED:
            self._first_field.clear()
        self._first_field[p.id] = (p, first)
        return first

    def _alert(self, node: Node) -> Node | None:
        """The added element itself when it is [role=alert], else its first such descendant."""
        if node.attrs.get("role") == "alert":
            return node
        return _first(node, lambda n: n.attrs.get("role") == "alert")

    def _has_text(self, el: Node) -> bool:
        """el.textContent is not blank (light DOM only, as textContent reads it)."""
        return any(n.type == TEXT and _blank(n.text) is False for n in _descendants(el))

    def _region_text(self, el: Node) -> bool:
        known = self._texts.get(id(el))
        if known is None:
            known = self._texts[id(el)] = self._has_text(el)
        return known

    # -- the index of aria-describedby / aria-errormessage --------------------------------

    def _candidates(self, key: tuple[str, str], limit: int) -> list[Node]:
        return self._refs.candidates(key, limit)

    def _index_records(self, records: list[Any]) -> None:
        nodes = self.state.nodes
        for rec in records:
            if isinstance(rec, list) and len(rec) > _REC_TYPE and rec[_REC_TYPE] == _ELEMENT_TYPE:
                node = _get(nodes, rec[_REC_ID])
                if node is not None and node.type == ELEMENT and node.attrs:
                    for name in _REFS:
                        if name in node.attrs:
                            self._index_node(node, name)

    def _index_node(self, node: Node, name: str) -> None:
        for key in _ref_keys(node, name):
            self._refs.add(key, node)


def submit_invalid(form: Node | None, sent: list[Any], gen: int) -> list[Any]:
    """A submit attempt's invalid list: the pairs the recorder sent (fields constraint
    validation found invalid; older recorders also sent the ones below) and every element under
    the submitted form whose aria-invalid is "true" (any case) as [id, ""], in document order
    (what the recorder's form.querySelectorAll found), at most MAX_SUBMIT_INVALID. The recorder
    leaves the aria-invalid ones to the server (issue 12): they are in the recorded DOM. Light
    DOM only, the form's first MAX_SCAN nodes; sent pairs not met there keep their order, last.
    Page views of recorders before meta `gen` SUBMIT_GENERATION sent them all: read as sent."""
    if gen < SUBMIT_GENERATION or form is None or form.type != ELEMENT:
        return sent
    sent_ids = {p[0] for p in sent if isinstance(p, list) and p and _hashable(p[0])}
    order: dict[Any, int] = {}
    for n in _descendants(form):
        if n.type == ELEMENT and (n.id in sent_ids or _aria_invalid(n)):
            order.setdefault(n.id, len(order))
    merged = list(sent) + [[i, ""] for i in order if i not in sent_ids]
    last = len(order)

    def rank(pair: Any) -> int:
        return order.get(pair[0], last) if isinstance(pair, list) and pair and _hashable(pair[0]) else last

    return sorted(merged, key=rank)[:MAX_SUBMIT_INVALID]


def _aria_invalid(el: Node) -> bool:
    value = el.attrs.get("aria-invalid")
    return isinstance(value, str) and _TRUE.fullmatch(value) is not None


def _ref_keys(node: Node, name: str) -> list[tuple[str, str]]:
    value = node.attrs.get(name)
    if not isinstance(value, str) or not value or len(value) > 4096:
        return []
    if name == "aria-errormessage":
        return [(name, value)]
    return [(name, token) for token in dict.fromkeys(_HTML_SPACE.split(value)) if token][:64]


def _names(node: Node, own: str) -> bool:
    """node's aria-describedby has the token `own`, or its aria-errormessage is `own`."""
    if node.attrs.get("aria-errormessage") == own:
        return True
    value = node.attrs.get("aria-describedby")
    return isinstance(value, str) and own in _HTML_SPACE.split(value)


def _descendants(root: Node) -> Iterator[Node]:
    """The nodes under `root` (not root) in document order, light DOM only (not into a shadow
    root, frame document or template), at most MAX_SCAN of them."""
    stack = list(reversed(root.children))
    visited = 0
    while stack and visited < MAX_SCAN:
        n = stack.pop()
        visited += 1
        yield n
        if n.type == ELEMENT and n.tag != "template":
            stack.extend(reversed(n.children))


def _first(root: Node, test: Any) -> Node | None:
    """The first element under `root` (document order, light DOM) passing `test`."""
    return next((n for n in _descendants(root) if n.type == ELEMENT and test(n)), None)


def _inside(node: Node, form: Node) -> bool:
    """node is a descendant of form in the same tree (not across a shadow root or frame)."""
    n = node.parent
    for _ in range(MAX_DEPTH):
        if n is None or n.type in (DOCUMENT, SHADOW):
            return False
        if n is form:
            return True
        n = n.parent
    return False


def _order(node: Node, top: Node) -> list[int]:
    """node's position under `top` (child indexes from top down): sorts in document order."""
    path: list[int] = []
    n = node
    while n is not top and n.parent is not None and len(path) < MAX_DEPTH:
        path.append(n.parent.children.index(n))
        n = n.parent
    return path[::-1]


def _region(el: Node) -> bool:
    """[role=alert],[aria-live]"""
    return el.attrs.get("role") == "alert" or "aria-live" in el.attrs


def _blank(text: Any) -> bool | None:
    """False when the text has a non-blank character (JS /\\S/), True when blank, None if no text."""
    if not isinstance(text, str):
        return None
    return _NON_BLANK.search(text) is None


def _get(nodes: dict[int, Node], node_id: Any) -> Node | None:
    return nodes.get(node_id) if _hashable(node_id) else None


def _hashable(value: Any) -> bool:
    return isinstance(value, int | str) and not isinstance(value, bool)


def _list(event: list[Any], at: int) -> list[Any]:
    value = event[at] if len(event) > at else None
    return value if isinstance(value, list) else []
