"""Forged recordings that try to run script: the export and the player stay inert.

Each vector is tried in case, namespace-prefix and mutation variants, in
recordings with and without <head> and <html>. The sanitisers alone must
stop them (the CSP is a second line): exports are checked structurally
(parsed by Python and by Chromium), then opened with and without their CSP
in Chromium and every link, area and animated element is clicked; the
player's own sanitiser (replay-dom.js) gets the forged records directly, the
server's sanitiser bypassed. A loopback canary server and a `window.__pwned`
flag must see nothing.
"""

from __future__ import annotations

import html
import re
import threading
from collections.abc import Callable, Iterator
from html.parser import HTMLParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import orjson
import pytest

from sessionlens.replay.dom import DomState
from sessionlens.replay.html_export import EXPORT_CSP, export_html
from sessionlens.replay.sanitize import Sanitizer

CSP_META = f'<meta http-equiv="Content-Security-Policy" content="{EXPORT_CSP}">'

# -- the corpus ----------------------------------------------------------------

CANARY_PLACEHOLDER = "CANARY"  # replaced by the canary server's URL
JS = f"void(window.__pwned=1,fetch('{CANARY_PLACEHOLDER}/ran'))"  # no ';': SMIL splits values on it
SVG = {"ns": "svg"}
ANIM = {"dur": "0.05s", "fill": "freeze", "calcMode": "discrete", "begin": "0s"}


def _link(nid: int, parent: int, attrs: dict, props: dict | None = None, text: str = "click") -> list:
    rec = [nid, parent, None, 1, "a", attrs]
    return [rec + [props] if props else rec, [nid + 1, nid, None, 3, text]]


def _svg_link(nid: int, parent: int, link_attrs: dict, animation: tuple[str, dict] | None = None) -> list:
    """<svg><a ...><animation/><text>click</text></a></svg>, ids nid..nid+4."""
    out = [
        [nid, parent, None, 1, "svg", {"width": "300", "height": "40"}, SVG],
        [nid + 1, nid, None, 1, "a", link_attrs, SVG],
    ]
    if animation:
        out.append([nid + 2, nid + 1, None, 1, animation[0], animation[1], SVG])
    out.append([nid + 3, nid + 1, None, 1, "text", {"x": "5", "y": "25"}, SVG])
    out.append([nid + 4, nid + 3, None, 3, "click svg"])
    return out


