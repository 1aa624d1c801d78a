"""Fidelity classes of issue 9, each with a fixture page of its own.

Every page is recorded live in Chromium, replayed in the real player at 1:1
(and, where the class concerns it, exported as static HTML) and compared
with the live screenshots at channel tolerance 16: at most 0.5 % of pixels
may differ at any still moment. One collector and one Chromium serve all of
them (tests/fidelity.py).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PIL import Image

from tests.fidelity import MAX_SHARE, TOLERANCE, FidelityRun, different_share

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "fidelity"


@pytest.fixture(scope="module")
def run(
    tmp_path_factory: pytest.TempPathFactory, fresh_index_url: Callable[[], str]
) -> Iterator[FidelityRun]:
    with FidelityRun(
        Path(tmp_path_factory.mktemp("fidelity-player")), FIXTURES, index_url=fresh_index_url()
    ) as fidelity:
        yield fidelity


def crop(png: bytes, box: tuple[int, int, int, int]) -> bytes:
    out = io.BytesIO()
    Image.open(io.BytesIO(png)).crop(box).save(out, "PNG")
    return out.getvalue()


def check_player(run: FidelityRun, rec, tmp_path: Path) -> None:
    report = run.compare_player(rec, tolerance=TOLERANCE, max_share=MAX_SHARE, out_dir=tmp_path)
    assert report.ok, report.text()


def check_export(run: FidelityRun, rec, tmp_path: Path) -> None:
    """The static HTML export of the same recording, at its (unscrolled) moments."""
    report = run.compare_export(rec, tolerance=TOLERANCE, max_share=MAX_SHARE, out_dir=tmp_path)
    assert report.ok, report.text()


def test_svg_path_data_in_attribute_mutations_survives_the_pii_scrub(
    run: FidelityRun, tmp_path: Path
) -> None:
    # Class 5: path data and point lists set after load arrive as attribute
    # mutations (and an added node); the server's card-number scan must not
    # mask their digit runs ("Expected number" in the player, shapes gone).
    rec = run.record("svg_paths.html")
    rec.page.evaluate("() => drawChart()")
    rec.moment("chart drawn")
    rec.finish()
    check_player(run, rec, tmp_path)
    check_export(run, rec, tmp_path)


def test_nested_same_origin_frames_keep_their_doctype(run: FidelityRun, tmp_path: Path) -> None:
    # Class 6: frame documents are rebuilt in the sandboxed replay frame (as
    # srcdoc) with their recorded doctype: standards mode stays standards
    # (16 px of first-paragraph margin, table font inheritance). (A frame
    # without a doctype still replays in standards mode: a srcdoc document
    # never is in quirks mode; see docs/viewer.md.)
    rec = run.record("nested_frames.html")
    rec.moment("frames loaded")
    rec.finish()
    check_player(run, rec, tmp_path)
    check_export(run, rec, tmp_path)


def test_frames_two_levels_deep(run: FidelityRun, tmp_path: Path) -> None:
    # The second-level frame often loads after the snapshot walked its parent
    # frame's document; its load event fires in that document, not the top one.
    rec = run.record("nested_frames_deep.html")
    rec.moment("frames loaded")
    rec.finish()
    check_player(run, rec, tmp_path)
    check_export(run, rec, tmp_path)


def test_a_frame_added_inside_a_frame_after_the_snapshot_is_recorded(
    run: FidelityRun, tmp_path: Path
) -> None:
    # A new second-level frame, added by the first-level frame's script long
    # after the snapshot, is recorded with the document it loads.
    rec = run.record("nested_frames_deep.html")
    outer = "document.getElementById('standards').contentDocument"
    rec.page.evaluate(
        f"() => {{ const d = {outer}; const f = d.createElement('iframe'); f.src = 'frame_late.html';"
        " d.querySelector('iframe').replaceWith(f); }"
    )
    rec.page.wait_for_function(
        f"() => {{ const f = {outer}.querySelector('iframe');"
        " return f.contentDocument && f.contentDocument.readyState === 'complete'"
        " && f.contentDocument.body && /after the snapshot/.test(f.contentDocument.body.textContent); }"
    )
    rec.moment("late frame loaded")
    rec.finish()
    check_player(run, rec, tmp_path)


def test_the_browser_default_focus_ring_of_a_focused_field(run: FidelityRun, tmp_path: Path) -> None:
    # A page with no focus styles of its own: the focused text field and
    # textarea show the browser's ring live, and the player draws the same
    # on the element it marks focused (.sl--focus).
    # The ring is a thin line, a small share of the page: each moment is also
    # compared around its field alone, where a missing ring is most of the change.
    rec = run.record("focus_ring.html")
    boxes = []
    for field in ("#name", "#notes"):
        rec.page.focus(field)
        rec.moment(f"{field} focused")
        b = rec.page.locator(field).bounding_box()
        boxes.append(
            (int(b["x"]) - 8, int(b["y"]) - 8, int(b["x"] + b["width"]) + 8, int(b["y"] + b["height"]) + 8)
        )
    rec.finish()
    check_player(run, rec, tmp_path)
    start = run.session_start(rec.sid)
    for moment, box in zip(rec.moments, boxes, strict=True):
        run.open_moment(rec.sid, moment.at - start)
        live, replay = crop(moment.shot, box), crop(run.replay_shot(), box)
        share = different_share(live, replay)
        if share > MAX_SHARE:
            (tmp_path / "focus-live.png").write_bytes(live)
            (tmp_path / "focus-replay.png").write_bytes(replay)
        assert share <= MAX_SHARE, (
            f"{moment.name}: {share:.2%} of the pixels around the field differ ({tmp_path})"
        )


def test_a_scrolled_moment_with_an_open_popover_in_the_player_and_the_export(
    run: FidelityRun, tmp_path: Path
) -> None:
    # Class 9: the static export reproduces the window's scroll position (the
    # fixed header stays on the viewport) and an open popover, without script.
    rec = run.record("scrolled_popover.html")
    rec.page.evaluate("() => { scrollTo(0, 900); document.getElementById('tip').showPopover(); }")
    rec.moment("scrolled, popover open")
    rec.finish()
    check_player(run, rec, tmp_path)
    report = run.compare_export(rec, tolerance=TOLERANCE, max_share=MAX_SHARE, out_dir=tmp_path)
    assert report.ok, report.text()


def test_the_first_painted_frame_after_opening_or_changing_page_view_has_the_page(
    run: FidelityRun, tmp_path: Path
) -> None:
    # Seek: no blank frame while loading. Two page views of one session; the
    # player is opened at a moment of each (and moves from one to the other
    # in place): the very first screenshot once the player says ready already
    # matches the live page, with no settling time.
    rec = run.record("scrolled_popover.html")
    rec.page.evaluate("() => scrollTo(0, 500)")
    rec.moment("first page view")
    rec.page.goto(rec.page.url.replace("scrolled_popover.html", "svg_paths.html"))
    rec.page.wait_for_function("() => window.sessionlens && window.sessionlens.sessionId")
    rec.page.evaluate("() => drawChart()")
    rec.moment("second page view")
    rec.finish()
    start = run.session_start(rec.sid)
    first, second = rec.moments
    for moment in (first, second):
        run.open_moment(rec.sid, moment.at - start, settle_ms=0)
        share = different_share(moment.shot, run.replay_shot())
        assert share <= MAX_SHARE, f"{moment.name}: first frame differs in {share:.2%} of pixels"
    # From one page view to the other and back, inside the player, a few times.
    for i, moment in enumerate([first, second] * 3):
        run.viewer.evaluate("(t) => window.sessionlensPlayer.seek(t)", moment.at - start)
        shot = run.replay_shot()
        share = different_share(moment.shot, shot)
        if share > MAX_SHARE:
            (tmp_path / f"page-view-change-{i}-live.png").write_bytes(moment.shot)
            (tmp_path / f"page-view-change-{i}-replay.png").write_bytes(shot)
        assert share <= MAX_SHARE, f"change {i} to {moment.name}: {share:.2%} of pixels differ ({tmp_path})"


def test_fractional_layout_lands_on_the_same_pixels(run: FidelityRun, tmp_path: Path) -> None:
    # Class 8: edges between device pixels (33.333vh sections, 0.5px borders,
    # fractional line heights and sizes) must round the same way in the
    # player as live: the replay frame sits on whole device pixels of the
    # viewer, so nothing below a section moves by 1 px.
    rec = run.record("fractional_layout.html")
    rec.moment("top")
    rec.page.evaluate("() => scrollTo(0, 120)")
    rec.moment("scrolled")
    rec.finish()
    check_player(run, rec, tmp_path)
