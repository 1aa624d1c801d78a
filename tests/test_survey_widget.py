"""The on-page survey widget (src/sessionlens/static/survey.js) in real Chromium, on pages recorded
by the real recorder into a real collector (issue 13 item 4, surveys-interface.md).

The widget is appended to the page the way the recorder does it (async script with data-site and
data-endpoint) once recording runs; its definitions come from a real HTTP server in the test
(`/ingest/<case>/surveys`), one list per test case, so each test states exactly the survey it
needs. test_surveys_e2e.py runs the whole chain (definitions API, ack header, recorder loading).

Covered: the URL pattern semantics agree with sessionlens.url_patterns.page_matches on a table;
each trigger (URL, custom event, exit intent, N seconds with Playwright's clock); keyboard-only
answering with the answers recorded through sessionlens.survey and stored by the collector; the
typed text masked in the recording; Escape; once per visitor; theme and position; hostile strings
rendered as text; the site's CSS not reaching the widget.
"""

from __future__ import annotations

import gzip
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from sessionlens.contracts import event_as_dict
from sessionlens.url_patterns import normalise_url, page_matches
from tests.helpers import free_port
from tests.live import LiveCollector, ThreadServer, chromium, demo_snippet, wait_until

WIDGET = Path(__file__).resolve().parent.parent / "src" / "sessionlens" / "static" / "survey.js"

# The page: hostile CSS that would wreck the widget if it reached it.
PAGE = """<!doctype html><html><head><title>page</title>
<meta name="viewport" content="width=device-width">
<!--SNIPPET-->
<style>button{background:#ff0000!important;color:#00ff00!important;font-size:40px!important}
div{display:none!important} label{visibility:hidden!important}</style>
</head><body><input id="field" aria-label="page field"><p style="height:2400px">content</p></body></html>"""

# Survey definitions served per test case (the widget's data-site names the case).
DEFS: dict[str, list[dict[str, Any]]] = {}


def survey(sid: str, questions: list[dict[str, Any]] | None = None, **trigger: Any) -> dict[str, Any]:
    return {
        "id": sid,
        "name": f"Survey {sid}",
        "questions": questions
        or [
            {
                "id": "q1",
                "type": "choice",
                "prompt": "Why?",
                "options": [{"id": "a", "label": "A"}],
                "required": False,
            }
        ],
        "trigger": {"url": "", "event": "", "exit_intent": False, "after_seconds": 0, **trigger},
        "theme": {
            "accent": "#0a7d32",
            "background": "#ffffff",
            "text": "#111111",
            "position": "bottom-right",
        },
        "thanks": "Thanks!",
    }


def definitions_app() -> Starlette:
    async def surveys(request: Request) -> Response:
        return JSONResponse(
            {"surveys": DEFS.get(request.path_params["case"], [])},
            headers={"Access-Control-Allow-Origin": "*"},
        )

    async def widget(request: Request) -> Response:
        return Response(WIDGET.read_text(), media_type="text/javascript")

    return Starlette(routes=[Route("/ingest/{case}/surveys", surveys), Route("/survey.js", widget)])


@pytest.fixture(scope="module")
def rig(
    tmp_path_factory: pytest.TempPathFactory, new_collector: Callable[..., LiveCollector]
) -> Iterator[dict[str, Any]]:
    collector = new_collector(Path(tmp_path_factory.mktemp("widget")) / "data")
    collector.start()
    port = free_port()
    site = collector.add_site(f"http://127.0.0.1:{port}")
    html = PAGE.replace("<!--SNIPPET-->", demo_snippet(collector, site, flush_ms=300))

    async def page(request: Request) -> Response:
        return HTMLResponse(html)

    app = Starlette(routes=[Route("/{path:path}", page)])
    with (
        ThreadServer(app, port) as server,
        ThreadServer(definitions_app()) as defs,
        chromium() as browser,
    ):
        yield {"collector": collector, "server": server, "defs": defs, "site": site, "browser": browser}
    collector.stop()


