"""Making recorded DOM inert before the viewer (or an HTML export) sees it.

Recordings are untrusted: anyone can POST a forged one. Whatever a record
says, what leaves here cannot run code, navigate, submit, or make the
viewer's browser send a request to the viewer's own origin (where its
cookies are). The player shows pages in a script-less sandbox under a
strict CSP, and an export carries a CSP meta too; those are the second
line. This layer alone must already leave nothing executable.

Names are compared the way a browser could end up reading them: lower-cased
and by their local part, so `SCRIPT`, `svg:script`, `XLINK:HREF`,
`ATTRIBUTENAME` and `x:onclick` meet the same rules as their plain forms.

Rules, all allow-lists where it matters:
- script-like elements (script, object, embed, applet, base, frame,
  frameset, noscript, portal) and every SVG animation element (set,
  animate, animateTransform, animateMotion, animateColor, discard: they can
  set href, handlers or style later, through a mutation of attributeName,
  to or values) become an inert hidden <sl-blocked> element;
- attributes whose local name is on*, srcdoc, http-equiv, action,
  formaction, ping, target, ... and anything not a plausible attribute name
  are dropped; attributeName naming href, src, style, a handler or another
  URL attribute is dropped;
- URLs are read the way a browser parses them (leading and trailing C0
  controls and spaces stripped, tabs and newlines removed anywhere, `\\`
  as `/` and any number of slashes after http(s):). URL attributes keep
  only same-document fragments, absolute http(s) URLs off the viewer's
  origin, and data: images (never on a link); everything else becomes
  about:invalid. from/to/by/values lists are checked item by item
  (`#;javascript:...` is refused);
- CSS keeps only such URLs in url(), @import and image-set(); escapes and
  comments are resolved first, so `\\75rl(` and `@import/**/"x"` are caught;
- iframes keep no src: their recorded document is rebuilt inside instead.

Attribute changes in mutations do not carry the element's tag. A Sanitizer
remembers node id -> tag for what it has seen (a keyframe, then its events
in order); for an id it has not seen, the strictest reading applies.
Nothing here recurses: records are flat lists however deep the page is.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from sessionlens.contracts import change_fields, field, node_field, node_fields, node_types
from sessionlens.replay import css_urls
from sessionlens.replay.origins import ViewerOrigins, parse_origin
from sessionlens.replay.policy import data_image_pattern, names, replay_policy

# The lists are the policy shared with the player's sanitiser (storage_schemas/replay_policy.json).
_POLICY = replay_policy()
BLOCKED_TAG: str = _POLICY["placeholder"]["tag"]
_PLACEHOLDER_ATTRS: dict[str, str] = dict(_POLICY["placeholder"]["attrs"])
INVALID_URL: str = _POLICY["invalid_url"]
_LEFT_OUT = (
    " left out"  # not a tag: an id whose record was dropped (inside a placeholder, or refused in <head>)
)
_INERT = frozenset({BLOCKED_TAG, _LEFT_OUT})
_BLOCKED_TAGS = names("blocked_tags")
SVG_ANIMATION_TAGS = names("svg_animation_tags")
_DROP_ATTRS = names("drop_attrs")
_URL_ATTRS = names("url_attrs")
_URL_SCHEMES = names("url_schemes")
_LIST_ATTRS = names("list_attrs")  # SMIL values: a ";" list of anything
_RISKY_TARGETS = names("risky_targets")
_KEPT_LINK_RELS = names("kept_link_rels")
_BLOCKED_META_ATTRS = names("blocked_meta_attrs")
_IMAGE_TAGS = frozenset({"img", "image", "input", "video", "audio", "source", "feimage", "use"})
_NAVIGABLE_TAGS = frozenset({"a", "area", ""})  # "": unknown tag, read strictly
_ATTR_NAME = re.compile(_POLICY["attr_name_pattern"])
_TAG_NAME = re.compile(_POLICY["tag_name_pattern"])
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):")
_DATA_IMAGE = re.compile(data_image_pattern(), re.I)
_DATA_FONT = re.compile(r"^data:(font/|application/(x-)?font)", re.I)
_CSS_IMAGE_SET = re.compile(r"image-set\(", re.I)
_CSS_STRING = re.compile(r""""(?P<d>(?:\\.|[^"\\])*)"|'(?P<s>(?:\\.|[^'\\])*)'""", re.S)
_CSS_LEGACY = re.compile(r"expression\s*\(|-moz-binding|behavior\s*:", re.I)
_CSS_COMMENT_OR_STRING = re.compile(r"""("(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*')|/\*.*?(?:\*/|$)""", re.S)
_CSS_ESCAPE = re.compile(r"\\(?:([0-9A-Fa-f]{1,6})[ \t\n\r\f]?|(.))", re.S)
# An identifier (function name or at-keyword) spelled with escapes: "\75rl(".
_CSS_ESCAPED_IDENT = re.compile(r"(?:[A-Za-z0-9_-]|\\[0-9A-Fa-f]{1,6}[ \t\n\r\f]?|\\[^\n0-9A-Fa-f])+")
_TAB_NEWLINE = re.compile(r"[\t\n\r]")
_C0_SPACE = "".join(chr(c) for c in range(0x21))

