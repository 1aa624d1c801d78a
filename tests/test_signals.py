"""Frustration signals on scripted event streams, thresholds as documented."""

from __future__ import annotations

from sessionlens.heatmap.signals import Thresholds, page_view_clicks
from tests.helpers import meta_event

NODES = [
    [1, None, None, 9], [2, 1, None, 1, "html", {}], [3, 2, None, 1, "body", {}],
    [4, 3, None, 1, "button", {"id": "buy"}], [5, 4, None, 3, "Buy"],
    [6, 3, None, 1, "button", {"class": "qty-plus"}], [7, 6, None, 3, "+"],
    [8, 3, None, 1, "input", {"id": "q"}],
    [9, 3, None, 1, "a", {"href": "https://x.test/next"}], [10, 9, None, 3, "Go"],
]  # fmt: skip


def click(
    t: int, target: int = 4, x: float = 100, y: float = 100, tag: str = "button", flags: str = ""
) -> list:
    return ["click", t, target, f"#n{target}", 0.5, 0.5, x, y, x, y, 0, "mouse", 1280, 2000, tag, flags]


def run(*events: list) -> list:
    return page_view_clicks([meta_event(0), ["snapshot", 5, 0, True, NODES], *events])


def changed(t: int) -> list:
    return ["mutation", t, [], [], [[4, "class", "busy"]], []]


def test_rage_needs_three_close_quick_clicks() -> None:
    clicks = run(click(1000), click(1400, x=110), click(1800, y=120), changed(1900))
    assert [c.rage for c in clicks] == [True, True, True]
    clicks = run(click(1000), click(1400), click(2500), changed(2600))  # third too late
    assert not any(c.rage for c in clicks)
    clicks = run(click(1000), click(1400, x=200), click(1800, x=200), changed(1900))  # too far apart
    assert not any(c.rage for c in clicks)


def test_dead_click_is_one_nothing_answers() -> None:
    (c,) = run(click(1000), ["move", 2000, 5, 5, None], ["move", 5000, 5, 5, None])
    assert c.dead and not c.rage and not c.error
    (c,) = run(click(1000), changed(1500), ["move", 5000, 5, 5, None])
    assert not c.dead
    (c,) = run(click(1000), ["scroll", 3600, None, 0, 100, 1280, 2000], ["move", 5000, 5, 5, None])
    assert c.dead  # the scroll came after 2.5 s


def test_error_click() -> None:
    (c,) = run(click(1000), ["error", 1500, "error", "boom", "", 0, 0, ""], changed(1600))
    assert c.error and not c.dead
    (c,) = run(click(1000), ["error", 2500, "error", "boom", "", 0, 0, ""], changed(1600))
    assert not c.error


def test_known_false_positives_are_excluded() -> None:
    steppers = run(click(1000, 6), click(1300, 6), click(1600, 6), click(1900, 6), ["move", 6000, 1, 1, None])
    assert not any(c.rage or c.dead for c in steppers)
    inputs = run(click(1000, 8, tag="input", flags="f"), click(1200, 8, tag="input", flags="f"),
                 click(1400, 8, tag="input", flags="f"), ["move", 6000, 1, 1, None])  # fmt: skip
    assert not any(c.rage or c.dead for c in inputs)
    selecting = run(click(1000, flags="x"), ["move", 6000, 1, 1, None])
    assert not selecting[0].dead
    (link,) = run(click(1000, 9, tag="a", flags="a"))  # the page view ended: it navigated away
    assert not link.dead
    # Inside a data-sl-block element (flag 'b', the server's): what it changed is not recorded.
    (blocked,) = run(click(1000, flags="b"), ["move", 6000, 1, 1, None])
    assert not blocked.dead


def test_thresholds_are_configurable() -> None:
    th = Thresholds(rage_count=4)
    events = [
        meta_event(0),
        ["snapshot", 5, 0, True, NODES],
        click(1000),
        click(1400),
        click(1800),
        changed(1900),
    ]
    assert not any(c.rage for c in page_view_clicks(events, th))
    assert all(c.dead is False for c in page_view_clicks(events, Thresholds(dead_ms=10_000)))


def test_click_facts_carry_the_url_and_label() -> None:
    (c,) = run(["nav", 500, "https://shop.example/cart", "push", "Cart"], click(1000), changed(1100))
    assert c.url == "https://shop.example/cart" and c.label == "Buy" and c.vw == 1280
