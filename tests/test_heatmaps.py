"""Heatmaps from real recordings: scripted visitors in Chromium, maps checked
against the element boxes of the backdrop the map was drawn over."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PIL import Image
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from sessionlens.heatmap.render import Selection, build_heatmap
from sessionlens.replay.pageview import PageViewReader
from tests.heatmap_visitors import HUMAN_UA, human_chromium
from tests.helpers import free_port
from tests.live import LiveCollector, ThreadServer, chromium, demo_snippet, wait_until

PAGE = (Path(__file__).resolve().parent / "fixtures" / "heatmap" / "product.html").read_text()
WIDTHS = {390: 844, 768: 1024, 1440: 800}
SCROLLS = [0, 500, 1000, 2000]


@pytest.fixture(scope="module")
def rig(
    tmp_path_factory: pytest.TempPathFactory, new_collector: Callable[..., LiveCollector]
) -> Iterator[dict]:
    collector = new_collector(Path(tmp_path_factory.mktemp("heat")) / "data")
    collector.start()
    port = free_port()
    site = collector.add_site(f"http://127.0.0.1:{port}")
    snippet = demo_snippet(collector, site, flush_ms=300)

    async def product(request: Request) -> HTMLResponse:
        banner = '<div class="banner">Sale!</div>' if request.query_params.get("banner") else ""
        return HTMLResponse(PAGE.replace("<!--SESSIONLENS-->", snippet).replace("<!--BANNER-->", banner))

    app = Starlette(routes=[Route("/product/{n}", product)])
    visits: dict[str, list[str]] = {}
    with ThreadServer(app, port) as server, human_chromium() as browser:

        def visit(name: str, path: str, width: int, actions) -> None:
            context = browser.new_context(
                viewport={"width": width, "height": WIDTHS.get(width, 800)}, user_agent=HUMAN_UA
            )
            page = context.new_page()
            page.goto(server.url + path)
            page.wait_for_function("() => window.sessionlens && window.sessionlens.pageViewId")
            page.wait_for_timeout(400)
            actions(page)
            page.wait_for_timeout(600)
            page.evaluate("() => sessionlens.flush()")
            visits.setdefault(name, []).append(page.evaluate("sessionlens.pageViewId"))
            context.close()

        def clicks_on(selector: str, spots: list[float], also: str | None = None):
            def act(page) -> None:
                box = page.locator(selector).bounding_box()
                for dx in spots:  # px from the centre
                    page.mouse.click(box["x"] + box["width"] / 2 + dx, box["y"] + box["height"] / 2)
                    page.wait_for_timeout(150)
                if also:
                    page.click(also)

            return act

        for width in WIDTHS:
            visit(f"w{width}", "/product/1", width, clicks_on("#two", [-10, 0, 10], also="#one"))
        visit("plain", "/product/2", 1440, clicks_on("#three", [0]))
        visit("banner", "/product/2?banner=1", 1440, clicks_on("#two", [-10, 0, 10]))
        for y in SCROLLS:
            visit(
                "scroll",
                "/product/3",
                1440,
                lambda page, y=y: (page.mouse.wheel(0, y) if y else None, page.wait_for_timeout(500)),
            )

        def rage(page) -> None:
            box = page.locator("#buy").bounding_box()
            for _ in range(4):
                page.mouse.click(box["x"] + 50, box["y"] + 20)
                page.wait_for_timeout(120)
            page.wait_for_timeout(2800)
            page.click("#boom")
            page.wait_for_timeout(300)

        visit("signals", "/product/4", 1440, rage)
        visit("normal", "/product/4", 1440, lambda page: (page.click("#works"), page.wait_for_timeout(2800)))

        def hover_around(page) -> None:
            box = page.locator("#three").bounding_box()
            cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
            for i in range(24):
                page.mouse.move(cx + (i % 3 - 1) * 12, cy + (i % 2) * 10)
                page.wait_for_timeout(110)

        visit("mover", "/product/5", 1440, hover_around)
        expected_clicks = 3 * 4 + 1 + 3 + 4 + 1 + 1
        # Flags (dead, error) are settled by later chunks: wait until nothing is left to derive too.
        wait_until(
            lambda: len(collector.index_rows("SELECT 1 FROM clicks")) >= expected_clicks
            and collector.index.work_backlog(10**6)["pending"] == 0,
            timeout=90,
            message="click facts",
        )
    yield {"collector": collector, "site": site, "visits": visits}
    collector.stop()


def heatmap(rig: dict, url: str, kind: str = "click", width: int = 1440, **kw):
    collector = rig["collector"]
    q = {"site": rig["site"].key, "url": url, **{k: str(v) for k, v in kw.pop("query", {}).items()}}
    store = collector.store
    return build_heatmap(
        collector.index, store, PageViewReader(store), Selection.from_query(q), kind, width, **kw
    )


def inside(point: tuple[float, float], box: list[float]) -> bool:
    return box[0] <= point[0] <= box[0] + box[2] and box[1] <= point[1] <= box[1] + box[3]


@pytest.mark.parametrize("width", sorted(WIDTHS))
def test_hottest_pixels_fall_inside_the_clicked_element(rig: dict, width: int) -> None:
    result = heatmap(rig, "/product/1", width=width, query={"min_width": width, "max_width": width})
    assert result.counted == 4 and result.width == width
    box = result.boxes["#two"]
    assert inside(result.hottest(), box), (result.hottest(), box)
    image = Image.open(io.BytesIO(result.png))
    # The legend is a band above the page (issue 10): nothing is drawn over the page area.
    assert image.size == (result.width, result.height + result.band + result.strip)


def test_a_layout_change_above_keeps_clicks_on_their_element(rig: dict) -> None:
    plain_pid = rig["visits"]["plain"][0]
    result = heatmap(rig, "/product/2*", pid=plain_pid)
    assert result.backdrop[1] == plain_pid
    box = result.boxes["#two"]
    # The banner visitor clicked #two 150 px lower on the page; it still lands on #two.
    assert inside(result.hottest(), box), (result.hottest(), box)
    assert result.by_position == 0


def test_scroll_map_matches_the_scripted_depths_and_fold(rig: dict) -> None:
    result = heatmap(rig, "/product/3", kind="scroll")
    reached = result.values[:, 0]
    views = rig["collector"].index_rows(
        "SELECT max_scroll_y, vh FROM page_views WHERE url LIKE '%/product/3'"
    )
    depths = sorted((v["max_scroll_y"] or 0) + v["vh"] for v in views)
    assert len(depths) == len(SCROLLS)
    for scripted, depth in zip(SCROLLS, depths, strict=True):
        assert abs(depth - (scripted + 800)) <= 0.02 * result.height
    for y in (400, 1000, 1500, 2300, 3000):
        expected = sum(d >= y for d in depths) / len(depths)
        assert abs(reached[y] - expected) <= 0.02, y
    assert result.lines["fold"] == 800
    for width, height in WIDTHS.items():
        folded = heatmap(
            rig, "/product/1", kind="scroll", width=width, query={"min_width": width, "max_width": width}
        )
        assert folded.lines["fold"] == pytest.approx(height), width


def test_rage_dead_and_error_clicks_are_found_and_a_normal_session_has_none(rig: dict) -> None:
    (signals_pid,) = rig["visits"]["signals"]
    (normal_pid,) = rig["visits"]["normal"]
    found = rig["collector"].index_rows(
        "SELECT selector, rage, dead, error FROM clicks WHERE pid = ? ORDER BY t",
        (signals_pid,),
    )
    assert [r["selector"] for r in found] == ["#buy"] * 4 + ["#boom"]
    assert all(r["rage"] for r in found[:4]) and all(r["dead"] for r in found[:4])
    assert found[4]["error"] and not found[4]["rage"]
    normal = rig["collector"].index_rows("SELECT rage, dead, error FROM clicks WHERE pid = ?", (normal_pid,))
    assert normal == [{"rage": 0, "dead": 0, "error": 0}]
    rage_map = heatmap(rig, "/product/4", kind="rage")
    assert rage_map.counted == 4 and inside(rage_map.hottest(), rage_map.boxes["#buy"])


def test_a_pattern_groups_product_pages_and_downloads_are_valid(rig: dict, tmp_path: Path) -> None:
    collector = rig["collector"]
    sel = Selection.from_query({"site": rig["site"].key, "url": "/product/*"})
    clicks = sel.clicks(collector.index, "click")
    top = sel.elements(collector.index, "click")
    assert {c["url"].split("?")[0].rsplit("/", 1)[-1] for c in clicks} == {"1", "2", "4"}
    assert len(clicks) == 3 * 4 + 1 + 3 + 4 + 1 + 1
    assert top[0]["selector"] == "#two" and top[0]["clicks"] == 12
    png, table = tmp_path / "map.png", tmp_path / "top.csv"
    cli = [sys.executable, "-m", "sessionlens.cli", "heatmap", "--data-dir", str(collector.data_dir),
           "--site", rig["site"].key, "--url", "/product/*", "--width", "1024", "-o", str(png), "--csv", str(table)]  # fmt: skip
    done = subprocess.run(cli, capture_output=True, text=True, timeout=120, env=collector.cli_env())
    assert done.returncode == 0, done.stderr
    assert Image.open(png).format == "PNG" and Image.open(png).width == 1024
    parsed = list(csv.DictReader(line for line in table.open() if not line.startswith("# ")))
    assert parsed[0]["selector"] == "#two" and int(parsed[0]["clicks"]) == 12
    bad = subprocess.run(
        [*cli[:-4], "--type", "nope"], capture_output=True, text=True, timeout=60, env=collector.cli_env()
    )
    assert bad.returncode == 2


def test_signals_filter_the_session_list_and_mark_the_timeline(rig: dict) -> None:
    from tests.viewer_live import add_viewer_user, log_in

    collector = rig["collector"]
    add_viewer_user(collector)
    signals_pid = rig["visits"]["signals"][0]
    (sid,) = {r["sid"] for r in collector.index_rows("SELECT sid FROM clicks WHERE pid = ?", (signals_pid,))}
    with chromium() as browser:
        page = browser.new_page()
        log_in(page, collector)
        normal_pid = rig["visits"]["normal"][0]
        (normal_sid,) = {
            r["sid"] for r in collector.index_rows("SELECT sid FROM clicks WHERE pid = ?", (normal_pid,))
        }
        for flag in ("rage", "dead", "error_clicks"):
            page.goto(f"{collector.url}/api/sessions?{flag}=1")
            found = [s["sid"] for s in json.loads(page.inner_text("body"))["sessions"]]
            assert sid in found and normal_sid not in found, flag
        assert found == [sid]  # only the scripted session had an error click
        page.goto(f"{collector.url}/api/sessions/{sid}")
        kinds = [m["kind"] for m in json.loads(page.inner_text("body"))["markers"]]
        assert kinds.count("rage-click") == 4 and kinds.count("error-click") == 1 and "dead-click" in kinds


def test_move_map_follows_the_pointer(rig: dict) -> None:
    result = heatmap(rig, "/product/5", kind="move")
    assert result.counted >= 8
    box = heatmap(rig, "/product/2*", pid=rig["visits"]["plain"][0]).boxes["#three"]
    assert inside(result.hottest(), box), (result.hottest(), box)
