"""The canvas chunk (static/recorder-media.js), in Chromium against the real collector.

recorder.js loads it once per page, only when a page view that records canvases records
a canvas (in the snapshot, or added later by script), or records a blob: image; the chunk
then sends each canvas's bitmap as a `canvas` event and hooks later drawing, and a blob:
image as a src change to a data: URL. A page without either never asks for it, and a
chunk that cannot load leaves the rest of the recording alone.
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from sessionlens.contracts import make_event
from sessionlens.heatmap import page_moments
from sessionlens.recorder_asset import MEDIA_PATH, media_path
from sessionlens.replay.pageview import PageViewReader
from sessionlens.settings import load_settings
from sessionlens.stores.local import LocalStore
from tests.backdrop_pages import meta, snapshot, store_page_view
from tests.live import LiveCollector, ThreadServer, chromium, demo_snippet, wait_until
from tests.recording import fixture_app, page_view_events, rebuild

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "media"
CHUNK = "/recorder-media.js"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as b:
        yield b


@pytest.fixture(scope="module")
def rig(
    tmp_path_factory: pytest.TempPathFactory, new_collector: Callable[..., LiveCollector]
) -> Iterator[tuple[LiveCollector, ThreadServer, Any]]:
    collector = new_collector(Path(tmp_path_factory.mktemp("media")) / "data")
    collector.start()
    from tests.helpers import free_port

    port = free_port()
    site = collector.add_site(f"http://127.0.0.1:{port}")
    app = fixture_app(
        {
            "<!--SESSIONLENS-->": demo_snippet(collector, site, flush_ms=300),
            "<!--SESSIONLENS-NO-CANVAS-->": demo_snippet(
                collector, site, flush_ms=300, extra='data-record-canvas="false"'
            ),
            "<!--SESSIONLENS-CONSENT-->": demo_snippet(
                collector, site, flush_ms=300, extra='data-consent="required"'
            ),
        },
        root=FIXTURES,
    )
    with ThreadServer(app, port) as server:
        yield collector, server, site
    collector.stop()


class Visit:
    """One recorded page: the requests it made and the errors it threw."""

    def __init__(
        self, browser: Any, rig: tuple[LiveCollector, ThreadServer, Any], path: str, block_chunk: bool = False
    ) -> None:
        self.collector, server, self.site = rig
        self.page = browser.new_page()
        self.requests: list[str] = []
        self.errors: list[str] = []
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        if block_chunk:  # as a 404 (or a CSP that leaves the collector's scripts out) would
            self.page.route(
                self.collector.url + CHUNK, lambda route: route.fulfill(status=404, body="not here")
            )
        self.page.goto(server.url + "/" + path)
        self.page.wait_for_function("() => window.sessionlens && window.sessionlens.pageViewId")
        self.pid = self.page.evaluate("() => sessionlens.pageViewId")

    def chunk_requests(self) -> list[str]:
        return [u for u in self.requests if u.split("?")[0].endswith(CHUNK)]

    def events(self) -> list[list[Any]]:
        self.page.evaluate("() => sessionlens.flush()")
        try:
            return page_view_events(self.collector, self.site, self.pid)
        except AssertionError:  # a batch still in flight
            return []

    def wait_for(self, predicate: Callable[[list[list[Any]]], bool], message: str) -> list[list[Any]]:
        found: list[list[list[Any]]] = []

        def check() -> bool:
            events = self.events()
            if predicate(events):
                found.append(events)
                return True
            return False

        wait_until(check, message=message)
        return found[0]


def snapshot_done(events: list[list[Any]]) -> bool:
    return any(e[0] == "snapshot" and e[3] for e in events)


def element_id(events: list[list[Any]], dom_id: str) -> int:
    """The recorded node id of the element with this id attribute (snapshot or mutation)."""
    for e in events:
        records = e[4] if e[0] == "snapshot" else e[3] if e[0] == "mutation" else []
        for r in records:
            if r[3] == 1 and r[5].get("id") == dom_id:
                return r[0]
    raise AssertionError(f"#{dom_id} was not recorded")


def canvas_frames(events: list[list[Any]], node: int) -> list[str]:
    return [e[3] for e in events if e[0] == "canvas" and e[2] == node]


def test_a_page_without_a_canvas_never_requests_the_chunk(browser, rig) -> None:
    v = Visit(browser, rig, "plain.html")
    v.wait_for(snapshot_done, "a complete snapshot")
    v.page.evaluate("() => addMore()")
    v.wait_for(lambda ev: "added by script" in repr(ev), "the mutation")
    assert any(u.endswith("/recorder.js") for u in v.requests)
    assert v.chunk_requests() == [] and v.errors == []
    v.page.close()


def test_canvases_with_record_canvas_off_never_request_the_chunk(browser, rig) -> None:
    v = Visit(browser, rig, "canvas_off.html")
    events = v.wait_for(snapshot_done, "a complete snapshot")
    element_id(events, "still")  # the canvas element itself is recorded
    v.page.evaluate(
        "() => { const g = document.getElementById('still').getContext('2d'); g.fillRect(0, 0, 5, 5); }"
    )
    v.page.evaluate(
        "() => { const p = document.createElement('p'); p.textContent = 'after drawing'; document.body.appendChild(p); }"
    )
    events = v.wait_for(lambda ev: "after drawing" in repr(ev), "the mutation after drawing")
    assert not any(e[0] == "canvas" for e in events)
    assert v.chunk_requests() == [] and v.errors == []
    v.page.close()


def test_a_canvas_drawn_before_recording_arrives_after_the_snapshot(browser, rig) -> None:
    v = Visit(browser, rig, "drawn_before.html")
    events = v.wait_for(
        lambda ev: snapshot_done(ev) and any(e[0] == "canvas" for e in ev), "the canvas bitmap"
    )
    still, hidden = element_id(events, "still"), element_id(events, "hidden")
    snapshot = [r for e in events if e[0] == "snapshot" for r in e[4]]
    # Not in the snapshot any more: the chunk sends it, once, as it is.
    assert not any(len(r) > 6 and "canvas" in r[6] for r in snapshot)
    frames = canvas_frames(events, still)
    assert len(frames) == 1 and frames[0].startswith("data:image/png")
    assert canvas_frames(events, hidden) == []  # inside data-sl-mask: never captured
    assert rebuild(events).nodes[still].props["canvas"] == frames[0]
    assert len(v.chunk_requests()) == 1 and v.errors == []
    v.page.close()


def test_a_canvas_added_later_loads_the_chunk_once_and_its_drawing_is_recorded(browser, rig) -> None:
    v = Visit(browser, rig, "late_canvas.html")
    v.wait_for(snapshot_done, "a complete snapshot")
    assert v.chunk_requests() == []  # no canvas yet
    v.page.evaluate("() => addCanvas('late', '#e53935')")
    events = v.wait_for(lambda ev: any(e[0] == "canvas" for e in ev), "the added canvas's bitmap")
    late = element_id(events, "late")
    first = canvas_frames(events, late)
    assert first and first[0].startswith("data:image/png")
    # Later drawing goes through the chunk's hooks.
    v.page.evaluate("() => paint('late', '#43a047')")
    events = v.wait_for(lambda ev: len(set(canvas_frames(ev, late))) >= 2, "the repainted bitmap")
    # A second canvas uses the chunk already there.
    v.page.evaluate("() => addCanvas('second', '#1e88e5')")
    events = v.wait_for(
        lambda ev: any(e[0] == "mutation" for e in ev) and canvas_frames(ev, element_id_or_0(ev, "second")),
        "the second canvas's bitmap",
    )
    state = rebuild(events)
    assert state.nodes[late].props["canvas"] == canvas_frames(events, late)[-1]
    assert len(v.chunk_requests()) == 1 and v.errors == []
    v.page.close()


def element_id_or_0(events: list[list[Any]], dom_id: str) -> int:
    try:
        return element_id(events, dom_id)
    except AssertionError:
        return 0


def test_a_new_page_view_after_a_stop_uses_the_chunk_already_loaded(browser, rig) -> None:
    collector, server, site = rig
    page = browser.new_page()
    requests: list[str] = []
    errors: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(server.url + "/consent_canvas.html")
    page.evaluate("() => { addCanvas('late', '#e53935'); sessionlens.consent(true); }")

    def frames_of(pid: str, dom_id: str, at_least: int) -> list[str]:
        found: list[list[str]] = []

        def check() -> bool:
            page.evaluate("() => sessionlens.flush()")
            try:
                events = page_view_events(collector, site, pid)
                frames = canvas_frames(events, element_id(events, dom_id))
            except AssertionError:  # not recorded yet, or a batch in flight
                return False
            found.append(frames)
            return len(frames) >= at_least

        wait_until(check, message=f"{at_least} bitmaps of #{dom_id}")
        return found[-1]

    page.wait_for_function("() => sessionlens.pageViewId")
    first = page.evaluate("() => sessionlens.pageViewId")
    frames_of(first, "late", 1)
    # Consent withdrawn stops the page view (and the chunk's part in it); given again, a new one starts.
    page.evaluate("() => { sessionlens.consent(false); sessionlens.consent(true); }")
    page.wait_for_function("(pid) => sessionlens.pageViewId && sessionlens.pageViewId !== pid", arg=first)
    second = page.evaluate("() => sessionlens.pageViewId")
    assert frames_of(second, "late", 1)[0].startswith("data:image/png")  # sent again, for its new id
    page.evaluate("() => paint('late', '#43a047')")
    assert len(set(frames_of(second, "late", 2))) == 2  # drawing hooked for the new page view
    assert len([u for u in requests if u.endswith(CHUNK)]) == 1 and errors == []
    page.close()


def test_a_blob_image_is_sent_as_a_data_url_by_the_chunk(browser, rig) -> None:
    v = Visit(browser, rig, "blob_image.html")

    def inlined(events: list[list[Any]]) -> list[str]:
        return [
            c[2]
            for e in events
            if e[0] == "mutation"
            for c in e[4]
            if c[1] == "src" and str(c[2]).startswith("data:")
        ]

    events = v.wait_for(lambda ev: snapshot_done(ev) and bool(inlined(ev)), "the image as a data: URL")
    img = element_id(events, "generated")
    assert inlined(events)[0].startswith("data:image/webp")
    assert "blob:http" not in repr(events)  # never the page's own URL (dead once the page is)
    assert rebuild(events).nodes[img].attrs["src"] == inlined(events)[-1]
    assert len(v.chunk_requests()) == 1 and v.errors == []
    v.page.close()


def test_a_chunk_that_cannot_load_leaves_the_recording_alone(browser, rig) -> None:
    v = Visit(browser, rig, "late_canvas.html", block_chunk=True)
    v.wait_for(snapshot_done, "a complete snapshot")
    v.page.evaluate("() => addCanvas('late', '#e53935')")
    v.wait_for(lambda ev: bool(v.chunk_requests()), "the request for the chunk")
    v.page.evaluate("() => addCanvas('second', '#1e88e5')")
    v.page.evaluate(
        "() => { const p = document.createElement('p'); p.textContent = 'still recorded';"
        " document.body.appendChild(p); }"
    )
    events = v.wait_for(lambda ev: "still recorded" in repr(ev), "the mutation after the failed load")
    element_id(events, "second")
    assert not any(e[0] == "canvas" for e in events)
    assert len(v.chunk_requests()) == 1 and v.errors == []  # tried once; nothing thrown into the page
    v.page.close()


def test_the_collector_serves_the_chunk_next_to_the_recorder(client: TestClient) -> None:
    assert media_path("/recorder.js") == CHUNK and media_path("/sl/r") == "/sl/r-media.js"
    r = client.get(CHUNK, headers={"Accept-Encoding": "gzip"})
    assert r.status_code == 200 and r.content == MEDIA_PATH.read_bytes()
    assert r.headers["content-type"].startswith("text/javascript")
    assert r.headers["content-encoding"] == "gzip" and r.headers["access-control-allow-origin"] == "*"
    assert r.headers["x-content-type-options"] == "nosniff" and "max-age" in r.headers["cache-control"]
    assert client.get(CHUNK, headers={"If-None-Match": r.headers["etag"]}).status_code == 304
    assert r.headers["etag"] != client.get("/recorder.js").headers["etag"]
    assert len(gzip.compress(r.content, 9)) < 2000


def test_nginx_sends_the_chunk_to_the_collectors() -> None:
    conf = (Path(__file__).resolve().parent.parent / "docker" / "nginx.conf").read_text()
    path = media_path(load_settings(environ={}).recorder_path)
    locations = dict(re.findall(r"location ([^{]+?) \{(.*?)\n        \}", conf, re.S))
    assert "http://collectors" in locations[f"= {path}"]


def test_a_heatmap_backdrop_waits_for_the_bitmaps_that_follow_the_snapshot(tmp_path: Path) -> None:
    # The page as first seen after load settled (page_moments) is the moment the canvas's
    # bitmap is shown, not the snapshot without it; a bitmap drawn after the first click is not.
    store = LocalStore(tmp_path / "blobs")
    snap, ids = snapshot('<html><body><canvas id="chart" width="4" height="4"></canvas></body></html>', t=40)
    png = "data:image/png;base64,iVBORw0KGgo="
    events = [meta(1440, 900), snap, make_event("canvas", t=230, target=ids["chart"], data=png)]
    later = [make_event("canvas", t=4000, target=ids["chart"], data=png + "AA")]
    store_page_view(store, "site-media", "sess-media", "pv-media", events + later)
    found = page_moments.scan(PageViewReader(store), "site-media", "sess-media", "pv-media")
    assert found.default == 230
