"""Backdrops rendered as the visitors saw the page, and heat placed on them (issue 10: 3, 4, 6, 7, 8, 10).

Fixture pages are recorded (tests/backdrop_pages.py), rendered by the real backdrop renderer in
Chromium, and compared with the same page loaded live in Chromium with the visitor's settings.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sessionlens.chromium import DEFAULT_PATH
from sessionlens.heatmap import page_moments, raster
from sessionlens.heatmap.backdrop import Backdrop, candidate_moments, default_moment, render_backdrop
from sessionlens.heatmap.device_profile import DeviceProfile, profile_for
from sessionlens.heatmap.png_strips import encode_strips, read_text
from sessionlens.heatmap.render import _click_map, _place
from sessionlens.replay.pageview import PageViewReader
from sessionlens.stores.local import LocalStore
from tests.backdrop_pages import click, meta, scroll, snapshot, store_page_view

SITE, SID = "site-backdrop", "sess-backdrop-1"
chromium_missing = not Path(DEFAULT_PATH).exists()
needs_chromium = pytest.mark.skipif(chromium_missing, reason="Chromium is not installed")


@pytest.fixture
def store(tmp_path: Path) -> LocalStore:
    return LocalStore(tmp_path / "blobs")


def live_screenshot(html: str, device: DeviceProfile) -> np.ndarray:
    """The page itself, loaded in Chromium with the visitor's settings (scripts off, as recorded)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=DEFAULT_PATH, args=["--no-sandbox"])
        try:
            page = browser.new_context(**device.context_options(), java_script_enabled=False).new_page()
            page.set_content(html)
            png = page.screenshot(full_page=True, scale="css")
        finally:
            browser.close()
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)


def mismatch(a: np.ndarray, b: np.ndarray, tolerance: int = 16) -> float:
    """Share of pixels differing by more than `tolerance` in any channel (sizes must agree)."""
    assert a.shape == b.shape, (a.shape, b.shape)
    return float((np.abs(a - b) > tolerance).any(axis=2).mean())


def heat_peak_inside(bd: Backdrop, clicks: list[dict], selector: str) -> bool:
    result = _click_map(clicks, bd, 30, "click", None, {})
    x, y = result.hottest()
    box = bd.boxes[selector]
    return box[0] <= x <= box[0] + box[2] and box[1] <= y <= box[1] + box[3]


def a_click(selector: str, vw: float) -> dict:
    return {"selector": selector, "fx": 0.5, "fy": 0.5, "px": 0, "py": 0, "vw": vw}


PHONE_PAGE = """<!doctype html><html><head><style>
body{margin:0;font:16px sans-serif} .wide{width:900px;display:flex;gap:10px}
.card{width:280px;height:300px;background:#cde} #buy{background:#e33;width:280px;height:120px}
.hero{height:100vh;background:linear-gradient(#fff,#9bd)}
@media (min-resolution: 2dppx){ .hero{border-top:12px solid #393} }
</style></head><body><div class="hero">hero</div><div class="wide"><div class="card">a</div>
<div class="card">b</div><div id="buy">Buy</div></div><p style="height:600px">end</p></body></html>"""


@needs_chromium
def test_a_phone_without_viewport_meta_is_laid_out_as_the_phone_did(store: LocalStore) -> None:
    # A 390 x 844 phone at DPR 3 lays a page without a viewport meta tag out at 980 px, zoomed out.
    vs = 390 / 980
    snap, ids = snapshot(PHONE_PAGE)
    events = [meta(980, 844 / vs, phone=True, sw=390, sh=844, dpr=3, vs=vs, touch=5), snap,
              click(4000, ids["buy"], "#buy", vw=980)]  # fmt: skip
    store_page_view(store, SITE, SID, "pv-phone-1", events)
    reader = PageViewReader(store)
    found = page_moments.scan(reader, SITE, SID, "pv-phone-1")
    device = profile_for(found.meta, [844 / vs], 390)
    assert (device.width, device.height, device.dpr, device.mobile, device.touch) == (390, 844, 3, True, True)
    bd = render_backdrop(store, reader, SITE, SID, "pv-phone-1", found.default, 390, ["#buy"], device=device)
    assert bd.width == 980 and bd.inner_width == 980  # the phone's layout, not a cut 390 px one
    live = live_screenshot(PHONE_PAGE, device)
    assert mismatch(np.asarray(bd.image).astype(int), live) <= 0.005
    # The hero is 100vh of the phone (844 / scale CSS px) and the DPR 3 media query applied.
    assert tuple(np.asarray(bd.image)[4, 500]) == (51, 153, 51)
    assert heat_peak_inside(bd, [a_click("#buy", 980)] * 5, "#buy")


