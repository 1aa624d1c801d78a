"""Issue 10's done-when: heatmaps that sit on the right element, at every width, over the
page as visitors first saw it.

One small fixture site per class of the issue (tests/fixtures/heatmap_sites/s1..s9:
same-origin iframe, shadow DOM list, a menu that opens over its targets, a page
without viewport meta wider than a phone, state classes and per-visit tile order,
a 60,000 px page built lazily, a sidebar with its own scroll and a sideways
table, full-height sections with a fixed bar, icons inside controls). Scripted
visitors in real Chromium (390 px phone: mobile emulation, touch, DPR 3; 768;
1440) visit each through a live collector and the real recorder. At rest (load
settled, before the first interaction) each visit screenshots the page and
measures every target's box. Then, per site and width:

- every target holds its nearest heat maximum inside its box in the backdrop;
- no heat where nobody clicked;
- the backdrop at rest matches the live page (at most 0.5 % of pixels differ by
  more than 16 in some channel);
- the element table counts each control once, with its visible text.

All visits happen once (module-scoped fixture) and every assertion reads them.
"""

from __future__ import annotations

import io
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from PIL import Image
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from sessionlens.heatmap import raster
from sessionlens.heatmap.render import Heatmap, Selection, build_heatmap
from sessionlens.index import Index
from sessionlens.replay.pageview import PageViewReader
from tests.fidelity import MAX_SHARE, TOLERANCE, different_share
from tests.heatmap_visitors import HUMAN_UA, human_chromium
from tests.helpers import free_port
from tests.live import LiveCollector, ThreadServer, chromium, demo_snippet, wait_until

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "heatmap_sites"
RADIUS = 30
ANDROID_UA = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Mobile Safari/537.36"
)
# Device classes as their visitors' browsers are: a phone (mobile emulation, touch, DPR 3),
# a tablet-sized window and a desktop window whose height is not the backdrop's old 800.
DEVICES: dict[int, dict[str, Any]] = {
    390: {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 3, "is_mobile": True,
          "has_touch": True, "user_agent": ANDROID_UA},
    768: {"viewport": {"width": 768, "height": 1024}},
    1440: {"viewport": {"width": 1440, "height": 900}},
}  # fmt: skip
WIDTHS = tuple(DEVICES)


@dataclass(frozen=True)
class Target:
    """A control the visitors click; `parts` are the descendants clicked (None: the control itself)."""

    css: str  # pierces open shadow roots (playwright); inside the iframe when `frame`
    text: str  # its visible text, as the element table must show it
    parts: tuple[str | None, ...] = (None,)
    frame: bool = False
    hidden_at_rest: bool = False  # not on the page at rest: counted, never drawn


@dataclass(frozen=True)
class Site:
    name: str
    paths: tuple[str, ...]  # one visit per path and width; the first is the backdrop's
    targets: dict[str, Target]
    steps: tuple[
        tuple[str, Any], ...
    ]  # ("click", "target" or "target/part index"), ("scroll", y), ("wait", ms)
    pattern: str = ""
    ready: str | None = None  # JS predicate: the page has finished building itself

    @property
    def url(self) -> str:
        return self.pattern or self.paths[0]

    def clicks(self) -> Counter[str]:
        """Clicks per target over all visits at one width."""
        per_visit = Counter(arg.split("/")[0] for kind, arg in self.steps if kind == "click")
        return Counter({name: n * len(self.paths) for name, n in per_visit.items()})