_TYPES = node_types()
ELEMENT, TEXT, DOCUMENT, DOCTYPE, SHADOW = (
    _TYPES["element"], _TYPES["text"], _TYPES["document"], _TYPES["doctype"], _TYPES["shadow"]
)  # fmt: skip
_ID, _PARENT, _NEXT, _TYPE = (node_field("element", n) for n in ("id", "parent", "next", "type"))
_HEAD_LENGTH = _TYPE + 1
_TAG, _ATTRS, _PROPS = (node_field("element", n) for n in ("tag", "attrs", "props"))
_TEXT = node_field("text", "text")
_DOCTYPE = {n: node_field("doctype", n) for n in ("name", "publicId", "systemId")}
_ROOT_PROPS = {DOCUMENT: node_field("document", "props"), SHADOW: node_field("shadow", "props")}
_RECORD_LENGTH = {_TYPES[name]: len(fields) for name, fields in node_fields().items()}
_NODE_FIELDS = {_TYPES[name]: fields for name, fields in node_fields().items()}
_ATTR_CHANGE = tuple(change_fields()["attrs"].index(n) for n in ("id", "name", "value"))
_TEXT_CHANGE = tuple(change_fields()["texts"].index(n) for n in ("id", "text"))
_KIND = field("meta", "kind")  # every kind starts [kind, t, ...]
_CANVAS_DATA = field("canvas", "data")
_MUT_ADDS = field("mutation", "adds")
_MUT_ATTRS = field("mutation", "attrs")
_MUT_TEXTS = field("mutation", "texts")
_SNAP_PART = field("snapshot", "part")
_SNAP_NODES = field("snapshot", "nodes")


def local_name(name: str) -> str:
    """How a browser may end up naming it: lower case, without a prefix."""
    return name.lower().rsplit(":", 1)[-1]


def browser_url(value: str) -> str:
    """A URL attribute's value as the URL parser reads it (entities are the HTML parser's job)."""
    return _TAB_NEWLINE.sub("", value.strip(_C0_SPACE))