def open_page(rig: dict[str, Any], ctx: Any, case: str, path: str = "/page", clock: bool = False) -> Any:
    """A recorded page with the widget loaded as the recorder loads it, its survey() calls spied on."""
    page = ctx.new_page()
    page.goto(f"{rig['server'].url}{path}")
    page.wait_for_function("() => window.sessionlens && window.sessionlens.sessionId")
    if clock:
        page.clock.install()
    page.evaluate(
        """([src, site, endpoint]) => {
        const real = sessionlens.survey;
        window.__calls = [];
        sessionlens.survey = function (...a) { window.__calls.push(a); return real.apply(this, a); };
        const s = document.createElement("script");
        s.async = true; s.src = src; s.dataset.site = site; s.dataset.endpoint = endpoint;
        document.head.appendChild(s);
    }""",
        [f"{rig['defs'].url}/survey.js", case, f"{rig['defs'].url}/ingest/{case}"],
    )
    page.wait_for_function("() => window.__sessionlensSurveys && window.__sessionlensSurveys.ready")
    return page


def shown(page: Any) -> bool:
    return page.evaluate("() => !!document.querySelector('sessionlens-survey')")


def calls(page: Any) -> list[list[Any]]:
    return page.evaluate("() => window.__calls")


def focused(page: Any) -> str:
    """What has focus, through the widget's shadow root: role/tag/type/value of the element."""
    return page.evaluate(
        """() => { let e = document.activeElement;
        while (e && e.shadowRoot && e.shadowRoot.activeElement) e = e.shadowRoot.activeElement;
        return [e.getAttribute('role') || e.tagName.toLowerCase(), e.type || '', e.value || e.id || ''].join(':'); }"""
    )


def test_the_widget_is_small_and_never_inside_the_recorder() -> None:
    body = WIDGET.read_bytes()
    # Served gzipped as written (comments included); minified it is about 4.3 KB gzipped.
    assert len(gzip.compress(body, compresslevel=9)) < 7_000
    recorder = (WIDGET.parent / "recorder.js").read_text()
    assert "__sessionlensSurveys" not in recorder and "sessionlens-survey" not in recorder


def test_url_patterns_agree_with_the_server(rig: dict[str, Any]) -> None:
    DEFS["none"] = []
    ctx = rig["browser"].new_context()
    page = open_page(rig, ctx, "none")
    urls = [
        "https://shop.example/",
        "https://shop.example",
        "https://Shop.Example/product/12?utm_source=x&b=2#top",
        "https://shop.example/product/12?b=2",
        "https://shop.example/product/12?a&b=&c=1",
        "https://shop.example/search?q=red+shoes&gclid=abc",
        "https://shop.example/search?q=red%20shoes",
        "https://shop.example/search?q=%E2%82%AC%zz&x=(1)*~",
        "https://shop.example/search?ref=home&REF=kept",
        "https://shop.example/a/b/c.html",
        "http://other.example/product/9",
        "https://shop.example/checkout/step-2?plan=pro",
        "https://shop.example/%7Euser/",
        "",
    ]
    patterns = [
        "/",
        "/product/*",
        "/product/12",
        "/product/12?b=2",
        "/product/12?a=&b=&c=1",
        "/product/12?a&b&c=1",
        "/search?q=red shoes",
        "/search*",
        "*://shop.example/*",
        "https://shop.example/product/12?b=2",
        "https://SHOP.example/product/12?b=2#x",
        "https://shop.example/*/c.html",
        "/checkout/*?plan=pro",
        "/checkout/step-?",
        "/a/b/c.html",
        "/search?REF=kept",
        "http://other.example/*",
        "*",
        "/~user/",
        "/%7Euser/",
        "/*/*/c.html",
        "*shop*product*12*",
        "/search?q=*s*",
        "/a*b*c*",
        "**",
        "/product/1*2",
    ]
    cases = [[u, p] for u in urls for p in patterns]
    got = page.evaluate(
        "(cases) => cases.map(([u, p]) => window.__sessionlensSurveys.pageMatches(u, p))", cases
    )
    want = [page_matches(u, p) for u, p in cases]
    assert [c for c, g, w in zip(cases, got, want, strict=True) if g != w] == []
    assert sum(want) > 20  # the table exercises matches, not only refusals
    normalised = page.evaluate("(us) => us.map((u) => window.__sessionlensSurveys.normalise(u))", urls)
    assert normalised == [normalise_url(u) for u in urls]
    ctx.close()


