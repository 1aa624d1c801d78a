"""Deep and wide recorded DOMs through the renderer: no recursion anywhere (issue 8 item 6).

A forged page 3,000 or 100,000 levels deep used to make `export --html` (and
the heatmap backdrop, which renders the export) die with RecursionError.
The player's side (replay-dom.js caps depth for Chromium's renderer) is
tested in test_script_corpus.py.
"""

from __future__ import annotations

import html
import re

import pytest

from sessionlens.replay.dom import DomState
from sessionlens.replay.html_export import CSP_META, MAX_FRAME_DEPTH, export_html
from sessionlens.replay.sanitize import Sanitizer


def deep_nodes(depth: int, frames: bool = False) -> list:
    """A document whose body holds a chain of `depth` nested elements (or frames)."""
    nodes = [[1, None, None, 9], [2, 1, None, 1, "html", {}], [3, 2, None, 1, "body", {}]]
    parent = 3
    for i in range(depth):
        nid = 10 + 3 * i
        if frames:
            nodes += [[nid, parent, None, 1, "iframe", {}], [nid + 1, nid, None, 9]]
            nodes += [[nid + 2, nid + 1, None, 1, "body", {"title": f'"&<{i}'}]]
            parent = nid + 2
        else:
            nodes.append([nid, parent, None, 1, "div", {"class": "d"}])
            parent = nid
    nodes.append([5, parent, None, 3, "bottom"])
    return nodes


def state_of(nodes: list) -> DomState:
    return DomState.from_keyframe({**DomState().keyframe(), "nodes": nodes})


@pytest.mark.parametrize("depth", [3_000, 100_000])
def test_deep_dom_through_sanitiser_state_and_export(depth: int) -> None:
    nodes = deep_nodes(depth)
    clean = Sanitizer().keyframe({**DomState().keyframe(), "nodes": nodes})
    assert len(clean["nodes"]) == len(nodes)

    state = state_of(clean["nodes"])
    assert len(state.records()) == len(nodes)
    played = DomState().apply_all(
        [["snapshot", 1, 0, True, nodes], ["mutation", 2, [10 + 3 * (depth // 2)], [], [], []]]
    )
    assert len(played.nodes) == 3 + depth // 2  # the lower half (and the text) went with the removed node

    text = export_html(state)
    assert text.startswith("<html><head>" + CSP_META)
    assert text.count("<div") == text.count("</div>") == depth
    assert text.endswith("bottom" + "</div>" * depth + "</body></html>")


def test_wide_dom_exports() -> None:
    nodes = [[1, None, None, 9], [2, 1, None, 1, "html", {}], [3, 2, None, 1, "body", {}]]
    nodes += [[10 + i, 3, None, 1, "p", {}] for i in range(100_000)]
    text = export_html(state_of(nodes))
    assert text.count("<p></p>") == 100_000


def test_deeply_nested_frames_export_up_to_a_cap() -> None:
    text = export_html(state_of(deep_nodes(200, frames=True)))
    documents = 0
    while True:
        assert text.startswith("<html><head>" + CSP_META)  # every frame document has the policy
        documents += 1
        srcdoc = re.search(r'<iframe srcdoc="([^"]*)"', text)
        if srcdoc is None:
            break
        text = html.unescape(srcdoc[1])
    assert documents == 1 + MAX_FRAME_DEPTH
    assert "bottom" not in text  # documents past the cap are left out, not half written
