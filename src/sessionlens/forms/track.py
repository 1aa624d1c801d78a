"""Forms of one page view and what the visitor did in them, from the recorded events.

Fed every event of a page view in order (snapshot, mutations, focus, blur,
input, correct, click, submit, invalid, nav). Finds the forms (a <form>, or
fields without one grouped by their nearest ancestor holding a button: an
SPA form), and per form and field the facts form analytics counts
(docs/forms.md). Never reads a value: an input event says only whether the
field is now blank (a masked value is "" or a fixed mask) or checked.
Forged or partial streams never raise: unknown ids are ignored.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from sessionlens.contracts import field as position
from sessionlens.replay.dom import ELEMENT, TEXT, DomState, Node
from sessionlens.replay.form_errors import FormErrors, meta_gen, submit_invalid

MAX_FORMS = 50  # per page view
MAX_FIELDS = 100  # per form
MAX_TEXT = 100
MAX_ATTEMPTS = 200
MAX_TOKENS = 100  # ids/classes of elements appearing after a clean submit (success by element)
_DEPTH = 256

FIELD_TAGS = ("input", "select", "textarea")
SKIPPED_TYPES = ("hidden", "submit", "button", "reset", "image")
# The survey widget's host element (static/survey.js): its fields are not the site's form.
SURVEY_HOST = "sessionlens-survey"
_TOGGLES = ("checkbox", "radio")

_FOCUS, _BLUR = position("focus", "target"), position("blur", "target")
_INPUT, _INPUT_VALUE, _INPUT_CHECKED = (position("input", n) for n in ("target", "value", "checked"))
_CORRECT = 2  # position("correct", "target"), agreed in the schema
_CLICK = position("click", "target")
_SUBMIT, _SUBMIT_INVALID = position("submit", "target"), position("submit", "invalid")
_INVALID = position("invalid", "target")
_NAV_URL = position("nav", "url")
_SNAP_LAST, _SNAP_NODES = position("snapshot", "last"), position("snapshot", "nodes")
_ADDS = position("mutation", "adds")


def _text(value: Any, limit: int = MAX_TEXT) -> str:
    return " ".join(str(value).split())[:limit] if isinstance(value, str) else ""


def _shown(value: str) -> str:
    """Recorded text, or "" when masking left nothing to read (only '*')."""
    return value if value.strip("* ") else ""


@dataclass
class FieldFacts:
    key: str
    label: str
    tag: str
    position: int
    password: bool = False
    touched: bool = False
    filled: bool = False
    first_at: int | None = None
    focus_at: int | None = None
    time_ms: int = 0
    hesitation_ms: int | None = None
    corrections: int = 0
    focuses: int = 0
    returns: int = 0
    blank_submit: int = 0
    error_rounds: set[int] = field(default_factory=set)
    last_at: int | None = None


@dataclass
class FormFacts:
    key: str
    ident: str
    name: str
    path: str
    spa: bool
    viewed_at: int
    started_at: int | None = None
    attempts: list[list[Any]] = field(default_factory=list)  # [t, failed]
    fields: dict[str, FieldFacts] = field(default_factory=dict)
    last_field: str | None = None
    last_at: int | None = None
    nav_at: int | None = None
    next_url: str = ""
    appeared: list[str] = field(default_factory=list)

    @property
    def clean_at(self) -> int | None:
        return next((a[0] for a in self.attempts if not a[1]), None)


def form_key(ident: str, path: str) -> str:
    """A form's key on its site: from its id/name alone when it has one (the same form on many
    pages is one form), else from its page path and selector path."""
    stable = ident.startswith(("#", "[name="))
    raw = ident if stable else f"{path}\n{ident}"
    return "f" + hashlib.sha256(raw.encode("utf-8", "replace")).hexdigest()[:15]


class FormTracker:
    def __init__(self) -> None:
        self.dom = DomState()
        # Fields the page showed invalid (aria-invalid, error text), found in the DOM changes of
        # recorders that leave them to the server (replay/form_errors.py), as `invalid` events.
        self._errors = FormErrors(self.dom)
        self.forms: dict[str, FormFacts] = {}
        self._form_of_node: dict[int, str] = {}  # form / container node id -> form key
        self._field_of_node: dict[int, tuple[str, str]] = {}  # field node id -> (form key, field key)
        self._pending: list[int] = []
        self._focused: tuple[str, str] | None = None
        self._button: dict[int, bool] = {}
        self.t = 0
        self.gen = 0  # the meta event's gen: what the recorder left to the server

    # -- feeding ---------------------------------------------------------------

    def add(self, events: list[list[Any]]) -> None:
        for event in events:
            try:
                self._add(event)
            except (IndexError, TypeError, KeyError, ValueError, AttributeError):
                continue  # a malformed event: skip it, keep the rest
            for shown in self._errors.after(event):
                try:
                    self._add(shown)
                except (IndexError, TypeError, KeyError, ValueError, AttributeError):
                    continue

    def _add(self, event: list[Any]) -> None:
        kind, t = event[0], event[1]
        if not isinstance(t, int | float):
            return
        t = int(t)
        self.t = max(self.t, t)
        self.dom.apply(event)
        if kind == "meta":
            self.gen = meta_gen(event)
        elif kind == "snapshot":
            self._queue(event[_SNAP_NODES])
            if event[_SNAP_LAST]:
                self._resolve(t)
        elif kind == "mutation":
            self._queue(event[_ADDS])
            self._resolve(t)
            self._appeared(event[_ADDS], t)
        elif kind == "focus":
            self._on_focus(self._field(event[_FOCUS], t), t)
        elif kind == "blur":
            found = self._field(event[_BLUR], t)
            if found is not None and found == self._focused:
                self._leave(t)
        elif kind == "input":
            self._on_input(event, t)
        elif kind == "correct":
            found = self._field(event[_CORRECT], t)
            if found is not None:
                f = self._touch(found, t)
                f.corrections += 1
        elif kind == "submit":
            self._on_submit(event, t)
        elif kind == "click":
            self._on_click(event[_CLICK], t)
        elif kind == "invalid":
            found = self._field(event[_INVALID], t)
            if found is not None:
                form = self.forms[found[0]]
                rounds = len(form.attempts)
                form.fields[found[1]].error_rounds.add(rounds)
                if form.attempts:
                    form.attempts[-1][1] = True  # shown invalid after the attempt: not a clean submit
        elif kind == "nav":
            for form in self.forms.values():
                if form.clean_at is not None and form.nav_at is None:
                    form.nav_at, form.next_url = t, _text(event[_NAV_URL], 2048)

    def finish(self) -> None:
        """The page view's end (as far as recorded): a focused field stops counting time."""
        self._resolve(self.t)
        if self._focused is not None:
            self._leave(self.t)

    # -- finding forms and fields ------------------------------------------------

    def _queue(self, records: Any) -> None:
        for rec in records if isinstance(records, list) else ():
            node = self.dom.nodes.get(rec[0]) if isinstance(rec, list) and rec else None
            # records are flat: an added subtree lists every node of it
            if node is not None and node.type == ELEMENT and node.tag.lower() in (*FIELD_TAGS, "form"):
                self._pending.append(node.id)

    def _resolve(self, t: int) -> None:
        pending, self._pending = self._pending, []
        for node_id in pending:
            node = self.dom.nodes.get(node_id)
            if node is None:
                continue
            if node.tag.lower() == "form":
                self._form(node, node, False, t)
            else:
                self._field(node_id, t)

    def _field(self, node_id: Any, t: int) -> tuple[str, str] | None:
        if not isinstance(node_id, int):
            return None
        known = self._field_of_node.get(node_id)
        if known is not None:
            return known
        node = self.dom.nodes.get(node_id)
        if node is None or node.type != ELEMENT or node.tag.lower() not in FIELD_TAGS:
            return None
        if str(node.attrs.get("type", "")).lower() in SKIPPED_TYPES or _in_survey_widget(node):
            return None
        container, spa = self._container(node)
        if container is None:
            return None
        form = self._form(container, node, spa, t)
        if form is None:
            return None
        return self._field_of_node.get(node_id)

    def _container(self, node: Node) -> tuple[Node | None, bool]:
        """The <form> holding the field, else its nearest ancestor that holds a button (SPA)."""
        seen, up = 0, node.parent
        while up is not None and seen < _DEPTH:
            if up.type == ELEMENT and up.tag.lower() == "form":
                return up, False
            up, seen = up.parent, seen + 1
        seen, up = 0, node.parent
        while up is not None and up.type == ELEMENT and seen < _DEPTH:
            if up.tag.lower() in ("body", "html"):
                break
            if self._has_button(up):
                return up, True
            up, seen = up.parent, seen + 1
        return None, True

    def _has_button(self, node: Node) -> bool:
        if node.id in self._button:
            return self._button[node.id]
        found, stack, steps = False, list(node.children), 0
        while stack and steps < 5_000:
            n = stack.pop()
            steps += 1
            if n.type != ELEMENT:
                continue
            tag, kind = n.tag.lower(), str(n.attrs.get("type", "")).lower()
            if tag == "button" or (tag == "input" and kind in ("submit", "button", "image")):
                found = True
                break
            stack.extend(n.children)
        self._button[node.id] = found
        return found

    def _form(self, container: Node, hint: Node, spa: bool, t: int) -> FormFacts | None:
        key = self._form_of_node.get(container.id)
        if key is None:
            ident = _ident(container, spa)
            path = urlsplit(self.dom.url).path if isinstance(self.dom.url, str) else ""
            key = form_key(ident, path)
            if key not in self.forms:
                if len(self.forms) >= MAX_FORMS:
                    return None
                self.forms[key] = FormFacts(key, ident, self._form_name(container, ident), path, spa, t)
            self._form_of_node[container.id] = key
        form = self.forms[key]
        for node in _descendants(container):
            if node.id in self._field_of_node or node.tag.lower() not in FIELD_TAGS:
                continue
            if str(node.attrs.get("type", "")).lower() in SKIPPED_TYPES:
                continue
            fkey = _field_key(node, len(form.fields))
            if fkey not in form.fields:
                if len(form.fields) >= MAX_FIELDS:
                    continue
                form.fields[fkey] = FieldFacts(
                    fkey, self._label(node) or fkey, node.tag.lower(), len(form.fields),
                    password=str(node.attrs.get("type", "")).lower() == "password",
                )  # fmt: skip
            f = form.fields[fkey]
            f.filled = f.filled or _filled(node, node.props.get("value"), node.props.get("checked"))
            self._field_of_node[node.id] = (key, fkey)
        return form

    # -- names ---------------------------------------------------------------------

    def _form_name(self, container: Node, ident: str) -> str:
        for found in (
            _shown(_text(container.attrs.get("aria-label"))),
            self._heading(container),
            _shown(_text(container.attrs.get("id"))),
            _shown(_text(container.attrs.get("name"))),
        ):
            if found:
                return found
        return ident[:MAX_TEXT]

    def _heading(self, container: Node) -> str:
        for node in _descendants(container):
            if node.tag.lower() in ("h1", "h2", "h3", "h4", "h5", "h6", "legend"):
                return _shown(_text(_text_of(node)))
        return ""

    def _label(self, node: Node) -> str:
        own = node.attrs.get("id")
        candidates = [_shown(_text(node.attrs.get("aria-label")))]
        if isinstance(own, str) and own:
            label = next(
                (n for n in self.dom.nodes.values()
                 if n.type == ELEMENT and n.tag.lower() == "label" and n.attrs.get("for") == own),
                None,
            )  # fmt: skip
            candidates.append(_shown(_text(_text_of(label))) if label is not None else "")
        up, seen = node.parent, 0
        while up is not None and seen < _DEPTH:
            if up.type == ELEMENT and up.tag.lower() == "label":
                candidates.append(_shown(_text(_text_of(up))))
                break
            up, seen = up.parent, seen + 1
        # name/id too: under data-sl-mask or maskAllText the recorder masks a name attribute
        # (a row of '*' is no name; the id, kept unmasked as layout, names the field instead).
        candidates += [
            _shown(_text(node.attrs.get("placeholder"))),
            _shown(_text(node.attrs.get("name"))),
            _shown(_text(own)),
        ]
        return next((c for c in candidates if c), "")

    # -- interactions ----------------------------------------------------------------

    def _touch(self, found: tuple[str, str], t: int) -> FieldFacts:
        form = self.forms[found[0]]
        f = form.fields[found[1]]
        if form.started_at is None:
            form.started_at = t
        if f.first_at is None:
            f.first_at = t
        f.touched, f.last_at = True, t
        form.last_field, form.last_at = f.key, t
        return f

    def _on_focus(self, found: tuple[str, str] | None, t: int) -> None:
        if self._focused is not None:
            self._leave(t)
        if found is None:
            return
        form = self.forms[found[0]]
        f = form.fields[found[1]]
        # A return: back to a field the visitor had used, after using another one of the form.
        if f.touched and form.last_field not in (None, f.key):
            f.returns += 1
        self._touch(found, t)
        f.focuses += 1
        f.focus_at = t
        self._focused = found

    def _leave(self, t: int) -> None:
        if self._focused is None:
            return
        f = self.forms[self._focused[0]].fields[self._focused[1]]
        if f.focus_at is not None:
            f.time_ms += max(0, t - f.focus_at)
            f.focus_at = None
        self._focused = None

    def _on_input(self, event: list[Any], t: int) -> None:
        found = self._field(event[_INPUT], t)
        if found is None:
            return
        node = self.dom.nodes.get(event[_INPUT])
        f = self.forms[found[0]].fields[found[1]]
        value, checked = event[_INPUT_VALUE], event[_INPUT_CHECKED]
        toggle = node is not None and str(node.attrs.get("type", "")).lower() in _TOGGLES
        if toggle and str(node.attrs.get("type", "")).lower() == "radio":
            # a radio group is one field: any checked radio of it fills it
            f.filled = bool(checked) or f.filled
        else:
            f.filled = _filled(node, value, checked) or (f.password and value == "")
        # A script's write to a field the visitor is not in is not the visitor's doing.
        if self._focused == found or toggle:
            self._touch(found, t)
            if f.hesitation_ms is None and f.focus_at is not None:
                f.hesitation_ms = max(0, t - f.focus_at)

    def _on_submit(self, event: list[Any], t: int) -> None:
        target = event[_SUBMIT]
        node = self.dom.nodes.get(target) if isinstance(target, int) else None
        if node is None or node.type != ELEMENT or _in_survey_widget(node):
            return
        form = self._form(node, node, False, t) if node.tag.lower() == "form" else None
        if form is None:
            return
        # With the fields shown aria-invalid, which the recorder leaves to the server.
        sent = event[_SUBMIT_INVALID]
        invalid = [
            self._field(pair[0], t)
            for pair in submit_invalid(node, sent if isinstance(sent, list) else [], self.gen)
            if isinstance(pair, list) and pair
        ]
        self._attempt(form, [i for i in invalid if i is not None and i[0] == form.key], t)

    def _on_click(self, target: Any, t: int) -> None:
        node = self.dom.nodes.get(target) if isinstance(target, int) else None
        seen = 0
        while node is not None and node.type == ELEMENT and seen < 16:
            tag, kind = node.tag.lower(), str(node.attrs.get("type", "")).lower()
            if tag == "button" or (tag == "input" and kind in ("submit", "button", "image")):
                break
            node, seen = node.parent, seen + 1
        else:
            return
        if node is None:
            return
        up, seen = node.parent, 0
        while up is not None and seen < _DEPTH:
            key = self._form_of_node.get(up.id)
            if key is not None:
                form = self.forms[key]
                if form.spa:  # a <form>'s attempts come as submit events
                    invalid = [
                        found for nid, found in self._field_of_node.items()
                        if found[0] == key and nid in self.dom.nodes
                        and self.dom.nodes[nid].attrs.get("aria-invalid") == "true"
                    ]  # fmt: skip
                    self._attempt(form, invalid, t)
                return
            if up.type == ELEMENT and up.tag.lower() == "form":
                return
            up, seen = up.parent, seen + 1

    def _attempt(self, form: FormFacts, invalid: list[tuple[str, str]], t: int) -> None:
        if len(form.attempts) >= MAX_ATTEMPTS:
            return
        if form.started_at is None:
            form.started_at = t
        form.attempts.append([t, bool(invalid)])
        for _, fkey in invalid:
            form.fields[fkey].error_rounds.add(len(form.attempts))
        live = {
            found[1]
            for nid, found in self._field_of_node.items()
            if found[0] == form.key and nid in self.dom.nodes
        }
        for f in form.fields.values():
            if f.key in live and not f.filled:
                f.blank_submit = 1

    def _appeared(self, records: Any, t: int) -> None:
        waiting = [f for f in self.forms.values() if f.clean_at is not None and f.clean_at <= t]
        if not waiting:
            return
        for rec in records if isinstance(records, list) else ():
            node = self.dom.nodes.get(rec[0]) if isinstance(rec, list) and rec else None
            if node is None or node.type != ELEMENT:
                continue
            tokens = []
            if isinstance(node.attrs.get("id"), str) and node.attrs["id"]:
                tokens.append("#" + node.attrs["id"][:MAX_TEXT])
            if isinstance(node.attrs.get("class"), str):
                tokens += ["." + c[:MAX_TEXT] for c in node.attrs["class"].split()]
            for form in waiting:
                for token in tokens:
                    if token not in form.appeared and len(form.appeared) < MAX_TOKENS:
                        form.appeared.append(token)


