"""The three rebuilders of a recording agree.

The same recordings (recorded live from fixture pages, synthetic ones, the
forged script corpus) are sanitised once by the server's sanitiser and then
rebuilt by
- the Python model (replay.dom.DomState),
- the player's JS rebuilder (replay-dom.js's PageDom, in Chromium), and
- the HTML export (replay.html_export, parsed back by Chromium),
and the three DOMs must be identical in a canonical serialisation: tag,
attributes, text, shadow roots and frame documents.

The canonical form only evens out what a browser does to any DOM (style
attributes through the CSSOM, the parser's whitespace handling, the player's
:hover -> .sl--hover rewrite) and what each rebuilder adds of its own by
design (the export's policy <meta>, the player's marker and state classes).
Form state (values typed, boxes ticked) is not in the tree of the Python
model: it is compared between the player and the export.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, Response
from starlette.routing import Mount, Route

from sessionlens.contracts import field, make_event
from sessionlens.replay.dom import DOCTYPE, DOCUMENT, ELEMENT, SHADOW, TEXT, DomState, Node
from sessionlens.replay.html_export import EXPORT_CSP, export_html
from sessionlens.replay.policy import replay_policy
from sessionlens.replay.sanitize import Sanitizer
from tests.helpers import click_event, free_port, meta_event, snapshot_event
from tests.live import LiveCollector, ThreadServer, chromium, demo_snippet, wait_until
from tests.recording import FIXTURES, fixture_app, page_view_events
from tests.synthetic import synthetic_page_view

ROOT = Path(__file__).resolve().parent.parent
VIEWER_STATIC = ROOT / "src" / "sessionlens" / "static" / "viewer"
REPLAY_FIXTURES = Path(__file__).resolve().parent / "fixtures" / "replay"
BLOCK_STYLE = replay_policy()["placeholder"]["block_style"]
KIND, SNAPSHOT_LAST = field("snapshot", "kind"), field("snapshot", "last")

# -- the canonical form -------------------------------------------------------
#
# element: [tag, [[name, value], ...sorted], children, shadow | None, frame | None, state | None]
# text: a string; document and shadow root: {"doctype", "adopted", "children"}.

FORM_ATTRS = {"input": {"value", "checked"}, "textarea": {"value"}}


def _py_document(state: DomState, doc: Node) -> dict[str, Any]:
    doctype = next((c.doctype[0] for c in doc.children if c.type == DOCTYPE), None)
    return {
        "doctype": doctype,
        "adopted": len(doc.props.get("adopted", [])),
        "children": [_py_node(state, c) for c in doc.children if c.type == ELEMENT],
    }


def _py_node(state: DomState, node: Node) -> Any:
    if node.type == TEXT:
        return node.text
    tag = node.tag.lower().rsplit(":", 1)[-1]
    attrs = {name.lower(): value for name, value in node.attrs.items()}
    children: list[Any] = []
    shadow = frame = None
    if tag == "link" and "css" in node.props:
        tag, attrs, children = "style", {k: v for k, v in attrs.items() if k == "media"}, [node.props["css"]]
    else:
        for child in node.children:
            if child.type in (TEXT, ELEMENT):
                children.append(_py_node(state, child))
            elif child.type == SHADOW:
                shadow = {
                    "doctype": None,
                    "adopted": len(child.props.get("adopted", [])),
                    "children": [_py_node(state, c) for c in child.children if c.type in (TEXT, ELEMENT)],
                }
            elif child.type == DOCUMENT:
                frame = _py_document(state, child)
    if tag == "canvas":
        tag = "img"
        data = node.props.get("canvas", "")
        if re.match(r"data:image/", data):
            attrs["src"] = data
    if tag == "dialog" and node.props.get("open"):
        attrs["open"] = ""
    if node.props.get("block"):
        w, h = node.props["block"]
        block = BLOCK_STYLE.format(w=w, h=h)
        attrs["style"] = f"{attrs['style']};{block}" if attrs.get("style") else block
    for name in FORM_ATTRS.get(tag, ()):
        attrs.pop(name, None)
    if tag in ("textarea", replay_policy()["placeholder"]["tag"]):
        children = []
    return [tag, sorted(attrs.items()), children, shadow, frame, None]


def python_canonical(state: DomState) -> dict[str, Any]:
    assert state.root is not None
    return _py_document(state, state.root)


CANON_JS = """import { rewriteStates } from "/viewer/replay-dom.js";
const EXPORT_CSP = %CSP%;
const FORM_ATTRS = { input: ["value", "checked"], textarea: ["value"] };
const WHITESPACE_MOVED = new Set(["html", "head", "table", "tbody", "thead", "tfoot", "tr", "colgroup", "select",
  "frameset"]);

