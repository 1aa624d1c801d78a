"""The /funnels page in real Chromium: log in, build a 3-step funnel in the form, run it, read
the bars' numbers and the breakdown table, open the sessions that dropped at a step and
follow one to the player, which opens at that moment (both index backends).

Visits are posted to the real collector as browsers post them and derived by the real
derivation pass (experiment variants, custom events)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from sessionlens.contracts import make_event
from tests.helpers import new_id, snapshot_event
from tests.live import CHROMIUM, CHROMIUM_ARGS, LiveCollector, wait_until
from tests.viewer_live import add_viewer_user, log_in, post_batch

ORIGIN = "https://shop.example"
UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"
# name: (variant, ms of the "Sign up" click or None, ms of signup_completed or None)
VISITS = {
    "A_done": ("A", 2000, 4000),
    "A_drop2": ("A", 3000, None),  # clicks, never completes: drops at step 2
    "B_drop1": ("B", None, None),  # only views the pricing page
    "B_done": ("B", 1500, 2500),
}


def record(collector: LiveCollector, site: Any) -> dict[str, str]:
    sids = {}
    t0 = int(time.time() * 1000) - 3_600_000
    for i, (name, (variant, click_at, done_at)) in enumerate(VISITS.items()):
        events = [
            make_event(
                "meta", t=0, url=f"{ORIGIN}/pricing", referrer="", title="Pricing", vw=1280, vh=800, sw=1920,
                sh=1080, dpr=1, ua=UA, lang="en-US", tz="UTC", lw=1280, lh=800, vs=1, touch=0, webdriver=0,
                brands="Chromium;Google Chrome",
            ),
            snapshot_event(5),
            make_event("experiment", t=10, name="checkout", variant=variant),
            make_event("move", t=500, x=100, y=100, target=4),  # a human moves
        ]  # fmt: skip
        if click_at is not None:
            events.append(make_event(
                "click", t=click_at, target=5, selector="#buy", fx=0.5, fy=0.5, px=10, py=10, cx=10, cy=10,
                button=0, pointer="mouse", pw=1280, ph=3000, tag="button", flags="", control="body>button#buy",
                text="Sign up", anchor="", ax=0, ay=0,
            ))  # fmt: skip
        if done_at is not None:
            events.append(make_event("custom", t=done_at, name="signup_completed", props={}))
        sids[name] = sid = new_id()
        body = {"v": 1, "sid": sid, "pid": new_id(), "seq": 0, "t0": t0 + i * 60_000, "events": events}
        post_batch(collector, site, ORIGIN, body)
    return sids


@pytest.fixture(scope="module")
def rig(
    tmp_path_factory: pytest.TempPathFactory, new_collector: Callable[..., LiveCollector]
) -> Iterator[dict]:
    collector = new_collector(Path(tmp_path_factory.mktemp("funnels-page")) / "data")
    collector.start()
    site = collector.add_site(ORIGIN)
    add_viewer_user(collector)
    sids = record(collector, site)
    wait_until(lambda: len(collector.index_rows("SELECT 1 FROM clicks")) >= 3, timeout=60, message="clicks")
    wait_until(
        lambda: len(collector.index_rows("SELECT 1 FROM session_attrs WHERE scope = 'experiment'")) >= len(VISITS)
        and len(collector.index_rows("SELECT 1 FROM custom_events")) >= 2,
        timeout=60, message="variants and custom events derived",
    )  # fmt: skip
    yield {"collector": collector, "site": site, "sids": sids}
    collector.stop()


def test_build_run_read_and_follow_a_drop_off_to_the_player(rig: dict) -> None:
    from playwright.sync_api import sync_playwright

    collector, site, sids = rig["collector"], rig["site"], rig["sids"]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            log_in(page, collector)
            page.goto(f"{collector.url}/funnels")
            page.wait_for_selector("#funnel-run")
            page.select_option("#funnel-site", site.key)
            # The form starts with a URL step and a click step; a third is added as an event.
            steps = page.locator("#funnel-steps > li")
            assert steps.count() == 2
            steps.nth(0).locator(".sl-funnel-value").fill("/pricing*")
            steps.nth(1).locator(".sl-funnel-type").select_option("click")
            steps.nth(1).locator(".sl-funnel-value").fill("sign up")
            page.get_by_role("button", name="Add step").click()
            assert steps.count() == 3
            steps.nth(2).locator(".sl-funnel-type").select_option("event")
            assert steps.nth(2).locator(".sl-funnel-props").is_visible()
            assert not steps.nth(2).locator(".sl-funnel-what").is_visible()
            # Run with the event's name still empty: the API's message, naming the step.
            page.click("#funnel-run")
            page.wait_for_function(
                "() => document.querySelector('.sl-funnel-status').textContent.startsWith('step 3')"
            )
            assert page.locator(".sl-funnel-bar").count() == 0
            steps.nth(2).locator(".sl-funnel-value").fill("signup_completed")
            page.select_option("#funnel-by", "experiment:")
            page.get_by_label("Breakdown name").fill("checkout")
            page.click("#funnel-run")
            page.wait_for_selector(".sl-funnel-bar[data-step='3']", timeout=60_000)

            summary = page.inner_text(".sl-funnel-summary")
            assert summary.startswith("4 sessions entered, 2 completed (50.0%)"), summary
            numbers = page.eval_on_selector_all(".sl-funnel-numbers", "els => els.map(e => e.textContent)")
            assert numbers[0].startswith("4 entered · 3 converted · 1 dropped · 100.0% from previous"), (
                numbers
            )
            assert numbers[1].startswith("3 entered · 2 converted · 1 dropped · 75.0% from previous"), numbers
            assert numbers[2].startswith(
                "2 entered · 2 converted · 0 dropped · 66.7% from previous · 50.0% from first"
            )
            # The bars' widths follow the counts (entered / entered at step 1).
            widths = page.eval_on_selector_all(".sl-funnel-fill", "els => els.map(e => e.style.width)")
            assert widths == ["100%", "75%", "50%"], widths

            table = page.locator("#funnel-breakdown")
            assert "By experiment:checkout" in table.locator("caption").inner_text()
            rows = {
                r[0]: r[1:]
                for r in page.eval_on_selector_all(
                    "#funnel-breakdown tbody tr",
                    "trs => trs.map(tr => [...tr.cells].map(c => c.textContent))",
                )
            }
            # A (2 sessions: 2, 2, 1) is the baseline by ties broken by name; B: 2, 1, 1.
            assert rows["A"][:5] == ["2 (100.0%)", "2 (100.0%)", "1 (50.0%)", "50.0%", "baseline"], rows
            assert rows["B"][:4] == ["2 (100.0%)", "1 (50.0%)", "1 (50.0%)", "50.0%"], rows
            assert rows["B"][4].startswith("+0.0 pp ["), rows

            # The session that dropped at step 2, linked at its click (3 s into the session).
            page.locator(".sl-funnel-bar[data-step='2'] .sl-funnel-dropped").click()
            link = page.locator(".sl-funnel-bar[data-step='2'] .sl-funnel-sessions a")
            link.first.wait_for(timeout=30_000)
            assert link.count() == 1
            assert "1 session dropped at step 2" in page.inner_text(
                ".sl-funnel-bar[data-step='2'] .sl-funnel-list"
            )
            href = link.first.get_attribute("href")
            assert href == f"/sessions/{sids['A_drop2']}?site={site.key}&t=3000", href
            link.first.click()
            page.wait_for_url(f"**/sessions/{sids['A_drop2']}?*")
            page.wait_for_selector("body[data-replay-t='3000']", state="attached", timeout=30_000)
            assert errors == []
        finally:
            browser.close()