SITES = {
    s.name: s
    for s in (
        Site("iframe", ("/s1.html",), {
            "top": Target(".top", "Top"),
            "frame-a": Target(".a", "Frame A", frame=True),
            "frame-b": Target(".b", "Frame B", frame=True),
        }, (("click", "top"), ("click", "frame-a"), ("click", "frame-b"), ("click", "frame-a"))),
        Site("shadow", ("/s2.html",), {
            "item-2": Target("shop-list li:nth-child(2) button", "Item 2"),
            "item-4": Target("shop-list li:nth-child(4) button", "Item 4"),
        }, (("click", "item-2"), ("click", "item-4"), ("click", "item-2"))),
        Site("menu", ("/s3.html",), {
            "menu": Target(".menu-toggle", "Menu"),
            "close": Target(".menu .close", "Close menu", hidden_at_rest=True),
            "alpha": Target(".alpha", "Alpha"),
            "beta": Target(".beta", "Beta"),
        }, (("click", "menu"), ("wait", 900), ("click", "close"), ("click", "alpha"), ("click", "beta"),
            ("click", "alpha"))),
        Site("wide-phone", ("/s4.html",), {
            "one": Target(".one", "One"), "two": Target(".two", "Two"), "three": Target(".three", "Three"),
        }, (("click", "one"), ("click", "two"), ("click", "three"))),
        Site("state-order", ("/s5/a", "/s5/b"), {
            "theme": Target("header .theme", "Theme"),
            "vegetables": Target("section.vegetables button", "Show"),
            "grains": Target("section.grains button", "Show"),
        }, (("click", "theme"), ("click", "vegetables"), ("click", "theme"), ("click", "grains")),
            pattern="/s5/*"),
        Site("long", ("/s6.html",), {
            "go-1": Target(".block[data-n='1'] button", "Go 1"),
            "go-30": Target(".block[data-n='30'] button", "Go 30"),
            "go-59": Target(".block[data-n='59'] button", "Go 59"),
        }, (("click", "go-1"), ("click", "go-30"), ("click", "go-59")),
            ready="() => document.documentElement.dataset.complete === '1'"),
        Site("scrollers", ("/s7.html",), {
            "cell": Target("td.hot", ""),
            "side-3": Target(".side a:nth-child(4)", "3"),
            "side-8": Target(".side a:nth-child(9)", "8"),
        }, (("click", "cell"), ("click", "side-3"), ("scroll", 1200), ("click", "side-8"), ("click", "side-3"))),
        Site("full-height", ("/s8.html",), {
            "chat": Target(".bar button", "Chat"),
            "next": Target("section .next", "Next"),
            "last": Target("section .last", "Last"),
        }, (("click", "chat"), ("click", "next"), ("click", "last"), ("click", "chat"))),
        Site("icons", ("/s9.html",), {
            "buy": Target(".buy", "Add to cart", parts=("svg", "span")),
            "details": Target(".details", "Details", parts=("img", "span")),
            "share": Target(".share", "Share", parts=("i", "b")),
        }, (("click", "buy/0"), ("click", "details/0"), ("click", "share/0"), ("click", "buy/1"),
            ("click", "details/1"), ("click", "share/1"), ("click", "buy/0"))),
    )
}  # fmt: skip
CASES = [(s, w) for s in SITES for w in WIDTHS]
IDS = [f"{s}-{w}" for s, w in CASES]


@dataclass
class Rest:
    """The live page at rest: what the backdrop must show and where each target is."""

    pid: str
    screenshot: bytes
    page_width: float  # CSS px: the layout viewport (980 on a phone for a page without viewport meta) or wider content
    visual: tuple[float, float]  # visual viewport, CSS px of the layout
    boxes: dict[str, list[float]] = field(default_factory=dict)  # page coordinates, CSS px


BOX_JS = """(e) => {
  const r = e.getBoundingClientRect();
  let x = r.x, y = r.y;
  for (let w = e.ownerDocument.defaultView; w.frameElement; w = w.parent) {
    const f = w.frameElement.getBoundingClientRect();
    x += f.x + w.frameElement.clientLeft; y += f.y + w.frameElement.clientTop;
  }
  return [x + window.top.scrollX, y + window.top.scrollY, r.width, r.height];
}"""


def _locator(page: Any, target: Target, part: str | None = None) -> Any:
    scope = page.frame_locator("iframe") if target.frame else page
    return scope.locator(f"{target.css} {part}" if part else target.css).first