export async function frameLoaded(iframe) {
  for (let i = 0; i < 100; i++) {
    const d = iframe.contentDocument;
    if (d && d.readyState === "complete" && (d.documentElement || !iframe.hasAttribute("srcdoc"))) return d;
    await new Promise((r) => setTimeout(r, 30));
  }
  return iframe.contentDocument;
}

// What a frame shows: its srcdoc as the parser reads it (a sandboxed
// player's frames are opaque, an export's are srcdoc too), else its document.
async function frameDocument(iframe) {
  if (iframe.hasAttribute("srcdoc")) {
    const text = iframe.getAttribute("srcdoc");
    return Document.parseHTMLUnsafe ? Document.parseHTMLUnsafe(text) : new DOMParser().parseFromString(text, "text/html");
  }
  try { return await frameLoaded(iframe); } catch (e) { return null; }
}

export async function documentOf(doc, isExport) {
  const children = [];
  // The player's own sheets (its focus ring) are not the page's.
  let adopted = doc.adoptedStyleSheets ? doc.adoptedStyleSheets.filter((s) => !s.slPlayer).length : 0;
  for (const c of doc.childNodes) if (c.nodeType === 1) children.push(await elementOf(c, isExport));
  if (isExport && children.length) {
    // The export's own head: the policy first, adopted sheets as marked <style>s.
    const head = children[0][2].find((c) => Array.isArray(c) && c[0] === "head");
    if (head) {
      head[2] = head[2].filter((c) => !(Array.isArray(c) && c[0] === "meta" && c[1].some(([n, v]) => n === "content" && v === EXPORT_CSP)));
      head[2] = head[2].filter((c) => !(Array.isArray(c) && c[0] === "style" && c[1].some(([n]) => n === "data-sl-moment")));
      const before = head[2].length;
      head[2] = head[2].filter((c) => !(Array.isArray(c) && c[0] === "style" && c[1].some(([n]) => n === "data-sl-adopted")));
      adopted += before - head[2].length;
    }
  }
  return { doctype: doc.doctype ? doc.doctype.name : null, adopted, children };
}

async function elementOf(el, isExport) {
  const tag = el.localName.toLowerCase();
  // Markers of the player's (a canvas shown as an image) and of the export's (the top layer and the
  // focus at the moment).
  const drop = new Set(["data-sl-canvas", "data-sl-popover-open", "data-sl-modal", "data-sl-focus",
    "data-sl-focus-within", ...(FORM_ATTRS[tag] || [])]);
  const attrs = [];
  for (const a of el.attributes) if (!drop.has(a.name.toLowerCase())) attrs.push([a.name.toLowerCase(), a.value]);
  attrs.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const kids = tag === "template" ? [...el.content.childNodes, ...el.childNodes] : [...el.childNodes];
  const children = [];
  for (const c of kids) {
    if (c.nodeType === 3) children.push(c.data);
    else if (c.nodeType === 1) children.push(await elementOf(c, isExport));
  }
  let shadow = null;
  if (el.shadowRoot) {
    const inner = [];
    let adopted = el.shadowRoot.adoptedStyleSheets.length;
    for (const c of el.shadowRoot.childNodes) {
      if (c.nodeType === 3) inner.push(c.data);
      else if (c.nodeType === 1) {
        if (isExport && c.localName === "style" && c.hasAttribute("data-sl-adopted")) { adopted++; continue; }
        inner.push(await elementOf(c, isExport));
      }
    }
    shadow = { doctype: null, adopted, children: inner };
  }
  let frame = null;
  if (tag === "iframe") {
    const doc = await frameDocument(el);
    if (doc && doc.documentElement) frame = await documentOf(doc, isExport);
  }
  let state = null;
  if (tag === "input") state = [el.value, el.checked];
  else if (tag === "textarea") state = [el.value, null];
  return [tag, attrs, tag === "textarea" || tag === "sl-blocked" ? [] : children, shadow, frame, state];
}

