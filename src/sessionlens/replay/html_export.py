"""A recorded page at one moment as a static, script-free HTML file.

Built from the sanitised DOM state (replay.sanitize makes it inert), with a
Content-Security-Policy that forbids scripts as a second lock: the file can
be opened, mailed or attached to a ticket without anything in it running.
Shadow roots become declarative shadow DOM, frame documents become srcdoc,
canvases become images of their recorded bitmap.

Script-free by construction:
- every document (the page and each frame's srcdoc) starts with
  `<html><head><meta http-equiv="Content-Security-Policy">`, written here
  whatever the recording holds: a recording without <head> or <html> gets
  them, and nothing recorded comes before the policy;
- tag and attribute names are the sanitiser's (validated names only), every
  attribute value is quoted and escaped, raw text (<style>) cannot close
  its element;
- the tree is written with an explicit stack, so a page thousands of levels
  deep exports (browsers' parsers cap nesting themselves) instead of
  raising RecursionError; frames nest at most MAX_FRAME_DEPTH deep (each
  level escapes the one inside it again).
"""

from __future__ import annotations

import html
import re
from typing import Any

from sessionlens.replay.dom import DOCTYPE, DOCUMENT, ELEMENT, SHADOW, TEXT, DomState, Node
from sessionlens.replay.policy import data_image_pattern, replay_policy
from sessionlens.replay.sanitize import BLOCKED_TAG, Sanitizer, local_name

VOID = frozenset(
    "area base br col embed hr img input link meta param source track wbr".split()
)  # fmt: skip
RAW_TEXT = frozenset({"style", "textarea", "title"})
EXPORT_CSP = (
    "default-src * data: blob:; style-src * data: 'unsafe-inline'; script-src 'none'; "
    "object-src 'none'; base-uri 'none'; form-action 'none'"
)
CSP_META = f'<meta http-equiv="Content-Security-Policy" content="{EXPORT_CSP}">'
MAX_FRAME_DEPTH = 8
BLOCK_STYLE: str = replay_policy()["placeholder"]["block_style"]  # the player draws the same box
_DATA_IMAGE = re.compile(data_image_pattern(), re.I)


def export_html(state: DomState, sanitizer: Sanitizer | None = None) -> str:
    clean = sanitizer or Sanitizer()
    # Sanitise through the same records the viewer gets, then rebuild.
    safe = DomState.from_keyframe(clean.keyframe(state.keyframe()))
    if safe.root is None:
        return f"<!doctype html><html><head>{CSP_META}<title>empty</title></head></html>"
    _mark_focus(safe)
    return _document(safe, safe.root)


def _document(state: DomState, doc: Node, frame_depth: int = 0) -> str:
    """One document: our <html><head> with the policy first, then what was recorded."""
    doctype = ""
    roots: list[Node] = []
    for child in doc.children:
        if child.type == DOCTYPE and not doctype:
            doctype = f"<!doctype {html.escape(child.doctype[0] or 'html')}>"
        elif child.type == ELEMENT:
            roots.append(child)
    html_attrs: dict[str, str] = {}
    if len(roots) == 1 and local_name(roots[0].tag) == "html":
        html_attrs = roots[0].attrs
        roots = list(roots[0].children)
    heads = [n for n in roots if n.type == ELEMENT and local_name(n.tag) == "head"]
    rest = [n for n in roots if not (n.type == ELEMENT and local_name(n.tag) == "head")]
    adopted = _adopted(doc)
    scroll = state.scroll.get(doc.id) or (state.scroll.get(None) if frame_depth == 0 else None)
    moment = _moment_style(scroll, _has_top_layer(state), state.focus is not None)
    out = [doctype, f"<html{_attr_text(html_attrs)}><head>{CSP_META}{moment}{adopted}"]
    for head in heads:
        _write(state, head.children, out, frame_depth)
    out.append("</head>")
    _write(state, rest, out, frame_depth)
    out.append("</html>")
    return "".join(out)


def _adopted(root: Node) -> str:
    """Constructed stylesheets of a document or shadow root, as marked <style> elements."""
    return "".join(
        f"<style data-sl-adopted>{_style_text(css)}</style>" for css in root.props.get("adopted", [])
    )