def _visit(browser: Any, base: str, site: Site, path: str, width: int) -> Rest:
    context = browser.new_context(**{"user_agent": HUMAN_UA, **DEVICES[width]})
    try:
        page = context.new_page()
        page.goto(base + path)
        page.wait_for_function("() => window.sessionlens && window.sessionlens.pageViewId")
        if site.ready:
            page.wait_for_function(site.ready)
        page.wait_for_timeout(500)  # load settled
        rest = Rest(
            pid=page.evaluate("sessionlens.pageViewId"),
            screenshot=page.screenshot(scale="css"),
            page_width=page.evaluate(
                "Math.max(document.documentElement.clientWidth, document.documentElement.scrollWidth)"
            ),
            visual=tuple(page.evaluate("[visualViewport.width, visualViewport.height]")),
        )
        for name, target in site.targets.items():
            loc = _locator(page, target)
            rest.boxes[name] = loc.evaluate(BOX_JS) if not target.hidden_at_rest else [0, 0, 0, 0]
        for kind, arg in site.steps:
            if kind == "wait":
                page.wait_for_timeout(arg)
            elif kind == "scroll":
                page.evaluate("(y) => window.scrollTo(0, y)", arg)
                page.wait_for_timeout(300)
            else:
                name, _, index = arg.partition("/")
                target = site.targets[name]
                loc = _locator(page, target, target.parts[int(index or 0)])
                loc.tap() if DEVICES[width].get("has_touch") else loc.click()
                page.wait_for_timeout(150)
        page.wait_for_timeout(300)
        page.evaluate("() => sessionlens.flush()")
        page.wait_for_timeout(200)
        return rest
    finally:
        context.close()


@pytest.fixture(scope="module")
def visited(
    tmp_path_factory: pytest.TempPathFactory, new_collector: Callable[..., LiveCollector]
) -> Iterator[dict[str, Any]]:
    """Every site visited at every width (the first path's visit is the backdrop's page view)."""
    collector = new_collector(Path(tmp_path_factory.mktemp("heatmap-sites")) / "data")
    collector.start()
    port = free_port()
    site_key = collector.add_site(f"http://127.0.0.1:{port}")
    snippet = demo_snippet(collector, site_key, flush_ms=300)
    app = _site_app(snippet)
    rests: dict[tuple[str, int], Rest] = {}
    try:
        with ThreadServer(app, port) as server, human_chromium() as browser:
            for name, site in SITES.items():
                for width in WIDTHS:
                    for i, path in enumerate(site.paths):
                        rest = _visit(browser, server.url, site, path, width)
                        if i == 0:
                            rests[(name, width)] = rest
        expected = sum(sum(s.clicks().values()) for s in SITES.values()) * len(WIDTHS)
        wait_until(
            lambda: len(collector.index_rows("SELECT 1 FROM clicks")) >= expected
            and collector.index.work_backlog(10**6)["pending"] == 0,
            timeout=90,
            message=f"{expected} click facts",
        )
        yield {"collector": collector, "site": site_key, "rests": rests, "maps": {}}
    finally:
        collector.stop()


def _site_app(snippet: str) -> Starlette:
    """The fixture pages with the recorder in them; /s5/a and /s5/b are one page (another tile order)."""

    def page(file: str) -> Callable[[Request], Awaitable[Response]]:
        async def serve(request: Request) -> Response:
            return HTMLResponse((FIXTURES / file).read_text().replace("<!--SESSIONLENS-->", snippet))

        return serve

    routes = [Route(f"/{f.name}", page(f.name)) for f in FIXTURES.glob("s?.html")]
    return Starlette(
        routes=[*routes, Route("/s1/frame", page("s1-frame.html")), Route("/s5/{visit}", page("s5.html"))]
    )


def _selection(v: dict[str, Any], site: Site, width: int) -> Selection:
    # Phones are selected by device class: their page may be laid out (and recorded) 980 px wide.
    q = {"site": v["site"].key, "url": site.url}
    if DEVICES[width].get("is_mobile"):
        q["device"] = "mobile"
    else:
        q.update({"min_width": str(width), "max_width": str(width)})
    return Selection.from_query(q)


def _heatmap(v: dict[str, Any], name: str, width: int, kind: str = "click") -> Heatmap:
    key = (name, width, kind)
    if key not in v["maps"]:
        site, collector = SITES[name], v["collector"]
        v["maps"][key] = build_heatmap(
            collector.index, collector.store, PageViewReader(collector.store), _selection(v, site, width), kind,
            width, RADIUS, pid=v["rests"][(name, width)].pid,
        )  # fmt: skip
    return v["maps"][key]


def _boxes_on_map(v: dict[str, Any], name: str, width: int, result: Heatmap) -> dict[str, list[float]]:
    """Target boxes of the live page at rest, in the map's pixels."""
    rest = v["rests"][(name, width)]
    scale = result.width / rest.page_width
    return {
        t: [c * scale for c in box]
        for t, box in rest.boxes.items()
        if not SITES[name].targets[t].hidden_at_rest
    }