// What a browser (or the player by design) does to any tree, done to all three.
const scratch = document.createElement("div");
function normalise(tree, parentTag, withState) {
  if (Array.isArray(tree)) {
    const [tag, attrs, children, shadow, frame, state] = tree;
    // An iframe's srcdoc is how a rebuilder carries the frame document (compared as the frame).
    const kept = attrs.filter(([n]) => !(tag === "iframe" && n === "srcdoc"));
    return [tag, kept.map(([n, v]) => [n, n === "style" ? cssText(v) : v]), normaliseChildren(children, tag, withState),
      shadow && normaliseRoot(shadow, withState), frame && normaliseFrame(frame, withState), withState ? state : null];
  }
  return tree;
}
export function normaliseRoot(root, withState, isDocument) {
  let children = root.children;
  // A parser puts every document under <html>; a DOM built by calls may have <body> at the top.
  if (isDocument && children.length && !(children.length === 1 && children[0][0] === "html")) {
    children = [["html", [], children, null, null, null]];
  }
  return { doctype: root.doctype, adopted: root.adopted, children: normaliseChildren(children, "#root", withState) };
}
// A frame with no recorded document shows about:blank: the same as none.
function normaliseFrame(frame, withState) {
  const root = normaliseRoot(frame, withState, true);
  const html = root.children[0];
  const blank = root.children.length === 1 && html[0] === "html" && !html[1].length && !root.adopted
    && html[2].every((c) => Array.isArray(c) && (c[0] === "body") && !c[1].length && !c[2].length && !c[3]);
  return blank && root.doctype === null ? null : root;
}
function normaliseChildren(children, tag, withState) {
  const out = [];
  for (const c of children) {
    if (typeof c === "string") {
      if (typeof out[out.length - 1] === "string") out[out.length - 1] += c; else out.push(c);
    } else out.push(normalise(c, tag, withState));
  }
  return out
    .filter((c) => typeof c !== "string" || (c !== "" && !(WHITESPACE_MOVED.has(tag) && !c.trim())))
    // The parser makes a <head> for every document; a DOM built by calls has none unless recorded.
    .filter((c) => !(tag === "html" && Array.isArray(c) && c[0] === "head" && !c[1].length && !c[2].length))
    .map((c) => (typeof c === "string" && tag === "style" ? styleText(c) : c));
}
// Style text as the player writes it (:hover as a class of ours), with the
// export's own spellings read back (its "<" escape, its top-layer attributes).
function styleText(css) {
  return rewriteStates(css).replaceAll("<", "\\\\3c ")
    .replaceAll("[data-sl-popover-open]", ":popover-open").replaceAll("[data-sl-modal]", ":modal");
}
function cssText(value) {
  scratch.setAttribute("style", value);
  return scratch.style.cssText;
}
"""

# The player as it runs: PageDom building into a sandboxed, opaque-origin
# document of its own (as /replay/frame does), nested frames detached + srcdoc.
PLAYER_FRAME = """<!doctype html><html><head><meta charset="utf-8"><script type="module">
import { PageDom } from "/viewer/replay-dom.js";
import { documentOf, normaliseRoot } from "/canon.js";
window.playerDom = async (events, withState) => {
  const dom = new PageDom({ contentDocument: document, contentWindow: window }, {});
  dom.applyAll(events);
  dom.cleanStateClasses();
  await new Promise((r) => setTimeout(r, 50));
  return normaliseRoot(await documentOf(document, false), withState, true);
};
window.frameReady = true;
</script></head><body></body></html>"""

HARNESS = """<!doctype html><html><head><meta charset="utf-8"></head><body>
<iframe id="exported" width="1000" height="800"></iframe>
<script type="module">
import { documentOf, frameLoaded, normaliseRoot } from "/canon.js";
window.canonical = (raw, withState) => normaliseRoot(raw, withState, true);
window.exportDom = async (url, withState) => {
  const iframe = document.getElementById("exported");
  const loaded = new Promise((r) => iframe.addEventListener("load", r, { once: true }));
  iframe.src = url;
  await loaded;
  return normaliseRoot(await documentOf(await frameLoaded(iframe), true), withState, true);
};
window.harnessReady = true;
</script></body></html>"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as b:
        yield b


