"""The heatmap screen (issue 13 item 3): maps filtered by segment and experiment variant, one
device class per map by default, the legend strip under the PNG with its numbers, a diverging
legend for a difference map, the empty state, the element file's filter header, hot-spot
sessions with replay links, and the viewer page in real Chromium (both index backends).

Visits are posted to the real collector as browsers post them (a human user agent; one bot),
derived by the real derivation pass; backdrops are rendered by the real Chromium."""

from __future__ import annotations

import csv
import io
import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import numpy as np
import pytest
from PIL import Image

from sessionlens.auth.users import Accounts
from sessionlens.contracts import make_event, make_node
from sessionlens.heatmap import raster
from sessionlens.heatmap.png_strips import read_text
from tests.helpers import new_id
from tests.live import CHROMIUM, CHROMIUM_ARGS, LiveCollector, wait_until
from tests.viewer_live import add_viewer_user, log_in, post_batch

ORIGIN = "https://shop.example"
PAGE = f"{ORIGIN}/landing"
DESKTOP_UA = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"
)
PHONE_UA = ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/126.0.0.0 Mobile Safari/537.36")  # fmt: skip
BOT_UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0 Safari/537.36"
DESKTOP_VH, PHONE_VH = 800, 844


def snapshot() -> list[Any]:
    """A page with two buttons near the top and a tall body (so there is something to scroll)."""
    box = "display:block;width:300px;height:60px;margin:20px;font-size:20px"
    nodes = [
        make_node("document", id=1),
        make_node("doctype", id=2, parent=1, name="html", publicId="", systemId=""),
        make_node("element", id=3, parent=1, tag="html", attrs={}),
        make_node("element", id=9, parent=3, tag="head", attrs={}),
        make_node(
            "element",
            id=10,
            parent=9,
            tag="meta",
            attrs={"name": "viewport", "content": "width=device-width"},
        ),
        make_node("element", id=4, parent=3, tag="body", attrs={"style": "margin:0;height:3000px"}),
        make_node("element", id=5, parent=4, tag="button", attrs={"id": "buy", "style": box}),
        make_node("text", id=6, parent=5, text="Buy now"),
        make_node("element", id=7, parent=4, tag="button", attrs={"id": "info", "style": box}),
        make_node("text", id=8, parent=7, text="More info"),
    ]
    return make_event("snapshot", t=5, part=0, last=True, nodes=nodes)


def meta(phone: bool, bot: bool) -> list[Any]:
    vw, vh = (390, PHONE_VH) if phone else (1280, DESKTOP_VH)
    ua = PHONE_UA if phone else BOT_UA if bot else DESKTOP_UA
    return make_event(
        "meta", t=0, url=PAGE, referrer="", title="Landing", vw=vw, vh=vh, sw=vw, sh=vh + 100,
        dpr=3 if phone else 1, ua=ua, lang="en-US", tz="UTC", lw=vw, lh=vh, vs=1, touch=5 if phone else 0,
        webdriver=1 if bot else 0, brands="Chromium;Google Chrome",
    )  # fmt: skip


def click(t: int, selector: str, text: str, vw: int) -> list[Any]:
    y = 50 if selector == "#buy" else 130
    return make_event(
        "click", t=t, target=5 if selector == "#buy" else 7, selector=selector, fx=0.5, fy=0.5, px=170, py=y,
        cx=170, cy=y, button=0, pointer="mouse", pw=vw, ph=3000, tag="button", flags="", control=selector,
        text=text, anchor="", ax=0, ay=0,
    )  # fmt: skip


# name: (variant, phone, bot, clicks on #buy, clicks on #info, deepest scroll)
VISITS = {
    "a1": ("A", False, False, 2, 0, 1000),
    "a2": ("A", False, False, 1, 0, 0),
    "b1": ("B", False, False, 0, 3, 400),
    "phone": ("A", True, False, 1, 0, 2000),
    "bot": ("B", False, True, 5, 0, 0),
}


