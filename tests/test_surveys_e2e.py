"""Issue 13 item 4, done when: a scripted visitor answers a survey shown after a custom event; the
answer is stored once, filterable (session filter survey_answer=), summarised (results endpoint)
and opens the replay at the answer (the link opened in the player in Chromium); free text with an
e-mail address and a phone number is scrubbed in the stored bytes; a visitor without consent
never sees the survey and sends nothing: no request at all reaches the collector from that page.

Everything is real: `sessionlens serve` (both index backends), the survey defined through
/api/surveys by a logged-in researcher, the recorder (self-hosted by the site, as a site may, so
that "no request reaches the collector" is literally checkable) loading the widget when the
ingest ack names it, human Chromium visitors.
"""

from __future__ import annotations

import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import orjson
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from sessionlens.auth.users import Accounts
from sessionlens.contracts import event_as_dict
from sessionlens.recorder_asset import snippet_html
from tests.heatmap_visitors import HUMAN_UA, human_chromium
from tests.helpers import free_port
from tests.live import LiveCollector, ThreadServer, wait_until
from tests.viewer_live import VIEWER_USER, add_viewer_user, log_in, replay_frame

RECORDER = Path(__file__).resolve().parent.parent / "src" / "sessionlens" / "static" / "recorder.js"
EMAIL, PHONE = "jane.doe@example.com", "+1 415 555 0134"
FREE_TEXT = f"The card form failed twice, mail me at {EMAIL} or call {PHONE}"

SHOP = """<!doctype html><html><head><title>Checkout</title>
<!--SNIPPET-->
</head><body>
<h1>Checkout</h1>
<button id="accept" onclick="sessionlens.consent(true)">Accept analytics</button>
<button id="pay" onclick="sessionlens.track('checkout_failed', {step: 'pay'})">Pay now</button>
<p style="height:1200px">Your basket</p>
</body></html>"""

DEFINITION = {
    "name": "What stopped you?",
    "active": True,
    "questions": [
        {
            "id": "why",
            "type": "choice",
            "prompt": "What stopped you from paying?",
            "required": True,
            "options": [
                {"id": "price", "label": "The price"},
                {"id": "card", "label": "My card was refused"},
                {"id": "other", "label": "Something else"},
            ],
        },
        {"id": "more", "type": "text", "prompt": "Tell us more", "required": False},
    ],
    "trigger": {"url": "/checkout*", "event": "checkout_failed", "exit_intent": False, "after_seconds": 0},
    "theme": {"accent": "#0a7d32", "background": "#ffffff", "text": "#111111", "position": "bottom-right"},
    "thanks": "Thanks, that helps.",
}


def site_app(snippet: str) -> Starlette:
    recorder = RECORDER.read_bytes()

    async def shop(request: Request) -> Response:
        return HTMLResponse(SHOP.replace("<!--SNIPPET-->", snippet))

    async def script(request: Request) -> Response:
        return Response(recorder, media_type="text/javascript")

    return Starlette(routes=[Route("/checkout", shop), Route("/recorder.js", script)])


@pytest.fixture(scope="module")
def rig(
    tmp_path_factory: pytest.TempPathFactory, new_collector: Callable[..., LiveCollector]
) -> Iterator[dict[str, Any]]:
    collector = new_collector(Path(tmp_path_factory.mktemp("surveys")) / "data")
    collector.start()
    add_viewer_user(collector)
    token = Accounts(collector.store).create_token(VIEWER_USER, "e2e")
    port = free_port()
    origin = f"http://127.0.0.1:{port}"
    site = collector.add_site(origin, consent_required=True)
    # The site hosts the recorder itself; the endpoint names the collector.
    snippet = snippet_html(origin, "/recorder.js", site).replace(
        f'data-site="{site.key}"',
        f'data-site="{site.key}" data-flush-ms="300" data-endpoint="{collector.url}/ingest/{site.key}"',
    )
    assert 'data-consent="required"' in snippet
    try:
        with ThreadServer(site_app(snippet), port) as server, human_chromium() as browser:
            viewer = browser.new_context(viewport={"width": 1400, "height": 950})
            page = viewer.new_page()
            log_in(page, collector)
            status, created = page.evaluate(
                """async ([body]) => {
                  const me = await (await fetch('/api/me')).json();
                  const r = await fetch('/api/surveys', {method: 'POST',
                    headers: {'Content-Type': 'application/json', 'X-CSRF-Token': me.csrf},
                    body: JSON.stringify(body)});
                  return [r.status, await r.json()];
                }""",
                [{**DEFINITION, "site": site.key}],
            )
            assert status == 201, created
            rig = {
                "collector": collector,
                "site": site,
                "server": server,
                "browser": browser,
                "viewer": page,
                "token": token,
                "survey": created["id"],
            }
            rig.update(visit_with_consent(rig))
            rig["silent"] = visit_without_consent(rig)
            yield rig
            viewer.close()
    finally:
        collector.stop()