# name -> (records under <body> (id 100); mutation events later, as [t, adds, attrs])
# Ids: each vector uses its own range so they can share one page.
VECTORS: dict[str, tuple[list, list]] = {
    "ATTRIBUTENAME-upper": (
        _svg_link(1000, 100, {"href": "#x"}, ("animate", {**ANIM, "ATTRIBUTENAME": "href", "values": f"#;javascript:{JS}"})),
        [],
    ),
    "svg:animate-prefix": (
        _svg_link(1010, 100, {"href": "#x"}, ("svg:animate", {**ANIM, "attributeName": "href", "values": f"#;javascript:{JS}"})),
        [],
    ),
    "SET-upper": (_svg_link(1020, 100, {"href": "#x"}, ("SET", {"attributeName": "href", "to": f"javascript:{JS}"})), []),
    "svg:set-xlink": (
        _svg_link(1030, 100, {"xlink:href": "#x"}, ("svg:set", {"attributeName": "xlink:href", "to": f"javascript:{JS}"})),
        [],
    ),
    "animateTransform-href": (
        _svg_link(1040, 100, {"href": "#x"}, ("animateTransform", {**ANIM, "attributeName": "HREF", "values": f"javascript:{JS}"})),
        [],
    ),
    "animateMotion-values": (
        _svg_link(1050, 100, {"href": "#x"}, ("ANIMATEMOTION", {**ANIM, "values": f"#;javascript:{JS}"})),
        [],
    ),
    "discard": (_svg_link(1060, 100, {"href": "#x"}, ("svg:DISCARD", {"begin": "0s"})), []),
    "XLINK:HREF-upper": (_svg_link(1070, 100, {"XLINK:HREF": f"javascript:{JS}"}), []),
    "x:href-prefix": (_svg_link(1080, 100, {"x:href": f" \x01java\tscript:{JS}"}), []),
    # Set later: attributeName and values on an animation that looked harmless.
    "mutation-attributeName": (
        _svg_link(1090, 100, {"href": "#x"}, ("animate", {**ANIM, "attributeName": "x", "values": "0;1"})),
        [[1092, "attributeName", "href"], [1092, "values", f"#;javascript:{JS}"], [1092, "begin", "0s"]],
    ),
    "mutation-to-on-set": (
        _svg_link(1100, 100, {"href": "#x"}, ("set", {"attributeName": "class", "to": "a"})),
        [[1102, "ATTRIBUTENAME", "href"], [1102, "to", f"javascript:{JS}"]],
    ),
    "mutation-href": (_svg_link(1110, 100, {"href": "#x"}), [[1111, "XLINK:HREF", f"javascript:{JS}"], [1111, "href", f"\njavascript:{JS}"]]),
    "mutation-html-link": (_link(1120, 100, {"href": "#x", "id": "m"}), [[1120, "href", f"JaVaScRiPt:{JS}"]]),
    "html-link-controls": (_link(1130, 100, {"href": f"\x00\x1f java\nscript:{JS}"}), []),
    "vbscript": (_link(1140, 100, {"href": "vbscript:msgbox(1)"}), []),
    "data-html-link": (_link(1150, 100, {"href": "data:text/html,<script>alert(1)</script>"}), []),
    "data-svg-link": (_link(1160, 100, {"href": "data:image/svg+xml,<svg onload=alert(1)>"}), []),
    "area": (
        [
            [1170, 100, None, 1, "map", {"name": "m1"}],
            [1171, 1170, None, 1, "AREA", {"shape": "rect", "coords": "0,0,300,40", "HREF": f"javascript:{JS}"}],
            [1172, 100, None, 1, "img", {"usemap": "#m1", "width": "300", "height": "40", "src": "data:image/gif;base64,R0lGODlhAQABAAAAACw="}],
        ],
        [],
    ),
    "handlers-case-prefix": (
        [[1180, 100, None, 1, "div", {"ONCLICK": JS, "x:onmouseover": JS, "OnFocus": JS, "tabindex": "0"}], [1181, 1180, None, 3, "handlers"]],
        [[1180, "onClick", JS]],
    ),
    "script-case-prefix": (
        [
            [1190, 100, None, 1, "SCRIPT", {}], [1191, 1190, None, 3, JS],
            [1192, 100, None, 1, "svg", {}, SVG], [1193, 1192, None, 1, "svg:script", {}, SVG], [1194, 1193, None, 3, JS],
            [1195, 1192, None, 1, "SCRIPT", {"href": f"data:text/javascript,{JS}"}, SVG],
        ],
        [],
    ),
    "iframe-src-srcdoc": (
        [[1200, 100, None, 1, "iframe", {"SRC": f"javascript:{JS}", "SrcDoc": f"<script>{JS}</script>"}],
         [1201, 100, None, 1, "FRAME", {"src": f"javascript:{JS}"}]],
        [],
    ),
    "object-embed": (
        [[1210, 100, None, 1, "OBJECT", {"data": f"javascript:{JS}"}], [1211, 100, None, 1, "x:embed", {"src": f"javascript:{JS}"}]],
        [],
    ),
    "meta-refresh-upper": (
        [[1220, 100, None, 1, "META", {"HTTP-EQUIV": "refresh", "content": f"0;url=javascript:{JS}"}]],
        [],
    ),
    "form-actions": (
        [[1230, 100, None, 1, "form", {"ACTION": f"javascript:{JS}"}],
         [1231, 1230, None, 1, "button", {"FormAction": f"javascript:{JS}"}], [1232, 1231, None, 3, "submit"]],
        [],
    ),
    "math-href": (
        [[1240, 100, None, 1, "math", {}, {"ns": "math"}],
         [1241, 1240, None, 1, "mi", {"href": f"javascript:{JS}", "xlink:href": f"javascript:{JS}"}, {"ns": "math"}],
         [1242, 1241, None, 3, "x"]],
        [],
    ),
    "shadow-root-link": (
        [[1250, 100, None, 1, "div", {}], [1251, 1250, None, 11], *_svg_link(1252, 1251, {"href": "#x"}, ("animate", {**ANIM, "AttributeName": "href", "values": f"#;javascript:{JS}"}))],
        [],
    ),
    "frame-document-without-head": (
        [[1260, 100, None, 1, "iframe", {}], [1261, 1260, None, 9], [1262, 1261, None, 1, "body", {}],
         *_svg_link(1263, 1262, {"href": "#x"}, ("animate", {**ANIM, "ATTRIBUTENAME": "href", "values": f"#;javascript:{JS}"}))],
        [],
    ),
    "mutation-adds-prefixed-animation": (
        [[1270, 100, None, 1, "svg", {}, SVG], [1271, 1270, None, 1, "a", {"href": "#x"}, SVG], [1272, 1271, None, 1, "text", {"y": "20"}, SVG], [1273, 1272, None, 3, "click"]],
        [("add", [1274, 1271, None, 1, "svg:animate", {**ANIM, "attributeName": "href", "values": f"#;javascript:{JS}"}, SVG])],
    ),
}  # fmt: skip