def record(collector: LiveCollector, site: Any) -> dict[str, str]:
    sids = {}
    t0 = int(time.time() * 1000) - 3_600_000
    for i, (name, (variant, phone, bot, buys, infos, scroll)) in enumerate(VISITS.items()):
        vw = 390 if phone else 1280
        events = [
            meta(phone, bot),
            snapshot(),
            make_event("experiment", t=10, name="checkout", variant=variant),
        ]
        t = 1000
        # Pointer movement and a scroll: humans move (a session without input is a bot).
        events.append(make_event("move", t=500, x=100, y=100, target=4))
        if scroll:
            events.append(make_event("scroll", t=600, target=None, x=0, y=scroll, sw=vw, sh=3000))
        for _ in range(buys):
            events.append(click(t, "#buy", "Buy now", vw))
            t += 2000
        for _ in range(infos):
            events.append(click(t, "#info", "More info", vw))
            t += 2000
        sid = new_id()
        sids[name] = sid
        body = {"v": 1, "sid": sid, "pid": new_id(), "seq": 0, "t0": t0 + i * 60_000, "events": events}
        post_batch(collector, site, ORIGIN, body)
    return sids


@pytest.fixture(scope="module")
def rig(
    tmp_path_factory: pytest.TempPathFactory, new_collector: Callable[..., LiveCollector]
) -> Iterator[dict]:
    collector = new_collector(Path(tmp_path_factory.mktemp("screen")) / "data")
    collector.start()
    site = collector.add_site(ORIGIN)
    add_viewer_user(collector)
    token = Accounts(collector.store).create_token("researcher", "tests", scope="read")
    sids = record(collector, site)
    total = sum(v[3] + v[4] for v in VISITS.values())
    wait_until(
        lambda: len(collector.index_rows("SELECT 1 FROM clicks")) >= total, timeout=60, message="clicks"
    )
    wait_until(
        lambda: len(collector.index_rows("SELECT 1 FROM session_attrs WHERE scope = 'experiment'")) >= len(VISITS),
        timeout=60, message="experiment variants derived",
    )  # fmt: skip
    yield {"collector": collector, "site": site, "token": token, "sids": sids}
    collector.stop()