def api(rig: dict[str, Any], path: str, raw: bool = False) -> Any:
    request = urllib.request.Request(
        f"{rig['collector'].url}{path}", headers={"Authorization": f"Bearer {rig['token']}"}
    )
    with urllib.request.urlopen(request, timeout=20) as response:
        body = response.read()
        return body if raw else orjson.loads(body)


def to_collector(rig: dict[str, Any], context: Any) -> list[str]:
    """Every request the context's pages make to the collector's origin (method and URL)."""
    seen: list[str] = []
    prefix = rig["collector"].url + "/"
    context.on("request", lambda r: r.url.startswith(prefix) and seen.append(f"{r.method} {r.url}"))
    return seen


def visit_with_consent(rig: dict[str, Any]) -> dict[str, Any]:
    """Consents, hits the failing payment, answers with the keyboard and a click, sends."""
    ctx = rig["browser"].new_context(viewport={"width": 1280, "height": 800}, user_agent=HUMAN_UA)
    requests = to_collector(rig, ctx)
    page = ctx.new_page()
    page.goto(f"{rig['server'].url}/checkout")
    page.mouse.move(300, 200)
    page.click("#accept")
    page.wait_for_function("() => window.sessionlens && window.sessionlens.sessionId")
    # The first ack names the widget; the recorder loads it; it reads the definitions.
    page.wait_for_function("() => window.__sessionlensSurveys && window.__sessionlensSurveys.ready")
    page.mouse.move(400, 300, steps=5)
    page.click("#pay")
    dialog = page.get_by_role("dialog", name="What stopped you?")
    dialog.wait_for()
    page.get_by_role("radio", name="My card was refused").check()
    page.keyboard.press("Tab")  # from the radio to Next
    page.keyboard.press("Enter")
    page.get_by_role("textbox", name="Tell us more").fill(FREE_TEXT)
    page.get_by_role("button", name="Send").click()
    page.get_by_text("Thanks, that helps.").wait_for()
    page.get_by_role("button", name="Close", exact=True).click()
    wait_until(lambda: page.locator("sessionlens-survey").count() == 0, message="dialog closed")
    sid = page.evaluate("() => sessionlens.sessionId")
    pid = page.evaluate("() => sessionlens.pageViewId")
    page.evaluate("() => sessionlens.flush()")
    collector, site = rig["collector"], rig["site"]

    def survey_events() -> list[dict]:
        events = [e for c in collector.chunks(site) if c["pid"] == pid for e in c["events"]]
        return [event_as_dict(e) for e in events if e[0] == "survey"]

    wait_until(lambda: len(survey_events()) == 4, timeout=30, message="shown, 2 answers, complete stored")
    rows = f"SELECT COUNT(*) AS n FROM survey_responses WHERE sid = '{sid}'"
    wait_until(lambda: collector.index_rows(rows)[0]["n"] == 4, timeout=60, message="survey rows indexed")
    ctx.close()
    return {"sid": sid, "events": survey_events(), "requests": list(requests)}


def visit_without_consent(rig: dict[str, Any]) -> dict[str, Any]:
    """Never consents; does what makes the survey show for the one who did."""
    ctx = rig["browser"].new_context(viewport={"width": 1280, "height": 800}, user_agent=HUMAN_UA)
    requests = to_collector(rig, ctx)
    page = ctx.new_page()
    page.goto(f"{rig['server'].url}/checkout")
    page.wait_for_function("() => window.sessionlens && window.sessionlens.__recorder")
    page.mouse.move(300, 200)
    page.mouse.move(400, 300, steps=5)
    page.click("#pay")
    page.mouse.move(600, -20, steps=4)
    # Ten flush periods of the page's own clock: a recording would have sent batches by now.
    page.wait_for_function("() => performance.now() > 3000 + 1500")
    state = page.evaluate(
        """() => ({sid: sessionlens.sessionId, dialog: !!document.querySelector('sessionlens-survey'),
        widget: !!window.__sessionlensSurveys, scripts: [...document.scripts].map((s) => s.src),
        storage: Object.keys(localStorage)})"""
    )
    ctx.close()
    return {**state, "requests": list(requests)}


def test_the_consenting_visitor_loaded_the_widget_from_the_collector(rig: dict[str, Any]) -> None:
    collector, site = rig["collector"], rig["site"]
    sent = rig["requests"]
    assert f"GET {collector.url}/survey.js" in sent
    assert f"GET {collector.url}/ingest/{site.key}/surveys" in sent
    assert any(r.startswith(f"POST {collector.url}/ingest/{site.key}") for r in sent)


