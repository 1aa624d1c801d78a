"""Relative URLs recorded in Chromium come out of storage as the page resolved them.

The recorder sends URLs as the page wrote them; every reader of storage
(the player's state and event windows, keyframes, the HTML export and the
backdrops built on it) gets them absolute (replay/recorded_urls.py). The
expected values are the browser's own: `el.src`, `el.href`, `baseURI`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from sessionlens.replay.dom import ELEMENT, TEXT, DomState, Node
from sessionlens.replay.html_export import export_html
from sessionlens.replay.keyframes import write_keyframes
from sessionlens.replay.pageview import PageViewReader
from sessionlens.replay.recorded_urls import RecordedUrls
from tests.helpers import free_port
from tests.live import LiveCollector, ThreadServer, chromium, demo_snippet
from tests.recording import events_when, fixture_app

# What the browser resolved, read before anything moves the page's URL.
RESOLVED_JS = """() => {
  const $ = (id) => document.getElementById(id);
  const frame = $('inner').contentDocument;
  return {
    logo: $('logo').src, home: $('home').href, action: $('search').action,
    base: document.baseURI, frameBase: frame.baseURI,
    framed: frame.getElementById('framed').src, up: frame.getElementById('up').href,
  };
}"""


@pytest.fixture(scope="module")
def rig(
    tmp_path_factory: pytest.TempPathFactory, new_collector: Callable[..., LiveCollector]
) -> Iterator[tuple[LiveCollector, ThreadServer, Any, object]]:
    collector = new_collector(Path(tmp_path_factory.mktemp("urls")) / "data")
    collector.start()
    port = free_port()
    site = collector.add_site(f"http://127.0.0.1:{port}")
    app = fixture_app({"<!--SESSIONLENS-->": demo_snippet(collector, site, flush_ms=300)})
    with ThreadServer(app, port) as server, chromium() as browser:
        yield collector, server, site, browser
    collector.stop()


def _record(rig: Any, path: str) -> tuple[Any, str, str]:
    collector, server, site, browser = rig
    page = browser.new_page()
    page.goto(server.url + path)
    page.wait_for_function("() => window.sessionlens && window.sessionlens.pageViewId")
    return page, page.evaluate("sessionlens.pageViewId"), page.evaluate("sessionlens.sessionId")


def _settled(rig: Any, page: Any, pid: str, done: Callable[[list[list[Any]]], bool]) -> list[list[Any]]:
    collector, _, site, _ = rig
    return events_when(page, collector, site, pid, done)


def _has_element(events: list[list[Any]], element_id: str) -> bool:
    return element_id in repr(events)


def _by_id(state: DomState, element_id: str) -> Node:
    return next(n for n in state.nodes.values() if n.type == ELEMENT and n.attrs.get("id") == element_id)


def _style_texts(state: DomState) -> str:
    return "\n".join(
        n.text
        for n in state.nodes.values()
        if n.type == TEXT and n.parent is not None and n.parent.tag == "style"
    )


def test_relative_urls_are_sent_as_written_and_read_back_as_the_page_resolved_them(rig: Any) -> None:
    collector, server, site, _ = rig
    page, pid, sid = _record(rig, "/urls/page.html")
    page.wait_for_function("() => document.getElementById('inner').contentDocument.getElementById('framed')")
    resolved = page.evaluate(RESOLVED_JS)
    base = server.url + "/urls/"
    assert resolved["base"] == base + "page.html" and resolved["frameBase"] == base + "inner/frame.html"
    events = _settled(rig, page, pid, lambda ev: _has_element(ev, "framed"))
    page.evaluate("() => { later(); inFrame(); }")
    events = _settled(
        rig, page, pid, lambda ev: _has_element(ev, "frame-later") and "changed.png" in repr(ev)
    )
    page.evaluate("() => route()")
    events = _settled(rig, page, pid, lambda ev: _has_element(ev, "routed"))
    routed_src = page.evaluate("document.getElementById('routed').src")
    assert routed_src == base + "deep/route/img/routed.png"
    page.close()

    # The recorder no longer resolves anything: what it sent is what the page wrote.
    sent = {
        r[5]["id"]: r[5]
        for e in events
        if e[0] in ("snapshot", "mutation")
        for r in e[4 if e[0] == "snapshot" else 3]
        if r[3] == ELEMENT and "id" in r[5]
    }
    assert sent["logo"]["src"] == "img/logo.png" and sent["framed"]["src"] == "pic.png"
    assert sent["styled"]["style"] == "background: url('img/bg.png')"

    reader = PageViewReader(collector.store)
    end = max(e[1] for e in events)
    for label in ("from the stream", "from a keyframe"):
        if label == "from a keyframe":
            assert write_keyframes(collector.store, reader, site.key, sid, pid, rebuild=True) >= 1
        state = reader.dom_at(site.key, sid, pid, end)
        assert _by_id(state, "logo").attrs["src"] == base + "img/changed.png", label
        assert _by_id(state, "logo").attrs["srcset"] == f"{resolved['logo']} 1x, {base}img/logo-2x.png 2x", (
            label
        )
        assert _by_id(state, "home").attrs["href"] == resolved["home"], label
        assert _by_id(state, "jump").attrs["href"] == "#top", label
        assert _by_id(state, "mail").attrs["href"] == "tel:+100", label
        assert _by_id(state, "search").attrs["action"] == resolved["action"], label
        assert f"url('{base}img/bg.png')" in _by_id(state, "styled").attrs["style"], label
        assert _by_id(state, "later").attrs["src"] == base + "img/later.png", label
        # Added after the pushState: resolved against the new URL, as the page did.
        assert _by_id(state, "routed").attrs["src"] == routed_src, label
        # The frame's document resolves against the frame's own URL.
        assert _by_id(state, "framed").attrs["src"] == resolved["framed"], label
        assert _by_id(state, "up").attrs["href"] == resolved["up"], label
        assert _by_id(state, "frame-later").attrs["src"] == base + "inner/later.png", label
        styles = _style_texts(state)
        assert f'@import "{base}css/extra.css"' in styles, label
        assert f"url({base}img/hero.png)" in styles and f"url({base}img/late.png)" in styles, label
        assert f"url({base}inner/bg.png)" in styles, label
        link = next(n for n in state.nodes.values() if n.type == ELEMENT and n.tag == "link")
        assert link.attrs["href"] == base + "css/site.css"
        assert f"url({base}img/sheet.png)" in link.props["css"], label
        # The HTML export (and the backdrops rendered from it) load them from the site.
        html = export_html(state)
        assert f'src="{base}img/changed.png"' in html and f'src="{routed_src}"' in html, label

    # The player's event windows resolve against the bases as they were at the window's start.
    snapshot_t = next(e[1] for e in events if e[0] == "snapshot")
    window, _, _ = reader.events_between(site.key, sid, pid, snapshot_t, end, 10_000)
    later = [r for e in window if e[0] == "mutation" for r in e[3] if "later" in repr(r)]
    assert later and all(base + "img/later.png" in repr(r) or "inner/later.png" in repr(r) for r in later)
    routed = [r for e in window if e[0] == "mutation" for r in e[3] if "routed" in repr(r)]
    assert routed and routed_src in repr(routed)
    assert base + "img/changed.png" in repr(window)


def test_a_base_element_sets_the_base(rig: Any) -> None:
    collector, server, site, _ = rig
    page, pid, sid = _record(rig, "/urls/based.html")
    expected = page.evaluate(
        "() => ({logo: document.getElementById('logo').src, root: document.getElementById('root').href})"
    )
    events = _settled(rig, page, pid, lambda ev: any(e[0] == "snapshot" and e[3] for e in ev))
    page.close()
    assert expected["logo"] == server.url + "/assets/v2/logo.png"
    state = DomState().apply_all(RecordedUrls().events(events))
    assert _by_id(state, "logo").attrs["src"] == expected["logo"]
    assert _by_id(state, "root").attrs["href"] == expected["root"] == server.url + "/root.html"
    assert f"url({server.url}/assets/v2/bg.png)" in _by_id(state, "styled").attrs["style"]
    # The same through storage's reader.
    reader = PageViewReader(collector.store)
    stored = reader.dom_at(site.key, sid, pid, max(e[1] for e in events))
    assert _by_id(stored, "logo").attrs["src"] == expected["logo"]


def test_a_frame_that_navigated_resolves_against_where_it_is(rig: Any) -> None:
    collector, server, site, _ = rig
    page, pid, sid = _record(rig, "/urls/page.html")
    page.wait_for_function("() => document.getElementById('inner').contentDocument.getElementById('framed')")
    _settled(rig, page, pid, lambda ev: _has_element(ev, "framed"))
    # A link followed inside the frame: its document moves away from the frame's src.
    page.evaluate(
        "() => { document.getElementById('inner').contentWindow.location.href = '/urls/inner/deeper/next.html?token=zq9#f'; }"
    )
    page.wait_for_function(
        "() => { const d = document.getElementById('inner').contentDocument; return d && d.getElementById('next-img'); }"
    )
    expected = page.evaluate(
        "document.getElementById('inner').contentDocument.getElementById('next-img').src"
    )
    assert expected == server.url + "/urls/inner/deeper/n.png"
    events = _settled(rig, page, pid, lambda ev: _has_element(ev, "next-img"))
    page.close()
    # Only the base is sent: no query or fragment of the frame's URL.
    sent = [r[4]["url"] for e in events if e[0] == "mutation" for r in e[3] if r[3] == 9 and len(r) > 4]
    assert server.url + "/urls/inner/deeper/next.html" in sent and "zq9" not in repr(events)
    state = PageViewReader(collector.store).dom_at(site.key, sid, pid, max(e[1] for e in events))
    assert _by_id(state, "next-img").attrs["src"] == expected
