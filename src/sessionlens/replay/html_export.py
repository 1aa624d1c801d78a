"""A recorded page at one moment as a static, script-free HTML file.

Built from the sanitised DOM state, with a Content-Security-Policy that
forbids scripts as a second lock: the file can be opened, mailed or
attached to a ticket without anything in it running. Shadow roots become
declarative shadow DOM, frame documents become srcdoc, canvases become
images of their recorded bitmap.
"""

from __future__ import annotations

import html
from typing import Any

from sessionlens.replay.dom import DOCTYPE, DOCUMENT, ELEMENT, SHADOW, TEXT, DomState, Node
from sessionlens.replay.sanitize import BLOCKED_TAG, Sanitizer

VOID = frozenset(
    "area base br col embed hr img input link meta param source track wbr".split()
)  # fmt: skip
RAW_TEXT = frozenset({"style", "textarea", "title"})
EXPORT_CSP = (
    "default-src * data: blob:; style-src * data: 'unsafe-inline'; script-src 'none'; "
    "object-src 'none'; base-uri 'none'; form-action 'none'"
)


def export_html(state: DomState, sanitizer: Sanitizer | None = None) -> str:
    clean = sanitizer or Sanitizer()
    # Sanitise through the same records the viewer gets, then rebuild.
    safe = DomState.from_keyframe(clean.keyframe(state.keyframe()))
    if safe.root is None:
        return "<!doctype html><title>empty</title>"
    return _document(safe, safe.root, clean, top=True)


def _document(state: DomState, doc: Node, clean: Sanitizer, top: bool = False) -> str:
    out: list[str] = []
    for child in doc.children:
        if child.type == DOCTYPE:
            out.append(f"<!doctype {html.escape(child.doctype[0] or 'html')}>")
        elif child.type == ELEMENT:
            out.append(_element(state, child, clean, head_extra=_head_extra(doc, top)))
    return "".join(out)


def _head_extra(doc: Node, top: bool) -> str:
    extra = f'<meta http-equiv="Content-Security-Policy" content="{EXPORT_CSP}">' if top else ""
    for css in doc.props.get("adopted", []):
        extra += f"<style>{_style_text(css)}</style>"
    return extra


def _style_text(css: str) -> str:
    # "<" never means anything in CSS outside strings; escaping it means no
    # recorded text can close the <style> element early.
    return css.replace("<", "\\3c ")


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
    if tag == "canvas":
        attrs["src"] = node.props.get("canvas", "")
    return attrs


def _element(state: DomState, node: Node, clean: Sanitizer, head_extra: str = "") -> str:
    tag = node.tag
    lowered = tag.lower()
    if lowered == "link" and "css" in node.props:
        media = node.attrs.get("media")
        media_attr = f' media="{html.escape(media)}"' if media else ""
        return f"<style{media_attr}>{_style_text(node.props['css'])}</style>"
    out_tag = "img" if lowered == "canvas" else tag
    parts = [f"<{out_tag}"]
    for name, value in _attrs(node, state).items():
        parts.append(f' {name}="{html.escape(value, quote=True)}"')
    if node.props.get("block"):
        w, h = node.props["block"]
        parts.append(
            f' data-sl-blocked style="display:inline-block;width:{w}px;height:{h}px;background:#ddd"'
        )
    parts.append(">")
    if lowered in VOID or lowered == "canvas":
        return "".join(parts)
    if lowered == BLOCKED_TAG:
        return "".join(parts) + f"</{out_tag}>"
    inner: list[str] = []
    if lowered == "head":
        inner.append(head_extra)
    for child in node.children:
        if child.type == TEXT:
            if lowered in RAW_TEXT:
                inner.append(_style_text(child.text) if lowered == "style" else html.escape(child.text))
            else:
                inner.append(html.escape(child.text, quote=False))
        elif child.type == ELEMENT:
            inner.append(_element(state, child, clean, head_extra if lowered == "html" else ""))
        elif child.type == SHADOW:
            adopted = "".join(f"<style>{_style_text(c)}</style>" for c in child.props.get("adopted", []))
            body = "".join(
                _element(state, c, clean) if c.type == ELEMENT else _text(c) for c in child.children
            )
            inner.insert(0, f'<template shadowrootmode="open">{adopted}{body}</template>')
        elif child.type == DOCUMENT:
            # A same-origin frame's recorded document: inline, still script-free.
            srcdoc = _document(state, child, clean, top=True)
            parts.insert(-1, f' srcdoc="{html.escape(srcdoc, quote=True)}"')
    if lowered == "textarea" and (state.inputs.get(node.id) or node.props.get("value") is not None):
        value = (state.inputs.get(node.id) or [node.props.get("value")])[0] or ""
        inner = [html.escape(value)]
    return "".join(parts) + "".join(inner) + f"</{out_tag}>"


def _text(node: Node) -> str:
    return html.escape(node.text, quote=False) if node.type == TEXT else ""


def page_at(pages: list[dict[str, Any]], start: int, at: int) -> tuple[dict[str, Any], int]:
    """The page view showing at session time `at`, and the time inside it."""
    current = pages[0]
    for pv in pages:
        if pv["t0"] - start <= at:
            current = pv
    return current, at - (current["t0"] - start)
