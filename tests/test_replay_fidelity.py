"""Replays look like what the visitor saw: live and replayed screenshots compared.

A page with the usual fidelity traps (stylesheets inlined and from a second
origin, several background layers, shadow DOM, a same-origin iframe, a
canvas chart, a blob: image, a popover and a modal dialog, CSS animation
and transition, hover, form state, window and element scroll, an SPA route
change) is recorded in Chromium, then replayed in the viewer in Chromium at
the moments the live screenshots were taken.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.helpers import free_port
from tests.live import LiveCollector, ThreadServer, chromium, demo_snippet
from tests.recording import fixture_app
from tests.viewer_live import add_viewer_user, log_in, open_player, replay_frame

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "replay"
VIEWPORT = {"width": 1024, "height": 700}
# A pixel differs when a channel is off by more than CHANNEL_TOLERANCE; a
# moment matches when at most MAX_DIFFERENT_SHARE of its pixels differ.
# 1% of 1024x700 is ~7,000 pixels: less than a missing 100x70 element, far
# less than a missing stylesheet or a scroll off by a few lines.
CHANNEL_TOLERANCE = 48
MAX_DIFFERENT_SHARE = 0.01


def replay_shot(viewer) -> bytes:
    """The replay iframe at 1:1, clipped to whole pixels."""
    box = viewer.locator("iframe").bounding_box()
    clip = {"x": round(box["x"]), "y": round(box["y"]), **VIEWPORT}
    return viewer.screenshot(clip=clip)


def different_share(a: bytes, b: bytes) -> float:
    left = np.asarray(Image.open(io.BytesIO(a)).convert("RGB"), dtype=np.int16)
    right = np.asarray(Image.open(io.BytesIO(b)).convert("RGB"), dtype=np.int16)
    assert left.shape == right.shape, f"sizes differ: {left.shape} vs {right.shape}"
    return float((np.abs(left - right).max(axis=2) > CHANNEL_TOLERANCE).mean())


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    data = Path(tmp_path_factory.mktemp("fidelity")) / "data"
    collector = LiveCollector(data)
    collector.start()
    add_viewer_user(collector)
    remote = ThreadServer(fixture_app({}, FIXTURES))
    port = free_port()
    site = collector.add_site(f"http://127.0.0.1:{port}")
    app = fixture_app(
        {"<!--SESSIONLENS-->": demo_snippet(collector, site, flush_ms=300), "REMOTE_ORIGIN": remote.url},
        FIXTURES,
    )
    holder: dict = {}
    with remote, ThreadServer(app, port) as site_server, chromium() as browser:
        holder.update(collector=collector, moments=[], browser=browser)
        page = browser.new_page(viewport=VIEWPORT)
        page.goto(f"{site_server.url}/fidelity.html")
        page.wait_for_function("() => window.sessionlens && window.sessionlens.sessionId")
        page.wait_for_timeout(1200)

        def moment(name: str) -> None:
            page.wait_for_timeout(700)  # throttled scroll/move events go out first
            shot = page.screenshot()
            holder["moments"].append((name, page.evaluate("Date.now()"), shot))

        box = page.locator("#hoverme").bounding_box()
        page.mouse.move(box["x"] + 20, box["y"] + 10)
        moment("after load")
        page.fill("#name", "Ada Lovelace")
        page.select_option("#plan", "Pro")
        page.check("#agree")
        page.locator("#hoverme").hover()
        moment("after typing")
        page.evaluate("() => { scrollTo(0, 640); document.getElementById('scroller').scrollTop = 150; }")
        moment("after scroll")
        page.evaluate("() => goSpa()")
        moment("after SPA navigation")
        page.evaluate("() => sessionlens.flush()")
        page.wait_for_timeout(800)
        holder["sid"] = page.evaluate("sessionlens.sessionId")
        yield holder
    collector.stop()


def test_replay_matches_the_live_page_at_each_moment(recorded: dict, tmp_path: Path) -> None:
    collector = recorded["collector"]
    viewer = recorded["browser"].new_page(viewport={"width": 1500, "height": 950})
    log_in(viewer, collector)
    viewer.goto(f"{collector.url}/api/sessions/{recorded['sid']}")
    start = json.loads(viewer.inner_text("body"))["session"]["start_time"]
    failures = []
    for name, now, live in recorded["moments"]:
        open_player(viewer, collector, recorded["sid"], now - start)
        viewer.evaluate("() => { document.querySelector('.cursor').style.display = 'none'; }")
        viewer.wait_for_timeout(600)  # images and the second-origin stylesheet load
        replay = replay_shot(viewer)
        share = different_share(live, replay)
        print(f"{name}: {share:.3%} of pixels differ")
        if share > MAX_DIFFERENT_SHARE:
            slug = name.replace(" ", "-")
            (tmp_path / f"{slug}-live.png").write_bytes(live)
            (tmp_path / f"{slug}-replay.png").write_bytes(replay)
            failures.append(f"{name}: {share:.2%} of pixels differ (images in {tmp_path})")
    assert not failures, "\n".join(failures)


def test_the_comparison_catches_a_wrong_scroll_and_a_missing_stylesheet(recorded: dict) -> None:
    # The threshold must be tight enough to matter: a replay scrolled to
    # another moment's position, or missing the inlined stylesheet, fails it.
    collector = recorded["collector"]
    moments = {name: (now, shot) for name, now, shot in recorded["moments"]}
    viewer = recorded["browser"].new_page(viewport={"width": 1500, "height": 950})
    log_in(viewer, collector)
    viewer.goto(f"{collector.url}/api/sessions/{recorded['sid']}")
    start = json.loads(viewer.inner_text("body"))["session"]["start_time"]
    now, live_loaded = moments["after load"]
    open_player(viewer, collector, recorded["sid"], moments["after scroll"][0] - start)
    viewer.evaluate("() => { document.querySelector('.cursor').style.display = 'none'; }")
    viewer.wait_for_timeout(600)
    assert different_share(live_loaded, replay_shot(viewer)) > 5 * MAX_DIFFERENT_SHARE
    open_player(viewer, collector, recorded["sid"], now - start)
    viewer.evaluate("() => { document.querySelector('.cursor').style.display = 'none'; }")
    replay_frame(viewer).evaluate(
        "() => { for (const s of document.querySelectorAll('style'))"
        " if (s.textContent.includes('header.top')) s.remove(); }"
    )
    viewer.wait_for_timeout(300)
    assert different_share(live_loaded, replay_shot(viewer)) > 5 * MAX_DIFFERENT_SHARE