# The moment, without script: the window's scroll position and what was open
# in the top layer are recorded state a static file cannot set, so they are
# expressed in CSS. The root is moved by -scroll with relative positioning
# (which, unlike a transform, leaves fixed elements on the viewport); an open
# popover or modal dialog is marked with an attribute of ours, recorded rules
# for :popover-open and :modal are rewritten onto it, and a rule of ours
# shows it as the browser's top layer would (above everything, modal
# dialogs centred on the viewport). Focus likewise, as the player does with
# classes: the focused element and its ancestors get attributes of ours,
# :focus/:focus-visible/:focus-within rules are rewritten onto them, and the
# browser's own ring on focused text fields is a rule of ours (in a cascade
# layer, so the page's rules win, as over the browser's). Not reproduced:
# ::backdrop, sticky elements' stuck position, element scroll positions.
POPOVER_OPEN_ATTR = "data-sl-popover-open"
MODAL_ATTR = "data-sl-modal"
FOCUS_ATTR = "data-sl-focus"
FOCUS_WITHIN_ATTR = "data-sl-focus-within"
# Longest first: ":focus" must not take the start of ":focus-within".
_STATE_PSEUDO = re.compile(r":(popover-open|modal|focus-within|focus-visible|focus)\b", re.I)
_STATE_ATTR = {
    "popover-open": POPOVER_OPEN_ATTR,
    "modal": MODAL_ATTR,
    "focus-within": FOCUS_WITHIN_ATTR,
    "focus-visible": FOCUS_ATTR,
    "focus": FOCUS_ATTR,
}
# The same ring as the player's UA_FOCUS_RING (static/viewer/replay-dom.js):
# Chromium's :focus-visible outline on the controls that show it however
# focus came.
UA_FOCUS_RING = (
    "@layer sl-ua{:where(input:not([type=button i],[type=submit i],[type=reset i],[type=image i],"
    "[type=checkbox i],[type=radio i],[type=file i],[type=color i],[type=range i]),textarea,"
    f"[contenteditable]:not([contenteditable=false i]))[{FOCUS_ATTR}]"
    "{outline:-webkit-focus-ring-color auto 1px;outline-offset:0}}"
)
TOP_LAYER_STYLE = (
    f":where([popover][{POPOVER_OPEN_ATTR}]) {{ display: block; z-index: 2147483647; }}"
    f":where(dialog[{MODAL_ATTR}]) {{ position: fixed; inset-block: 0; max-width: calc(100% - 6px - 2em);"
    " max-height: calc(100% - 6px - 2em); overflow: auto; z-index: 2147483647; }"
)
_MAX_SCROLL = 10_000_000


def _moment_style(scroll: list[float] | None, top_layer: bool, focused: bool = False) -> str:
    rules = (TOP_LAYER_STYLE if top_layer else "") + (UA_FOCUS_RING if focused else "")
    if scroll:
        x, y = (_px(v) for v in scroll[:2])
        if x or y:
            left, top = _css_offset(x), _css_offset(y)
            rules += f"html {{ position: relative !important; left: {left}px !important; top: {top}px !important; }}"
    return f"<style data-sl-moment>{rules}</style>" if rules else ""


def _px(value: object) -> float:
    """A recorded scroll offset as a bounded, finite CSS number (0 when it is not one)."""
    if not isinstance(value, (int, float)) or value != value or value in (float("inf"), float("-inf")):
        return 0.0
    return round(min(max(float(value), 0.0), _MAX_SCROLL), 2)


def _css_offset(scrolled: float) -> str:
    """-scrolled as a plain CSS number (no exponent, no "-0")."""
    text = f"{scrolled:.2f}".rstrip("0").rstrip(".")
    return "0" if text == "0" else "-" + text


def _has_top_layer(state: DomState) -> bool:
    return any(n.props.get("open") for n in state.nodes.values())


def _style_text(css: str) -> str:
    # "<" never means anything in CSS outside strings; escaping it means no
    # recorded text can close the <style> element early. Top-layer states
    # become the attributes the export sets (see _moment_style).
    css = _STATE_PSEUDO.sub(lambda m: f"[{_STATE_ATTR[m.group(1).lower()]}]", css)
    return css.replace("<", "\\3c ")


def _attr_text(attrs: dict[str, str]) -> str:
    return "".join(f' {name}="{html.escape(value, quote=True)}"' for name, value in attrs.items())


