"""The static export shows the moment: window scroll and top-layer state, without script."""

from __future__ import annotations

from sessionlens.replay.dom import DomState
from sessionlens.replay.html_export import MODAL_ATTR, POPOVER_OPEN_ATTR, export_html

NODES = [
    [1, None, None, 9],
    [2, 1, None, 10, "html", "", ""],
    [3, 1, None, 1, "html", {}],
    [4, 3, None, 1, "head", {}],
    [5, 4, None, 1, "style", {}],
    [6, 5, None, 3, "[popover]:popover-open { color: red } dialog:MODAL { color: blue }"],
    [7, 3, None, 1, "body", {}],
    [8, 7, None, 1, "div", {"popover": "", "id": "tip"}],
    [9, 7, None, 1, "dialog", {"id": "modal"}],
    [10, 7, None, 1, "div", {"popover": "", "id": "closed"}],
]


def state(scroll: list | None = None, events: list | None = None) -> DomState:
    frame = {**DomState().keyframe(), "nodes": NODES, "scroll": [[None, *scroll]] if scroll else []}
    return DomState.from_keyframe(frame).apply_all(events or [])


def test_window_scroll_moves_the_root_not_fixed_elements() -> None:
    text = export_html(state([0, 900.5]))
    assert "html { position: relative !important; left: 0px !important; top: -900.5px !important; }" in text
    assert "transform" not in text  # a transform would carry fixed elements along
    assert "position: relative" not in export_html(state())


def test_hostile_scroll_numbers_stay_bounded_css() -> None:
    for bad in (float("inf"), float("nan"), -5, "1px;} body{display:none", 1e300):
        text = export_html(state([0, bad]))
        assert "display:none" not in text and "inf" not in text and "nan" not in text
    assert "top: -10000000px" in export_html(state([0, 1e300]))


def test_open_popover_and_modal_dialog_are_marked_and_their_rules_rewritten() -> None:
    events = [["toplayer", 5, 8, False, True], ["toplayer", 6, 9, True, True]]
    text = export_html(state(events=events))
    assert f'<div popover="" id="tip" {POPOVER_OPEN_ATTR}="">' in text
    assert '<div popover="" id="closed">' in text  # closed popovers stay hidden
    assert f'<dialog id="modal" open="" {MODAL_ATTR}="">' in text
    assert f"[popover][{POPOVER_OPEN_ATTR}] {{ color: red }}" in text
    assert f"dialog[{MODAL_ATTR}] {{ color: blue }}" in text
    assert "script" not in text.replace("script-src 'none'", "")