SHAPES = ("full", "no-head", "no-html")


def recording(names: list[str], shape: str, canary: str = "http://127.0.0.1:9") -> tuple[list, list]:
    """(keyframe nodes, mutation events) holding the named vectors."""
    if shape == "full":
        top = [[1, None, None, 9], [2, 1, None, 10, "html", "", ""], [3, 1, None, 1, "html", {}],
               [4, 3, None, 1, "head", {}], [100, 3, None, 1, "body", {}]]  # fmt: skip
    elif shape == "no-head":
        top = [[1, None, None, 9], [3, 1, None, 1, "html", {}], [100, 3, None, 1, "body", {}]]
    else:
        top = [[1, None, None, 9], [100, 1, None, 1, "body", {}]]
    nodes, events = list(top), []
    for name in names:
        records, later = VECTORS[name]
        nodes.extend(records)
        for change in later:
            if change[0] == "add":
                events.append(["mutation", 50, [], [change[1]], [], []])
            else:
                events.append(["mutation", 50, [], [], [change], []])
    return _with_canary(nodes, canary), _with_canary(events, canary)


def _with_canary(value: Any, canary: str) -> Any:
    return orjson.loads(orjson.dumps(value).replace(CANARY_PLACEHOLDER.encode(), canary.encode()))


def exported(names: list[str], shape: str, canary: str = "http://127.0.0.1:9") -> str:
    nodes, events = recording(names, shape, canary)
    state = DomState.from_keyframe({**DomState().keyframe(), "nodes": nodes}).apply_all(events)
    return export_html(state)


# -- what counts as executable --------------------------------------------------

BAD_TAGS = {"script", "object", "embed", "applet", "base", "frame", "frameset", "portal", "noscript",
            "set", "animate", "animatetransform", "animatemotion", "animatecolor", "discard"}  # fmt: skip
URLISH = {"href", "src", "data", "action", "formaction", "poster", "background", "codebase", "cite", "base"}
SMIL = {"from", "to", "by", "values"}
DATA_IMAGE = re.compile(r"^data:image/(png|gif|jpe?g|webp|avif|bmp|x-icon|svg\+xml)[;,]", re.I)


def _local(name: str) -> str:
    return name.lower().rsplit(":", 1)[-1]


def _executable_url(value: str, navigable: bool) -> bool:
    url = re.sub(r"[\t\n\r]", "", value.strip("".join(chr(c) for c in range(0x21))))
    scheme = re.match(r"^([A-Za-z][A-Za-z0-9+.-]*):", url)
    if scheme is None:
        return False
    s = scheme[1].lower()
    return s in ("javascript", "vbscript", "livescript") or (
        s == "data" and (navigable or not DATA_IMAGE.match(url))
    )