def _peaks(values: np.ndarray, floor: float = 0.15) -> np.ndarray:
    """Centres (x, y, in map pixels) of the cells no lower than their 8 neighbours and above floor."""
    padded = np.pad(values, 1, constant_values=-1)
    rows, cols = values.shape
    is_peak = values >= floor
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            if dy or dx:
                is_peak &= values >= padded[1 + dy : 1 + dy + rows, 1 + dx : 1 + dx + cols]
    ys, xs = np.nonzero(is_peak)
    return np.stack([(xs + 0.5) * raster.SCALE, (ys + 0.5) * raster.SCALE], axis=1)


@pytest.mark.parametrize(("name", "width"), CASES, ids=IDS)
def test_every_target_holds_its_heat_maximum_inside_its_box(visited: dict, name: str, width: int) -> None:
    result = _heatmap(visited, name, width)
    assert result.values is not None
    peaks = _peaks(result.values)
    assert len(peaks), f"no heat at all on {name} at {width} ({result.counted} clicks counted)"
    wrong = []
    for target, (x, y, w, h) in _boxes_on_map(visited, name, width, result).items():
        centre = np.array([x + w / 2, y + h / 2])
        nearest = peaks[np.argmin(((peaks - centre) ** 2).sum(axis=1))]
        slack = raster.SCALE  # one cell of the grid
        if not (x - slack <= nearest[0] <= x + w + slack and y - slack <= nearest[1] <= y + h + slack):
            wrong.append(
                f"{target}: box {[round(c) for c in (x, y, w, h)]}, nearest heat maximum at {nearest.tolist()}"
            )
    assert not wrong, (
        f"{name} at {width} (map {result.width}x{result.height}, {result.by_position} placed by position): {wrong}"
    )


@pytest.mark.parametrize(("name", "width"), CASES, ids=IDS)
def test_no_heat_where_nobody_clicked(visited: dict, name: str, width: int) -> None:
    result = _heatmap(visited, name, width)
    values = result.values
    assert values is not None
    rows, cols = values.shape
    centres_x = (np.arange(cols) + 0.5) * raster.SCALE
    centres_y = (np.arange(rows) + 0.5) * raster.SCALE
    clicked = np.zeros_like(values, dtype=bool)
    reach = RADIUS + 2 * raster.SCALE  # a click's blur reaches its radius around the box
    for x, y, w, h in _boxes_on_map(visited, name, width, result).values():
        in_x = (centres_x >= x - reach) & (centres_x <= x + w + reach)
        in_y = (centres_y >= y - reach) & (centres_y <= y + h + reach)
        clicked |= in_y[:, None] & in_x[None, :]
    stray = np.where(clicked, 0, values)
    worst = np.unravel_index(int(np.argmax(stray)), stray.shape)
    assert stray.max() < 0.05, (
        f"{name} at {width}: heat {stray.max():.2f} at {(worst[1] * raster.SCALE, worst[0] * raster.SCALE)}, "
        f"{int((stray >= 0.05).sum())} cells away from every target"
    )


@pytest.mark.parametrize(("name", "width"), CASES, ids=IDS)
def test_backdrop_at_rest_matches_the_live_page(
    visited: dict, name: str, width: int, tmp_path_factory: pytest.TempPathFactory
) -> None:
    # A map of a kind nobody produced (error clicks) is the backdrop with nothing drawn
    # over the page area (the legend lies outside it).
    result = _heatmap(visited, name, width, kind="error")
    rest = visited["rests"][(name, width)]
    scale = result.width / rest.page_width
    image = Image.open(io.BytesIO(result.png)).convert("RGB")
    live = Image.open(io.BytesIO(rest.screenshot)).convert("RGB")
    top = getattr(result, "band", 0)  # rows above the page (the legend's band)
    crop = image.crop((0, top, round(rest.visual[0] * scale), top + round(rest.visual[1] * scale)))
    if crop.size != live.size:  # a phone's screenshot shows the zoomed-out layout at screen size
        crop = crop.resize(live.size, Image.Resampling.LANCZOS)
    share = different_share(_png(crop), rest.screenshot, TOLERANCE)
    if share > MAX_SHARE:
        out = tmp_path_factory.mktemp(f"backdrop-{name}-{width}")
        crop.save(out / "backdrop.png")
        live.save(out / "live.png")
        pytest.fail(f"{name} at {width}: {share:.2%} of pixels differ (images in {out})")


