"""Relative URLs in a recorded page made absolute, as the visitor's page resolved them.

The recorder sends attribute values, <style> text and stylesheet text as the
page holds them (`img/logo.png`, `url(../bg.png)`): resolving them in the
browser cost every visitor's download more than it costs us here. A replay,
an HTML export or a backdrop must not resolve them against the viewer, so
they are resolved on the way out of storage, following the page view's
stream in order, against what the page's base was at that point:

- the top document's URL (meta, then each SPA navigation: a node added
  after a pushState resolved against the new URL, as the page did);
- a <base href> in that document (resolved against the document's URL);
- a same-origin frame's document: the frame's src (resolved in the frame's
  own document), or its container's base for srcdoc and about:blank frames;
- a linked stylesheet's text: the link's href; constructed and <style>
  sheets: their document's base.

URLs are joined by the WHATWG URL parser (ada-url), so the result is what
the visitor's browser computed. What is already absolute, a fragment, data:,
blob:, javascript:, about:, mailto: and tel: are left as they are, and
anything that cannot be joined is left as recorded: the Sanitizer decides
what may be shown (replay/sanitize.py). Recordings from recorders that
resolved URLs themselves read the same (absolute URLs are kept).

Forged streams never raise; unknown ids resolve against the top document.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from typing import Any

import ada_url

from sessionlens.contracts import change_fields, field, node_field, node_types
from sessionlens.replay import css_urls
from sessionlens.replay.sanitize import browser_url

_TYPES = node_types()
ELEMENT, TEXT, DOCUMENT, SHADOW = (_TYPES[n] for n in ("element", "text", "document", "shadow"))
_ID, _PARENT, _TYPE = (node_field("element", n) for n in ("id", "parent", "type"))
_TAG, _ATTRS, _PROPS = (node_field("element", n) for n in ("tag", "attrs", "props"))
_TEXT = node_field("text", "text")
_ROOT_PROPS = {DOCUMENT: node_field("document", "props"), SHADOW: node_field("shadow", "props")}
_ATTR_CHANGE = tuple(change_fields()["attrs"].index(n) for n in ("id", "name", "value"))
_TEXT_CHANGE = tuple(change_fields()["texts"].index(n) for n in ("id", "text"))
_KIND = field("meta", "kind")
_META_URL = field("meta", "url")
_NAV_URL = field("nav", "url")
_SNAP_PART = field("snapshot", "part")
_SNAP_NODES = field("snapshot", "nodes")
_MUT_REMOVES = field("mutation", "removes")
_MUT_ADDS = field("mutation", "adds")
_MUT_ATTRS = field("mutation", "attrs")
_MUT_TEXTS = field("mutation", "texts")

# The attributes whose whole value is one URL (the names the recorder used to resolve).
_URL_ATTRS = frozenset({"src", "href", "xlink:href", "action", "formaction", "poster", "background", "data"})
_URL_LISTS = frozenset({"srcset", "imagesrcset"})
_WITH_URLS = _URL_ATTRS | _URL_LISTS | {"style"}
_CACHED_LENGTH = 512  # joins of longer URLs are not remembered: a forged page could fill memory
GROWTH = 64 * 1024  # what joining may add to one value (a stylesheet, a srcset), in characters
MAX_BASE = 4096  # longer base URLs are not used (a meta URL is at most that long)
_KEPT_AS_IS = re.compile(r"(data|blob|javascript|about|mailto|tel):|#", re.I)
_FRAME_TAGS = frozenset({"iframe", "frame"})
_HTTP = re.compile(r"https?://", re.I)
MAX_TRACKED = 200_000  # ids remembered per kind (styles, frames, frame nodes): a forged stream stops there
TOP = 0  # the top document's key (node ids start at 1)


def absolute(url: str, base: str) -> str:
    """`url` joined to `base` as a browser joins them; as given when it cannot be."""
    if len(url) + len(base) > _CACHED_LENGTH:
        return _join(url, base)
    return _cached_join(url, base)  # pages repeat their URLs: a 100,000-node page joins a few hundred


def _join(url: str, base: str) -> str:
    text = browser_url(url)  # as the URL parser reads it (not other Unicode spaces)
    if not text or not base or _KEPT_AS_IS.match(text):
        return url
    try:
        return str(ada_url.join_url(base, text))
    except ValueError:
        return url


_cached_join = functools.lru_cache(maxsize=8192)(_join)


def absolute_css(css: str, base: str) -> str:
    """Every url(...) and @import "..." of a stylesheet's text joined to `base` (css_urls.py:
    linear time). Joining adds at most GROWTH characters a text: past that (thousands of
    url(a) under a long base) URLs stay as written, and the Sanitizer refuses them."""
    if not base:
        return css
    added = 0

    def join(token: css_urls.Token) -> str | None:
        nonlocal added
        if added > GROWTH:
            return None
        url = absolute(token.body, base)
        added += len(url) - len(token.body)
        return url

    # Only the URL is replaced: quotes, spacing and whatever follows stay as the page wrote them.
    return css_urls.rewrite(css, join, whole=False)


def absolute_attr(name: str, value: str, base: str) -> str:
    """An attribute's value with its URLs joined to `base` (other attributes as given)."""
    if name in _URL_ATTRS:
        return absolute(value, base)
    if name in _URL_LISTS:
        candidates = value.split(",")
        if len(candidates) * len(base) > GROWTH:
            return value  # a forged list of thousands under a long base: left as written
        return ", ".join(_srcset_candidate(c, base) for c in candidates)
    if name == "style":
        return absolute_css(value, base)
    return value


