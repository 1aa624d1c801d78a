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

from sessionlens.contracts import field
from sessionlens.replay.origins import ViewerOrigins, parse_origin

BLOCKED_TAG = "sl-blocked"
INVALID_URL = "about:invalid"
_BLOCKED_TAGS = frozenset(
    {"script", "object", "embed", "applet", "base", "portal", "frame", "frameset", "noscript",
     "handler", "listener"}
)  # fmt: skip
SVG_ANIMATION_TAGS = frozenset(
    {"set", "animate", "animatetransform", "animatemotion", "animatecolor", "discard"}
)
_DROP_ATTRS = frozenset(
    {"srcdoc", "http-equiv", "action", "formaction", "ping", "autofocus", "nonce", "integrity", "target"}
)
_URL_ATTRS = frozenset(
    {
        "href", "src", "data", "poster", "background", "cite", "codebase", "longdesc", "lowsrc", "dynsrc",
        "manifest", "usemap", "profile", "classid", "archive", "icon", "itemtype", "base",
    }
)  # fmt: skip
_LIST_ATTRS = frozenset({"from", "to", "values", "by"})  # SMIL values: a ";" list of anything
_IMAGE_TAGS = frozenset({"img", "image", "input", "video", "audio", "source", "feimage", "use"})
_NAVIGABLE_TAGS = frozenset({"a", "area", ""})  # "": unknown tag, read strictly
_LINK_RELS_KEPT = re.compile(r"^\s*(alternate\s+)?stylesheet\s*$", re.I)
_ATTR_NAME = re.compile(r"^[A-Za-z_:][A-Za-z0-9_.:-]{0,127}$")
_TAG_NAME = re.compile(r"[A-Za-z][A-Za-z0-9-]{0,63}|[A-Za-z][A-Za-z0-9-]{0,31}:[A-Za-z][A-Za-z0-9-]{0,63}")
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):")
_DATA_IMAGE = re.compile(r"^data:image/(png|gif|jpe?g|webp|avif|bmp|x-icon|svg\+xml)[;,]", re.I)
_DATA_FONT = re.compile(r"^data:(font/|application/(x-)?font)", re.I)
_CSS_URL = re.compile(r"""url\(\s*(?P<q>['"]?)(?P<u>.*?)(?P=q)\s*\)""", re.I | re.S)
_CSS_IMPORT = re.compile(r"""@import\s*(?P<q>['"])(?P<u>.*?)(?P=q)""", re.I)
_CSS_IMAGE_SET = re.compile(r"image-set\(", re.I)
_CSS_STRING = re.compile(r""""(?P<d>(?:\\.|[^"\\])*)"|'(?P<s>(?:\\.|[^'\\])*)'""", re.S)
_CSS_LEGACY = re.compile(r"expression\s*\(|-moz-binding|behavior\s*:", re.I)
_CSS_COMMENT_OR_STRING = re.compile(r"""("(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*')|/\*.*?(?:\*/|$)""", re.S)
_CSS_ESCAPE = re.compile(r"\\(?:([0-9A-Fa-f]{1,6})[ \t\n\r\f]?|(.))", re.S)
# An identifier (function name or at-keyword) spelled with escapes: "\75rl(".
_CSS_ESCAPED_IDENT = re.compile(r"(?:[A-Za-z0-9_-]|\\[0-9A-Fa-f]{1,6}[ \t\n\r\f]?|\\[^\n0-9A-Fa-f])+")
_TAB_NEWLINE = re.compile(r"[\t\n\r]")
_C0_SPACE = "".join(chr(c) for c in range(0x21))

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
        if scheme not in ("http", "https"):
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
        def fix_url(m: re.Match[str]) -> str:
            return f'url("{_css_quote(self.url(_css_unescape(m["u"])))}")'

        def fix_import(m: re.Match[str]) -> str:
            return f'@import "{_css_quote(self.url(_css_unescape(m["u"])))}"'

        def fix_string(m: re.Match[str]) -> str:
            body = m["d"] if m["d"] is not None else m["s"]
            return f'"{_css_quote(self.url(_css_unescape(body)))}"'

        text = _css_plain(text)
        text = _CSS_URL.sub(fix_url, text)
        text = _CSS_IMPORT.sub(fix_import, text)
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
        if not _ATTR_NAME.match(name) or local.startswith("on") or local in _DROP_ATTRS:
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

    def _element(self, record: list[Any]) -> list[Any]:
        tag = record[4] if isinstance(record[4], str) else ""
        lowered = local_name(tag)
        attrs = record[5] if isinstance(record[5], dict) else {}
        props = record[6] if len(record) > 6 and isinstance(record[6], dict) else {}
        if (
            lowered in _BLOCKED_TAGS
            or lowered in SVG_ANIMATION_TAGS
            or not _TAG_NAME.fullmatch(tag)
            or (lowered == "link" and not _LINK_RELS_KEPT.match(str(_get(attrs, "rel"))))
            or (lowered == "meta" and any(local_name(str(k)) == "http-equiv" for k in attrs))
        ):
            self._tags[record[0]] = BLOCKED_TAG
            return [*record[:4], BLOCKED_TAG, {"hidden": ""}]
        self._tags[record[0]] = lowered
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
        return [*record[:4], tag, clean, kept_props] if kept_props else [*record[:4], tag, clean]

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
        if not isinstance(record, list) or len(record) < 4 or not isinstance(record[0], int):
            return None
        kind = record[3]
        self._tags.pop(record[0], None)
        self._text_parents.pop(record[0], None)
        if kind == 1 and len(record) >= 6:
            return self._element(record)
        if kind == 3 and len(record) >= 5 and isinstance(record[4], str):
            parent = self._tags.get(record[1]) if isinstance(record[1], int) else None
            if parent is not None:
                self._text_parents[record[0]] = parent
            return [*record[:4], self._text(record[0], record[4])]
        if kind in (9, 11):
            props = record[4] if len(record) > 4 and isinstance(record[4], dict) else {}
            adopted = props.get("adopted")
            if isinstance(adopted, list):
                return [*record[:4], {"adopted": [self.css(c) for c in adopted if isinstance(c, str)]}]
            return list(record[:4])
        if kind == 10 and len(record) >= 7:
            return [*record[:4], *(str(v)[:256] for v in record[4:7])]
        return None

    def records(self, records: Iterable[Any]) -> list[list[Any]]:
        return [r for r in (self.record(rec) for rec in records) if r is not None]

    def _mutation_attr(self, node_id: Any, name: Any, value: Any) -> list[Any] | None:
        if value is None:
            return [node_id, name, None] if isinstance(name, str) and _ATTR_NAME.match(name) else None
        tag = self._tags.get(node_id, "") if isinstance(node_id, int) else ""
        if tag == BLOCKED_TAG:
            return None  # an inert placeholder stays exactly that
        kept = self.attr(tag, name, value)
        return None if kept is None else [node_id, name, kept]

    def event(self, event: list[Any]) -> list[Any]:
        kind = event[0]
        if kind == "snapshot":
            event = list(event)
            if event[_SNAP_PART] == 0:
                self._forget()
            event[_SNAP_NODES] = self.records(event[_SNAP_NODES])
        elif kind == "mutation":
            event = list(event)
            event[_MUT_ADDS] = self.records(event[_MUT_ADDS])
            attrs = (
                self._mutation_attr(*a) for a in event[_MUT_ATTRS] if isinstance(a, list) and len(a) == 3
            )
            event[_MUT_ATTRS] = [a for a in attrs if a is not None]
            event[_MUT_TEXTS] = [
                [t[0], self._text(t[0], t[1])]
                for t in event[_MUT_TEXTS]
                if isinstance(t, list) and len(t) == 2 and isinstance(t[1], str)
            ]
        elif kind == "canvas":
            event = [*event[:3], event[3] if _DATA_IMAGE.match(str(event[3])) else INVALID_URL]
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
        or target in ("style", "srcset", "imagesrcset", "attributename", "src", "href")
        or not _ATTR_NAME.match(value.strip())
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