def violations(
    elements: list[tuple[str, dict[str, str]]], export: bool = False, frame_documents: bool = False
) -> list[str]:
    """Everything in a list of (tag, attributes) that could run script.

    In an export, the policy meta and frame documents as srcdoc are the
    exporter's own (frame documents are checked as documents of their own).
    The player shows recorded frame documents as srcdoc too (frame_documents):
    each is then checked as a frame of its own.
    """
    found = []
    for tag, attrs in elements:
        local = _local(tag)
        if local in BAD_TAGS:
            found.append(f"element <{tag}>")
        for name, value in attrs.items():
            attr = _local(name)
            where = f"<{tag} {name}={value[:60]!r}>"
            if attr == "srcdoc" and (export or frame_documents) and local == "iframe":
                continue
            if attr.startswith("on") or attr in ("srcdoc", "formaction", "action", "target"):
                found.append(where)
            elif attr == "http-equiv" and not (export and value == "Content-Security-Policy"):
                found.append(where)
            elif attr == "attributename" and (
                _local(value).startswith("on") or _local(value) in URLISH | SMIL | {"style"}
            ):
                found.append(where)
            elif attr in URLISH and _executable_url(
                value, navigable=attr == "href" and local in ("a", "area")
            ):
                found.append(where)
            elif attr in SMIL and any(_executable_url(item, navigable=True) for item in value.split(";")):
                found.append(where)
    return found


class _Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str]]] = []
        self.srcdocs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if tag == "iframe" and "srcdoc" in values:
            self.srcdocs.append(values.pop("srcdoc"))  # our own frame document: checked as one
        self.elements.append((tag, values))


def export_violations(text: str) -> list[str]:
    """Violations in an export and in every frame document inside it, and a missing policy."""
    found = []
    documents = [text]
    while documents:
        doc = documents.pop()
        if not re.match(r"^(<!doctype[^>]*>)?<html[^>]*><head>" + re.escape(CSP_META), doc, re.I):
            found.append(f"document does not start with the CSP meta: {doc[:120]!r}")
        parser = _Elements()
        parser.feed(doc)
        parser.close()
        found.extend(violations(parser.elements, export=True))
        documents.extend(parser.srcdocs)
    return found


# -- Python: export and the server's sanitiser --------------------------------


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("name", sorted(VECTORS))
def test_export_of_each_forged_vector_holds_nothing_executable(name: str, shape: str) -> None:
    assert export_violations(exported([name], shape)) == []


@pytest.mark.parametrize("shape", SHAPES)
def test_export_writes_the_policy_first_whatever_the_recording_holds(shape: str) -> None:
    nodes, _ = recording(["html-link-controls"], shape)
    # Text and an element before <head>: a parser would start <body> early
    # and a policy inside the recorded <head> would be ignored.
    if shape == "full":
        nodes.insert(3, [5, 3, 4, 3, "text before head"])
        nodes.insert(4, [6, 3, 4, 1, "p", {}])
    text = export_html(DomState.from_keyframe({**DomState().keyframe(), "nodes": nodes}))
    assert re.match(r"^(<!doctype html>)?<html><head>" + re.escape(CSP_META), text), text[:200]
    assert text.count("Content-Security-Policy") == 1 and EXPORT_CSP in text
    empty = export_html(DomState())
    assert empty.startswith("<!doctype html><html><head>" + CSP_META)


def _sanitised_state(nodes: list, events: list, with_keyframe: bool) -> list[tuple[str, dict[str, str]]]:
    """The DOM the player would build from what the server's sanitiser sends."""
    clean = Sanitizer(["http://viewer.test:8000"])
    if with_keyframe:  # the state endpoint: a keyframe, then its events in order
        frame = clean.keyframe({**DomState().keyframe(), "nodes": nodes})
        state = DomState.from_keyframe(frame).apply_all(clean.events(events))
    else:  # the events endpoint: events alone, tags of older nodes unknown
        raw = DomState.from_keyframe({**DomState().keyframe(), "nodes": nodes})
        later = Sanitizer(["http://viewer.test:8000"]).events(events)
        state = DomState.from_keyframe(clean.keyframe(raw.keyframe())).apply_all(later)
    return [(n.tag, dict(n.attrs)) for n in state.walk() if n.type == 1]


@pytest.mark.parametrize("with_keyframe", [True, False])
def test_server_sanitiser_leaves_nothing_executable_for_the_player(with_keyframe: bool) -> None:
    nodes, events = recording(sorted(VECTORS), "full")
    assert violations(_sanitised_state(nodes, events, with_keyframe)) == []


