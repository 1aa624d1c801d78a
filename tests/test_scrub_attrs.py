"""The server's PII scrub knows which attributes carry geometry or code.

A card-number scan on SVG path data masks coordinates ("Expected number" in
the player); the exemption must hold wherever an attribute arrives: snapshot
attribute maps, nodes added by a mutation, and a mutation's attribute
changes, which are [id, name, value] lists rather than maps.
"""

from __future__ import annotations

import copy

from sessionlens.contracts import make_event
from sessionlens.scrub import GEOMETRY_OR_CODE_ATTRS, carries_geometry_or_code, scrub_events, scrub_text

# Chart-library output: thirds printed with 16 significant digits.
PATH = "M0,1000L566.6666666666666,300L666.6666666666666,400Z"
POINTS = "1 2 3 4 5 6 7 8 9 1 2 3 3"
CARD = "4111 1111 1111 1111"
EMAIL = "jane.doe@example.com"


def test_the_fixture_values_look_like_cards_to_the_text_scan() -> None:
    # Otherwise the tests below would prove nothing.
    assert scrub_text(PATH) != PATH and scrub_text(POINTS) != POINTS and scrub_text(CARD) != CARD


def events() -> list:
    svg_path = [5, 4, None, 1, "path", {"d": PATH, "data-owner": CARD}, {"ns": "svg"}]
    return [
        make_event("snapshot", t=0, part=0, last=True, nodes=[[4, None, None, 1, "svg", {"viewBox": "0 0 1 1"}, {}], svg_path]),
        make_event(
            "mutation",
            t=10,
            removes=[],
            adds=[[6, 4, None, 1, "polyline", {"points": POINTS, "title": CARD}, {"ns": "svg"}]],
            attrs=[[5, "d", PATH], [6, "POINTS", POINTS], [5, "svg:transform", POINTS], [5, "data-card", CARD],
                   [5, "style", f"--who: '{EMAIL}'; width: 1234567890123.5px"], [5, "d", None]],
            texts=[[7, CARD]],
        ),
    ]


def test_geometry_survives_in_snapshots_added_nodes_and_attribute_mutations() -> None:
    scrubbed = scrub_events(events())
    snapshot, mutation = scrubbed
    assert snapshot[4][1][5]["d"] == PATH
    assert mutation[3][0][5]["points"] == POINTS
    changes = mutation[4]
    assert changes[0] == [5, "d", PATH]
    assert changes[1] == [6, "POINTS", POINTS]  # names compared lower-cased
    assert changes[2] == [5, "svg:transform", POINTS]  # by local part
    assert changes[5] == [5, "d", None]


def test_text_attributes_are_still_scrubbed_wherever_they_arrive() -> None:
    snapshot, mutation = scrub_events(events())
    assert snapshot[4][1][5]["data-owner"] == "*" * 4 + " " + "*" * 4 + " " + "*" * 4 + " " + "*" * 4
    assert "1111" not in mutation[3][0][5]["title"]
    assert "1111" not in mutation[4][3][2]  # data-card, an attribute change
    assert "1111" not in mutation[5][0][1]  # text change
    style = mutation[4][4][2]
    assert EMAIL not in style  # style can carry text: e-mails masked...
    assert "1234567890123.5px" in style  # ...CSS numbers are not cards


def test_one_list_decides_for_every_path() -> None:
    for name in ("d", "points", "viewBox", "transform", "x", "height", "style", "class", "srcset"):
        assert carries_geometry_or_code(name), name
    for name in ("value", "title", "alt", "placeholder", "aria-label", "data-card", "href"):
        assert not carries_geometry_or_code(name), name
    assert all(n == n.lower() for n in GEOMETRY_OR_CODE_ATTRS)


def test_malformed_attribute_changes_are_scrubbed_as_plain_values() -> None:
    mutation = make_event("mutation", t=1, removes=[], adds=[], attrs=[[5, 7, CARD], [CARD], "x"], texts=[])
    scrubbed = scrub_events([copy.deepcopy(mutation)])[0]
    assert "1111" not in scrubbed[4][0][2] and "1111" not in scrubbed[4][1][0]
