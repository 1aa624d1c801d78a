"""The player explains the moment (real Chromium, live server): one event-list entry per
interaction with the element's text, grouped per page view, filterable, with a legend; timeline
markers that never cover each other; console with the error's stack; network with the failed
request highlighted; every list seeks and keeps ?t= current; a copied link opens at its moment;
1:1 zoom; hostile recorded strings stay text; a page view opens on its page, never a white frame.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import orjson
import pytest
from PIL import Image

from tests import player_recording as rec
from tests.live import LiveCollector, chromium, wait_until
from tests.viewer_live import add_viewer_user, log_in, post_batch


@pytest.fixture(scope="module")
def rig(
    tmp_path_factory: pytest.TempPathFactory, new_collector: Callable[..., LiveCollector]
) -> Iterator[dict]:
    c = new_collector(Path(tmp_path_factory.mktemp("inspector")) / "data")
    c.start()
    add_viewer_user(c)
    site = c.add_site(rec.ORIGIN)
    sid, pids, batches = rec.session_batches(int(time.time() * 1000) - 3_600_000)
    for body in batches:
        post_batch(c, site, rec.ORIGIN, body)
    with chromium() as browser:
        context = browser.new_context(
            viewport={"width": 1500, "height": 950}, permissions=["clipboard-read", "clipboard-write"]
        )
        page = context.new_page()
        log_in(page, c)

        def derived() -> bool:
            page.goto(f"{c.url}/api/sessions/{sid}")
            return any(e["kind"] == "rage" for e in orjson.loads(page.inner_text("body"))["entries"])

        # The serve's own worker derives the clicks' signals (the rage burst becomes one entry).
        wait_until(derived, timeout=30, message="derived click signals")
        dialogs: list[str] = []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        yield {"collector": c, "sid": sid, "pids": pids, "page": page, "dialogs": dialogs}
        context.close()
    c.stop()


def open_at(rig: dict, t: int | None = None, query: str = "") -> object:
    page = rig["page"]
    page.goto(f"{rig['collector'].url}/sessions/{rig['sid']}?{'' if t is None else f't={t}&'}{query}")
    page.wait_for_selector("body[data-state=ready]", state="attached", timeout=20_000)
    page.wait_for_selector("body[data-inspect=ready]", state="attached", timeout=20_000)
    if t is not None:
        page.evaluate("window.sessionlensPlayer.pause()")
    return page


def url_t(page: object) -> int:
    return int(parse_qs(urlsplit(page.url).query)["t"][0])


def shown_at(page: object, t: int) -> None:
    page.wait_for_selector(f"body[data-replay-t='{t}'][data-state=ready]", state="attached", timeout=10_000)


def test_one_entry_per_interaction_grouped_filterable_with_a_legend(rig: dict) -> None:
    page = open_at(rig, 0)
    entries = page.locator(".events-pane li.entry")
    labels = entries.all_inner_texts()
    quote = [x for x in labels if "Get my quote" in x]
    assert len(quote) == 1 and quote[0].endswith("Clicked 'Get my quote'"), labels
    assert len([x for x in labels if "Retry" in x]) == 1
    assert any(x.endswith("Rage click on 'Retry' ×3") for x in labels), labels
    assert len([x for x in labels if x.endswith("Typed in 'Email'")]) == 1, labels
    assert any(x.endswith("Submit of form 'quote' blocked: 1 invalid field ('Email')") for x in labels), (
        labels
    )
    assert any(x.endswith("Error: Error: Payment provider unavailable") for x in labels), labels
    assert rec.EMAIL_VALUE not in page.inner_text("aside")
    # Grouped per page view, under a header naming the page.
    groups = page.locator(".events-pane li.group")
    assert groups.count() == 2
    assert groups.nth(0).locator(".group-head").inner_text().endswith("Visited /pricing")
    assert groups.nth(1).locator(".group-head").inner_text().endswith("Visited /signup")
    assert groups.nth(0).locator("li.entry", has_text="Get my quote").count() == 1
    # A legend of the kinds present, each a filter; the colours are the markers' colours.
    legend = page.locator(".events-pane .legend label.kind-filter")
    names = legend.all_inner_texts()
    assert {"Clicks", "Rage clicks", "Errors", "Typing"} <= set(names), names
    swatch = page.locator(".legend label[data-kind=error] .swatch").evaluate(
        "e => getComputedStyle(e).backgroundColor"
    )
    mark = page.locator(".timeline .mark[data-kind=error]").first.evaluate(
        "e => getComputedStyle(e).backgroundColor"
    )
    assert swatch == mark
    assert page.locator(".timeline .mark[data-kind=click]").count() >= 1
    page.locator(".legend input[data-kind=click]").uncheck()
    assert page.locator(".events-pane li.entry[data-kind=click]").count() == 0
    # The legend filters the timeline too.
    assert page.locator(".timeline .mark[data-kind=click]").count() == 0
    assert page.locator(".timeline .mark[data-kind=error]").count() >= 1
    assert page.locator(".events-pane li.entry[data-kind=rage]").count() == 1
    page.locator(".legend input[data-kind=click]").check()
    assert page.locator(".events-pane li.entry[data-kind=click]").count() >= 1
    assert page.locator(".timeline .mark[data-kind=click]").count() >= 1
    # A list entry seeks to its moment and ?t= follows.
    page.locator(".events-pane li.entry", has_text="Get my quote").click()
    shown_at(page, 1_000)
    assert url_t(page) == 1_000


def test_timeline_markers_never_cover_each_other_and_errors_show(rig: dict) -> None:
    page = open_at(rig, 0)
    boxes = [b for b in page.locator(".timeline .mark").evaluate_all(
        "els => els.map(e => { const r = e.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom, e.dataset.kind]; })"
    )]  # fmt: skip
    assert len(boxes) >= 6
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            apart = a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1]
            assert apart, (a, b)
    errors = page.locator(".timeline .mark[data-kind=error]")
    assert errors.count() >= 1 and errors.first.is_visible()
    # The top element at an error marker's centre is that marker or its count (nothing drawn over it).
    assert errors.first.evaluate(
        "e => { const r = e.getBoundingClientRect(); return e.contains(document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2)); }"
    )  # fmt: skip
    # A marker click seeks and ?t= follows.
    t = int(errors.first.get_attribute("data-t"))
    errors.first.click()
    shown_at(page, t)
    assert url_t(page) == t


def test_console_pane_shows_the_stack_and_seeks(rig: dict) -> None:
    page = open_at(rig, 0)
    page.click(".tabs button[data-tab=console]")
    entry = page.locator(".console-entry", has_text="Payment provider unavailable").first
    assert entry.locator("pre.stack").inner_text() == rec.ERROR_STACK
    if rec.has_kind("console"):
        assert page.locator(".console-entry.level-warn", has_text="Slow response").count() == 1
    entry.click()
    shown_at(page, 3_000)
    assert url_t(page) == 3_000


@pytest.mark.skipif(not rec.has_kind("request"), reason="the schema has no request events yet")
def test_network_pane_highlights_the_failed_request_and_seeks(rig: dict) -> None:
    page = open_at(rig, 0)
    page.click(".tabs button[data-tab=network]")
    rows = page.locator("table.network tr.request")
    assert rows.count() == 3
    failed = page.locator("table.network tr.request.failed", has_text="/api/pay")
    assert failed.count() == 1
    cells = failed.locator("td").all_inner_texts()
    assert cells[1:5] == ["POST", rec.FAILED_URL, "503", "812 ms"], cells
    ok = page.locator("table.network tr.request:not(.failed)").first
    bg = lambda row: row.locator("td").first.evaluate("e => getComputedStyle(e).backgroundColor")  # noqa: E731
    assert bg(failed) != bg(ok)
    failed.click()
    shown_at(page, 2_900)
    assert url_t(page) == 2_900


def test_copied_link_opens_at_its_moment(rig: dict) -> None:
    page = open_at(rig, 4_000)
    page.click("button.copy-link")
    link = page.locator("button.copy-link").get_attribute("data-link")
    assert link and parse_qs(urlsplit(link).query)["t"] == ["4000"]
    assert page.evaluate("navigator.clipboard.readText()") == link
    page.goto(link)
    shown_at(page, 4_000)


def test_zoom_1_to_1_beside_fit(rig: dict) -> None:
    page = rig["page"]
    page.set_viewport_size({"width": 1100, "height": 700})
    try:
        page = open_at(rig, 1_000)
        box = page.locator(".frame-box")
        assert "matrix" in box.evaluate("e => getComputedStyle(e).transform")  # fit: scaled down
        page.select_option("select[title^=zoom]", "100")
        assert box.evaluate("e => getComputedStyle(e).transform") == "none"
        assert box.evaluate("e => e.getBoundingClientRect().width") == 1280
        assert page.locator(".stage").evaluate("e => e.scrollWidth > e.clientWidth")
        assert "zoom=100" in page.url
    finally:
        page.set_viewport_size({"width": 1500, "height": 950})


def test_hostile_recorded_strings_are_text(rig: dict) -> None:
    page = open_at(rig, 0)
    scripts = page.evaluate("document.scripts.length")
    for tab in ("events", "console", "network"):
        page.click(f".tabs button[data-tab={tab}]")
    page.wait_for_timeout(300)
    assert page.locator("aside img, .controls img, aside script").count() == 0
    assert page.evaluate("document.scripts.length") == scripts
    assert page.locator(".timeline img").count() == 0
    texts = page.locator("aside").evaluate("e => e.textContent")
    assert rec.HOSTILE in texts  # shown as the characters it is
    assert rig["dialogs"] == []


def _dark_share(png: bytes) -> float:
    img = Image.open(io.BytesIO(png)).convert("RGB")
    pixels = list(img.get_flattened_data()) if hasattr(img, "get_flattened_data") else list(img.getdata())
    near = [p for p in pixels if all(abs(c - d) <= 8 for c, d in zip(p, rec.DARK, strict=True))]
    return len(near) / len(pixels)


def test_a_page_view_opens_on_its_page_never_a_white_frame(rig: dict) -> None:
    page = rig["page"]
    body = orjson.loads(page.goto(f"{rig['collector'].url}/api/sessions/{rig['sid']}").body())
    two = next(p["offset"] for p in body["page_views"] if p["pid"] == rig["pids"][1])
    # Opened at the page view's first ms (its DOM is recorded 60 ms later): the page at once.
    page = open_at(rig, two)
    assert _dark_share(page.locator(".frame-box iframe").screenshot()) > 0.9
    # Switching page views from the list: the first frame shown after the switch is the page.
    open_at(rig, 1_000)
    page.locator(".side .pages li").nth(1).click()
    shown_at(page, two)
    assert _dark_share(page.locator(".frame-box iframe").screenshot()) > 0.9
    assert url_t(page) == two


def test_a_note_added_at_a_moment_is_on_the_timeline_after_reload(rig: dict) -> None:
    page = open_at(rig, 3_000)
    page.click(".tabs button[data-tab=notes]")
    page.fill(".sl-notes-input", "Payment failed <b>here</b>")
    page.click(".sl-notes-form button[type=submit]")
    page.locator(".sl-notes-list li", has_text="Payment failed").wait_for()
    open_at(rig, 0)
    page.wait_for_selector(".timeline .mark[data-kind=note]")
    assert page.locator(".timeline .mark[data-kind=note]").get_attribute("data-t") == "3000"
    entry = page.locator(".events-pane li.entry[data-kind=note]")
    assert entry.inner_text().endswith("Payment failed <b>here</b>")
    entry.click()
    shown_at(page, 3_000)