@pytest.fixture(scope="module")
def rig(
    tmp_path_factory: pytest.TempPathFactory, new_collector: Callable[..., LiveCollector]
) -> Iterator[dict[str, Any]]:
    """A collector, one server for the fixture pages and the harness, and the recordings made live."""
    collector = new_collector(Path(tmp_path_factory.mktemp("agree")) / "data")
    collector.start()
    port = free_port()
    origin = f"http://127.0.0.1:{port}"
    site = collector.add_site(origin)
    exports: dict[str, str] = {}
    replacements = {
        "<!--SESSIONLENS-->": demo_snippet(collector, site, flush_ms=300),
        "%RECORDER%": f"{collector.url}/recorder.js",
        "REMOTE_ORIGIN": origin + "/replay-fx",
    }

    # The player frame's origin is opaque: its module scripts need CORS, as under /replay/.
    cors = {"access-control-allow-origin": "*"}

    async def harness(request: Request) -> Response:
        return HTMLResponse(HARNESS)

    async def player_frame(request: Request) -> Response:
        return HTMLResponse(PLAYER_FRAME, headers={"content-security-policy": "sandbox allow-scripts"})

    async def canon(request: Request) -> Response:
        text = CANON_JS.replace("%CSP%", orjson.dumps(EXPORT_CSP).decode())
        return Response(text, media_type="text/javascript", headers=cors)

    async def viewer_script(request: Request) -> Response:
        path = (VIEWER_STATIC / request.path_params["name"]).resolve()
        if path.parent != VIEWER_STATIC or not path.is_file():
            return HTMLResponse("not found", status_code=404)
        return FileResponse(path, media_type="text/javascript", headers=cors)

    async def exported(request: Request) -> Response:
        return HTMLResponse(exports.get(request.path_params["name"], ""))

    app = Starlette(
        routes=[
            Route("/harness", harness),
            Route("/player-frame", player_frame),
            Route("/canon.js", canon),
            Route("/viewer/{name}", viewer_script),
            Route("/export/{name}", exported),
            Mount("/replay-fx", fixture_app(replacements, root=REPLAY_FIXTURES)),
            Mount("/", fixture_app(replacements, root=FIXTURES)),
        ]
    )
    with ThreadServer(app, port) as server:
        yield {"collector": collector, "site": site, "url": server.url, "origin": origin, "exports": exports}
    collector.stop()


def _record_live(browser: Any, rig: dict[str, Any], path: str, then: str | None = None) -> list[list[Any]]:
    collector, site = rig["collector"], rig["site"]
    page = browser.new_page(viewport={"width": 1000, "height": 800})
    try:
        page.goto(rig["url"] + path)
        page.wait_for_function("() => window.sessionlens && window.sessionlens.pageViewId")
        pid = page.evaluate("() => window.sessionlens.pageViewId")
        page.wait_for_timeout(300)
        if then:
            page.evaluate(then)
            page.wait_for_timeout(300)
        page.evaluate("() => window.sessionlens.flush()")

        def complete() -> bool:
            try:
                events = page_view_events(collector, site, pid)
            except AssertionError:
                return False
            return any(e[KIND] == "snapshot" and e[SNAPSHOT_LAST] for e in events)

        wait_until(complete, message="a complete snapshot")
        page.wait_for_timeout(400)
        page.evaluate("() => window.sessionlens.flush()")
        page.wait_for_timeout(400)
        return page_view_events(collector, site, pid)
    finally:
        page.close()


def _forged_corpus() -> list[list[Any]]:
    from tests.security.test_script_corpus import VECTORS, recording

    nodes, events = recording(sorted(VECTORS), "full")
    return [meta_event(0), make_event("snapshot", t=5, part=0, last=True, nodes=nodes), *events]


def _recordings(browser: Any, rig: dict[str, Any]) -> dict[str, list[list[Any]]]:
    synthetic = [e for chunk in synthetic_page_view(0.5, seed=3, rows=40) for e in chunk]
    return {
        "helpers": [meta_event(0), snapshot_event(5), click_event(20)],
        "synthetic": synthetic,
        "forged corpus": _forged_corpus(),
        "recorder/dom.html": _record_live(browser, rig, "/dom.html", "() => window.mutateAll()"),
        "replay/fidelity.html": _record_live(
            browser, rig, "/replay-fx/fidelity.html", "() => document.getElementById('modal').showModal()"
        ),
    }


