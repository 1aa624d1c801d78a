"""The /surveys page in real Chromium (both index backends): reached from the session list's
nav, build a survey in the form (a bad question id is the API's message naming the field), save
it active, answers are posted to the real collector as browsers post them and derived; the
results read per question, and an answer's link opens the player at the moment it was given."""

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


def answer_visit(collector: LiveCollector, site: Any, survey: str, start: int, score: str, why: str) -> str:
    sid = new_id()
    events = [
        make_event(
            "meta", t=0, url=f"{ORIGIN}/checkout", referrer="", title="Checkout", vw=1280, vh=800, sw=1920,
            sh=1080, dpr=1, ua=UA, lang="en-US", tz="UTC", lw=1280, lh=800, vs=1, touch=0, webdriver=0,
            brands="Chromium;Google Chrome",
        ),
        snapshot_event(5),
        make_event("move", t=500, x=100, y=100, target=4),  # a human moves
        make_event("survey", t=1000, survey=survey, action="shown", question="", value=""),
        make_event("survey", t=2000, survey=survey, action="answer", question="ease", value=score),
        make_event("survey", t=2500, survey=survey, action="answer", question="why", value=why),
        make_event("survey", t=2600, survey=survey, action="complete", question="", value=""),
    ]  # fmt: skip
    body = {"v": 1, "sid": sid, "pid": new_id(), "seq": 0, "t0": start, "events": events}
    post_batch(collector, site, ORIGIN, body)
    return sid


@pytest.fixture(scope="module")
def rig(
    tmp_path_factory: pytest.TempPathFactory, new_collector: Callable[..., LiveCollector]
) -> Iterator[dict]:
    collector = new_collector(Path(tmp_path_factory.mktemp("surveys-page")) / "data")
    collector.start()
    site = collector.add_site(ORIGIN)
    add_viewer_user(collector)
    yield {"collector": collector, "site": site}
    collector.stop()


