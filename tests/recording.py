"""Helpers for recorder tests: read back what a page view recorded, rebuild
its DOM with the replay model, and serialise both it and the live page the
same way so they can be compared."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, Response
from starlette.routing import Route

from sessionlens.replay.dom import DOCUMENT, ELEMENT, SHADOW, TEXT, DomState, Node
from sessionlens.replay.recorded_urls import RecordedUrls
from sessionlens.sites import Site
from tests.live import LiveCollector, wait_until

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "recorder"

# The live DOM, normalised as the recorder promises to see it: comments and
# script contents left out, URL attributes absolute, shadow roots and
# same-origin frame documents inline.
LIVE_TREE_JS = """() => {
  const URLS = new Set(["href", "src", "action", "poster"]);
  function ser(node) {
    if (node.nodeType === 3) return node.data;
    if (node.nodeType !== 1) return null;
    const attrs = {};
    for (const a of node.attributes) attrs[a.name] = URLS.has(a.name) ? new URL(a.value, node.ownerDocument.baseURI).href : a.value;
    const kids = [];
    if (node.shadowRoot) kids.push(["#shadow", {}, Array.from(node.shadowRoot.childNodes).map(ser).filter((x) => x !== null)]);
    if (node.tagName === "IFRAME" && node.contentDocument && node.contentDocument.documentElement)
      kids.push(["#document", {}, [ser(node.contentDocument.documentElement)]]);
    if (node.tagName !== "SCRIPT" && node.tagName !== "NOSCRIPT")
      for (const c of node.childNodes) { const s = ser(c); if (s !== null) kids.push(s); }
    return [node.localName, attrs, kids];
  }
  return ser(document.documentElement);
}"""


def fixture_app(replacements: dict[str, str], root: Path = FIXTURES) -> Starlette:
    async def page(request: Request) -> Response:
        path = (root / request.path_params["path"]).resolve()
        if root not in path.parents or not path.is_file():
            return HTMLResponse("not found", status_code=404)
        if path.suffix == ".html":
            text = path.read_text()
            for old, new in replacements.items():
                text = text.replace(old, new)
            return HTMLResponse(text)
        return FileResponse(path)

    return Starlette(routes=[Route("/{path:path}", page)])


def page_view_events(collector: LiveCollector, site: Site, pid: str) -> list[list[Any]]:
    chunks = sorted((c for c in collector.chunks(site) if c["pid"] == pid), key=lambda c: c["seq"])
    seqs = [c["seq"] for c in chunks]
    assert seqs == list(range(len(seqs))), f"missing batches: {seqs}"
    return [e for c in chunks for e in c["events"]]


def events_when(page: Any, collector: LiveCollector, site: Site, pid: str, done: Any) -> list[list[Any]]:
    """The page view's events once `done(events)` holds and no batch is missing (flushing meanwhile)."""
    result: list[list[Any]] = []

    def arrived() -> bool:
        page.evaluate("() => window.sessionlens.flush()")
        try:
            result[:] = page_view_events(collector, site, pid)
        except AssertionError:  # a batch still in flight
            return False
        return done(result)

    wait_until(arrived, message="the recorded events")
    return result


def rebuild(events: list[list[Any]]) -> DomState:
    """The page view's DOM as every reader of storage gets it: URLs made absolute on the server."""
    return DomState().apply_all(RecordedUrls().events(events))


def _tree(node: Node) -> Any:
    if node.type == TEXT:
        return node.text
    if node.type == SHADOW:
        return ["#shadow", {}, [_tree(c) for c in node.children]]
    if node.type == DOCUMENT:
        html = next(c for c in node.children if c.type == ELEMENT)
        return ["#document", {}, [_tree(html)]]
    return [node.tag, dict(node.attrs), [_tree(c) for c in node.children]]


def rebuilt_tree(state: DomState) -> Any:
    assert state.root is not None, "no snapshot was rebuilt"
    html = next(c for c in state.root.children if c.type == ELEMENT)
    return _tree(html)