def test_url_patterns_match_in_linear_time_with_the_same_answers(rig: dict[str, Any]) -> None:
    """Many wildcards on a long URL: a regex of one wildcard per '*' backtracks for longer than
    this test waits (the page would hang on every URL check); the widget's matcher answers as
    the server's does. (The server refuses more than 8 '*' in a new survey; an older stored
    one, or a future limit, must still not hang a visitor's page.)"""
    DEFS["none"] = []
    ctx = rig["browser"].new_context()
    page = open_page(rig, ctx, "none")
    long_url = "https://shop.example/" + "a" * 300
    cases = [
        [long_url, "/" + "*a" * 40 + "b"],
        [long_url + "b", "/" + "*a" * 40 + "b"],
        [long_url, "*" + "a*" * 40],
        [long_url, "/" + "*aa" * 30 + "*"],
        [long_url + "?q=x", "/*a*?q=*"],
    ]
    got = page.evaluate(
        "(cases) => cases.map(([u, p]) => window.__sessionlensSurveys.pageMatches(u, p))", cases
    )
    assert got == [page_matches(u, p) for u, p in cases] == [False, True, True, True, True]
    ctx.close()


def test_url_trigger_shows_on_matching_pages_only(rig: dict[str, Any]) -> None:
    DEFS["url"] = [survey("by-url", url="/checkout/*")]
    ctx = rig["browser"].new_context()
    page = open_page(rig, ctx, "url", "/shop/1")
    assert not shown(page) and calls(page) == []
    page.close()
    page = open_page(rig, ctx, "url", "/checkout/pay?x=1")
    page.get_by_role("dialog").wait_for()
    assert calls(page) == [["by-url", "shown"]]
    ctx.close()


def test_custom_event_trigger(rig: dict[str, Any]) -> None:
    DEFS["event"] = [survey("by-event", event="checkout_failed")]
    ctx = rig["browser"].new_context()
    page = open_page(rig, ctx, "event")
    page.evaluate("() => sessionlens.track('something_else', {a: 1})")
    assert not shown(page)
    page.evaluate("() => sessionlens.track('checkout_failed', {step: 2})")
    page.get_by_role("dialog").wait_for()
    assert calls(page) == [["by-event", "shown"]]
    ctx.close()


def test_exit_intent_trigger(rig: dict[str, Any]) -> None:
    DEFS["exit"] = [survey("by-exit", exit_intent=True)]
    ctx = rig["browser"].new_context()
    page = open_page(rig, ctx, "exit")
    page.mouse.move(600, 300)
    page.mouse.move(600, 200, steps=3)  # moving around inside the page is no exit
    assert not shown(page)
    page.mouse.move(600, -30, steps=4)  # out through the top of the viewport
    page.get_by_role("dialog").wait_for()
    assert calls(page) == [["by-exit", "shown"]]
    ctx.close()


def test_after_seconds_trigger(rig: dict[str, Any]) -> None:
    DEFS["time"] = [survey("by-time", after_seconds=45)]
    ctx = rig["browser"].new_context()
    page = open_page(rig, ctx, "time", clock=True)
    page.clock.run_for(30_000)
    assert not shown(page)
    page.clock.run_for(16_000)
    page.get_by_role("dialog").wait_for()
    assert calls(page) == [["by-time", "shown"]]
    ctx.close()


