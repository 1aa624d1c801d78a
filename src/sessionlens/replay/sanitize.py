"""Making recorded DOM inert before the viewer (or an HTML export) sees it.

Recordings are untrusted: anyone can POST a forged one. Whatever a record
says, what leaves here cannot run code, navigate, submit, or make the
viewer's browser send a request to the viewer's own origin (where its
cookies are). The player shows pages in a script-less sandbox under a
strict CSP as well; this is the layer that also protects HTML exports.

Rules, all allow-lists where it matters:
- script-like elements (script, object, embed, applet, base, frame sets'
  noscript, SVG <set>/<animate> aimed at href or handlers) become an inert
  hidden <sl-blocked> element;
- attributes named on*, srcdoc, http-equiv, action, formaction, ping and
  anything not a plausible attribute name are dropped;
- URL attributes keep only absolute http(s) URLs off the viewer's origin,
  and data: images; everything else becomes about:invalid;
- CSS keeps only such URLs in url(), @import and image-set();
- iframes keep no src: their recorded document is rebuilt inside instead.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from sessionlens.contracts import field

BLOCKED_TAG = "sl-blocked"
INVALID_URL = "about:invalid"
_BLOCKED_TAGS = frozenset({"script", "object", "embed", "applet", "base", "portal", "frameset", "noscript"})
_SVG_ANIMATE = frozenset({"set", "animate", "animatetransform", "animatemotion", "discard"})
_DROP_ATTRS = frozenset(
    {"srcdoc", "http-equiv", "action", "formaction", "ping", "autofocus", "nonce", "integrity"}
)
_URL_ATTRS = frozenset(
    {
        "href", "src", "xlink:href", "data", "poster", "background", "cite", "codebase", "longdesc",
        "lowsrc", "dynsrc", "manifest", "usemap", "profile", "classid", "archive", "icon", "itemtype",
        "xml:base", "from", "to", "values", "by",
    }
)  # fmt: skip
_LINK_RELS_KEPT = re.compile(r"^\s*(alternate\s+)?stylesheet\s*$", re.I)
_ATTR_NAME = re.compile(r"^[A-Za-z_:][A-Za-z0-9_.:-]{0,127}$")
_DATA_IMAGE = re.compile(r"^data:image/(png|gif|jpe?g|webp|avif|bmp|x-icon|svg\+xml)[;,]", re.I)
_DATA_FONT = re.compile(r"^data:(font/|application/(x-)?font)", re.I)
_CSS_URL = re.compile(r"""url\(\s*(?P<q>['"]?)(?P<u>.*?)(?P=q)\s*\)""", re.I | re.S)
_CSS_IMPORT = re.compile(r"""@import\s+(?P<q>['"])(?P<u>.*?)(?P=q)""", re.I)
_CSS_IMAGE_SET = re.compile(r"""(image-set\()(?P<body>[^)]*)\)""", re.I)
_CSS_STRING = re.compile(r"""(?P<q>['"])(?P<u>.*?)(?P=q)""")
_CSS_LEGACY = re.compile(r"expression\s*\(|-moz-binding|behavior\s*:", re.I)
_CONTROL = re.compile(r"[\x00-\x20\x7f]+")

_MUT_ADDS = field("mutation", "adds")
_MUT_ATTRS = field("mutation", "attrs")
_MUT_TEXTS = field("mutation", "texts")
_SNAP_NODES = field("snapshot", "nodes")


class Sanitizer:
    def __init__(self, viewer_origins: Iterable[str] = ()) -> None:
        self.viewer_hosts = {urlsplit(o).netloc.lower() for o in viewer_origins if o}

    # -- URLs and CSS -------------------------------------------------------

    def url(self, value: str, *, images_only: bool = False) -> str:
        text = _CONTROL.sub("", value)
        lowered = text.lower()
        if lowered.startswith("data:"):
            return (
                value
                if _DATA_IMAGE.match(text) or (not images_only and _DATA_FONT.match(text))
                else INVALID_URL
            )
        if lowered.startswith("#"):
            return value  # same-document fragment (SVG <use href="#icon">, anchors)
        if not (lowered.startswith("http://") or lowered.startswith("https://")):
            return INVALID_URL  # relative, protocol-relative, javascript:, blob:, file:, ...
        try:
            host = urlsplit(text).netloc.lower()
        except ValueError:
            return INVALID_URL
        if host.rsplit("@", 1)[-1] in self.viewer_hosts:
            return INVALID_URL
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
            return f'url("{_css_quote(self.url(m["u"]))}")'

        def fix_import(m: re.Match[str]) -> str:
            return f'@import "{_css_quote(self.url(m["u"]))}"'

        def fix_image_set(m: re.Match[str]) -> str:
            body = _CSS_STRING.sub(lambda s: f'"{_css_quote(self.url(s["u"]))}"', m["body"])
            return f"{m[1]}{body})"

        text = _CSS_URL.sub(fix_url, text)
        text = _CSS_IMPORT.sub(fix_import, text)
        text = _CSS_IMAGE_SET.sub(fix_image_set, text)
        return _CSS_LEGACY.sub("/*blocked*/", text)

    # -- attributes and records --------------------------------------------

    def attr(self, tag: str, name: str, value: str | None) -> str | None:
        """The value to keep for one attribute, or None to drop it."""
        lowered = name.lower()
        if value is None:
            return None
        if not _ATTR_NAME.match(name) or lowered.startswith("on") or lowered in _DROP_ATTRS:
            return None
        if not isinstance(value, str):
            return None
        if lowered == "style":
            return self.css(value)
        if lowered in ("srcset", "imagesrcset"):
            return self.srcset(value)
        if lowered == "src" and tag in ("iframe", "frame"):
            return None
        if lowered == "href" and tag in ("a", "area") and value.strip().lower().startswith("data:"):
            return INVALID_URL  # a data: document must never be navigable
        if lowered in _URL_ATTRS or lowered.endswith(":href"):
            if lowered in ("from", "to", "values", "by") and tag not in _SVG_ANIMATE:
                return value
            return self.url(value, images_only=tag in ("img", "image", "input", "video", "audio", "source"))
        if lowered == "target":
            return None  # never name another browsing context
        return value

    def _element(self, record: list[Any]) -> list[Any]:
        tag = record[4] if isinstance(record[4], str) else ""
        lowered = tag.lower()
        attrs = record[5] if isinstance(record[5], dict) else {}
        props = record[6] if len(record) > 6 and isinstance(record[6], dict) else {}
        if (
            lowered in _BLOCKED_TAGS
            or not re.fullmatch(r"[A-Za-z][A-Za-z0-9-]{0,63}|[a-z][a-z0-9-]*:[a-z][a-z0-9-]*", tag)
            or (lowered in _SVG_ANIMATE and _animates_code(attrs))
            or (lowered == "link" and not _LINK_RELS_KEPT.match(str(attrs.get("rel", ""))))
            or (lowered == "meta" and "http-equiv" in {k.lower() for k in attrs})
        ):
            return [*record[:4], BLOCKED_TAG, {"hidden": ""}]
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

    def record(self, record: Any) -> list[Any] | None:
        """A sanitised node record, or None when it is not a node record at all."""
        if not isinstance(record, list) or len(record) < 4 or not isinstance(record[0], int):
            return None
        kind = record[3]
        if kind == 1 and len(record) >= 6:
            return self._element(record)
        if kind == 3 and len(record) >= 5 and isinstance(record[4], str):
            # Text under <style> is CSS; the parent is not known here, so
            # CSS-looking text anywhere gets the URL rules (prose keeps http URLs).
            text = record[4]
            if "url(" in text.lower() or "@import" in text.lower() or "image-set" in text.lower():
                text = self.css(text)
            return [*record[:4], text]
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

    def event(self, event: list[Any]) -> list[Any]:
        kind = event[0]
        if kind == "snapshot":
            event = list(event)
            event[_SNAP_NODES] = self.records(event[_SNAP_NODES])
        elif kind == "mutation":
            event = list(event)
            event[_MUT_ADDS] = self.records(event[_MUT_ADDS])
            # The tag of an attribute's element is not in the event; rules
            # that depend on it fall back to the strictest reading.
            event[_MUT_ATTRS] = [
                [node_id, name, self.attr("", name, value) if value is not None else None]
                for node_id, name, value in event[_MUT_ATTRS]
                if value is None or self.attr("", name, value) is not None
            ]
            event[_MUT_TEXTS] = [
                [node_id, self.css(text) if "url(" in text.lower() or "@import" in text.lower() else text]
                for node_id, text in event[_MUT_TEXTS]
            ]
        elif kind == "canvas":
            event = [*event[:3], event[3] if _DATA_IMAGE.match(str(event[3])) else INVALID_URL]
        return event

    def events(self, events: Iterable[list[Any]]) -> list[list[Any]]:
        return [self.event(e) for e in events]

    def keyframe(self, frame: dict[str, Any]) -> dict[str, Any]:
        clean = {k: v for k, v in frame.items() if k != "nodes"}
        clean["nodes"] = self.records(frame["nodes"])
        clean["url"] = frame["url"] if isinstance(frame.get("url"), str) else ""
        return clean


def _animates_code(attrs: dict[str, Any]) -> bool:
    target = str(attrs.get("attributeName", attrs.get("attributename", ""))).lower()
    return "href" in target or target.startswith("on") or target in ("src", "style", "action")


def _numbers(value: Any, n: int) -> bool:
    return isinstance(value, list) and len(value) == n and all(isinstance(v, (int, float)) for v in value)


def _css_quote(url: str) -> str:
    return url.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "")
