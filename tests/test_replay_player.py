"""The player in Chromium: forged recordings stay inert, seeking matches playing."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.helpers import batch, meta_event, new_id
from tests.live import LiveCollector, chromium
from tests.synthetic import synthetic_page_view
from tests.viewer_live import (
    REPLAY_TREE_JS,
    add_viewer_user,
    log_in,
    open_player,
    post_batch,
    replay_frame,
)

ORIGIN = "https://forged.example"
# Page views start near the server clock (ingest refuses t0 far from it).
T0 = int(time.time() * 1000) - 3_600_000
MARK = "PWNED"


@pytest.fixture(scope="module")
def collector(
    tmp_path_factory: pytest.TempPathFactory, new_collector: Callable[..., LiveCollector]
) -> Iterator[LiveCollector]:
    c = new_collector(Path(tmp_path_factory.mktemp("player")) / "data")
    c.start()
    add_viewer_user(c)
    yield c
    c.stop()


@pytest.fixture(scope="module")
def viewer(collector: LiveCollector) -> Iterator[object]:
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1600, "height": 1000})
        log_in(page, collector)
        yield page


def forged_nodes(viewer_url: str) -> list:
    canary = f"{viewer_url}/canary"
    js = f"console.log('{MARK}'); alert('{MARK}'); fetch('{canary}/script')"
    return [
        [1, None, None, 9],
        [2, 1, None, 10, "html", "", ""],
        [3, 1, None, 1, "html", {}],
        [4, 3, None, 1, "head", {}],
        [5, 4, None, 1, "script", {}],
        [6, 5, None, 3, js],
        [7, 4, None, 1, "script", {"src": f"{canary}/external.js"}],
        [8, 4, None, 1, "meta", {"http-equiv": "refresh", "content": f"0;url={canary}/refresh"}],
        [9, 4, None, 1, "base", {"href": f"{canary}/base/"}],
        [10, 4, None, 1, "style", {}],
        [11, 10, None, 3, f"body{{background:url({canary}/css)}} @import url('{canary}/import.css');"],
        [12, 4, None, 1, "link", {"rel": "stylesheet", "href": f"{canary}/sheet.css"}],
        [13, 3, None, 1, "body", {"onload": js, "style": "background-image:url('/canary/inline')"}],
        [14, 13, None, 1, "img", {"src": "x:broken", "onerror": js}],
        [15, 13, None, 1, "a", {"href": f"javascript:{js}", "id": "jslink"}, {}],
        [16, 15, None, 3, "click me"],
        [17, 13, None, 1, "iframe", {"srcdoc": f"<script>{js}</script>", "src": f"{canary}/frame"}],
        [18, 13, None, 1, "svg", {"onload": js}, {"ns": "svg"}],
        [19, 18, None, 1, "script", {}, {"ns": "svg"}],
        [20, 19, None, 3, js],
        [21, 13, None, 1, "object", {"data": f"{canary}/object"}],
        [22, 13, None, 1, "form", {"action": f"{canary}/form", "method": "post", "id": "f"}],
        [23, 22, None, 1, "input", {"autofocus": "", "onfocus": js, "name": "q"}],
        [24, 13, None, 1, "img", {"src": f"{canary}/img.png", "srcset": f"{canary}/img2.png 2x"}],
        [25, 13, None, 1, "iframe", {"src": f"data:text/html,<script>{js}</script>"}],
        [26, 13, None, 1, "embed", {"src": f"{canary}/embed"}],
        [27, 13, None, 1, "video", {"poster": f"{canary}/poster.png"}],
        [28, 13, None, 1, "div", {"id": "marker"}],
        [29, 28, None, 3, "forged page"],
    ]


def test_forged_recordings_run_nothing_and_reach_nothing(collector: LiveCollector, viewer) -> None:
    site = collector.add_site(ORIGIN)
    sid, pid = new_id(), new_id()
    nodes = forged_nodes(collector.url)
    later = [
        ["mutation", 300, [], [[40, 13, None, 1, "script", {}], [41, 40, None, 3, f"alert('{MARK}')"]], [], []],
        ["mutation", 400, [], [], [[15, "href", "javascript:alert(1)"], [28, "onclick", "alert(1)"],
                                  [28, "style", f"background:url({collector.url}/canary/mut)"]], []],
        ["mutation", 500, [], [[42, 13, None, 1, "svg", {}, {"ns": "svg"}],
                               [43, 42, None, 1, "a", {"href": "javascript:alert(2)"}, {"ns": "svg"}],
                               [44, 43, None, 1, "set", {"attributeName": "href", "to": "javascript:alert(3)"}, {"ns": "svg"}]],
         [], []],
    ]  # fmt: skip
    events = [meta_event(0, "https://forged.example/"), ["snapshot", 10, 0, True, nodes], *later]
    post_batch(collector, site, ORIGIN, batch(sid, pid, 0, events))

    page = viewer
    requests: list[str] = []
    dialogs: list[str] = []
    console: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.on("console", lambda m: console.append(m.text))
    open_player(page, collector, sid, 600)
    page.wait_for_timeout(1500)
    frame = page.frame_locator("iframe")
    assert frame.locator("#marker").inner_text() == "forged page"  # the page itself was rebuilt
    frame.locator("#jslink").click(force=True)  # even a click on a forged link does nothing
    page.wait_for_timeout(500)

    assert dialogs == []
    assert not [m for m in console if MARK in m]
    assert not [u for u in requests if "canary" in u], [u for u in requests if "canary" in u]
    html = replay_frame(page).evaluate("document.documentElement.outerHTML")
    for bad in (
        "<script",
        "onload=",
        "onerror=",
        "onclick=",
        "onfocus=",
        "javascript:",
        "srcdoc",
        "http-equiv",
    ):
        assert bad not in html.lower(), bad
    # Scripts run only under the frame's own CSP (ours, from 'self'); its origin is opaque.
    assert page.get_attribute("iframe", "sandbox") == "allow-scripts"
    assert replay_frame(page).evaluate("window.origin") == "null"


def test_seeking_in_the_player_matches_playing_through(collector: LiveCollector, viewer) -> None:
    site = collector.add_site("https://shop.example")
    sid, pid = new_id(), new_id()
    chunks = synthetic_page_view(minutes=2, seed=11, rows=120)
    for seq, events in enumerate(chunks):
        post_batch(collector, site, "https://shop.example", batch(sid, pid, seq, events, t0=T0))
    page = viewer
    end = chunks[-1][-1][1]
    # Played through: from the start, in steps the player applies incrementally.
    open_player(page, collector, sid, 0)
    played = {}
    checkpoints = sorted(random.Random(5).sample(range(1_000, end, 250), 6))
    position = 0
    for at in checkpoints:
        while position < at:
            position = min(at, position + 4_000)
            page.evaluate("t => window.sessionlensPlayer.seek(t)", position)
        page.wait_for_selector(f"body[data-replay-t='{at}']", state="attached")
        assert page.evaluate("window.sessionlensPlayer.current.t") == at
        played[at] = replay_frame(page).evaluate(REPLAY_TREE_JS)
    # Seeked: a fresh player opened at each moment.
    for at in checkpoints:
        open_player(page, collector, sid, at)
        assert replay_frame(page).evaluate(REPLAY_TREE_JS) == played[at], (
            f"seek to {at} differs from playing through"
        )


def test_session_list_filters_and_opens_the_player(collector: LiveCollector, viewer) -> None:
    site = collector.add_site("https://list.example")
    for path in ("/pricing", "/product/7"):
        events = [
            meta_event(0, f"https://list.example{path}"),
            ["snapshot", 5, 0, True, forged_nodes(collector.url)[:4]],
            ["move", 50, 10, 10, None],  # a visitor's input: sessions without any are bots, not listed
        ]
        post_batch(collector, site, "https://list.example", batch(new_id(), new_id(), 0, events))
    page = viewer
    page.goto(f"{collector.url}/?site={site.key}")
    page.wait_for_selector("tr[data-sid]")
    assert page.locator("tr[data-sid]").count() == 2
    page.goto(f"{collector.url}/?site={site.key}&url=/product/*")
    page.wait_for_selector("tr[data-sid]")
    rows = page.locator("tr[data-sid]")
    assert rows.count() == 1 and "/product/7" in rows.first.inner_text()
    rows.first.locator("td").first.click()
    page.wait_for_selector("body[data-state=ready]", state="attached")
    assert "/sessions/" in page.url
    page.goto(f"{collector.url}/?from=yesterday")
    page.wait_for_selector("p.error")
    assert "from must be a date" in page.inner_text("p.error")


def page_nodes(text: str) -> list:
    return [
        [1, None, None, 9],
        [2, 1, None, 1, "html", {}],
        [3, 2, None, 1, "body", {}],
        [4, 3, None, 1, "h1", {"id": "title"}],
        [5, 4, None, 3, text],
    ]


def test_playing_moves_across_page_views_and_skips_idle_time(collector: LiveCollector, viewer) -> None:
    site = collector.add_site("https://play.example")
    sid = new_id()
    t0 = T0
    # Page one: activity at 0-1 s, then 40 s of nothing; page two starts at 45 s.
    first = [meta_event(0, "https://play.example/a"), ["snapshot", 5, 0, True, page_nodes("Page A")],
             ["click", 800, 4, "#title", .5, .5, 50, 20, 50, 20, 0, "mouse", 1280, 800, "h1", ""],
             ["mutation", 40_000, [], [], [], [[5, "Page A, later"]]]]  # fmt: skip
    second = [meta_event(0, "https://play.example/b"), ["snapshot", 5, 0, True, page_nodes("Page B")]]
    post_batch(collector, site, "https://play.example", batch(sid, new_id(), 0, first, t0=t0))
    post_batch(collector, site, "https://play.example", batch(sid, new_id(), 0, second, t0=t0 + 45_000))
    page = viewer
    page.goto(f"{collector.url}/sessions/{sid}")  # no ?t=: plays from the start
    title = page.frame_locator("iframe").locator("#title")
    title.filter(has_text="Page A").wait_for()
    # Skip inactivity (on by default) jumps the idle gap: page two within seconds, not 45.
    title.filter(has_text="Page B").wait_for(timeout=15_000)
    assert page.locator(".timeline .mark.click").count() == 1
    assert page.locator(".side .pages li").count() == 2
    assert page.locator(".side .pages li.current").inner_text().endswith("https://play.example/b")