QUESTIONS = [
    {"id": "rate", "type": "rating", "prompt": "How easy was it?", "required": True,
     "scale": {"min": 1, "max": 5, "low_label": "Hard", "high_label": "Easy"}},
    {"id": "why", "type": "choice", "prompt": "What stopped you?", "required": False,
     "options": [{"id": "price", "label": "Price"}, {"id": "shipping", "label": "Shipping"}]},
    {"id": "more", "type": "multi", "prompt": "Anything else?", "required": False,
     "options": [{"id": "x", "label": "Slow"}, {"id": "y", "label": "Ugly"}, {"id": "z", "label": "Buggy"}]},
    {"id": "nps", "type": "nps", "prompt": "Recommend us?", "required": False},
    {"id": "free", "type": "text", "prompt": "Tell us more", "required": False},
]  # fmt: skip


def test_keyboard_only_answering_recorded_and_stored(rig: dict[str, Any]) -> None:
    collector, site = rig["collector"], rig["site"]
    DEFS["keys"] = [survey("kbd", QUESTIONS, event="stuck")]
    ctx = rig["browser"].new_context()
    page = open_page(rig, ctx, "keys")
    page.focus("#field")
    page.evaluate("() => sessionlens.track('stuck')")
    dialog = page.get_by_role("dialog", name="Survey kbd")
    dialog.wait_for()
    # Focus moved into the dialog, which names and describes itself.
    assert focused(page) == "dialog::"
    assert dialog.get_attribute("aria-describedby") == "sl-d"
    assert page.locator("sessionlens-survey #sl-d").text_content() == "Question 1 of 5"
    group = page.get_by_role("group", name="How easy was it?")
    assert group.get_by_role("radio").count() == 5

    page.keyboard.press("Tab")
    assert focused(page) == "button:button:"  # the close button
    page.keyboard.press("Tab")
    assert focused(page) == "input:radio:1"
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")  # checks 4
    page.keyboard.press("Tab")
    assert focused(page) == "button:button:"  # Next
    page.keyboard.press("Enter")

    page.get_by_role("group", name="What stopped you?").wait_for()
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    page.keyboard.press("ArrowDown")  # shipping
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")

    page.get_by_role("group", name="Anything else?").wait_for()
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    page.keyboard.press("Space")  # Slow
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    page.keyboard.press("Space")  # Buggy
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")

    page.get_by_role("group", name="Recommend us?").wait_for()
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")  # NPS not answered (optional): on to Next
    page.keyboard.press("Enter")

    text = page.get_by_role("textbox", name="Tell us more")
    text.wait_for()
    assert text.get_attribute("data-sl-mask") == ""
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    page.keyboard.type("typed-secret-words")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")  # Send
    page.get_by_text("Thanks!").wait_for()
    assert focused(page) == "dialog::"  # described by the thanks
    assert page.locator("sessionlens-survey #sl-d").text_content() == "Thanks!"
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    assert focused(page) == "button:button:"
    page.keyboard.press("Enter")  # Close
    wait_until(lambda: not shown(page), message="dialog closed")
    assert page.evaluate("() => document.activeElement.id") == "field"  # focus restored
    assert calls(page) == [
        ["kbd", "shown"],
        ["kbd", "answer", "rate", "4"],
        ["kbd", "answer", "why", "shipping"],
        ["kbd", "answer", "more", "x\nz"],
        ["kbd", "answer", "free", "typed-secret-words"],
        ["kbd", "complete"],
    ]

    # The collector stores them as survey events; the typed text only ever in the survey answer.
    pid = page.evaluate("() => sessionlens.pageViewId")

    def stored() -> list[dict]:
        page.evaluate("() => sessionlens.flush()")
        events = [e for c in collector.chunks(site) if c["pid"] == pid for e in c["events"]]
        return [event_as_dict(e) for e in events]

    wait_until(lambda: sum(e["kind"] == "survey" for e in stored()) == 6, message="six survey events stored")
    events = stored()
    answers = [(e["action"], e["question"], e["value"]) for e in events if e["kind"] == "survey"]
    assert answers[4] == ("answer", "free", "typed-secret-words")
    others = [e for e in events if e["kind"] != "survey"]
    assert "typed-secret-words" not in repr(others)
    ctx.close()