def test_the_answer_is_stored_once(rig: dict[str, Any]) -> None:
    sid, survey = rig["sid"], rig["survey"]
    actions = [(e["survey"], e["action"], e["question"]) for e in rig["events"]]
    assert actions == [
        (survey, "shown", ""),
        (survey, "answer", "why"),
        (survey, "answer", "more"),
        (survey, "complete", ""),
    ]
    rows = rig["collector"].index_rows(
        "SELECT action, question, value FROM survey_responses WHERE sid = ? ORDER BY t, action", (sid,)
    )
    answers = [(r["question"], r["value"]) for r in rows if r["action"] == "answer"]
    assert [q for q, _ in answers] == ["why", "more"]
    assert answers[0] == ("why", "card")


def test_free_text_is_scrubbed_in_stored_bytes(rig: dict[str, Any]) -> None:
    collector, site = rig["collector"], rig["site"]
    text = next(e["value"] for e in rig["events"] if e["question"] == "more")
    # Masked as typed by the widget (length kept), and again by the collector's scrub.
    assert text == "The card form failed twice, mail me at " + "*" * len(EMAIL) + " or call +* *** *** ****"
    stored = repr(collector.chunks(site)).encode() + collector.index_bytes()
    answers = api(rig, f"/api/surveys/{rig['survey']}/answers?question=more", raw=True)
    csv = api(rig, f"/api/surveys/{rig['survey']}/csv", raw=True)
    for secret in (EMAIL, PHONE, "415 555 0134", "jane.doe"):
        assert secret.encode() not in stored
        assert secret.encode() not in answers + csv
    assert b"The card form failed twice" in csv


def sessions(rig: dict[str, Any], query: str) -> list[str]:
    body = api(rig, f"/api/sessions?site={rig['site'].key}&limit=50&{query}")
    return [s["sid"] for s in body["sessions"]]


def test_the_answer_is_a_session_filter(rig: dict[str, Any]) -> None:
    survey = rig["survey"]
    assert sessions(rig, "") == [rig["sid"]]  # the visitor without consent left no session
    assert sessions(rig, f"survey={survey}") == [rig["sid"]]
    assert sessions(rig, "survey_answer=" + quote(f"{survey}:why:card")) == [rig["sid"]]
    assert sessions(rig, "survey_answer=" + quote(f"{survey}:why:price")) == []


def test_results_summarise_and_link_to_the_replay_at_the_answer(rig: dict[str, Any]) -> None:
    collector, site, sid = rig["collector"], rig["site"], rig["sid"]
    results = api(rig, f"/api/surveys/{rig['survey']}/results")
    assert (results["shown"], results["answered"], results["completed"], results["dismissed"]) == (1, 1, 1, 0)
    why, more = results["questions"]
    assert {c["value"]: c["count"] for c in why["counts"]} == {"price": 0, "card": 1, "other": 0}
    assert more["responses"] == 1 and len(more["answers"]) == 1

    given = api(rig, f"/api/surveys/{rig['survey']}/answers?question=why")["answers"]
    assert len(given) == 1
    answer = given[0]
    # The answer's moment in the session is the answer event's moment in its page view (one page view
    # here, which starts the session).
    answered_at = next(e["t"] for e in rig["events"] if e["question"] == "why")
    assert answer["t"] == answered_at > 0
    assert answer["link"] == f"/sessions/{sid}?site={site.key}&t={answered_at}"

    page = rig["viewer"]
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{collector.url}{answer['link']}")
    page.wait_for_selector(f"body[data-replay-t='{answered_at}']", state="attached", timeout=30_000)
    # The replayed page at that moment shows the survey being answered (the widget is recorded).
    shown = replay_frame(page).evaluate(
        """() => { const host = document.querySelector('sessionlens-survey');
        const box = host && host.shadowRoot && host.shadowRoot.querySelector('[role=dialog]');
        return box ? box.querySelector('h2').textContent : null; }"""
    )
    assert shown == "What stopped you?"
    # The event list names the survey's moments as the researcher wrote the survey.
    page.wait_for_selector("body[data-inspect=ready]", state="attached", timeout=30_000)
    labels = page.locator(".events-pane li.entry[data-kind=survey]").all_inner_texts()
    assert any(x.endswith("Survey shown: 'What stopped you?'") for x in labels), labels
    assert any(x.endswith("Answered 'What stopped you from paying?': My card was refused") for x in labels), (
        labels
    )
    assert any(x.endswith("Survey completed: 'What stopped you?'") for x in labels), labels
    assert EMAIL not in " ".join(labels) and PHONE not in " ".join(labels)
    assert errors == []


def test_a_visitor_without_consent_never_sees_it_nor_sends_anything(rig: dict[str, Any]) -> None:
    silent = rig["silent"]
    # Not one request to the collector from that page: no ingest, no /surveys, no survey.js.
    assert silent["requests"] == []
    assert silent["sid"] is None
    assert not silent["dialog"] and not silent["widget"]
    assert not [s for s in silent["scripts"] if "survey" in s]
    assert not [k for k in silent["storage"] if k.startswith("sl_survey_")]
    # The same page and steps with consent did reach it (the check above could fail).
    assert rig["requests"]