class Sanitizer:
    """Sanitises records and events. Remembers tags by node id: use one per stream."""

    def __init__(self, viewer_origins: Iterable[str] = ()) -> None:
        self.viewer = ViewerOrigins(viewer_origins)
        self._tags: dict[int, str] = {}  # element id -> local tag name, as far as seen
        self._text_parents: dict[int, str] = {}  # text node id -> its parent's tag

    # -- URLs and CSS -------------------------------------------------------

    def url(self, value: str, *, images_only: bool = False) -> str:
        text = browser_url(value)
        scheme_match = _SCHEME.match(text)
        if scheme_match is None:
            # "#x" stays a same-document fragment after parsing; anything else
            # without a scheme is relative to the viewer's origin.
            return text if text.startswith("#") else INVALID_URL
        scheme = scheme_match[1].lower()
        if scheme == "data":
            return (
                text
                if _DATA_IMAGE.match(text) or (not images_only and _DATA_FONT.match(text))
                else INVALID_URL
            )
        if scheme not in _URL_SCHEMES:
            return INVALID_URL  # javascript:, vbscript:, blob:, file:, ...
        rest = text[len(scheme) + 1 :].replace("\\", "/")
        if not rest.startswith("/"):
            return INVALID_URL  # "http:path" is relative to an http base: the viewer's origin
        text = f"{scheme}://{rest.lstrip('/')}"  # browsers skip any number of slashes here
        # Hosts compared as a browser parses them (127.1, 2130706433, [::ffff:...]): replay/origins.py.
        if parse_origin(text) is None or self.viewer.targets(text):
            return INVALID_URL
        return text

    def url_list(self, value: str) -> str | None:
        """A SMIL value list (from/to/by/values), or None when any item is a refused URL."""
        for item in value.split(";"):
            text = browser_url(item)
            if (_SCHEME.match(text) or text.startswith(("/", "\\"))) and self.url(text) == INVALID_URL:
                return None
        return value

    def srcset(self, value: str) -> str:
        out = []
        for candidate in value.split(","):
            parts = candidate.strip().split(None, 1)
            if parts:
                parts[0] = self.url(parts[0], images_only=True)
                out.append(" ".join(parts))
        return ", ".join(out)

    def css(self, text: str) -> str:
        def fix_url(token: css_urls.Token) -> str:
            clean = _css_quote(self.url(_css_unescape(token.body)))
            return f'@import "{clean}"' if token.is_import else f'url("{clean}")'

        def fix_string(m: re.Match[str]) -> str:
            body = m["d"] if m["d"] is not None else m["s"]
            return f'"{_css_quote(self.url(_css_unescape(body)))}"'

        text = _css_plain(text)
        # Linear whatever the text (a url( regex was quadratic on "url(url(url(..."); an
        # unclosed url( or string runs to the end, as the CSS tokenizer reads it.
        text = css_urls.rewrite(text, fix_url)
        text = _in_image_sets(text, lambda body: _CSS_STRING.sub(fix_string, body))
        return _CSS_LEGACY.sub("/*blocked*/", text)

    # -- attributes and records --------------------------------------------

    def attr(self, tag: str, name: str, value: str | None) -> str | None:
        """The value to keep for one attribute, or None to drop it.

        `tag` is the element's tag ("" when unknown: the strictest reading).
        """
        if value is None or not isinstance(value, str) or not isinstance(name, str):
            return None
        tag = local_name(tag)
        local = local_name(name)
        if not _ATTR_NAME.fullmatch(name) or local.startswith("on") or local in _DROP_ATTRS:
            return None
        if local == "attributename":
            return None if _risky_target(value) else value
        if local == "style":
            return self.css(value)
        if local in ("srcset", "imagesrcset"):
            return self.srcset(value)
        if local in _LIST_ATTRS:
            return self.url_list(value)
        if local == "src" and tag in ("iframe", "frame"):
            return None
        if local in _URL_ATTRS:
            kept = self.url(value, images_only=tag in _IMAGE_TAGS or tag == "")
            if local == "href" and tag in _NAVIGABLE_TAGS and kept.lower().startswith("data:"):
                return INVALID_URL  # a data: document must never be navigable
            return kept
        return value

    def _element(self, record: list[Any]) -> list[Any] | None:
        tag = record[_TAG] if isinstance(record[_TAG], str) else ""
        lowered = local_name(tag)
        attrs = record[_ATTRS] if isinstance(record[_ATTRS], dict) else {}
        props = record[_PROPS] if len(record) > _PROPS and isinstance(record[_PROPS], dict) else {}
        head = record[:_HEAD_LENGTH]
        if (
            lowered in _BLOCKED_TAGS
            or lowered in SVG_ANIMATION_TAGS
            or lowered == BLOCKED_TAG
            or not _TAG_NAME.fullmatch(tag)
            or (
                lowered == "link" and " ".join(str(_get(attrs, "rel")).lower().split()) not in _KEPT_LINK_RELS
            )
            or (lowered == "meta" and any(local_name(str(k)) in _BLOCKED_META_ATTRS for k in attrs))
        ):
            parent_id = record[_PARENT]
            if isinstance(parent_id, int) and self._tags.get(parent_id) == "head":
                # No parser keeps an element of ours in <head> (it would end the head
                # in an export): a refused element there is left out altogether.
                self._tags[record[_ID]] = _LEFT_OUT
                return None
            self._tags[record[_ID]] = BLOCKED_TAG
            return _node(head, ELEMENT, tag=BLOCKED_TAG, attrs=dict(_PLACEHOLDER_ATTRS))
        self._tags[record[_ID]] = lowered
        clean: dict[str, str] = {}
        for name, value in attrs.items():
            kept = self.attr(lowered, name, value)
            if kept is not None:
                clean[name] = kept
        kept_props = {}
        for key, value in props.items():
            if key == "css" and isinstance(value, str):
                kept_props["css"] = self.css(value)
            elif key == "value" and isinstance(value, str):
                kept_props["value"] = value
            elif key in ("checked", "open", "modal") and isinstance(value, bool):
                kept_props[key] = value
            elif key in ("scroll", "block") and _numbers(value, 2):
                kept_props[key] = value
            elif key == "ns" and value in ("svg", "math"):
                kept_props[key] = value
            elif key == "canvas" and isinstance(value, str):
                kept_props[key] = value if _DATA_IMAGE.match(value) else INVALID_URL
        if kept_props:
            return _node(head, ELEMENT, tag=tag, attrs=clean, props=kept_props)
        return _node(head, ELEMENT, tag=tag, attrs=clean)

    def _text(self, node_id: Any, text: str) -> str:
        parent = self._text_parents.get(node_id) if isinstance(node_id, int) else None
        if parent == "style":
            return self.css(text)
        # Parent unknown or not a <style>: CSS-looking text gets the URL
        # rules anyway (prose keeps its http URLs).
        lowered = text.lower()
        if any(s in lowered for s in ("url(", "@import", "image-set", "\\")):
            return self.css(text)
        return text

    def record(self, record: Any) -> list[Any] | None:
        """A sanitised node record, or None when it is not a node record at all."""
        if not isinstance(record, list) or len(record) < _HEAD_LENGTH or not isinstance(record[_ID], int):
            return None
        kind = record[_TYPE]
        node_id = record[_ID]
        head = record[:_HEAD_LENGTH]
        self._tags.pop(node_id, None)
        self._text_parents.pop(node_id, None)
        parent_id = record[_PARENT]
        if isinstance(parent_id, int) and self._tags.get(parent_id) in _INERT:
            # Nothing is kept inside a placeholder (a <noscript>'s <img> would still load).
            self._tags[node_id] = _LEFT_OUT
            return None
        if kind == ELEMENT and len(record) > _ATTRS:
            return self._element(record)
        if kind == TEXT and len(record) > _TEXT and isinstance(record[_TEXT], str):
            parent_id = record[_PARENT]
            parent = self._tags.get(parent_id) if isinstance(parent_id, int) else None
            if parent is not None:
                self._text_parents[node_id] = parent
            return _node(head, TEXT, text=self._text(node_id, record[_TEXT]))
        if kind in (DOCUMENT, SHADOW):
            at = _ROOT_PROPS[kind]
            props = record[at] if len(record) > at and isinstance(record[at], dict) else {}
            adopted = props.get("adopted")
            if isinstance(adopted, list):
                return _node(
                    head, kind, props={"adopted": [self.css(c) for c in adopted if isinstance(c, str)]}
                )
            return _node(head, kind)
        if kind == DOCTYPE and len(record) >= _RECORD_LENGTH[DOCTYPE]:
            return _node(head, DOCTYPE, **{name: str(record[at])[:256] for name, at in _DOCTYPE.items()})
        return None

    def records(self, records: Iterable[Any]) -> list[list[Any]]:
        return [r for r in (self.record(rec) for rec in records) if r is not None]

    def _mutation_attr(self, change: list[Any]) -> list[Any] | None:
        node_id, name, value = (change[i] for i in _ATTR_CHANGE)
        tag = self._tags.get(node_id, "") if isinstance(node_id, int) else ""
        if tag in _INERT:
            return None  # an inert placeholder stays exactly that: nothing set, nothing removed
        if value is None:
            valid = isinstance(name, str) and _ATTR_NAME.fullmatch(name)
            return _change(_ATTR_CHANGE, node_id, name, None) if valid else None
        kept = self.attr(tag, name, value)
        return None if kept is None else _change(_ATTR_CHANGE, node_id, name, kept)

    def event(self, event: list[Any]) -> list[Any]:
        kind = event[_KIND]
        if kind == "snapshot":
            event = list(event)
            if event[_SNAP_PART] == 0:
                self._forget()
            event[_SNAP_NODES] = self.records(event[_SNAP_NODES])
        elif kind == "mutation":
            event = list(event)
            event[_MUT_ADDS] = self.records(event[_MUT_ADDS])
            attrs = (
                self._mutation_attr(a)
                for a in event[_MUT_ATTRS]
                if isinstance(a, list) and len(a) == len(_ATTR_CHANGE)
            )
            event[_MUT_ATTRS] = [a for a in attrs if a is not None]
            texts = (t for t in event[_MUT_TEXTS] if isinstance(t, list) and len(t) == len(_TEXT_CHANGE))
            event[_MUT_TEXTS] = [
                _change(_TEXT_CHANGE, node_id, self._text(node_id, text))
                for node_id, text in ((t[_TEXT_CHANGE[0]], t[_TEXT_CHANGE[1]]) for t in texts)
                if isinstance(text, str)
            ]
        elif kind == "canvas":
            event = list(event)
            data = event[_CANVAS_DATA]
            event[_CANVAS_DATA] = data if _DATA_IMAGE.match(str(data)) else INVALID_URL
        return event

    def events(self, events: Iterable[list[Any]]) -> list[list[Any]]:
        return [self.event(e) for e in events]

    def keyframe(self, frame: dict[str, Any]) -> dict[str, Any]:
        """A keyframe is a whole state: the tags remembered start again from it."""
        self._forget()
        clean = {k: v for k, v in frame.items() if k != "nodes"}
        clean["nodes"] = self.records(frame["nodes"])
        clean["url"] = frame["url"] if isinstance(frame.get("url"), str) else ""
        return clean

    def _forget(self) -> None:
        self._tags.clear()
        self._text_parents.clear()