def test_required_question_and_escape_dismiss(rig: dict[str, Any]) -> None:
    DEFS["esc"] = [survey("esc", [QUESTIONS[0], QUESTIONS[4]], event="go")]
    ctx = rig["browser"].new_context()
    page = open_page(rig, ctx, "esc")
    page.focus("#field")
    page.evaluate("() => sessionlens.track('go')")
    page.get_by_role("dialog").wait_for()
    page.get_by_role("button", name="Next").click()  # required, unanswered
    page.get_by_role("status").filter(has_text="Please answer this question.").wait_for()
    assert focused(page) == "input:radio:1"
    page.keyboard.press("Escape")
    wait_until(lambda: not shown(page), message="dialog dismissed")
    assert calls(page) == [["esc", "shown"], ["esc", "dismiss"]]
    assert page.evaluate("() => document.activeElement.id") == "field"
    ctx.close()


def test_once_per_visitor_and_one_at_a_time(rig: dict[str, Any]) -> None:
    DEFS["once"] = [survey("first", event="go"), survey("second", event="go")]
    ctx = rig["browser"].new_context()
    page = open_page(rig, ctx, "once")
    page.evaluate("() => { sessionlens.track('go'); sessionlens.track('go'); }")
    page.get_by_role("dialog", name="Survey first").wait_for()
    assert page.locator("sessionlens-survey").count() == 1
    page.keyboard.press("Escape")
    wait_until(lambda: not shown(page), message="first dismissed")
    page.evaluate("() => sessionlens.track('go')")  # the next one may show now
    page.get_by_role("dialog", name="Survey second").wait_for()
    page.keyboard.press("Escape")
    assert calls(page) == [
        ["first", "shown"],
        ["first", "dismiss"],
        ["second", "shown"],
        ["second", "dismiss"],
    ]
    page.close()
    # The same visitor on another page view: never again.
    page = open_page(rig, ctx, "once")
    page.evaluate("() => sessionlens.track('go')")
    assert not shown(page) and calls(page) == []
    assert page.evaluate("() => [localStorage.sl_survey_first, localStorage.sl_survey_second]") == ["1", "1"]
    ctx.close()
    # Another visitor sees it.
    ctx = rig["browser"].new_context()
    page = open_page(rig, ctx, "once")
    page.evaluate("() => sessionlens.track('go')")
    page.get_by_role("dialog", name="Survey first").wait_for()
    ctx.close()


def box_style(page: Any) -> dict[str, Any]:
    return page.evaluate(
        """() => { const root = document.querySelector('sessionlens-survey').shadowRoot;
        const box = root.querySelector('[role=dialog]'), go = root.querySelector('.go'), r = box.getBoundingClientRect();
        const cs = getComputedStyle(box), gs = getComputedStyle(go), label = root.querySelector('label');
        return {bg: cs.backgroundColor, fg: cs.color, goBg: gs.backgroundColor, goSize: gs.fontSize,
                display: cs.display, label: getComputedStyle(label).visibility,
                left: r.left, right: innerWidth - r.right, bottom: innerHeight - r.bottom}; }"""
    )


def test_theme_position_and_isolation_from_site_css(rig: dict[str, Any]) -> None:
    themed = survey("themed", event="go")
    themed["theme"] = {
        "accent": "#123456",
        "background": "#fafad2",
        "text": "#202020",
        "position": "bottom-left",
    }
    bad = survey("bad-theme", event="bad")
    bad["theme"] = {
        "accent": "red;background:url(http://evil.example/x)",
        "background": "#12345",
        "text": "expression(alert(1))",
        "position": "top;left:0",
    }
    DEFS["theme"] = [themed, bad]
    ctx = rig["browser"].new_context()
    page = open_page(rig, ctx, "theme")
    page.evaluate("() => sessionlens.track('go')")
    page.get_by_role("dialog").wait_for()
    style = box_style(page)
    assert (style["bg"], style["fg"], style["goBg"]) == (
        "rgb(250, 250, 210)",
        "rgb(32, 32, 32)",
        "rgb(18, 52, 86)",
    )
    # The page's `div{display:none!important}`, `label{visibility:hidden}` and button colours stay out.
    assert (style["display"], style["label"], style["goSize"]) == ("block", "visible", "15px")
    assert style["left"] == 16 and style["bottom"] == 16
    page.keyboard.press("Escape")
    page.evaluate("() => sessionlens.track('bad')")
    page.get_by_role("dialog").wait_for()
    style = box_style(page)
    # Invalid values fall back to the defaults; the default position is bottom-right.
    assert (style["bg"], style["fg"], style["goBg"]) == (
        "rgb(255, 255, 255)",
        "rgb(17, 17, 17)",
        "rgb(37, 99, 235)",
    )
    assert style["right"] == 16 and style["bottom"] == 16
    ctx.close()