def _in_survey_widget(node: Node) -> bool:
    """Inside sessionlens' own survey widget (its host element, across its shadow root):
    the site's forms are analysed, not the survey asking about them (docs/surveys.md)."""
    up, seen = node.parent, 0
    while up is not None and seen < _DEPTH:
        if up.type == ELEMENT and up.tag.lower() == SURVEY_HOST:
            return True
        up, seen = up.parent, seen + 1
    return False


def _filled(node: Node | None, value: Any, checked: Any) -> bool:
    kind = str(node.attrs.get("type", "")).lower() if node is not None else ""
    if kind in _TOGGLES:
        return bool(checked)
    return isinstance(value, str) and value != ""


def _field_key(node: Node, index: int) -> str:
    """name attribute (a radio group is one field), else id, else tag and position."""
    for prefix, attr in (("", "name"), ("#", "id")):
        value = node.attrs.get(attr)
        # A masked name (data-sl-mask, maskAllText) is a row of '*': every masked field of a
        # form would share that key, so it is skipped for the id.
        if isinstance(value, str) and _shown(value.strip()):
            return prefix + value.strip()[:MAX_TEXT]
    return f"{node.tag.lower()}[{index}]"


def _ident(container: Node, spa: bool) -> str:
    tag = container.tag.lower()
    for prefix, attr in (("#", "id"), ("[name=", "name")):
        value = container.attrs.get(attr)
        if isinstance(value, str) and _shown(value.strip()):  # not a masked name ('*' only)
            return f"{prefix}{value.strip()[:MAX_TEXT]}{']' if prefix == '[name=' else ''}"
    parts, node, seen = [], container, 0
    while node is not None and node.type == ELEMENT and seen < 32:
        parent = node.parent
        same = [c for c in parent.children if c.type == ELEMENT and c.tag == node.tag] if parent else [node]
        parts.append(
            f"{node.tag.lower()}:nth-of-type({same.index(node) + 1})" if len(same) > 1 else node.tag.lower()
        )
        node, seen = parent, seen + 1
    return ("group:" if spa else "") + ">".join(reversed(parts))[:256] if parts else tag


def _descendants(root: Node) -> list[Node]:
    out, stack = [], list(reversed(root.children))
    while stack and len(out) < 20_000:
        n = stack.pop()
        if n.type == ELEMENT:
            out.append(n)
            stack.extend(reversed(n.children))
    return out


def _text_of(root: Node | None) -> str:
    if root is None:
        return ""
    parts, stack = [], list(reversed(root.children))
    while stack and len(parts) < 200:
        n = stack.pop()
        if n.type == TEXT:
            parts.append(n.text)
        elif n.type == ELEMENT and n.tag.lower() not in ("script", "style"):
            stack.extend(reversed(n.children))
    return " ".join(parts)