def test_an_old_meta_event_still_gives_the_phone_layout() -> None:
    old = meta(980, 2121, phone=True, sw=390, sh=844, dpr=3)  # 13 fields: no vs, no touch
    device = profile_for(old, [2121, 2100, 2200], 390)
    assert (device.width, device.height, device.mobile, device.touch) == (390, 844, True, True)
    desktop = profile_for(meta(1440, 900), [700, 900, 1000], 1440)
    assert (desktop.width, desktop.height, desktop.mobile, desktop.dpr) == (1440, 900, False, 1)


@needs_chromium
def test_a_60000_px_page_has_its_lowest_clicks_on_the_image(store: LocalStore) -> None:
    rows = "".join(f"<div class=r>{i}</div>" for i in range(60))
    page = (
        "<!doctype html><html><head><style>body{margin:0} .r{height:1000px;border-bottom:2px solid #999}"
        " #last{height:60px;background:#e33}</style></head><body>"
        + rows
        + "<div id=last>last</div></body></html>"
    )
    snap, ids = snapshot(page)
    store_page_view(
        store, SITE, SID, "pv-long-1", [meta(800, 700), snap, click(3000, ids["last"], "#last", vw=800)]
    )
    reader = PageViewReader(store)
    at = default_moment(reader, SITE, SID, "pv-long-1")
    bd = render_backdrop(
        store, reader, SITE, SID, "pv-long-1", at, 800, ["#last"], device=DeviceProfile(800, 700)
    )
    assert bd.height == bd.page_height >= 60_060 and len(bd.tiles) > 10
    assert bd.boxes["#last"][1] >= 60_000
    result = _click_map(
        [a_click("#last", 800)] * 3, bd, 30, "click", None, {"sessionlens:moment": f"{at}; x"}
    )
    x, y = result.hottest()
    assert bd.boxes["#last"][1] <= y <= bd.boxes["#last"][1] + 60
    Image.MAX_IMAGE_PIXELS = None
    image = Image.open(io.BytesIO(result.png))
    assert image.size == (800, bd.height + raster.LEGEND_BAND)
    assert read_text(result.png)["sessionlens:moment"].startswith(str(at))
    # The bottom of the page is on the image: the red element with heat over it.
    pixels = np.asarray(
        image.crop((0, int(y) - 2, 800, int(y) + 2))
    )
    assert pixels[..., 0].max() > 200


SCROLLERS = (
    """<!doctype html><html><head><style>
body{margin:0 0 0 220px;font:14px sans-serif}
#side{position:fixed;left:0;top:0;bottom:0;width:200px;overflow:auto;background:#eee}
#side a{display:block;height:40px;border-bottom:1px solid #ccc}
#wrap{width:500px;overflow-x:auto} table{border-collapse:collapse} td{min-width:100px;height:40px;border:1px solid #999}
</style></head><body><nav id="side">"""
    + "".join(f'<a id="i{i}">item {i}</a>' for i in range(60))
    + """</nav>
<div id="wrap"><table><tr>"""
    + "".join(f'<td id="c{i}">cell {i}</td>' for i in range(16))
    + """</tr></table></div>
<p style="height:2000px">text</p></body></html>"""
)


@needs_chromium
def test_sidebar_and_sideways_table_show_their_clicks_on_their_elements(store: LocalStore) -> None:
    snap, ids = snapshot(SCROLLERS)
    events = [
        meta(1024, 700), snap,
        scroll(2000, ids["side"], 0, 1500), click(2500, ids["i45"], "#i45", vw=1024),
        scroll(3000, ids["wrap"], 900, 0), click(3500, ids["c12"], "#c12", vw=1024),
        scroll(4000, None, 0, 900),  # the window scrolled: the fixed sidebar stays at the top of the image
    ]  # fmt: skip
    store_page_view(store, SITE, SID, "pv-scroll-1", events)
    reader = PageViewReader(store)
    found = page_moments.scan(reader, SITE, SID, "pv-scroll-1")
    assert found.inner_scrolls == {ids["side"]: [0, 1500], ids["wrap"]: [900, 0]}
    assert found.default < 2000  # before the first interaction
    bd = render_backdrop(store, reader, SITE, SID, "pv-scroll-1", found.default, 1024, ["#i45", "#c12", "#i0"],
                         device=DeviceProfile(1024, 700), inner_scrolls=found.inner_scrolls)  # fmt: skip
    assert bd.boxes["#i45"][4] == 0 and bd.boxes["#i45"][1] < 700  # in the sidebar's view, first viewport
    assert bd.boxes["#i0"][4] == 2  # scrolled out of the sidebar's view: counted, not drawn
    assert bd.boxes["#c12"][4] == 0 and 220 <= bd.boxes["#c12"][0] < 720
    assert heat_peak_inside(bd, [a_click("#i45", 1024)] * 4, "#i45")
    assert heat_peak_inside(bd, [a_click("#c12", 1024)] * 4, "#c12")
    xs, _, hidden, _ = _place([a_click("#i0", 1024)], bd)
    assert hidden == 1 and len(xs) == 0