def test_build_activate_read_results_and_open_an_answer_in_the_player(rig: dict) -> None:
    from playwright.sync_api import sync_playwright

    collector, site = rig["collector"], rig["site"]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            log_in(page, collector)
            page.get_by_role("link", name="Surveys").click()
            page.wait_for_selector("#survey-save")
            page.select_option("#survey-site", site.key)
            page.fill("#survey-name", "Checkout exit")
            first = page.locator("#survey-questions > li").nth(0)
            first.locator(".sl-survey-qid").fill("ease")
            first.locator(".sl-survey-prompt").fill("How easy was it?")
            page.get_by_role("button", name="Add question").click()
            second = page.locator("#survey-questions > li").nth(1)
            second.locator(".sl-survey-qtype").select_option("choice")
            second.locator(".sl-survey-qid").fill("why not")  # a space: refused
            second.locator(".sl-survey-prompt").fill("What stopped you?")
            # One option per line: a label keeps its commas (and '=' after an id).
            second.locator(".sl-survey-options").fill(
                "price=Price, taxes included\nshipping=Shipping = slow\nSomething, else"
            )
            page.fill("#survey-url", "/checkout*")
            page.check("#survey-active")
            page.click("#survey-save")
            page.wait_for_function(
                "() => document.querySelector('#survey-status').textContent.includes('questions[1].id')"
            )
            second.locator(".sl-survey-qid").fill("why")
            page.click("#survey-save")
            page.wait_for_function(
                "() => document.querySelector('#survey-status').textContent.startsWith('Saved \"Checkout exit\" (active)')"
            )
            page.wait_for_selector("#survey-list li")
            surveys = page.evaluate("() => fetch('/api/surveys').then(r => r.json())")["surveys"]
            (saved,) = surveys
            assert saved["active"] is True and saved["trigger"]["url"] == "/checkout*"
            assert [q["id"] for q in saved["questions"]] == ["ease", "why"]
            assert saved["questions"][1]["options"] == [
                {"id": "price", "label": "Price, taxes included"},
                {"id": "shipping", "label": "Shipping = slow"},
                {"id": "something-else", "label": "Something, else"},
            ]
            # Editing shows the options one per line again.
            page.get_by_role("button", name="Edit").click()
            assert page.locator("#survey-questions > li").nth(1).locator(
                ".sl-survey-options"
            ).input_value() == (
                "price=Price, taxes included\nshipping=Shipping = slow\nsomething-else=Something, else"
            )
            # A refused change is said: the list's version is stale after an edit made elsewhere (409).
            page.evaluate(
                """id => fetch('/api/me').then(r => r.json()).then(me => fetch('/api/surveys/' + id, {
                    method: 'PATCH', headers: {'Content-Type': 'application/json', 'X-CSRF-Token': me.csrf},
                    body: JSON.stringify({thanks: 'Merci'})}))""",
                saved["id"],
            )
            page.get_by_role("button", name="Deactivate").click()
            page.wait_for_function("() => document.querySelector('#survey-list-status').textContent !== ''")
            assert (
                page.evaluate("() => fetch('/api/surveys').then(r => r.json())")["surveys"][0]["active"]
                is True
            )
            # Delete asks first: dismissed, nothing is deleted.
            asked: list[str] = []
            page.once("dialog", lambda d: (asked.append(d.message), d.dismiss()))
            page.get_by_role("button", name="Delete Checkout exit").click()
            page.wait_for_selector("#survey-list li")
            assert len(asked) == 1 and asked[0].startswith('Delete the survey "Checkout exit"?'), asked
            assert len(page.evaluate("() => fetch('/api/surveys').then(r => r.json())")["surveys"]) == 1

            t0 = int(time.time() * 1000) - 3_600_000
            sids = [
                answer_visit(collector, site, saved["id"], t0, "5", "price"),
                answer_visit(collector, site, saved["id"], t0 + 60_000, "3", "shipping"),
            ]
            wait_until(
                lambda: len(collector.index_rows("SELECT 1 FROM survey_responses")) >= 8,
                timeout=60,
                message="survey answers derived",
            )
            page.get_by_role("button", name="Results").click()
            page.wait_for_selector("#survey-summary")
            summary = page.inner_text("#survey-summary")
            assert summary.startswith(
                "Shown in 2 sessions, answered in 2 (response rate 100.0%), completed 2"
            ), summary
            counts = page.eval_on_selector_all(
                ".sl-survey-counts tbody tr", "trs => trs.map(tr => [...tr.cells].map(c => c.textContent))"
            )
            assert counts[:5] == [["1", "0", "0.0%"], ["2", "0", "0.0%"], ["3", "1", "50.0%"], ["4", "0", "0.0%"],
                                  ["5", "1", "50.0%"]], counts  # fmt: skip
            assert counts[5:] == [["Price, taxes included", "1", "50.0%"], ["Shipping = slow", "1", "50.0%"],
                                  ["Something, else", "0", "0.0%"]], counts  # fmt: skip
            assert "Mean 4" in page.inner_text("#survey-results")
            page.get_by_role("button", name="Show answers with replays").nth(1).click()
            link = page.locator(".sl-survey-answers a")
            link.first.wait_for(timeout=30_000)
            assert link.count() == 2
            href = link.first.get_attribute("href")
            assert href == f"/sessions/{sids[1]}?site={site.key}&t=2500", href  # newest first
            link.first.click()
            page.wait_for_url(f"**/sessions/{sids[1]}?*")
            page.wait_for_selector("body[data-replay-t='2500']", state="attached", timeout=30_000)
            # Back on /surveys, a confirmed Delete removes the survey.
            page.go_back()
            page.wait_for_selector("#survey-list li")
            page.once("dialog", lambda d: d.accept())
            page.get_by_role("button", name="Delete Checkout exit").click()
            page.wait_for_function("() => document.querySelectorAll('#survey-list li').length === 0")
            assert page.evaluate("() => fetch('/api/surveys').then(r => r.json())")["surveys"] == []
            assert errors == []
        finally:
            browser.close()
