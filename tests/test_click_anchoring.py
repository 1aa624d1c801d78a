"""Click paths that find their element again: real Chromium visits of fixture
pages with the traps of issue 10 (a same-origin iframe, a list inside shadow
roots ordered differently per visit, classes that toggle with state, tiles in
a per-visit order, icons and captions inside links and buttons).

Each recorded path must resolve, in a fresh load of the page (in another
order where the page has one) and in the heatmap backdrop rebuilt from the
recording, to the element the visitor clicked; the click must count for its
control, with the control's visible text (masked where the page masks)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from sessionlens.contracts import field
from sessionlens.heatmap.backdrop import render_backdrop
from sessionlens.heatmap.click_paths import LOCATE_JS
from sessionlens.replay.element_paths import enriched_events
from sessionlens.replay.pageview import PageViewReader
from tests.heatmap_visitors import HUMAN_UA, human_chromium
from tests.helpers import free_port
from tests.live import LiveCollector, ThreadServer, demo_snippet, wait_until
from tests.recording import fixture_app

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "click_anchoring"
WIDTH, HEIGHT = 1024, 768
F = {name: field("click", name) for name in ("selector", "control", "text", "anchor", "ax", "ay", "fx", "fy", "px", "py")}  # fmt: skip

# The element marked data-expect=<name>, looked for through shadow roots and same-origin frames.
FIND_JS = """(name) => {
  const roots = [document];
  while (roots.length) {
    const root = roots.pop();
    const hit = root.querySelector('[data-expect="' + name + '"]');
    if (hit) return hit;
    for (const el of root.querySelectorAll("*")) {
      if (el.shadowRoot) roots.push(el.shadowRoot);
      if (el.tagName === "IFRAME" && el.contentDocument) roots.push(el.contentDocument);
    }
  }
  return null;
}"""
RESOLVES_JS = (
    "([path, name]) => {" + LOCATE_JS + "const want = (" + FIND_JS + ")(name);"
    " const got = locate(path); return !!want && !!got && got[0] === want; }"
)

# (name, page, query of the recorded visit, query of the fresh load, how to click, expected control).
CASES = [
    ("frame", "frame.html", "", "", lambda p: p.frame_locator("#widget").locator("[data-expect=frame-pro]").click(), "frame-pro"),  # noqa: E501
    ("shadow", "shadow.html", "?order=apple,banana,cherry,damson", "?order=damson,cherry,banana,apple",
     lambda p: p.locator("[data-expect=shadow-cherry]").click(), "shadow-cherry"),
    ("theme", "state.html", "", "", lambda p: (p.click("[data-expect=state-theme]"), p.wait_for_timeout(150),
                                                 p.click("[data-expect=state-theme]")), "state-theme"),
    ("flash", "state.html", "", "", lambda p: p.click("[data-expect=state-flash]"), "state-flash"),
    ("tab", "state.html", "", "", lambda p: p.click("[data-expect=state-two]"), "state-two"),
    ("tile", "tiles.html", "?order=apples,pears,carrots,leeks", "?order=carrots,leeks,pears,apples",
     lambda p: p.click("[data-expect=tile-carrots] .caption"), "tile-carrots"),
    ("icon", "icon.html", "", "", lambda p: p.click("[data-expect=icon-pricing] path"), "icon-pricing"),
    ("cart", "icon.html", "", "", lambda p: p.click("[data-expect=icon-cart] i"), "icon-cart"),
    ("menu", "icon.html", "", "", lambda p: p.click("[data-expect=icon-menu] .bars"), "icon-menu"),
    ("secret", "icon.html", "", "", lambda p: p.click("[data-expect=icon-secret] .who"), "icon-secret"),
]  # fmt: skip


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory, new_collector: Callable[..., LiveCollector]) -> Iterator[dict]:
    collector = new_collector(Path(tmp_path_factory.mktemp("anchoring")) / "data")
    collector.start()
    port = free_port()
    site = collector.add_site(f"http://127.0.0.1:{port}")
    app = fixture_app({"<!--SESSIONLENS-->": demo_snippet(collector, site, flush_ms=300)}, root=FIXTURES)
    visits: dict[str, dict] = {}
    with ThreadServer(app, port) as server, human_chromium() as browser:
        for name, path, query, _, act, expect in CASES:
            page = browser.new_page(viewport={"width": WIDTH, "height": HEIGHT}, user_agent=HUMAN_UA)
            page.goto(f"{server.url}/{path}{query}")
            page.wait_for_function("() => window.sessionlens && window.sessionlens.pageViewId")
            if name == "frame":
                page.wait_for_function("() => document.getElementById('widget').contentDocument.querySelector('.plan')")
            page.wait_for_timeout(400)
            act(page)
            scope = page.frame_locator("#widget") if name == "frame" else page
            box = scope.locator(f"[data-expect={expect}]").bounding_box()  # top page's viewport, frames included
            scroll = page.evaluate("[scrollX, scrollY]")
            page.evaluate("() => sessionlens.flush()")
            pid = page.evaluate("sessionlens.pageViewId")
            visits[name] = {"pid": pid, "box": [box["x"] + scroll[0], box["y"] + scroll[1], box["width"], box["height"]]}
            page.close()

        def clicks(pid: str) -> list:
            # Named by the server from the recorded DOM, as every reader of the recording does.
            chunks = sorted((c for c in collector.chunks(site) if c["pid"] == pid), key=lambda c: c["seq"])
            events = ((c["seq"], e) for c in chunks for e in c["events"])
            return [e for _, e in enriched_events(events) if e[0] == "click"]

        for name, *_ in CASES:
            wait_until(lambda n=name: clicks(visits[n]["pid"]), timeout=20, message=f"the {name} click")
            visits[name]["clicks"] = clicks(visits[name]["pid"])
        yield {"collector": collector, "site": site, "server": server, "browser": browser, "visits": visits}
    collector.stop()


def _case(name: str) -> tuple:
    return next(c for c in CASES if c[0] == name)


@pytest.mark.parametrize("name", [c[0] for c in CASES])
def test_a_recorded_path_finds_the_clicked_control_in_a_fresh_load(rig: dict, name: str) -> None:
    _, path, _, fresh_query, _, expect = _case(name)
    click = rig["visits"][name]["clicks"][0]
    page = rig["browser"].new_page(viewport={"width": WIDTH, "height": HEIGHT})
    try:
        page.goto(f"{rig['server'].url}/{path}{fresh_query}")
        if name == "frame":
            page.wait_for_function("() => document.getElementById('widget').contentDocument.querySelector('.plan')")
        assert page.evaluate(RESOLVES_JS, [click[F["control"]], expect]), click
        # The target itself (an icon, a caption) resolves inside that control.
        inside = page.evaluate(
            "([path, name]) => {" + LOCATE_JS + "const want = (" + FIND_JS + ")(name);"
            " const got = locate(path); return !!got && want.contains(got[0]); }",
            [click[F["selector"]], expect],
        )
        assert inside, click
    finally:
        page.close()


def test_frame_and_shadow_clicks_cross_their_roots_in_top_page_coordinates(rig: dict) -> None:
    frame = rig["visits"]["frame"]
    click = frame["clicks"][0]
    assert click[F["selector"]].startswith("#widget >>> ")
    x, y, w, h = frame["box"]
    assert x <= click[F["px"]] <= x + w and y <= click[F["py"]] <= y + h
    shadow = rig["visits"]["shadow"]["clicks"][0]
    assert " >>> " in shadow[F["selector"]] and ":text(cherry" in shadow[F["selector"]]
    assert ":nth-of-type" not in shadow[F["selector"]].split(" >>> ")[1]


def test_paths_carry_no_state_classes_and_no_positions_where_order_varies(rig: dict) -> None:
    theme = rig["visits"]["theme"]["clicks"]
    assert len(theme) == 2 and theme[0][F["selector"]] == theme[1][F["selector"]]  # before and after the toggle
    for name in ("theme", "flash", "tab", "tile"):
        path = rig["visits"][name]["clicks"][0][F["selector"]]
        for word in ("dark", "light", "pulse", "is-current", "nth-of-type"):
            assert word not in path, (name, path)
    assert "section.tile.carrots" in rig["visits"]["tile"]["clicks"][0][F["selector"]]


def test_clicks_count_for_their_control_with_its_visible_text(rig: dict) -> None:
    pids = tuple(rig["visits"][n]["pid"] for n in ("icon", "cart", "menu", "secret", "tile"))
    wait_until(
        lambda: len(rig["collector"].index_rows(f"SELECT 1 FROM clicks WHERE pid IN ({','.join('?' * len(pids))})", pids)) == 5,
        timeout=20, message="click facts in the index",
    )  # fmt: skip
    rows = {
        name: rig["collector"].index_rows(
            "SELECT selector, control, text, anchor, ax, ay FROM clicks WHERE pid = ?", (rig["visits"][name]["pid"],)
        )
        for name in ("icon", "cart", "menu", "secret", "tile")
    }
    for name, text in (("icon", "Pricing"), ("cart", "★ Cart"), ("menu", "☰ Menu"), ("tile", "Add to basket")):
        (row,) = rows[name]
        assert row["control"] and row["control"] != row["selector"], row  # the inner element is kept as detail
        assert row["selector"].startswith(row["control"] + ">"), row
        assert row["text"] == text, row
    # Inside data-sl-mask the text is masked like the page's recorded text.
    (secret,) = rows["secret"]
    assert secret["text"] == "**** ******", secret
    # The caption's anchor is the nearest ancestor told by more than position (its button), offset inside it.
    (tile,) = rows["tile"]
    assert tile["anchor"] == tile["control"], tile
    assert 0 < tile["ax"] < 150 and 0 < tile["ay"] < 40, tile


def test_the_backdrop_resolves_every_path_onto_the_clicked_control(rig: dict) -> None:
    collector, site = rig["collector"], rig["site"]
    store = collector.store
    reader = PageViewReader(store)
    for name in ("frame", "shadow", "tile", "icon", "theme"):
        visit = rig["visits"][name]
        click = visit["clicks"][0]
        paths = [click[F["selector"]], click[F["control"]], click[F["anchor"]]]
        # In a thread of its own: this thread's playwright (the module's browser) runs an event loop.
        with ThreadPoolExecutor(1) as pool:
            backdrop = pool.submit(
                render_backdrop, store, reader, site.key, _sid(collector, visit["pid"]), visit["pid"], click[1],
                WIDTH, paths, viewport_height=HEIGHT,
            ).result()  # fmt: skip
        assert not backdrop.plain
        box = backdrop.boxes.get(click[F["selector"]])
        assert box is not None, (name, click[F["selector"]], backdrop.boxes)
        point = (box[0] + click[F["fx"]] * box[2], box[1] + click[F["fy"]] * box[3])
        x, y, w, h = visit["box"]
        assert x - 1 <= point[0] <= x + w + 1 and y - 1 <= point[1] <= y + h + 1, (name, point, visit["box"])
        control = backdrop.boxes.get(click[F["control"]])
        assert control is not None and abs(control[0] - x) <= 2 and abs(control[1] - y) <= 2, (name, control, visit["box"])
        anchor = backdrop.boxes.get(click[F["anchor"]])
        assert anchor is not None, (name, click[F["anchor"]])
        # The fallback point (anchor box + offset) is on the control too.
        fallback = (anchor[0] + click[F["ax"]], anchor[1] + click[F["ay"]])
        assert x - 2 <= fallback[0] <= x + w + 2 and y - 2 <= fallback[1] <= y + h + 2, (name, fallback, visit["box"])


def _sid(collector: LiveCollector, pid: str) -> str:
    (row,) = collector.index_rows("SELECT sid FROM page_views WHERE pid = ?", (pid,))
    return row["sid"]


def test_a_click_whose_target_is_gone_falls_back_to_its_anchor_not_the_page() -> None:
    from types import SimpleNamespace

    from sessionlens.heatmap.render import _place

    bd = SimpleNamespace(boxes={"#list": [100.0, 2000.0, 300.0, 400.0, 0], "#gone": [0, 0, 10, 10, 1]},
                         inner_width=1024, width=1024)  # fmt: skip
    base = {"fx": 0.5, "fy": 0.5, "px": 700.0, "py": 90.0, "vw": 1024}
    clicks = [
        {**base, "selector": "#list>li:text(Pears)", "anchor": "#list", "ax": 40.0, "ay": 130.0},
        {**base, "selector": "#x>b", "anchor": "#gone", "ax": 5.0, "ay": 5.0},  # anchor hidden: page position
        {**base, "selector": "#y>b", "anchor": "", "ax": 0.0, "ay": 0.0},
    ]
    xs, ys, hidden, by_position = _place(clicks, bd)
    assert (xs[0], ys[0]) == (140.0, 2130.0)
    assert list(zip(xs[1:], ys[1:], strict=True)) == [(700.0, 90.0), (700.0, 90.0)]
    assert (hidden, by_position) == (0, 2)