MENU_PAGE = """<!doctype html><html><head><style>body{margin:0} #menu-button{width:120px;height:40px;background:#36c}
#target{margin-top:20px;width:300px;height:80px;background:#3a3}</style></head><body>
<button id="menu-button">Menu</button><div id="target">target</div><div id="host"></div></body></html>"""


@needs_chromium
def test_the_backdrop_is_the_page_before_the_menu_opened(store: LocalStore) -> None:
    from sessionlens.contracts import make_event, make_node

    snap, ids = snapshot(MENU_PAGE)
    overlay = make_node("element", id=900, parent=ids["host"], tag="div",
                        attrs={"id": "menu", "style": "position:absolute;top:40px;left:0;width:400px;height:200px;background:#000"})  # fmt: skip
    events = [
        meta(1024, 700), snap,
        make_event("mutation", t=300, removes=[], adds=[], attrs=[[ids["target"], "title", "loaded"]], texts=[]),
        click(1500, ids["menu-button"], "#menu-button", vw=1024),
        make_event("mutation", t=1510, removes=[], adds=[overlay], attrs=[], texts=[]),
        click(2500, ids["target"], "#target", vw=1024),
    ]  # fmt: skip
    store_page_view(store, SITE, SID, "pv-menu-1", events)
    reader = PageViewReader(store)
    moments = candidate_moments(reader, SITE, SID, "pv-menu-1")
    default = next(m for m in moments if m.default)
    assert default.at == 300 and default.kind == "settled"
    assert any(m.kind == "before-click" and m.at == 2499 for m in moments)  # the designer may pick it
    bd = render_backdrop(store, reader, SITE, SID, "pv-menu-1", default.at, 1024, ["#target", "#menu"],
                         device=DeviceProfile(1024, 700))  # fmt: skip
    assert "#menu" not in bd.boxes  # the menu opened after the first click: not on the backdrop
    assert heat_peak_inside(bd, [a_click("#target", 1024)] * 3, "#target")
    box = bd.boxes["#target"]
    x, y = box[0] + box[2] - 10, box[1] + box[3] - 10  # clear of the text
    assert tuple(np.asarray(bd.image)[int(y), int(x)]) == (51, 170, 51)


def test_strip_encoding_keeps_pixels_and_text() -> None:
    rng = np.random.default_rng(3)
    strips = [rng.integers(0, 255, (n, 37, 3), dtype=np.uint8) for n in (5, 11, 1)]
    png = encode_strips(37, 17, iter(strips), {"sessionlens:moment": "1234; load settled"})
    image = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))
    assert (image == np.concatenate(strips)).all()
    assert read_text(png) == {"sessionlens:moment": "1234; load settled"}
    with pytest.raises(ValueError):
        encode_strips(37, 18, iter(strips))


def test_the_legend_is_a_strip_under_the_page() -> None:
    white = io.BytesIO()
    Image.new("RGB", (300, 200), (255, 255, 255)).save(white, "PNG")
    bd = Backdrop([white.getvalue()], {"#a": [10, 10, 50, 20, 0]}, 300, 200, 200, 200, 300.0, 200)
    result = _click_map([a_click("#a", 300)] * 3, bd, 20, "click", None, {})
    image = np.asarray(Image.open(io.BytesIO(result.png)).convert("RGB"))
    assert image.shape == (200 + raster.LEGEND_BAND, 300, 3)
    page = image[:200]  # the page first, the legend strip under it (issue 13)
    assert (image[200:, :, :].max(axis=2) < 60).any()  # the strip's numbers
    assert (page[150:, :] == 255).all() and (page[:, 200:] == 255).all()  # untouched where nobody clicked
    assert page[20, 35, 0] > 200  # the heat itself, at the element, not under a legend