def call(rig: dict, path: str, **params: Any) -> tuple[int, Any, bytes]:
    pairs = [(k, v) for k, vs in params.items() for v in (vs if isinstance(vs, list) else [vs])]
    query = urlencode([("site", rig["site"].key), ("url", "/landing"), *pairs])
    request = urllib.request.Request(
        f"{rig['collector'].url}{path}?{query}", headers={"Authorization": f"Bearer {rig['token']}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=120) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers, exc.read()


def summary(rig: dict, **params: Any) -> dict[str, Any]:
    status, _, body = call(rig, "/api/heatmaps/image", format="json", **params)
    assert status == 200, body
    return json.loads(body)


def test_variant_and_segment_filters_change_the_counts_exactly(rig: dict) -> None:
    # Desktop map by default (width 1280): a1 2 + a2 1 + b1 3 clicks; the bot's 5 are left out.
    assert summary(rig, width=1280)["counted"] == 6
    assert summary(rig, width=1280, experiment="checkout:A")["counted"] == 3
    assert summary(rig, width=1280, experiment="checkout:B")["counted"] == 3
    assert summary(rig, width=1280, bots="include")["counted"] == 11
    # Any session-list filter: a visitor who clicked "More info" (b1) only.
    assert summary(rig, width=1280, clicked="More info")["counted"] == 3
    # A saved segment (the session list's own, /api/segments) works as a filter.
    from sessionlens.saved_docs import SavedDocs

    doc = SavedDocs(rig["collector"].store, rig["collector"].index).create(
        "segment",
        rig["site"].key,
        "researcher",
        name="Variant A",
        body={"filters": [["experiment", "checkout:A"]]},
    )
    got = summary(rig, width=1280, segment=doc.id)
    assert got["counted"] == 3 and got["filter"]["segment"] == doc.id
    # The element table follows the same filters.
    status, _, body = call(rig, "/api/heatmaps/elements", width=1280, experiment="checkout:B")
    rows = json.loads(body)
    assert status == 200 and [(e["selector"], e["clicks"]) for e in rows["elements"]] == [("#info", 3)]
    assert rows["filter"]["filters"] == [["experiment", "checkout:B"]]
    # Bad filters are a 400 naming them.
    status, _, body = call(rig, "/api/heatmaps/image", experiment="checkout")
    assert status == 200 or status == 400  # "checkout" alone = has the experiment: valid
    status, _, body = call(rig, "/api/heatmaps/image", channel="nope")
    assert status == 400 and b"channel" in body
    status, _, body = call(rig, "/api/heatmaps/image", segment="no-such-segment")
    assert status == 400 and b"segment" in body


def test_device_class_by_default_and_the_fold_per_class(rig: dict) -> None:
    desktop = summary(rig, width=1280)
    phone = summary(rig, width=390)
    assert desktop["filter"]["device"] == "desktop" and desktop["filter"].get("device_chosen")
    # The phone's click is not scaled into the desktop map, and is the phone map's only one.
    assert phone["filter"]["device"] == "mobile" and phone["counted"] == 1
    assert summary(rig, width=1280, device="any")["counted"] == 7
    scroll = summary(rig, width=1280, type="scroll", device="any")
    folds = {d: lines["fold"] for d, lines in scroll["lines_by_device"].items()}
    assert abs(folds["desktop"] - DESKTOP_VH) <= 0.02 * DESKTOP_VH
    assert abs(folds["mobile"] - PHONE_VH) <= 0.02 * PHONE_VH
    # The phone's own scroll map: its fold where its viewport was.
    phone_scroll = summary(rig, width=390, type="scroll")
    assert abs(phone_scroll["lines"]["fold"] - PHONE_VH) <= 0.02 * PHONE_VH


def test_the_legend_is_a_strip_under_the_page_with_numbers(rig: dict) -> None:
    status, headers, png = call(rig, "/api/heatmaps/image", width=1280)
    assert status == 200
    image = Image.open(io.BytesIO(png)).convert("RGB")
    height = int(headers["X-Heatmap-Page-Height"])
    assert int(headers["X-Heatmap-Page-Top"]) == 0 and int(headers["X-Heatmap-Legend-Top"]) == height
    assert image.size[1] == height + raster.LEGEND_BAND
    strip = np.asarray(image)[height:]
    # The ramp's red end and blue start are in the strip, and dark text (numbers) under it.
    assert ((strip[..., 0] > 200) & (strip[..., 1] < 60) & (strip[..., 2] < 60)).any()
    assert ((strip[..., 2] > 200) & (strip[..., 0] < 60)).any()
    assert (strip[50:, :, :].max(axis=2) < 60).sum() > 50
    legend = json.loads(read_text(png)["sessionlens:legend"])
    assert (
        legend["type"] == "sequential"
        and "6 clicks on" in legend["title"]
        and "click clicks" not in legend["title"]
    )
    ticks = legend["ticks"]
    assert [t["position"] for t in ticks] == [0, 0.25, 0.5, 0.75, 1]
    assert ticks[0]["clicks"] == 0 and ticks[-1]["clicks"] > ticks[1]["clicks"] > 0
    # % of page views: clicks / the selection's 3 desktop page views.
    assert legend["page_views"] == 3
    assert ticks[-1]["percent_of_page_views"] == pytest.approx(100 * ticks[-1]["clicks"] / 3, abs=0.05)


def test_a_difference_map_has_a_diverging_legend(rig: dict) -> None:
    got = summary(rig, width=1280, experiment="checkout:A", compare_experiment="checkout:B")
    legend = got["legend"]
    assert legend["type"] == "diverging"
    assert (legend["a"]["clicks"], legend["b"]["clicks"]) == (3, 3)
    values = [t["difference_pp"] for t in legend["ticks"]]
    assert values[0] < 0 and values[2] == 0 and values[4] > 0 and values[0] == -values[4]
    assert (
        legend["colours"][0] != legend["colours"][-1]
        and min(int(legend["colours"][2][i : i + 2], 16) for i in (1, 3, 5)) > 240
    )
    status, _, png = call(rig, "/api/heatmaps/image", width=1280, experiment="checkout:A",
                          compare_experiment="checkout:B")  # fmt: skip
    image = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))
    strip = image[got["legend_top"] :]
    # Blue, white and red in the legend strip; no rainbow green.
    assert ((strip[..., 2] > 150) & (strip[..., 0] < 60)).any() and (
        (strip[..., 0] > 150) & (strip[..., 2] < 60)
    ).any()
    assert not ((strip[..., 1] > 200) & (strip[..., 0] < 80) & (strip[..., 2] < 80)).any()
    # Side by side: each side alone over the same backdrop.
    a = summary(rig, width=1280, experiment="checkout:A", compare_experiment="checkout:B", side="a")
    b = summary(rig, width=1280, experiment="checkout:A", compare_experiment="checkout:B", side="b")
    assert (a["counted"], b["counted"]) == (3, 3) and a["backdrop"] == b["backdrop"]