def _srcset_candidate(candidate: str, base: str) -> str:
    parts = candidate.split()
    if parts:
        parts[0] = absolute(parts[0], base)
    return " ".join(parts)


class RecordedUrls:
    """Follows one page view's events; returns them with their URLs absolute. One per stream."""

    def __init__(self, url: str = "") -> None:
        self.url = url if isinstance(url, str) else ""  # the top document's, from meta and nav
        self._doc_of: dict[int, int] = {}  # node id -> its frame document's id (top-document nodes absent)
        self._doc_url: dict[int, str] = {}  # frame document id -> its URL
        self._bases: dict[int, dict[int, Any]] = {}  # document -> its <base> elements: id -> href
        self._frame_src: dict[int, str] = {}  # iframe element id -> its src, as recorded
        self._styles: set[int] = set()  # <style> element ids
        self._style_texts: set[int] = set()  # text nodes inside a <style>

    @classmethod
    def from_keyframe(cls, frame: dict[str, Any]) -> RecordedUrls:
        """Following on from a keyframe (whose own URLs were made absolute when it was written)."""
        urls = cls(frame.get("url", ""))
        for record in frame.get("nodes", ()):
            urls._learn(record)
        return urls

    # -- bases -------------------------------------------------------------

    def _doc_url_of(self, doc: int) -> str:
        return self.url if doc == TOP else self._doc_url.get(doc, "")

    def base(self, doc: int) -> str:
        """A document's base URL: its <base href> joined to its URL, else its URL."""
        url = self._doc_url_of(doc)
        # The first <base> with an href (as recorded: tree order, nearly always) sets it.
        href = next((h for h in self._bases.get(doc, {}).values() if isinstance(h, str)), None)
        if href is not None:
            joined = absolute(href, url)
            # A base the browser would not use (not http(s), or absurdly long) leaves the document's.
            if len(joined) <= MAX_BASE and _HTTP.match(joined):
                return joined
        return url

    def _doc(self, node_id: Any) -> int:
        if not isinstance(node_id, int):
            return TOP
        if node_id in self._doc_url:
            return node_id  # a frame's document node: its children are in it
        return self._doc_of.get(node_id, TOP)

    # -- records -----------------------------------------------------------

    def _learn(self, record: Any) -> tuple[int, str] | None:
        """Notes what a record says about bases; returns (document, tag) of a valid record."""
        if not isinstance(record, list) or len(record) <= _TYPE or not isinstance(record[_ID], int):
            return None
        node_id, kind, parent = record[_ID], record[_TYPE], record[_PARENT]
        # Pages without same-origin frames (most) have one document: nothing to look up.
        parent_doc = self._doc(parent) if self._doc_url else TOP
        if kind == DOCUMENT and isinstance(parent, int):
            # A same-origin frame's document: the URL its recorder sent (props.url: where the frame
            # really is, after redirects and links followed inside it), else the frame's src read
            # in the frame's document; srcdoc and about:blank ones inherit their container's base.
            at = _ROOT_PROPS[DOCUMENT]
            props = record[at] if len(record) > at and isinstance(record[at], dict) else {}
            sent = props.get("url")
            container = self.base(parent_doc)
            if isinstance(sent, str) and len(sent) <= MAX_BASE and _HTTP.match(sent):
                own = sent
            else:
                src = browser_url(self._frame_src.get(parent, ""))
                own = absolute(src, container) if src and not _KEPT_AS_IS.match(src) else container
            if node_id in self._doc_url or len(self._doc_url) < MAX_TRACKED:
                self._doc_url[node_id] = own
            self._bases.pop(node_id, None)
            doc = node_id
        else:
            doc = parent_doc
        if doc != TOP:
            if len(self._doc_of) < MAX_TRACKED:
                self._doc_of[node_id] = doc
        elif self._doc_of:
            self._doc_of.pop(node_id, None)  # moved out of a frame
        tag = ""
        if kind == ELEMENT and len(record) > _ATTRS:
            tag = record[_TAG].lower() if isinstance(record[_TAG], str) else ""
            attrs = record[_ATTRS] if isinstance(record[_ATTRS], dict) else {}
            html = not (len(record) > _PROPS and isinstance(record[_PROPS], dict) and "ns" in record[_PROPS])
            if tag == "style" and len(self._styles) < MAX_TRACKED:
                self._styles.add(node_id)
            elif tag in _FRAME_TAGS and len(self._frame_src) < MAX_TRACKED:
                # srcdoc wins over src; both documents inherit their container's base.
                src = "about:srcdoc" if "srcdoc" in attrs else attrs.get("src")
                self._frame_src[node_id] = src if isinstance(src, str) else ""
            elif tag == "base" and html:
                bases = self._bases.setdefault(doc, {})
                if node_id in bases or len(bases) < 64:
                    bases[node_id] = attrs.get("href")
        elif kind == TEXT and record[_PARENT] in self._styles and len(self._style_texts) < MAX_TRACKED:
            self._style_texts.add(node_id)
        return doc, tag

    def _record(self, record: Any) -> Any:
        learnt = self._learn(record)
        if learnt is None:
            return record
        doc, tag = learnt
        kind = record[_TYPE]
        base = self.base(doc)
        if kind == ELEMENT and len(record) > _ATTRS and isinstance(record[_ATTRS], dict):
            attrs = record[_ATTRS]
            joined = None
            for name, value in attrs.items():
                if name in _WITH_URLS and isinstance(value, str):
                    kept = absolute_attr(name, value, base)
                    if kept != value:
                        joined = joined if joined is not None else dict(attrs)
                        joined[name] = kept
            props = record[_PROPS] if len(record) > _PROPS else None
            css = props.get("css") if isinstance(props, dict) else None
            if joined is None and not isinstance(css, str):
                return record
            out = list(record)
            if joined is not None:
                out[_ATTRS] = joined
            if isinstance(css, str):
                # A linked sheet's text is relative to the sheet; a <style>'s to its document.
                href = out[_ATTRS].get("href") if tag == "link" else None
                sheet_base = href if isinstance(href, str) and href else base
                out[_PROPS] = {**props, "css": absolute_css(css, sheet_base)}
            return out
        if kind == TEXT and len(record) > _TEXT and record[_ID] in self._style_texts:
            if isinstance(record[_TEXT], str):
                out = list(record)
                out[_TEXT] = absolute_css(record[_TEXT], base)
                return out
        if kind in _ROOT_PROPS and len(record) > _ROOT_PROPS[kind]:
            at = _ROOT_PROPS[kind]
            props = record[at]
            if isinstance(props, dict) and isinstance(props.get("adopted"), list):
                out = list(record)
                out[at] = {
                    **props,
                    "adopted": [absolute_css(c, base) if isinstance(c, str) else c for c in props["adopted"]],
                }
                return out
        return record

    def _attr_change(self, change: Any) -> Any:
        if not isinstance(change, list) or len(change) != len(_ATTR_CHANGE):
            return change
        doc = self._note_attr(change)
        value = change[_ATTR_CHANGE[2]]
        if doc is None or not isinstance(value, str):
            return change
        out = list(change)
        out[_ATTR_CHANGE[2]] = absolute_attr(change[_ATTR_CHANGE[1]], value, self.base(doc))
        return out

    def _note_attr(self, change: Any) -> int | None:
        """Notes a <base> or frame src change; the changed node's document (None: not a change)."""
        if not isinstance(change, list) or len(change) != len(_ATTR_CHANGE):
            return None
        node_id, name, value = (change[i] for i in _ATTR_CHANGE)
        if not isinstance(node_id, int) or not isinstance(name, str):
            return None
        doc = self._doc(node_id)
        bases = self._bases.get(doc)
        if name == "href" and bases is not None and node_id in bases:
            bases[node_id] = value  # a <base> gaining, changing or losing its href
        elif name == "src" and node_id in self._frame_src:
            self._frame_src[node_id] = value if isinstance(value, str) else ""
        return doc

    def _text_change(self, change: Any) -> Any:
        if not isinstance(change, list) or len(change) != len(_TEXT_CHANGE):
            return change
        node_id, text = (change[i] for i in _TEXT_CHANGE)
        if node_id not in self._style_texts or not isinstance(text, str):
            return change
        out = list(change)
        out[_TEXT_CHANGE[1]] = absolute_css(text, self.base(self._doc(node_id)))
        return out

    # -- events ------------------------------------------------------------

    def event(self, event: list[Any]) -> list[Any]:
        """The event with its URLs absolute (a new list when anything changed)."""
        kind = event[_KIND] if event else None
        if kind == "snapshot":
            if event[_SNAP_PART] == 0:
                self._forget()
            if isinstance(event[_SNAP_NODES], list):
                event = list(event)
                event[_SNAP_NODES] = [self._record(r) for r in event[_SNAP_NODES]]
        elif kind == "mutation":
            event = list(event)
            self._removed(event[_MUT_REMOVES])
            for at, one in (
                (_MUT_ADDS, self._record),
                (_MUT_ATTRS, self._attr_change),
                (_MUT_TEXTS, self._text_change),
            ):
                if isinstance(event[at], list):
                    event[at] = [one(x) for x in event[at]]
        elif kind == "meta" and isinstance(event[_META_URL], str):
            self.url = event[_META_URL]
        elif kind == "nav" and isinstance(event[_NAV_URL], str):
            self.url = event[_NAV_URL]
        return event

    def events(self, events: Iterable[list[Any]]) -> list[list[Any]]:
        return [self.event(e) for e in events]

    def follow(self, event: list[Any]) -> None:
        """Learn what the event says about bases without rewriting it: the context of a later
        window (PageViewReader.events_between), at a fraction of event()'s cost."""
        kind = event[_KIND] if event else None
        if kind == "snapshot":
            if event[_SNAP_PART] == 0:
                self._forget()
            for record in _items(event[_SNAP_NODES]):
                self._learn(record)
        elif kind == "mutation":
            self._removed(event[_MUT_REMOVES])
            for record in _items(event[_MUT_ADDS]):
                self._learn(record)
            for change in _items(event[_MUT_ATTRS]):
                self._note_attr(change)
        elif kind in ("meta", "nav"):
            self.event(event)

    def _removed(self, ids: Any) -> None:
        """Removed nodes are forgotten: a removed <base> no longer sets its document's base. (Only
        the removed subtrees' roots are named; what is under them is dropped when seen again or
        stays, bounded by MAX_TRACKED.)"""
        if not isinstance(ids, list):
            return
        for i in ids:
            if isinstance(i, int):
                self._styles.discard(i)
                self._style_texts.discard(i)
                self._frame_src.pop(i, None)
                self._doc_of.pop(i, None)
                for bases in self._bases.values():
                    bases.pop(i, None)

    def _forget(self) -> None:
        for held in (self._doc_of, self._doc_url, self._bases, self._frame_src):
            held.clear()
        self._styles.clear()
        self._style_texts.clear()