def test_hostile_definition_strings_are_text(rig: dict[str, Any]) -> None:
    evil = '<img src=x onerror="window.__pwned=1"><b>bold</b>'
    DEFS["evil"] = [
        {
            **survey("evil", event="go"),
            "name": "N" + evil,
            "questions": [
                {"id": "c", "type": "choice", "prompt": "P" + evil, "required": False,
                 "options": [{"id": '"><script>window.__pwned=2</script>', "label": "L" + evil}]},
                {"id": "t", "type": "text", "prompt": "T" + evil, "required": False},
            ],
            "thanks": "Z" + evil,
        }
    ]  # fmt: skip
    ctx = rig["browser"].new_context()
    page = open_page(rig, ctx, "evil")
    page.evaluate("() => sessionlens.track('go')")
    dialog = page.get_by_role("dialog", name="N" + evil)
    dialog.wait_for()
    assert page.locator("sessionlens-survey legend").text_content() == "P" + evil
    page.get_by_role("radio", name="L" + evil).check()
    page.get_by_role("button", name="Next").click()
    page.get_by_role("textbox", name="T" + evil).wait_for()
    page.get_by_role("button", name="Send").click()
    page.get_by_text("Z" + evil).wait_for()
    counts = page.evaluate(
        "() => { const r = document.querySelector('sessionlens-survey').shadowRoot;"
        " return [r.querySelectorAll('img,b,script').length, document.querySelectorAll('img,b').length]; }"
    )
    assert counts == [0, 0]
    assert page.evaluate("() => window.__pwned") is None
    assert calls(page)[1] == ["evil", "answer", "c", '"><script>window.__pwned=2</script>']
    ctx.close()


def test_free_text_leaves_the_page_with_emails_and_phones_masked(rig: dict[str, Any]) -> None:
    DEFS["text"] = [survey("text", [QUESTIONS[4]], event="go")]
    ctx = rig["browser"].new_context()
    page = open_page(rig, ctx, "text")
    page.evaluate("() => sessionlens.track('go')")
    page.get_by_role("textbox", name="Tell us more").fill(
        "call 0171 1234567 or (030) 123-45-67, mail x.y@mail.example.org; order 42 of 2024"
    )
    page.get_by_role("button", name="Send").click()
    page.get_by_role("button", name="Close", exact=True).click()
    assert calls(page)[1] == [
        "text",
        "answer",
        "free",
        "call **** ******* or (***) ***-**-**, mail ********************; order 42 of 2024",
    ]
    ctx.close()


BACK_SCROLL = """async () => {
    const frame = () => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
    scrollTo(0, 1500); await frame(); scrollTo(0, 100); await frame();
}"""


def test_exit_intent_on_touch_is_a_fast_scroll_back_up(rig: dict[str, Any]) -> None:
    DEFS["touch"] = [survey("by-touch", exit_intent=True)]
    # A desktop visitor scrolling back up is reading, not leaving.
    ctx = rig["browser"].new_context()
    page = open_page(rig, ctx, "touch")
    page.evaluate(BACK_SCROLL)
    page.evaluate("() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))")
    assert not shown(page)
    ctx.close()
    ctx = rig["browser"].new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page = open_page(rig, ctx, "touch")
    assert page.evaluate("() => matchMedia('(hover: none)').matches")
    page.evaluate(BACK_SCROLL)
    page.get_by_role("dialog").wait_for()
    assert calls(page) == [["by-touch", "shown"]]
    ctx.close()
