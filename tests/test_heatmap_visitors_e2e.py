"""Issue 13's heatmap acceptance with real Chromium visitors running the real recorder: a map
filtered by experiment variant shows only that variant's clicks; the fold per device class sits
within 2 % of the visitors' viewport heights; the PNG's legend strip lies below the page area; the
empty state renders in the viewer (both index backends).

Visitors are people to the product (no automation flag, a plain Chrome user agent; see
tests/heatmap_visitors.py): a desktop window, an Android tablet and a phone in mobile emulation,
each in variant A or B of one experiment, clicking known buttons a known number of times."""

from __future__ import annotations

import io
import json
import re
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import numpy as np
import pytest
from PIL import Image
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from sessionlens.auth.users import Accounts
from sessionlens.heatmap import raster
from tests.heatmap_visitors import HUMAN_UA, Visitors, human_chromium, recorder_ready
from tests.helpers import free_port
from tests.live import LiveCollector, ThreadServer, demo_snippet, wait_until
from tests.viewer_live import VIEWER_USER, add_viewer_user, log_in

TABLET_UA = (
    "Mozilla/5.0 (Linux; Android 14; SM-X710) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36"
)
PHONE_UA = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Mobile Safari/537.36"
)
DEVICES: dict[str, dict[str, Any]] = {
    "desktop": {"viewport": {"width": 1280, "height": 800}, "user_agent": HUMAN_UA},
    "tablet": {
        "viewport": {"width": 800, "height": 1180},
        "user_agent": TABLET_UA,
        "device_scale_factor": 2,
        "is_mobile": True,
        "has_touch": True,
    },
    "mobile": {
        "viewport": {"width": 390, "height": 844},
        "user_agent": PHONE_UA,
        "device_scale_factor": 3,
        "is_mobile": True,
        "has_touch": True,
    },
}
# name: (device, variant, clicks on #buy, clicks on #info, scroll to)
VISITORS = {
    "desk-a1": ("desktop", "A", 2, 0, 1200),
    "desk-a2": ("desktop", "A", 1, 0, 0),
    "desk-b1": ("desktop", "B", 0, 3, 600),
    "tab-a": ("tablet", "A", 1, 0, 900),
    "phone-a": ("mobile", "A", 1, 0, 1500),
    "phone-b": ("mobile", "B", 0, 2, 0),
}
TOTAL_BY_WIDTH = {1280: 6, 800: 1, 390: 3}  # clicks per device class, both variants
PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Landing</title>
<style>
  body { margin: 0; font: 18px sans-serif; height: 3200px; background: #f6f7fb; }
  header { height: 80px; background: #1d2330; color: #fff; padding: 20px; box-sizing: border-box; }
  button { display: block; width: 280px; height: 64px; margin: 24px; font-size: 20px; }
</style>
<!--SNIPPET-->
</head><body>
<header>Shop</header>
<button id="buy" onclick="this.dataset.n = (+this.dataset.n || 0) + 1">Buy now</button>
<button id="info" onclick="this.dataset.n = (+this.dataset.n || 0) + 1">More info</button>
</body></html>"""


def site_app(snippet: str) -> Starlette:
    html = PAGE.replace("<!--SNIPPET-->", snippet)

    async def landing(request: Request) -> Response:
        return HTMLResponse(html)

    return Starlette(routes=[Route("/landing", landing)])


def visit(v: Visitors, base: str, device: str, variant: str, buys: int, infos: int, scroll: int) -> str:
    context = v.context(**DEVICES[device])
    try:
        page = context.new_page()
        page.goto(f"{base}/landing")
        recorder_ready(page)
        page.evaluate("(v) => sessionlens.experiment('checkout', v)", variant)
        touch = DEVICES[device].get("has_touch", False)
        for selector, times in (("#buy", buys), ("#info", infos)):
            for n in range(1, times + 1):
                # Real input: a tap on touch screens, a mouse click elsewhere (1.2 s apart: not rage).
                page.tap(selector) if touch else page.click(selector)
                page.wait_for_function(f"() => document.querySelector('{selector}').dataset.n === '{n}'")
                page.wait_for_timeout(1_200)
        if scroll:
            page.evaluate(f"() => scrollTo(0, {scroll})")
            page.wait_for_function(f"() => scrollY >= {scroll - 1}")
            page.wait_for_timeout(400)  # scrolling is sampled: the end position goes out
        if not touch:
            page.mouse.move(300, 300)
        return v.finish(page, f"{device} {variant}")
    finally:
        context.close()


@pytest.fixture(scope="module")
def rig(
    tmp_path_factory: pytest.TempPathFactory, new_collector: Callable[..., LiveCollector]
) -> Iterator[dict[str, Any]]:
    collector = new_collector(Path(tmp_path_factory.mktemp("heatmap-visitors")) / "data")
    collector.start()
    add_viewer_user(collector)
    token = Accounts(collector.store).create_token(VIEWER_USER, "heatmap-e2e", scope="read")
    port = free_port()
    site = collector.add_site(f"http://127.0.0.1:{port}")
    try:
        with ThreadServer(site_app(demo_snippet(collector, site, flush_ms=300)), port) as server:
            with human_chromium() as browser:
                visitors = Visitors(browser)
                sids = {name: visit(visitors, server.url, *spec) for name, spec in VISITORS.items()}
                assert len(set(sids.values())) == len(sids)
                rig = {"collector": collector, "site": site, "token": token, "sids": sids, "browser": browser}
                clicks = sum(v[2] + v[3] for v in VISITORS.values())
                index = collector.index

                def derived() -> bool:
                    return (
                        len(collector.index_rows("SELECT 1 FROM clicks")) >= clicks
                        and len(collector.index_rows(
                            "SELECT 1 FROM session_attrs WHERE scope = 'experiment'"
                        )) >= len(VISITORS)
                        and index.work_backlog(10**6)["pending"] == 0
                    )  # fmt: skip

                wait_until(derived, timeout=90, interval=0.5, message="clicks and variants derived")
                rows = collector.index_rows("SELECT sid, is_bot FROM sessions")
                assert not [r for r in rows if r["is_bot"]], rows  # people, not bots
                yield rig
    finally:
        collector.stop()


def call(rig: dict[str, Any], path: str, **params: Any) -> tuple[int, Any, bytes]:
    query = urlencode([("site", rig["site"].key), ("url", "/landing"), *params.items()])
    request = urllib.request.Request(
        f"{rig['collector'].url}{path}?{query}", headers={"Authorization": f"Bearer {rig['token']}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=120) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers, exc.read()


def summary(rig: dict[str, Any], **params: Any) -> dict[str, Any]:
    status, _, body = call(rig, "/api/heatmaps/image", format="json", **params)
    assert status == 200, body
    return json.loads(body)


def elements(rig: dict[str, Any], **params: Any) -> dict[str, int]:
    status, _, body = call(rig, "/api/heatmaps/elements", **params)
    assert status == 200, body
    return {e["selector"]: e["clicks"] for e in json.loads(body)["elements"]}


@pytest.mark.parametrize(
    ("width", "variant", "expected"),
    [
        (1280, "A", {"#buy": 3}),
        (1280, "B", {"#info": 3}),
        (800, "A", {"#buy": 1}),
        (390, "A", {"#buy": 1}),
        (390, "B", {"#info": 2}),
    ],
)
def test_a_map_filtered_by_variant_has_only_that_variants_clicks(
    rig: dict[str, Any], width: int, variant: str, expected: dict[str, int]
) -> None:
    got = summary(rig, width=width, experiment=f"checkout:{variant}")
    assert got["counted"] == sum(expected.values())
    assert elements(rig, width=width, experiment=f"checkout:{variant}") == expected
    # Without the filter both variants of the device class are there, and only that class.
    assert summary(rig, width=width)["counted"] == TOTAL_BY_WIDTH[width]


def test_the_fold_per_device_class_is_the_visitors_viewport_height(rig: dict[str, Any]) -> None:
    got = summary(rig, width=1280, type="scroll", device="any")
    folds = {name: lines["fold"] for name, lines in got["lines_by_device"].items()}
    for device, spec in DEVICES.items():
        height = spec["viewport"]["height"]
        assert abs(folds[device] - height) <= 0.02 * height, (device, folds)
    # Each device class's own scroll map has its fold where its visitors' windows ended.
    for device, width in (("desktop", 1280), ("mobile", 390)):
        own = summary(rig, width=width, type="scroll")
        height = DEVICES[device]["viewport"]["height"]
        assert own["filter"]["device"] == device
        assert abs(own["lines"]["fold"] - height) <= 0.02 * height, (device, own["lines"])


def test_the_png_legend_lies_below_the_page_area(rig: dict[str, Any]) -> None:
    status, headers, png = call(rig, "/api/heatmaps/image", width=1280, experiment="checkout:A")
    assert status == 200
    image = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))
    page_height = int(headers["X-Heatmap-Page-Height"])
    legend_top = int(headers["X-Heatmap-Legend-Top"])
    assert legend_top >= page_height and image.shape[0] == legend_top + raster.LEGEND_BAND
    strip, page = image[legend_top:], image[:page_height]
    # The ramp (red end, blue start) and its numbers are in the strip...
    assert ((strip[..., 0] > 200) & (strip[..., 1] < 60) & (strip[..., 2] < 60)).any()
    assert ((strip[..., 2] > 200) & (strip[..., 0] < 60)).any()
    # ...and the page area's top rows are the page (its dark header), not a legend over it.
    header_rows = page[10:70, 400:1200]
    assert np.median(header_rows.reshape(-1, 3), axis=0).max() < 80


def test_the_empty_state_renders_in_the_viewer(rig: dict[str, Any]) -> None:
    status, headers, body = call(rig, "/api/heatmaps/image", width=1280, experiment="checkout:C")
    assert status == 404 and json.loads(body)["empty"] is True
    collector, site = rig["collector"], rig["site"]
    page = rig["browser"].new_page(viewport={"width": 1500, "height": 950})
    try:
        log_in(page, collector)
        page.goto(f"{collector.url}/heatmaps?site={site.key}&url=/landing&width=1280&experiment=checkout:C")
        page.wait_for_selector(".heatmap-empty:not([hidden])", timeout=60_000)
        assert "No data for this selection" in page.inner_text(".heatmap-empty")
        assert page.locator("img.heatmap-image").count() == 0
        # The variant's map renders with its legend beside the image, not on it.
        page.goto(f"{collector.url}/heatmaps?site={site.key}&url=/landing&width=1280&experiment=checkout:B")
        page.wait_for_function(
            "() => { const i = document.querySelector('img.heatmap-image'); return i && i.naturalWidth > 0 }",
            timeout=120_000,
        )
        assert re.search(r"3 clicks on 1 page view(?!s)", page.inner_text(".heatmap-legend"))
    finally:
        page.close()