def test_mutation_attributes_on_unknown_nodes_get_the_strictest_reading() -> None:
    clean = Sanitizer()
    event = ["mutation", 5, [], [], [[77, "values", f"#;javascript:{JS}"], [77, "attributeName", "HREF"],
                                     [77, "to", "vbscript:x"], [77, "href", "data:image/svg+xml,<svg>"],
                                     [77, "values", "1 0 0 0 0"], [77, "title", "kept"]], []]  # fmt: skip
    assert clean.event(event)[4] == [
        [77, "href", "about:invalid"],
        [77, "values", "1 0 0 0 0"],
        [77, "title", "kept"],
    ]


def test_browser_url_parsing_and_css_spellings() -> None:
    clean = Sanitizer(["http://viewer.test:8000"])
    assert clean.url("#frag") == "#frag"
    assert clean.url(" \x00#frag\t") == "#frag"
    for refused in ("\x01javascript:x", "jav\u0009ascript:x", "http:viewer.test/x", "/x", "//viewer.test:8000/x",
                    "http:\\\\viewer.test:8000\\x", "https:///viewer.test:8000/x", "vbscript:x", "data:text/html,x"):  # fmt: skip
        assert clean.url(refused) == "about:invalid", refused
    assert clean.url("https:\\\\cdn.example\\a.png") == "https://cdn.example/a.png"
    css = (
        "a{background:\\75rl(http://viewer.test:8000/u)} @im\\70ort '//viewer.test:8000/i.css';"
        ' @import/**/"http://viewer.test:8000/c.css"; b{background:url(http://\\76iewer.test:8000/e)}'
        ' c{background:image-set("x.png" type("image/png"), "/rel.png" 1x)}'
    )
    out = clean.css(css)
    assert "viewer.test" not in out and "/rel.png" not in out and "\\76" not in out, out


# -- Chromium ---------------------------------------------------------------------


class _Canary(BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        _Canary.hits.append(self.path)
        self.send_response(204)
        self.send_header("Access-Control-Allow-Origin", "*")
        self.end_headers()

    do_POST = do_GET

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def canary() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Canary)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from tests.live import chromium

    with chromium() as b:
        yield b


# Every element in a document, its shadow roots and its frames, as [tag, attributes].
ELEMENTS_JS = """() => {
  const out = [];
  const stack = [document];
  while (stack.length) {
    const root = stack.pop();
    for (const el of root.querySelectorAll('*')) {
      const attrs = {};
      for (const a of el.attributes) attrs[a.name] = a.value;
      out.push([el.prefix ? el.prefix + ':' + el.localName : el.localName, attrs]);
      if (el.shadowRoot) stack.push(el.shadowRoot);
      if (el.localName === 'iframe') { try { if (el.contentDocument) stack.push(el.contentDocument); } catch (e) {} }
      if (el.localName === 'template' && el.content) stack.push(el.content);
    }
  }
  return out;
}"""

# Centres of everything a researcher could click that might navigate or animate.
TARGETS_JS = """() => {
  const out = [];
  for (const el of document.querySelectorAll('a, area, [href], text, img[usemap], button, [tabindex]')) {
    const r = el.getBoundingClientRect();
    if (r.width > 0 && r.height > 0) out.push([r.left + Math.min(5, r.width / 2), r.top + r.height / 2]);
  }
  return out;
}"""


def _pwned(page: Any) -> list[Any]:
    flags = []
    for frame in page.frames:
        try:
            flags.append(frame.evaluate("window.__pwned"))
        except Exception:  # noqa: BLE001 - a frame that went away
            continue
    return [f for f in flags if f is not None]


def _click_everything(page: Any, url: str, dialogs: list[str]) -> list[Any]:
    page.goto(url)
    page.wait_for_timeout(150)  # animations (0.05 s) have finished and frozen
    targets = page.evaluate(TARGETS_JS)
    assert len(targets) > 10
    pwned = []
    for x, y in targets:
        if page.url != url:  # a refused link went to about:invalid: back to the export
            page.goto(url)
            page.wait_for_timeout(80)
        page.mouse.click(x, y)
        page.wait_for_timeout(30)
        pwned += _pwned(page) if page.url == url else []
    return pwned