def test_the_empty_state_is_an_explicit_answer(rig: dict) -> None:
    status, headers, body = call(rig, "/api/heatmaps/image", experiment="checkout:C")
    assert status == 404 and headers["Content-Type"].startswith("application/json")
    got = json.loads(body)
    assert got["empty"] is True and "no data" in got["error"]
    assert got["filter"]["filters"] == [["experiment", "checkout:C"]] and got["filter"]["url"] == "/landing"


def test_element_files_carry_the_filter_and_spots_link_replays(rig: dict) -> None:
    status, _, body = call(rig, "/api/heatmaps/elements", width=1280, experiment="checkout:A", format="csv")
    text = body.decode()
    assert status == 200, text
    header = [line for line in text.splitlines() if line.startswith("#")]
    assert header[0] == "# sessionlens heatmap elements"
    assert any(line.startswith("# filter: ") and "experiment=checkout:A" in line for line in header)
    rows = list(csv.DictReader(line for line in text.splitlines() if not line.startswith("#")))
    assert [
        (r["selector"], r["text"], r["clicks"], r["share"], r["rage"], r["dead"], r["error"]) for r in rows
    ] == [
        ("#buy", "Buy now", "3", "1.0", "0", "3", "0")  # no page change after them: dead clicks
    ]
    status, _, body = call(rig, "/api/heatmaps/sessions", width=1280, selector="#buy")
    got = json.loads(body)
    by_sid = {s["sid"]: s for s in got["sessions"]}
    a1 = by_sid[rig["sids"]["a1"]]
    # a1's clicks at 1000 and 3000 ms into its only page view (which starts the session).
    assert [m["t"] for m in a1["moments"]] == [1000, 3000] and a1["clicks"] == 2
    assert a1["replay"] == f"/sessions/{rig['sids']['a1']}?t=0&site={rig['site'].key}"
    assert rig["sids"]["bot"] not in by_sid and rig["sids"]["phone"] not in by_sid


def test_the_viewer_page_shows_legend_empty_state_and_hot_spot_sessions(rig: dict) -> None:
    from playwright.sync_api import sync_playwright

    collector, site = rig["collector"], rig["site"]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1600, "height": 1000})
            log_in(page, collector)
            page.goto(
                f"{collector.url}/heatmaps?site={site.key}&url=/landing&width=1280&experiment=checkout:C"
            )
            page.wait_for_selector(".heatmap-empty:not([hidden])", timeout=60_000)
            message = page.inner_text(".heatmap-empty")
            assert "No data for this selection" in message and "experiment = checkout:C" in message
            assert page.locator("img.heatmap-image").count() == 0
            page.goto(f"{collector.url}/heatmaps?site={site.key}&url=/landing&width=1280")
            page.wait_for_function(
                "() => { const i = document.querySelector('img.heatmap-image'); return i && i.naturalWidth > 0 }",
                timeout=120_000,
            )
            legend = page.inner_text(".heatmap-legend")
            assert "6 clicks on 3 page views" in legend and "% of page views" in legend
            assert page.locator(".legend-tick").count() >= 3
            # Click the hot spot: the #buy button's box, read from the map's own JSON.
            box = page.evaluate(
                """async () => {
                  const q = new URLSearchParams(location.search); q.set('format', 'json');
                  const r = await fetch('/api/heatmaps/image?' + q); return (await r.json()).boxes['#buy'];
                }"""
            )
            image = page.locator("img.heatmap-image")
            scale = page.evaluate(
                "() => { const i = document.querySelector('img.heatmap-image'); return i.clientWidth / i.naturalWidth }"
            )
            image.click(position={"x": (box[0] + box[2] / 2) * scale, "y": (box[1] + box[3] / 2) * scale})
            page.wait_for_selector(".spot-sessions a.replay-link", timeout=30_000)
            hrefs = page.eval_on_selector_all(
                ".spot-sessions a.replay-link", "els => els.map(e => e.getAttribute('href'))"
            )
            assert sorted(hrefs) == sorted(
                f"/sessions/{rig['sids'][n]}?t=0&site={site.key}" for n in ("a1", "a2")
            )
            assert "#buy" in page.inner_text(".spot-elements")
            # The link opens the player at that moment.
            page.click(".spot-sessions a.replay-link")
            page.wait_for_selector("body[data-state=ready]", state="attached", timeout=30_000)
            assert "/sessions/" in page.url and "t=0" in page.url
        finally:
            browser.close()