def _node(head: list[Any], node_type: int, **fields: Any) -> list[Any]:
    """A node record of ``node_type`` from its head and named fields; trailing fields not given are left out."""
    names = _NODE_FIELDS[node_type]
    out = list(head)
    out[_TYPE] = node_type
    last = max((names.index(n) for n in fields), default=_TYPE)
    out.extend([None] * (last + 1 - len(out)))
    for name, value in fields.items():
        out[names.index(name)] = value
    return out


def _change(positions: tuple[int, ...], *values: Any) -> list[Any]:
    """A mutation change record with ``values`` (in the order of ``positions``) at their positions."""
    out: list[Any] = [None] * len(positions)
    for at, value in zip(positions, values, strict=True):
        out[at] = value
    return out


def _get(attrs: dict[str, Any], name: str) -> Any:
    """An attribute by name, whatever its case (the last spelling wins, like a later mutation)."""
    found: Any = ""
    for key, value in attrs.items():
        if isinstance(key, str) and key.lower() == name:
            found = value
    return found


def _risky_target(value: str) -> bool:
    """Whether an attributeName could make an animation set a URL, handler or style."""
    target = local_name(browser_url(value))
    return (
        target.startswith("on")
        or target in _URL_ATTRS
        or target in _DROP_ATTRS
        or target in _LIST_ATTRS
        or target in _RISKY_TARGETS
        or not _ATTR_NAME.fullmatch(value.strip())
    )