def _attrs(node: Node, state: DomState) -> dict[str, str]:
    attrs = dict(node.attrs)
    tag = node.tag.lower()
    value, checked = node.props.get("value"), node.props.get("checked")
    recorded = state.inputs.get(node.id)
    if recorded:
        value, checked = recorded[0], recorded[1]
    if tag == "input":
        if checked is not None:
            if checked:
                attrs["checked"] = ""
            else:
                attrs.pop("checked", None)
        elif value is not None:
            attrs["value"] = value
    if tag in ("dialog",) and node.props.get("open"):
        attrs["open"] = ""
        if node.props.get("modal"):
            attrs[MODAL_ATTR] = ""
    elif node.props.get("open") and "popover" in attrs:
        attrs[POPOVER_OPEN_ATTR] = ""
    if node.props.get("sl_focus"):
        attrs[FOCUS_ATTR if node.id == state.focus else FOCUS_WITHIN_ATTR] = ""
    if tag == "canvas" and _DATA_IMAGE.match(node.props.get("canvas", "")):
        attrs["src"] = node.props["canvas"]  # as the player: a recorded bitmap or nothing
    return attrs


def _mark_focus(state: DomState) -> None:
    """Mark the focused element and the elements holding it (across shadow roots, within its
    document, as the player's parentElementOf) on this export's own copy of the state."""
    at = state.nodes.get(state.focus) if state.focus is not None else None
    if at is None or at.type != ELEMENT:
        state.focus = None  # nothing to show focused: no ring rule either
        return
    while at is not None and at.type != DOCUMENT:
        if at.type == ELEMENT:
            at.props["sl_focus"] = True
        at = at.parent


def _write(state: DomState, nodes: list[Node], out: list[str], frame_depth: int) -> None:
    """Serialise nodes (and everything under them) onto `out`, without recursion."""
    stack: list[Node | str] = list(reversed(nodes))
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            out.append(item)
        elif item.type == TEXT:
            out.append(_text(item))
        elif item.type == ELEMENT:
            stack.extend(reversed(_element(state, item, frame_depth)))


def _text(node: Node) -> str:
    parent = local_name(node.parent.tag) if node.parent is not None and node.parent.type == ELEMENT else ""
    if parent == "style":
        return _style_text(node.text)
    if parent in RAW_TEXT:
        return html.escape(node.text)
    return html.escape(node.text, quote=False)


def _element(state: DomState, node: Node, frame_depth: int) -> list[Node | str]:
    """An element as its opening tag, its children (nodes, written later) and its closing tag."""
    tag = node.tag
    lowered = tag.lower()
    if lowered == "link" and "css" in node.props:
        media = node.attrs.get("media")
        media_attr = f' media="{html.escape(media)}"' if media else ""
        return [f"<style{media_attr}>{_style_text(node.props['css'])}</style>"]
    if lowered == "style" and isinstance(node.props.get("css"), str):
        # A sheet changed through the CSSOM: its rules as they are now, as the player shows them.
        return [f"<style{_attr_text(_attrs(node, state))}>{_style_text(node.props['css'])}</style>"]
    out_tag = "img" if lowered == "canvas" else tag
    element_attrs = _attrs(node, state)
    if node.props.get("block"):
        # The box's style joins the recorded one (a second style attribute would be ignored).
        w, h = node.props["block"]
        block = BLOCK_STYLE.format(w=w, h=h)
        element_attrs["style"] = f"{element_attrs['style']};{block}" if element_attrs.get("style") else block
    attrs = _attr_text(element_attrs)
    if lowered in VOID or lowered == "canvas":
        return [f"<{out_tag}{attrs}>"]
    if lowered == BLOCKED_TAG:
        return [f"<{out_tag}{attrs}></{out_tag}>"]
    body: list[Node | str] = []
    for child in node.children:
        if child.type in (TEXT, ELEMENT):
            body.append(child)
        elif child.type == SHADOW:
            shadow = [f'<template shadowrootmode="open">{_adopted(child)}', *child.children, "</template>"]
            body[:0] = [n for n in shadow if isinstance(n, str) or n.type in (TEXT, ELEMENT)]
        elif child.type == DOCUMENT and frame_depth < MAX_FRAME_DEPTH:
            # A same-origin frame's recorded document: inline, still script-free.
            srcdoc = _document(state, child, frame_depth + 1)
            attrs += f' srcdoc="{html.escape(srcdoc, quote=True)}"'
    if lowered == "textarea" and (state.inputs.get(node.id) or node.props.get("value") is not None):
        value = (state.inputs.get(node.id) or [node.props.get("value")])[0] or ""
        body = [html.escape(value)]
    return [f"<{out_tag}{attrs}>", *body, f"</{out_tag}>"]


def page_at(pages: list[dict[str, Any]], start: int, at: int) -> tuple[dict[str, Any], int]:
    """The page view showing at session time `at`, and the time inside it."""
    current = pages[0]
    for pv in pages:
        if pv["t0"] - start <= at:
            current = pv
    return current, at - (current["t0"] - start)