def test_export_in_chromium_runs_nothing_even_without_its_csp(
    browser: Any, canary: str, tmp_path: Path
) -> None:
    # Without <head>: the recording that ran script through today's export.
    # Every shape is checked structurally above; one is enough to click through.
    text = exported(sorted(VECTORS), "no-head", canary)
    with_csp, without_csp = tmp_path / "export.html", tmp_path / "export-no-csp.html"
    with_csp.write_text(text)
    without_csp.write_text(text.replace(CSP_META, "").replace(html.escape(CSP_META), ""))
    page = browser.new_page(viewport={"width": 1000, "height": 3000})
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    try:
        for path in (with_csp, without_csp):
            page.goto(path.as_uri())
            parsed = page.evaluate(ELEMENTS_JS)  # parsed by Chromium's HTML parser
            assert violations([(t, a) for t, a in parsed], export=True) == []
            assert page.evaluate("document.querySelector('head > meta[http-equiv]') !== null") == (
                path == with_csp
            )
            assert _click_everything(page, path.as_uri(), dialogs) == []
    finally:
        page.close()
    assert dialogs == [] and _Canary.hits == []


def test_player_sanitiser_alone_builds_nothing_executable(
    browser: Any, canary: str, tmp_path: Path, new_collector: Callable[..., Any]
) -> None:
    """The server's sanitiser is bypassed: the player gets the forged records as they were recorded."""
    from tests.helpers import batch, meta_event, new_id
    from tests.viewer_live import add_viewer_user, log_in, open_player, post_batch

    nodes, events = recording(sorted(VECTORS), "full", canary)
    nodes.append([99, 100, None, 1, "div", {"id": "marker"}])
    # The deep part: 3,000 levels crash Chromium's renderer if built as they are.
    deep = [[200_000 + i, 200_000 + i - 1 if i else 100, None, 1, "div", {}] for i in range(3_000)]
    raw_frame = {
        **DomState().keyframe(),
        "t": 10,
        "nodes": nodes + deep,
        "viewport": [1000, 2000],
        "url": "https://forged.example/",
    }
    collector = new_collector(tmp_path / "data")
    collector.start()
    try:
        add_viewer_user(collector)
        site = collector.add_site("https://forged.example")
        sid, pid = new_id(), new_id()
        benign = [meta_event(0, "https://forged.example/"), ["snapshot", 10, 0, True, [[1, None, None, 9]]]]
        post_batch(collector, site, "https://forged.example", batch(sid, pid, 0, benign))
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        dialogs: list[str] = []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        try:
            log_in(page, collector)
            page.route(
                "**/api/sessions/*/pages/*/state*",
                lambda route: route.fulfill(
                    content_type="application/json",
                    body=orjson.dumps(
                        {"keyframe": raw_frame, "events": [[*e[:1], 20, *e[2:]] for e in events]}
                    ),
                ),
            )
            page.route(
                "**/api/sessions/*/pages/*/events*",
                lambda route: route.fulfill(
                    content_type="application/json", body=b'{"events":[],"more":false,"end":20}'
                ),
            )
            open_player(page, collector, sid, 20)
            replay = next(f for f in page.frames if f != page.main_frame and f.query_selector("#marker"))
            # The replay frame and every frame document inside it (srcdoc, nested ones load later).
            seen = -1
            while len(page.frames) != seen:
                seen = len(page.frames)
                for frame in page.frames:
                    frame.wait_for_load_state("load")
                page.wait_for_timeout(200)
            frames = [f for f in page.frames if f != page.main_frame]
            assert len(frames) > 1  # the corpus's frame documents were built
            for frame in frames:
                assert violations(frame.evaluate(ELEMENTS_JS), frame_documents=True) == [], frame.url
            depth = replay.evaluate(
                "() => { let d = 0; for (let el = document.body; el.lastElementChild; el = el.lastElementChild) d++; return d; }"
            )
            assert 100 < depth <= 600  # cut at the player's cap, not built 3,000 deep
            for link in replay.query_selector_all("a, area, text"):
                box = link.bounding_box()
                if box and box["width"] > 0:
                    link.click(force=True, timeout=2_000, no_wait_after=True)
            page.wait_for_timeout(300)
            assert _pwned(page) == []
        finally:
            page.close()
    finally:
        collector.stop()
    assert dialogs == [] and _Canary.hits == []
