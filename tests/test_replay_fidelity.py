"""Replays look like what the visitor saw: live and replayed screenshots compared.

A page with the usual fidelity traps (stylesheets inlined and from a second
origin, several background layers, shadow DOM, a same-origin iframe, a
canvas chart, a blob: image, a popover and a modal dialog, CSS animation
and transition, hover, form state, window and element scroll, an SPA route
change) is recorded in Chromium, then replayed in the viewer in Chromium at
the moments the live screenshots were taken.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.fidelity import FidelityRun, Recording, different_share

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "replay"
# A pixel differs when a channel is off by more than 16; a moment matches
# when at most 1% of its pixels differ (~7,000 of 1024x700: less than a
# missing 100x70 element, far less than a missing stylesheet or a scroll off
# by a few lines). The page's animated and hovered parts keep it above the
# 0.5 % the per-class fixtures in test_fidelity_player.py meet.
CHANNEL_TOLERANCE = 16
MAX_DIFFERENT_SHARE = 0.01


@pytest.fixture(scope="module")
def recorded(
    tmp_path_factory: pytest.TempPathFactory, fresh_index_url: Callable[[], str]
) -> Iterator[tuple[FidelityRun, Recording]]:
    with FidelityRun(Path(tmp_path_factory.mktemp("fidelity")), FIXTURES, index_url=fresh_index_url()) as run:
        rec = run.record("fidelity.html")
        page = rec.page
        box = page.locator("#hoverme").bounding_box()
        page.mouse.move(box["x"] + 20, box["y"] + 10)
        rec.moment("after load")
        page.fill("#name", "Ada Lovelace")
        page.select_option("#plan", "Pro")
        page.check("#agree")
        page.locator("#hoverme").hover()
        rec.moment("after typing")
        page.evaluate("() => { scrollTo(0, 640); document.getElementById('scroller').scrollTop = 150; }")
        rec.moment("after scroll")
        page.evaluate("() => goSpa()")
        rec.moment("after SPA navigation")
        rec.finish()
        yield run, rec


def test_replay_matches_the_live_page_at_each_moment(recorded, tmp_path: Path) -> None:
    run, rec = recorded
    report = run.compare_player(
        rec, tolerance=CHANNEL_TOLERANCE, max_share=MAX_DIFFERENT_SHARE, out_dir=tmp_path
    )
    assert report.ok, report.text()


def test_the_comparison_catches_a_wrong_scroll_and_a_missing_stylesheet(recorded) -> None:
    # The threshold must be tight enough to matter: a replay scrolled to
    # another moment's position, or missing the inlined stylesheet, fails it.
    run, rec = recorded
    moments = {m.name: m for m in rec.moments}
    start = run.session_start(rec.sid)
    loaded = moments["after load"]
    run.open_moment(rec.sid, moments["after scroll"].at - start)
    wrong_scroll = different_share(loaded.shot, run.replay_shot(), CHANNEL_TOLERANCE)
    assert wrong_scroll > 5 * MAX_DIFFERENT_SHARE
    run.open_moment(rec.sid, loaded.at - start)
    run.replay_frame().evaluate(
        "() => { for (const s of document.querySelectorAll('style'))"
        " if (s.textContent.includes('header.top')) s.remove(); }"
    )
    run.viewer.wait_for_timeout(300)
    no_style = different_share(loaded.shot, run.replay_shot(), CHANNEL_TOLERANCE)
    assert no_style > 5 * MAX_DIFFERENT_SHARE
