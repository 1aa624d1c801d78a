"""Wire fields the recorder leaves to the server (replay/stream_fields.py), read through the
product's reader (ElementPaths: viewer, export, heatmaps, funnels) on crafted streams: nav "pop"
within the page's URL reads as "hash", request failed from status, request method in capitals.
The browser side is test_recorder_browser.py (nav) and test_recorder_research.py (requests)."""

from __future__ import annotations

from typing import Any

import pytest

from sessionlens.contracts import event_as_dict, make_event
from sessionlens.facts import chunk_facts
from sessionlens.replay.element_paths import ElementPaths, enriched_events
from sessionlens.replay.stream_fields import StreamFields
from sessionlens.viewer.inspector import inspect_events
from tests.helpers import meta_event

URL = "https://shop.example/list?page=2"


def read(events: list[list[Any]]) -> list[dict[str, Any]]:
    return [event_as_dict(e) for _, e in enriched_events(enumerate(events))]


def meta_gen_2(url: str = URL) -> list[Any]:
    """A meta event of a recorder that leaves fragment pops to the server (gen 2)."""
    return make_event(
        "meta", t=0, url=url, referrer="", title="", vw=1280, vh=800, sw=1920, sh=1080, dpr=1, ua="",
        lang="en", tz="UTC", lw=1280, lh=800, vs=1, touch=0, webdriver=0, brands="", gen=2,
    )  # fmt: skip


def nav(t: int, url: str, how: str) -> list[Any]:
    return make_event("nav", t=t, url=url, how=how, title="")


def request(how: str, method: str, status: int, failed: int) -> list[Any]:
    return make_event(
        "request", t=5, how=how, method=method, url="https://shop.example/api", status=status,
        duration=3, size=0, failed=failed,
    )  # fmt: skip


def test_a_pop_within_the_page_url_reads_as_a_hash_change() -> None:
    events = [
        meta_gen_2(),
        nav(10, URL + "#reviews", "pop"),  # same URL before '#': the fragment changed
        nav(20, "https://shop.example/item/3", "push"),
        nav(30, "https://shop.example/item/3#a", "hash"),  # stored by an older recorder: kept
        nav(40, URL, "pop"),  # back to another document URL: a pop
        nav(50, URL + "#x", "replace"),  # only pops are renamed
        nav(60, URL + "#y", "pop"),
    ]
    got = [(e["t"], e["how"]) for e in read(events) if e["kind"] == "nav"]
    assert got == [(10, "hash"), (20, "push"), (30, "hash"), (40, "pop"), (50, "replace"), (60, "hash")]
    # Older recorders told fragment pops apart themselves: their "pop" is read as stored.
    older = [meta_event(url=URL), *events[1:]]
    assert [e["how"] for e in read(older) if e["kind"] == "nav"][0] == "pop"


def test_a_pop_with_no_url_before_it_stays_a_pop() -> None:
    assert [e["how"] for e in read([nav(10, URL + "#a", "pop")])] == ["pop"]


def test_request_failed_and_method_from_the_stream() -> None:
    events = [
        meta_event(),
        request("fetch", "", 200, 0),  # no method given: GET
        request("fetch", "post", 404, 0),  # the recorder sends the method as the page gave it
        request("xhr", "GET", 0, 0),  # an xhr without a response
        request("fetch", "GET", 0, 0),  # an opaque (no-cors) response: not a failure
        request("fetch", "GET", 0, 1),  # a fetch that rejected: the recorder says so
        request("resource", "", 0, 0),  # unknown status (cross-origin resource)
        request("resource", "", 0, 1),  # its element's load failed: the recorder says so
        request("resource", "", 503, 0),
    ]
    got = [(e["how"], e["method"], e["status"], e["failed"]) for e in read(events) if e["kind"] == "request"]
    assert got == [
        ("fetch", "GET", 200, 0),
        ("fetch", "POST", 404, 1),
        ("xhr", "GET", 0, 1),
        ("fetch", "GET", 0, 0),
        ("fetch", "GET", 0, 1),
        ("resource", "GET", 0, 0),
        ("resource", "GET", 0, 1),
        ("resource", "GET", 503, 1),
    ]
    # The player's network pane (the viewer's reader) shows them so.
    network = inspect_events(e for _, e in enriched_events(enumerate(events)))["network"]
    assert [n["failed"] for n in network] == [False, True, True, False, True, False, True, True]


def test_timing_values_are_rounded_as_the_recorder_did() -> None:
    """The recorder sends metrics as measured; readers see ms as integers and cls to 3 decimals,
    rounded half up (Math.round), and the index's facts are the same."""
    events = [
        meta_event(),
        make_event("timing", t=1, name="ttfb", value=83.30000001192093),
        make_event("timing", t=2, name="lcp", value=1234.5),
        make_event("timing", t=3, name="cls", value=0.10649999),
        make_event("timing", t=4, name="inp", value=47.9),
        make_event("timing", t=5, name="cls", value=0.0125),
        make_event("timing", t=6, name="cls", value=1),
    ]
    got = [(e["name"], e["value"]) for e in read(events) if e["kind"] == "timing"]
    assert got == [("ttfb", 83), ("lcp", 1235), ("cls", 0.106), ("inp", 48), ("cls", 0.013), ("cls", 1)]
    facts = chunk_facts(events)
    assert (facts.lcp_ms, facts.cls, facts.inp_ms) == (1235, 1, 48)


def test_older_recordings_read_as_stored() -> None:
    # What older recorders sent is already what these rules give: nothing changes.
    events = [
        meta_event(),
        request("xhr", "POST", 404, 1),
        request("resource", "GET", 0, 1),
        make_event("timing", t=3, name="cls", value=0.123),
        make_event("timing", t=3, name="lcp", value=1500),
        nav(9, URL, "pop"),
    ]
    paths = ElementPaths()
    assert all(paths.enrich(e) is e for e in events[1:5])
    assert [e[1:] for _, e in enriched_events(enumerate(events))] == [e[1:] for e in events]


@pytest.mark.parametrize(
    "bad",
    [
        ["nav", 1, None, "pop", ""],
        ["nav", 1, 5, "pop"],
        ["nav"],
        ["request", 1, "xhr", None, "u", "x", 1, 0, 0],
        ["request", 1, "xhr", 5, "u", True, 1, 0, 0],
        ["request", 1],
        ["meta", 0, None],
        ["timing", 1, "cls", "x"],
        ["timing", 1, "lcp", True],
        ["timing", 1, None, 1e300],
        [],
    ],
)
def test_forged_events_never_raise(bad: list[Any]) -> None:
    fields = StreamFields()
    fields.note(["meta", 0, URL])
    fields.enrich(bad)
    fields.note(bad)
    paths = ElementPaths()
    paths.apply(meta_event(url=URL))
    assert paths.enrich(bad) == bad