def _png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


@pytest.mark.parametrize(("name", "width"), CASES, ids=IDS)
def test_element_table_counts_each_control_once_with_its_text(visited: dict, name: str, width: int) -> None:
    site, collector = SITES[name], visited["collector"]
    rows = _selection(visited, site, width).elements(collector.index, "click")
    expected: dict[str, list[int]] = {}
    for target, n in site.clicks().items():
        expected.setdefault(site.targets[target].text, []).append(n)
    found: dict[str, list[int]] = {}
    for r in rows:
        found.setdefault(r["text"], []).append(r["clicks"])
    table = [(r["selector"], r["text"], r["clicks"]) for r in rows]
    assert {t: sorted(c) for t, c in found.items()} == {t: sorted(c) for t, c in expected.items()}, table


@pytest.mark.parametrize("width", WIDTHS)
def test_a_60000_px_page_has_its_lowest_clicks_on_the_image(visited: dict, width: int) -> None:
    result = _heatmap(visited, "long", width)
    x, y, w, h = _boxes_on_map(visited, "long", width, result)["go-59"]
    assert result.height >= y + h, f"map is {result.height} px tall; the lowest target is at {y:.0f}"
    assert result.values is not None and result.values.shape[0] * raster.SCALE >= y + h
    rows = slice(int(y // raster.SCALE), int((y + h) // raster.SCALE) + 1)
    cols = slice(int(x // raster.SCALE), int((x + w) // raster.SCALE) + 1)
    assert result.values[rows, cols].max() > 0.5


@pytest.mark.parametrize("width", WIDTHS)
def test_sidebar_and_sideways_table_clicks_land_on_their_elements(visited: dict, width: int) -> None:
    result = _heatmap(visited, "scrollers", width)
    assert result.values is not None
    for target, (x, y, w, h) in _boxes_on_map(visited, "scrollers", width, result).items():
        rows = slice(int(y // raster.SCALE), int((y + h) // raster.SCALE) + 1)
        cols = slice(int(x // raster.SCALE), int((x + w) // raster.SCALE) + 1)
        assert result.values[rows, cols].max() > 0.5, (target, width, [x, y, w, h])


def test_the_cli_filters_by_width_as_the_api_does(
    visited: dict, tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sessionlens.cli import main

    collector, site = visited["collector"], SITES["icons"]
    if collector.index_url:  # main() reads settings from the environment, as the command does
        monkeypatch.setenv("SESSIONLENS_INDEX_URL", collector.index_url)
    per_width = sum(site.clicks().values())
    # --site=KEY: a site key may start with "-", which argparse would take for an option.
    base = ["heatmap", "--data-dir", str(collector.data_dir), f"--site={visited['site'].key}", "--url", site.url,
            "--width", "1440", "-o", str(tmp_path / "map.png"), "--csv", str(tmp_path / "top.csv")]  # fmt: skip
    # Every width's clicks: --device any (the default is the backdrop's device class only).
    assert main([*base, "--device", "any"]) == 0
    assert f": {per_width * len(WIDTHS)} click counted" in capsys.readouterr().out
    assert main([*base, "--min-width", "768", "--max-width", "768"]) == 0
    assert f": {per_width} click counted" in capsys.readouterr().out
    lines = (tmp_path / "top.csv").read_text().splitlines()
    header = next(line for line in lines if not line.startswith("# "))  # after the filter's comment lines
    assert header.startswith("selector,text,clicks")
    assert "Add to cart" in (tmp_path / "top.csv").read_text()


def test_the_png_names_the_page_view_and_moment_it_is_drawn_over(visited: dict) -> None:
    result = _heatmap(visited, "menu", 1440)
    info = Image.open(io.BytesIO(result.png)).info
    assert info["sessionlens:backdrop"] == "/".join(map(str, result.backdrop))
    assert "url=/s3.html" in info["sessionlens:selection"]


def test_moment_picker_shows_thumbnails_and_keeps_the_choice_in_the_link(visited: dict) -> None:
    from tests.viewer_live import add_viewer_user, log_in

    collector = visited["collector"]
    add_viewer_user(collector)
    rest = visited["rests"][("menu", 1440)]
    query = f"site={visited['site'].key}&url=/s3.html&min_width=1440&max_width=1440&width=1440"
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        log_in(page, collector)
        strip = page.evaluate("(q) => fetch('/api/heatmaps/moments?' + q).then((r) => r.json())", query)
        assert strip["pid"] == rest.pid
        moments = strip["moments"]
        # The menu visit has a moment at rest and later ones (menu open, closed, targets clicked).
        assert len(moments) >= 2, moments
        assert [m["at"] for m in moments] == sorted(m["at"] for m in moments)
        assert sum(m["default"] for m in moments) == 1
        page.goto(f"{collector.url}/heatmaps?{query}")
        # One button per moment; thumbnails arrive one after another as blob: URLs (the first two suffice here).
        page.wait_for_function(
            "(n) => document.querySelectorAll('.moments .moment').length === n"
            " && document.querySelectorAll('.moments .moment img[src^=\"blob:\"]').length >= 2",
            arg=len(moments),
            timeout=60_000,
        )
        later = moments[-1]
        with page.expect_navigation():
            page.click(f".moments .moment[data-at='{later['at']}']")
        params = dict(p.split("=", 1) for p in page.url.split("?", 1)[1].split("&"))
        assert params["pid"] == rest.pid and params["at"] == str(later["at"])
        page.wait_for_function("() => document.querySelector('img[alt=heatmap]').src.startsWith('blob:')")
        header = page.evaluate(
            "(q) => fetch('/api/heatmaps/image?' + q).then((r) => r.headers.get('X-Heatmap-Backdrop'))",
            page.url.split("?", 1)[1],
        )
        assert header == f"{strip['sid']}/{rest.pid}/{later['at']}"


def test_element_table_merges_the_parts_of_a_control_without_a_browser(index: Index) -> None:
    """The aggregation alone, on index rows written by hand: a button clicked on its icon, its
    caption and itself is one row with its text and its parts; a cell outside any control is
    its own row; recorded strings that would start a spreadsheet formula are made inert."""
    from sessionlens.heatmap.render import elements_csv

    url = "https://shop.example/p"
    clicks = [  # (selector, control, text, rage)
        (".buy>svg", ".buy", "Add to cart", 1), (".buy>svg", ".buy", "Add to cart", 0),
        (".buy>span", ".buy", "Add to cart", 0), (".buy", ".buy", "Add to cart", 0),
        ("td.hot", "", "", 0), ("a.evil>i", "a.evil", "=HYPERLINK(1)", 0),
    ]  # fmt: skip
    facts = [
        SimpleNamespace(t=t, url=url, selector=sel, fx=0.5, fy=0.5, px=10.0, py=10.0, vw=1440.0, pw=1440.0,
                        ph=900.0, tag="x", rage=rage, dead=0, error=0, control=ctl, text=text, anchor="",
                        ax=0.0, ay=0.0)
        for t, (sel, ctl, text, rage) in enumerate(clicks)
    ]  # fmt: skip
    index.replace_clicks("s", "sid00001", "pid00001", 1_700_000_000_000, facts)
    sel = Selection.from_query({"site": "s", "url": "/p"})
    table = sel.elements(index, "click")
    spot = sel.clicks(index, "click", ".buy")
    assert [(r["selector"], r["text"], r["clicks"], r["rage"]) for r in table] == [
        (".buy", "Add to cart", 4, 1), ("a.evil", "=HYPERLINK(1)", 1, 0), ("td.hot", "", 1, 0),
    ]  # fmt: skip
    assert table[0]["inner"] == [
        {"selector": ".buy>svg", "clicks": 2},
        {"selector": ".buy>span", "clicks": 1},
    ]
    assert table[0]["share"] == pytest.approx(4 / 6, abs=1e-4)
    assert len(spot) == 4  # the sessions behind a row: every click on the control or inside it
    csv_text = elements_csv(table)
    assert csv_text.splitlines()[0] == "selector,text,clicks,share,rage,dead,error,inner"
    assert ".buy,Add to cart,4,0.6667,1,0,0,.buy>svg=2; .buy>span=1" in csv_text
    assert "a.evil,'=HYPERLINK(1),1," in csv_text
