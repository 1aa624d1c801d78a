"""A click's tag and its flags 'a' (link) and 'f' (form field) are told by the server from the
recorded DOM (replay/element_paths.py, meta gen 2): real Chromium clicks on a fixture page with
the traps (links and labels around the target, contenteditable inherited, switched off and on,
values that inherit, masked subtrees, SVG, shadow roots, a frame inside a label, a text
selection). For every click the page itself computes what the recorder used to send (its old
rule, run in a listener before the recorder's); the server's values must be the same, in the
enriched stream and in the index's click facts."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from sessionlens.contracts import field
from sessionlens.replay.element_paths import enriched_events
from tests.heatmap_visitors import HUMAN_UA, human_chromium
from tests.helpers import free_port
from tests.live import LiveCollector, ThreadServer, demo_snippet, wait_until
from tests.recording import fixture_app, page_view_events

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "click_classes"
TAG, FLAGS = field("click", "tag"), field("click", "flags")

# What js_recorder/src/interaction/pointer.js sent before gen 2, for every click of every frame
# (init scripts run in frames too), kept in the top page; links are not followed.
OLD_RULE_JS = """addEventListener("click", (e) => {
  const t = e.composedPath()[0] || e.target;
  const el = t && t.nodeType === 3 ? t.parentNode : t;
  if (!el || el.nodeType !== 1) return;
  let flags = "";
  if (el.closest("a[href]")) flags += "a";
  if (/^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName) || el.isContentEditable || el.closest("label")) flags += "f";
  const sel = el.ownerDocument.getSelection();
  if (sel && !sel.isCollapsed && String(sel).trim()) flags += "x";
  (top.__clicks = top.__clicks || []).push([el.localName.slice(0, 64), flags]);
  e.preventDefault();
}, true);"""

TARGETS = [
    "in-link", "in-anchor", "in-empty-href", "input", "textarea", "select", "button", "label", "in-label",
    "link-label-input", "ce-empty", "ce-upper", "ce-plain", "ce-off", "ce-on", "ce-inherit", "ce-invalid",
    "masked-link", "masked-input", "masked-ce", "svg-ce", "svg-link", "fo-span",
    "host-link >> [data-c=in-shadow]", "host-link >> [data-c=shadow-link]", "host-link >> [data-c=shadow-label]",
    "host-ce >> [data-c=in-shadow]", "host-ce >> [data-c=shadow-label]",
]  # fmt: skip


def test_the_server_tells_tag_and_flags_as_the_browser_did(
    new_collector: Callable[..., LiveCollector], tmp_path: Path
) -> None:
    collector = new_collector(tmp_path / "data")
    collector.start()
    try:
        port = free_port()
        site = collector.add_site(f"http://127.0.0.1:{port}")
        app = fixture_app({"<!--SESSIONLENS-->": demo_snippet(collector, site, flush_ms=300)}, root=FIXTURES)
        with ThreadServer(app, port) as server, human_chromium() as browser:
            page = browser.new_page(viewport={"width": 1024, "height": 2000}, user_agent=HUMAN_UA)
            page.add_init_script(OLD_RULE_JS)
            page.goto(f"{server.url}/page.html")
            page.wait_for_function("() => window.sessionlens && window.sessionlens.pageViewId")
            page.wait_for_function("() => document.getElementById('fr').contentDocument.querySelector('.t')")
            page.wait_for_timeout(500)  # the snapshot is taken: clicks are recorded from then on
            for target in TARGETS:
                host, _, inner = target.partition(" >> ")
                page.locator(f"[data-c={host}]" + (f" >> {inner}" if inner else "")).first.click()
            frame = page.frame_locator("#fr")
            for target in ("frame-span", "frame-label", "frame-link"):
                frame.locator(f"[data-c={target}]").click()
            # A double click: its second click has a word selected.
            page.locator("[data-c=text]").dblclick(position={"x": 20, "y": 8})
            expected = [tuple(c) for c in page.evaluate("top.__clicks")]
            page.evaluate("() => sessionlens.flush()")
            pid = page.evaluate("sessionlens.pageViewId")
            page.close()

        assert len(expected) == len(TARGETS) + 5
        assert {"a", "f", "af", "", "x"} <= {flags for _, flags in expected}  # the page covers each

        def stored() -> list[list]:
            return [e for e in page_view_events(collector, site, pid) if e[0] == "click"]

        wait_until(lambda: len(stored()) == len(expected), timeout=20, message="every click stored")
        events = page_view_events(collector, site, pid)
        meta = next(e for e in events if e[0] == "meta")
        assert meta[field("meta", "gen")] == 2
        # The recorder sends no tag and only the text selection flag.
        assert {(e[TAG], e[FLAGS]) for e in stored()} == {("", ""), ("", "x")}
        clicks = [e for _, e in enriched_events(enumerate(events)) if e[0] == "click"]
        assert [(e[TAG], e[FLAGS]) for e in clicks] == expected
        # The click facts (dead clicks ignore form fields and links that navigated) read the same.
        wait_until(
            lambda: len(collector.index_rows("SELECT 1 FROM clicks WHERE pid = ?", (pid,))) == len(expected),
            timeout=30, message="click facts in the index",
        )  # fmt: skip
        rows = collector.index_rows("SELECT t, tag FROM clicks WHERE pid = ?", (pid,))
        assert sorted(r["tag"] for r in rows) == sorted(tag for tag, _ in expected)
    finally:
        collector.stop()
