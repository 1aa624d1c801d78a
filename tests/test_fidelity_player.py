"""Fidelity classes of issue 9, each with a fixture page of its own.

Every page is recorded live in Chromium, replayed in the real player at 1:1
(and, where the class concerns it, exported as static HTML) and compared
with the live screenshots at channel tolerance 16: at most 0.5 % of pixels
may differ at any still moment. One collector and one Chromium serve all of
them (tests/fidelity.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fidelity import MAX_SHARE, TOLERANCE, FidelityRun

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "fidelity"


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FidelityRun]:
    with FidelityRun(Path(tmp_path_factory.mktemp("fidelity-player")), FIXTURES) as fidelity:
        yield fidelity


def check_player(run: FidelityRun, rec, tmp_path: Path) -> None:
    report = run.compare_player(rec, tolerance=TOLERANCE, max_share=MAX_SHARE, out_dir=tmp_path)
    assert report.ok, report.text()


def test_svg_path_data_in_attribute_mutations_survives_the_pii_scrub(run: FidelityRun, tmp_path: Path) -> None:
    # Class 5: path data and point lists set after load arrive as attribute
    # mutations (and an added node); the server's card-number scan must not
    # mask their digit runs ("Expected number" in the player, shapes gone).
    rec = run.record("svg_paths.html")
    rec.page.evaluate("() => drawChart()")
    rec.moment("chart drawn")
    rec.finish()
    check_player(run, rec, tmp_path)


def test_nested_same_origin_frames_keep_their_doctype(run: FidelityRun, tmp_path: Path) -> None:
    # Class 6: frame documents are rebuilt in the sandboxed replay frame (as
    # srcdoc) with their recorded doctype: standards mode stays standards
    # (16 px of first-paragraph margin, table font inheritance), two levels
    # deep. (A frame without a doctype still replays in standards mode: a
    # srcdoc document never is in quirks mode; see docs/viewer.md.)
    rec = run.record("nested_frames.html")
    rec.moment("frames loaded")
    rec.finish()
    check_player(run, rec, tmp_path)