def _numbers(value: Any, n: int) -> bool:
    return isinstance(value, list) and len(value) == n and all(isinstance(v, (int, float)) for v in value)


def _css_quote(url: str) -> str:
    return url.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "").replace("\r", "").replace("\f", "")


def _css_unescape(text: str) -> str:
    """A CSS string or url() body as the CSS tokenizer reads it."""

    def one(m: re.Match[str]) -> str:
        if m[1] is not None:
            code = int(m[1], 16)
            return chr(code) if 0 < code <= 0x10FFFF and not 0xD800 <= code <= 0xDFFF else "\ufffd"
        return "" if m[2] == "\n" else m[2]

    return _CSS_ESCAPE.sub(one, text)


def _in_image_sets(text: str, fix: Any) -> str:
    """`fix` applied to the body of every image-set(...), nested parentheses included."""
    out = []
    pos = 0
    while (m := _CSS_IMAGE_SET.search(text, pos)) is not None:
        start = end = m.end()
        depth = 1
        while end < len(text) and depth:
            s = _CSS_STRING.match(text, end)
            if s is not None:
                end = s.end()
                continue
            depth += {"(": 1, ")": -1}.get(text[end], 0)
            end += 1
        body_end = end - 1 if depth == 0 else end
        out.append(text[pos:start])
        out.append(fix(text[start:body_end]))
        pos = body_end
    out.append(text[pos:])
    return "".join(out)


def _css_plain(text: str) -> str:
    """CSS without comments, and with escaped identifiers spelled out, so the
    URL rules see `url(`, `@import` and `image-set(` however they were written."""

    def drop_comment(m: re.Match[str]) -> str:
        return m[1] if m[1] is not None else " "

    text = _CSS_COMMENT_OR_STRING.sub(drop_comment, text)
    if "\\" not in text:
        return text

    def spell(m: re.Match[str]) -> str:
        ident = m[0]
        if "\\" not in ident:
            return ident
        plain = _css_unescape(ident)
        # Only plain-letter names are spelled out: anything else keeps its
        # escapes (and means nothing the URL rules care about).
        return plain if re.fullmatch(r"[A-Za-z0-9_-]+", plain) else ident

    out = []
    last = 0
    for m in _CSS_COMMENT_OR_STRING.finditer(text):  # leave strings alone
        out.append(_CSS_ESCAPED_IDENT.sub(spell, text[last : m.start()]))
        out.append(m[0])
        last = m.end()
    out.append(_CSS_ESCAPED_IDENT.sub(spell, text[last:]))
    return "".join(out)