def _census(tree: Any, out: dict[str, int] | None = None) -> dict[str, int]:
    """How many elements, texts, shadow roots and frame documents a canonical tree holds."""
    out = out if out is not None else {"elements": 0, "texts": 0, "shadows": 0, "frames": 0}
    stack = [tree]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            out["texts"] += 1
        elif isinstance(item, dict):
            stack.extend(item["children"])
        else:
            out["elements"] += 1
            stack.extend(item[2])
            for key, at in (("shadows", 3), ("frames", 4)):
                if item[at] is not None:
                    out[key] += 1
                    stack.append(item[at])
    return out


def _first_difference(a: Any, b: Any, path: str = "") -> str:
    if type(a) is not type(b):
        return f"{path}: {str(a)[:200]!r} != {str(b)[:200]!r}"
    if isinstance(a, dict):
        for key in sorted(set(a) | set(b)):
            if a.get(key) != b.get(key):
                return _first_difference(a.get(key), b.get(key), f"{path}.{key}")
    if isinstance(a, list):
        for i, (x, y) in enumerate(zip(a, b, strict=False)):
            if x != y:
                label = x[0] if isinstance(x, list) and x and isinstance(x[0], str) else i
                return _first_difference(x, y, f"{path}/{label}")
        if len(a) != len(b):
            return f"{path}: {len(a)} items != {len(b)}: {str(a[len(b) :] or b[len(a) :])[:300]}"
    return f"{path}: {str(a)[:300]!r} != {str(b)[:300]!r}"


def test_python_player_and_export_rebuild_the_same_dom(browser: Any, rig: dict[str, Any]) -> None:
    recordings = _recordings(browser, rig)
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    player_page = browser.new_page(viewport={"width": 1000, "height": 800})
    try:
        page.goto(rig["url"] + "/harness")
        page.wait_for_function("() => window.harnessReady")

        def player_dom(events: list[list[Any]], with_state: bool) -> Any:
            # A fresh sandboxed frame document per rebuild, as the player loads one per page view.
            player_page.goto(rig["url"] + "/player-frame")
            player_page.wait_for_function("() => window.frameReady")
            return player_page.evaluate("([e, s]) => window.playerDom(e, s)", [events, with_state])

        failures = []
        census: dict[str, dict[str, int]] = {}
        for n, (name, events) in enumerate(recordings.items()):
            clean = Sanitizer([rig["origin"]]).events(events)
            state = DomState().apply_all(clean)
            python = page.evaluate("([raw]) => window.canonical(raw, false)", [python_canonical(state)])
            census[name] = _census(python)
            rig["exports"][str(n)] = export_html(state, Sanitizer([rig["origin"]]))
            exported = page.evaluate("([u, s]) => window.exportDom(u, s)", [f"/export/{n}", False])
            player = player_dom(clean, False)
            # The player's top document is the replay frame's own (its doctype stands in).
            top_python = {**python, "doctype": None}
            if exported != python:
                failures.append(f"{name}: export != python at {_first_difference(exported, python)}")
            if {**player, "doctype": None} != top_python:
                failures.append(f"{name}: player != python at {_first_difference(player, top_python)}")
            # Form state: the player and the export against each other.
            with_state = player_dom(clean, True)
            exported_state = page.evaluate("([u, s]) => window.exportDom(u, s)", [f"/export/{n}", True])
            if {**with_state, "doctype": None} != {**exported_state, "doctype": None}:
                failures.append(
                    f"{name}: player != export (form state) at {_first_difference(with_state, exported_state)}"
                )
        assert not failures, "\n".join(failures)
        # The recordings hold what the rebuilders could disagree on.
        for name in ("recorder/dom.html", "replay/fidelity.html"):
            assert census[name]["shadows"] >= 1 and census[name]["frames"] >= 1, (name, census[name])
        assert census["forged corpus"]["elements"] > 50 and census["synthetic"]["elements"] > 40, census
    finally:
        page.close()
        player_page.close()