# Absolute as written: a fragment, a special scheme with its "//", or any other scheme
# ("http:foo" is relative to an http page, as a browser reads it).
_SCHEME_OR_FRAGMENT = re.compile(
    r"[\x00-\x20]*(#|(?:https?|wss?|ftp|file):[/\\]{2}|(?!(?:https?|wss?|ftp|file):)[A-Za-z][A-Za-z0-9+.-]*:)",
    re.I,
)


def _maybe_relative(name: Any, value: Any) -> bool:
    if not isinstance(value, str) or name not in _WITH_URLS:
        return False
    if name in _URL_ATTRS:
        return bool(value.strip()) and not _SCHEME_OR_FRAGMENT.match(value)
    if name in _URL_LISTS:
        return any(not _SCHEME_OR_FRAGMENT.match(c) for c in value.split(",") if c.strip())
    return "url(" in value or "@import" in value


def has_relative_urls(events: Iterable[list[Any]]) -> bool:
    """Whether any event may hold a URL to join (conservative for CSS): if not, no base is needed."""
    for event in events:
        kind = event[_KIND] if event else None
        if kind == "snapshot":
            records, changes, texts = event[_SNAP_NODES], (), ()
        elif kind == "mutation":
            records, changes, texts = event[_MUT_ADDS], event[_MUT_ATTRS], event[_MUT_TEXTS]
        else:
            continue
        for record in records if isinstance(records, list) else ():
            if not isinstance(record, list) or len(record) <= _TYPE:
                continue
            fields = record[_TYPE + 1 :]
            if any(isinstance(f, str) and ("url(" in f or "@import" in f) for f in fields):
                return True  # a <style>'s text
            for f in fields:
                if isinstance(f, dict) and (
                    any(_maybe_relative(k, v) for k, v in f.items()) or "css" in f or "adopted" in f
                ):
                    return True
        for change in changes if isinstance(changes, list) else ():
            if isinstance(change, list) and len(change) == len(_ATTR_CHANGE):
                if _maybe_relative(change[_ATTR_CHANGE[1]], change[_ATTR_CHANGE[2]]):
                    return True
        for change in texts if isinstance(texts, list) else ():
            if isinstance(change, list) and len(change) == len(_TEXT_CHANGE):
                text = change[_TEXT_CHANGE[1]]
                if isinstance(text, str) and ("url(" in text or "@import" in text):
                    return True
    return False


def _items(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []
