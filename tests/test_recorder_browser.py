"""The recorder in Chromium against the real collector: what it captures
rebuilds into the page it saw, and it stays cheap."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from sessionlens.contracts import field
from sessionlens.heatmap.click_paths import LOCATE_JS
from sessionlens.replay.element_paths import enriched_events
from tests.live import LiveCollector, ThreadServer, chromium, demo_snippet, wait_until
from tests.recording import LIVE_TREE_JS, fixture_app, page_view_events, rebuild, rebuilt_tree


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with chromium() as b:
        yield b


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory, new_collector: Callable[..., LiveCollector]) -> Iterator[tuple[LiveCollector, ThreadServer, object]]:
    """One collector and one fixture server for the module; pages record into one site."""
    collector = new_collector(Path(tmp_path_factory.mktemp("rec")) / "data")
    collector.start()
    from tests.helpers import free_port

    port = free_port()
    site = collector.add_site(f"http://127.0.0.1:{port}")
    app = fixture_app(
        {
            "<!--SESSIONLENS-->": demo_snippet(collector, site, flush_ms=300),
            "%RECORDER%": f"{collector.url}/recorder.js",
        }
    )
    with ThreadServer(app, port) as server:
        yield collector, server, site
    collector.stop()


def record(page, rig, path: str) -> str:
    collector, server, site = rig
    page.goto(server.url + path)
    page.wait_for_function("() => window.sessionlens && window.sessionlens.pageViewId")
    return page.evaluate("() => window.sessionlens.pageViewId")


def settle(page, rig, pid: str) -> list:
    collector, _, site = rig
    page.evaluate("() => window.sessionlens.flush()")

    def snapshot_complete() -> bool:
        events = [e for c in collector.chunks(site) if c["pid"] == pid for e in c["events"]]
        return any(e[0] == "snapshot" and e[3] for e in events)

    wait_until(snapshot_complete, message="a complete snapshot")
    page.wait_for_timeout(200)
    page.evaluate("() => window.sessionlens.flush()")
    return page_view_events(collector, site, pid)


def rebuilt_becomes(rig, pid: str, expected, timeout: float = 10.0) -> list:
    """Events of the page view once they rebuild `expected`: a batch may still be in flight."""
    collector, _, site = rig
    deadline = time.monotonic() + timeout
    while True:
        try:
            events = page_view_events(collector, site, pid)
            if rebuilt_tree(rebuild(events)) == expected or time.monotonic() > deadline:
                return events
        except AssertionError:  # a gap in the sequence numbers: still arriving
            if time.monotonic() > deadline:
                raise
        time.sleep(0.2)


def test_snapshot_and_mutations_rebuild_the_live_dom(browser, rig) -> None:
    page = browser.new_page()
    pid = record(page, rig, "/dom.html")
    page.wait_for_function("() => document.getElementById('frame').contentDocument.body")
    settle(page, rig, pid)
    before = page.evaluate(LIVE_TREE_JS)
    settle(page, rig, pid)
    assert rebuilt_tree(rebuild(rebuilt_becomes(rig, pid, before))) == before

    page.evaluate("() => window.mutateAll()")
    page.wait_for_timeout(100)
    settle(page, rig, pid)
    after = page.evaluate(LIVE_TREE_JS)
    assert after != before
    events = rebuilt_becomes(rig, pid, after)
    assert rebuilt_tree(rebuild(events)) == after
    # Stylesheets travel with the recording: the same-origin <link> is inlined,
    # as its own text (the CSSOM's cssText would rewrite it).
    link = next(r for e in events if e[0] == "snapshot" for r in e[4] if r[3] == 1 and r[4] == "link")
    assert ".item { color: #333; }" in link[6]["css"]
    page.close()


def test_mutations_during_a_sliced_snapshot_stay_consistent(browser, rig) -> None:
    page = browser.new_page()
    collector, server, site = rig
    page.goto(server.url + "/big.html?n=30000")
    page.evaluate(
        "(key) => { window.churn(700); window.sessionlens.init({site: key, flushMs: 300}); }", site.key
    )
    page.wait_for_function("() => window.sessionlens.pageViewId")
    pid = page.evaluate("() => window.sessionlens.pageViewId")
    events = settle(page, rig, pid)
    page.wait_for_timeout(900)  # the churn has stopped
    events = settle(page, rig, pid)
    parts = [e for e in events if e[0] == "snapshot"]
    assert len(parts) > 1, "a 30,000-node snapshot should be sliced"
    assert any(e[0] == "mutation" for e in events)
    assert rebuilt_tree(rebuild(events)) == page.evaluate(LIVE_TREE_JS)
    page.close()


def test_snapshot_of_100000_nodes_is_cut_into_budgeted_slices(browser, rig) -> None:
    # Slicing is checked by its structure, in the recorder's own accounting
    # (sessionlens.debug()): wall-clock task lengths on a shared CI machine
    # are bench/recorder_cost.py's business, not a test's.
    page = browser.new_page()
    collector, server, site = rig
    page.goto(server.url + "/big.html?n=100000")
    page.evaluate("(key) => window.sessionlens.init({site: key, flushMs: 1000})", site.key)
    page.wait_for_function("() => window.sessionlens.pageViewId")
    pid = page.evaluate("() => window.sessionlens.pageViewId")
    events = settle(page, rig, pid)
    parts = [e for e in events if e[0] == "snapshot"]
    assert sum(len(e[4]) for e in parts) > 100_000
    debug = page.evaluate("() => window.sessionlens.debug().snapshot")
    budget, per_check, slices = debug["budgetMs"], debug["stepsPerCheck"], debug["slices"]
    # One task per slice, one snapshot part per slice, and many of them.
    assert len(slices) == len(parts) >= 5
    assert sum(s[0] for s in slices) >= 100_000
    for i, (steps, checks, went_on, stopped) in enumerate(slices):
        last = i == len(slices) - 1
        # The slice went on only while its own clock said budget was left,
        # and walked at most one batch of nodes past its last check...
        assert 1 <= checks and steps <= checks * per_check
        assert went_on < budget
        # ...and stopped at the first check past the budget (or at the end).
        assert last or stopped >= budget
    page.close()


def test_a_mutation_storm_is_bounded(browser, rig) -> None:
    page = browser.new_page()
    pid = record(page, rig, "/storm.html")
    settle(page, rig, pid)
    changes = page.evaluate("() => window.storm(2000)")
    assert changes > 20_000  # thousands of attribute changes per second
    page.wait_for_timeout(400)
    events = settle(page, rig, pid)
    mutations = [e for e in events if e[0] == "mutation"]
    attr_changes = sum(len(e[field("mutation", "attrs")]) for e in mutations)
    # Coalesced: far fewer events and changes than the page made, final state exact.
    assert len(mutations) < 60, len(mutations)
    assert attr_changes < changes / 10
    assert rebuilt_tree(rebuild(events)) == page.evaluate(LIVE_TREE_JS)
    page.close()


def test_clicks_carry_selector_offsets_and_page_coordinates(browser, rig) -> None:
    page = browser.new_page(viewport={"width": 1000, "height": 700})
    pid = record(page, rig, "/dom.html")
    settle(page, rig, pid)
    page.evaluate("() => window.scrollTo(0, 120)")
    page.wait_for_timeout(200)
    box = page.locator("#buy").bounding_box()
    page.mouse.click(box["x"] + box["width"] * 0.25, box["y"] + box["height"] * 0.75)
    page.locator("#list li").nth(1).click()
    events = settle(page, rig, pid)
    # The recorder sends node ids and offsets; the server names the target from the recorded DOM.
    assert [e[3] for e in events if e[0] == "click"] == ["", ""]
    clicks = [e for _, e in enriched_events(enumerate(events)) if e[0] == "click"]
    assert len(clicks) == 2
    c = dict(
        zip(("kind", "t", "target", "selector", "fx", "fy", "px", "py", "cx", "cy"), clicks[0], strict=False)
    )
    assert c["selector"] == "#buy"
    assert abs(c["fx"] - 0.25) < 0.02 and abs(c["fy"] - 0.75) < 0.03
    scroll_y = page.evaluate("() => scrollY")
    assert scroll_y > 0 and abs(c["py"] - (c["cy"] + scroll_y)) <= 1
    # Siblings are told apart by their own text before their position (an order can differ per visit).
    assert clicks[1][3] == "#list>li.item:text(two)"
    found = page.evaluate("(path) => {" + LOCATE_JS + "const hit = locate(path); return hit && hit[0].textContent;}", clicks[1][3])
    assert found == "two"
    page.close()


def test_calls_made_before_the_script_loads_are_queued(browser, rig) -> None:
    page = browser.new_page()
    collector, server, site = rig
    # The stub from the snippet is inline; track() runs before the async script arrives.
    page.route(f"{collector.url}/recorder.js", lambda route: (page.wait_for_timeout(300), route.continue_()))
    page.add_init_script(
        "document.addEventListener('DOMContentLoaded', () => window.sessionlens.track('early', {n: 1}))"
    )
    pid = record(page, rig, "/dom.html")
    events = settle(page, rig, pid)
    assert any(e[0] == "custom" and e[2] == "early" and e[3] == {"n": 1} for e in events)
    page.close()


def test_errors_navigation_and_timing_are_recorded(browser, rig) -> None:
    page = browser.new_page()
    pid = record(page, rig, "/dom.html")
    settle(page, rig, pid)
    page.evaluate("() => { history.pushState({}, '', '/spa/route'); location.hash = 'section'; }")
    page.evaluate("() => setTimeout(() => { throw new Error('boom from test'); }, 0)")
    page.evaluate("() => { Promise.reject(new Error('rejected in test')); }")
    page.wait_for_timeout(300)
    events = settle(page, rig, pid)
    navs = [(e[2].rsplit("/", 2)[-1], e[3]) for e in events if e[0] == "nav"]
    # The fragment change fires popstate, then hashchange: recorded once, as a pop; the server
    # reads a pop that changes only the fragment as a hash change (replay/stream_fields.py).
    assert navs == [("route", "push"), ("route#section", "pop")]
    read = [(e[2].rsplit("/", 2)[-1], e[3]) for _, e in enriched_events(enumerate(events)) if e[0] == "nav"]
    assert read == [("route", "push"), ("route#section", "hash")]
    errors = {(e[2], e[3]) for e in events if e[0] == "error"}
    assert ("error", "Uncaught Error: boom from test") in errors
    assert ("rejection", "rejected in test") in errors
    assert {"ttfb", "dcl", "load"} <= {e[2] for e in events if e[0] == "timing"}
    page.close()


def test_a_frame_that_loads_after_the_snapshot_is_recorded(browser, rig) -> None:
    page = browser.new_page()
    pid = record(page, rig, "/dom.html")
    page.wait_for_function("() => document.getElementById('frame').contentDocument.body")
    settle(page, rig, pid)
    page.evaluate(
        "() => { document.getElementById('frame').srcdoc = '<p class=late>loaded after the snapshot</p>'; }"
    )
    page.wait_for_function("() => document.getElementById('frame').contentDocument.querySelector('.late')")
    settle(page, rig, pid)
    live = page.evaluate(LIVE_TREE_JS)
    assert "loaded after the snapshot" in str(live)
    assert rebuilt_tree(rebuild(rebuilt_becomes(rig, pid, live))) == live
    page.close()


def test_navigation_is_seen_through_other_scripts_history_wrappers(browser, rig) -> None:
    # A router or tag wrapped history.pushState on the history object before the recorder
    # loaded (calling the original it saved); another wraps replaceState later. The recorder
    # sees navigations through both, leaves the later wrapper in place when it stops, and a
    # recorder started again in the page records each navigation once.
    page = browser.new_page()
    page.add_init_script(
        "const push = history.pushState;"
        "history.pushState = function () { window.early = (window.early || 0) + 1; return push.apply(this, arguments); };"
    )
    pid = record(page, rig, "/dom.html")
    settle(page, rig, pid)
    page.evaluate(
        "() => { const replace = history.replaceState;"
        " history.replaceState = function () { window.late = (window.late || 0) + 1; return replace.apply(this, arguments); };"
        " history.pushState({}, '', '/spa/one'); history.replaceState({}, '', '/spa/two'); }"
    )
    navs = [(e[2].rsplit("/", 1)[-1], e[3]) for e in settle(page, rig, pid) if e[0] == "nav"]
    assert navs == [("one", "push"), ("two", "replace")]
    page.evaluate("() => { window.sessionlens.stop(); history.replaceState({}, '', '/spa/three'); }")
    assert page.evaluate("() => [window.early, window.late]") == [1, 2]
    page.evaluate("() => window.sessionlens.consent(true)")
    page.wait_for_function(
        f"() => window.sessionlens.pageViewId && window.sessionlens.pageViewId !== '{pid}'"
    )
    second = page.evaluate("() => window.sessionlens.pageViewId")
    settle(page, rig, second)
    page.evaluate(
        "() => { history.pushState({}, '', '/spa/four'); history.replaceState({}, '', '/spa/five'); }"
    )
    navs = [(e[2].rsplit("/", 1)[-1], e[3]) for e in settle(page, rig, second) if e[0] == "nav"]
    assert navs == [("four", "push"), ("five", "replace")]
    assert page.evaluate("() => [window.early, window.late]") == [2, 3]
    page.close()


def test_refused_batches_are_kept_across_a_navigation_and_sent_later(browser, rig) -> None:
    # The collector answers 503 for a while: the page view's batches are retried, kept in
    # localStorage, adopted by the next page of the session and delivered once it answers.
    collector, server, site = rig
    page = browser.new_page()
    refused: list[str] = []

    def refuse(route) -> None:
        refused.append(route.request.url)
        route.fulfill(status=503, body="down")

    ingest = f"{collector.url}/ingest/**"
    page.route(ingest, refuse)
    pid = record(page, rig, "/dom.html")
    page.evaluate("() => { window.sessionlens.track('while-down', {n: 1}); window.sessionlens.flush(); }")
    page.wait_for_function("() => (localStorage.getItem('sl_pending') || '').includes('while-down')")
    page.goto(server.url + "/dom.html")
    page.wait_for_function(
        f"() => window.sessionlens.pageViewId && window.sessionlens.pageViewId !== '{pid}'"
    )
    page.unroute(ingest)

    def delivered() -> bool:
        try:
            events = page_view_events(collector, site, pid)
        except AssertionError:  # a gap in the sequence numbers: still arriving
            return False
        return any(e[0] == "custom" and e[2] == "while-down" for e in events)

    wait_until(delivered, timeout=60, message="the first page view's batches")
    page.wait_for_function("() => !localStorage.getItem('sl_pending')", timeout=60000)
    assert refused
    page.close()
