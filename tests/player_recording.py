"""A scripted two-page-view session for the player's tests (API and Chromium).

Page one (/pricing): a quote form (an email field with a <label>, a
"Get my quote" button), a click on the button, typing in the email field,
three rage clicks on "Retry", an uncaught error with a stack, a console
warning, a failing fetch, an OK resource, a custom event and an SPA
navigation. Page two (/signup) starts 10 s later with a dark page.
Hostile strings (HTML and script) sit in an error message, a URL and a
button text: the player must show them as text.
"""

from __future__ import annotations

from typing import Any

from sessionlens.contracts import event_fields, make_event, make_node
from tests.helpers import batch, new_id

ORIGIN = "https://quote.example"
HOSTILE = '<img src=x onerror="alert(1)"><script>alert(2)</script>'
EMAIL_VALUE = "secret.visitor@example.com"
ERROR_STACK = "Error: Payment provider unavailable\n    at pay (https://quote.example/app.js:10:5)\n    at submit (https://quote.example/app.js:20:3)"
FAILED_URL = "https://quote.example/api/pay?card=*"
PAGE_TWO_AT = 10_000
DARK = (17, 34, 51)  # page two's background, #112233


def _node(kind: str, **values: Any) -> list[Any]:
    return make_node(kind, **values)


def meta_event(t: int, url: str) -> list[Any]:
    # Every field the schema has, trailing optional ones included (a human visitor's hints).
    values: dict[str, Any] = {
        "url": url, "referrer": "https://search.example/?q=quotes", "title": "Quote", "vw": 1280, "vh": 800,
        "sw": 1920, "sh": 1080, "dpr": 1, "ua": "Mozilla/5.0 (X11; Linux x86_64) Chrome/120", "lang": "de-DE",
        "tz": "Europe/Berlin", "lw": 1280, "lh": 800, "vs": 1, "touch": 0, "webdriver": 0, "brands": "Chromium",
    }  # fmt: skip
    names = event_fields()["meta"]
    return make_event("meta", t=t, **{k: v for k, v in values.items() if k in names})


def page_one_nodes() -> list[list[Any]]:
    return [
        _node("document", id=1),
        _node("doctype", id=2, parent=1, name="html", publicId="", systemId=""),
        _node("element", id=3, parent=1, tag="html", attrs={}),
        _node("element", id=4, parent=3, tag="head", attrs={}),
        _node("element", id=5, parent=3, tag="body", attrs={}),
        _node("element", id=6, parent=5, tag="form", attrs={"id": "quote"}),
        _node("element", id=7, parent=6, tag="label", attrs={"for": "email"}),
        _node("text", id=8, parent=7, text="Email"),
        _node("element", id=9, parent=6, tag="input", attrs={"id": "email", "name": "em", "type": "email"}),
        _node("element", id=10, parent=6, tag="button", attrs={"id": "go"}),
        _node("text", id=11, parent=10, text="Get my quote"),
        _node("element", id=12, parent=5, tag="button", attrs={"class": "retry"}),
        _node("text", id=13, parent=12, text="Retry"),
        _node("element", id=14, parent=5, tag="button", attrs={"class": "evil"}),
        _node("text", id=15, parent=14, text=HOSTILE),
    ]


def page_two_nodes() -> list[list[Any]]:
    return [
        _node("document", id=1),
        _node("doctype", id=2, parent=1, name="html", publicId="", systemId=""),
        _node("element", id=3, parent=1, tag="html", attrs={}),
        _node("element", id=4, parent=3, tag="head", attrs={}),
        _node("element", id=5, parent=4, tag="style", attrs={}),
        _node("text", id=6, parent=5, text="html,body{margin:0;height:100%;background:#112233;color:#fff}"),
        _node("element", id=7, parent=3, tag="body", attrs={}),
        _node("element", id=8, parent=7, tag="h1", attrs={"id": "title"}),
        _node("text", id=9, parent=8, text="Sign up"),
    ]


def click(t: int, target: int, selector: str, text: str, x: float, y: float) -> list[Any]:
    return make_event(
        "click", t=t, target=target, selector=selector, fx=0.5, fy=0.5, px=x, py=y, cx=x, cy=y, button=0,
        pointer="mouse", pw=1280, ph=800, tag="button", flags="", control=selector, text=text,
    )  # fmt: skip


def has_kind(kind: str) -> bool:
    return kind in event_fields()


def page_one_events() -> list[list[Any]]:
    events = [
        meta_event(0, f"{ORIGIN}/pricing"),
        make_event("snapshot", t=40, part=0, last=True, nodes=page_one_nodes()),
        make_event("timing", t=300, name="lcp", value=1234.0),
        make_event("identify", t=500, user="u-42", traits={"plan": "pro"}),
        click(1_000, 10, "#go", "Get my quote", 100, 100),
        make_event("focus", t=1_200, target=9),
        make_event("input", t=1_300, target=9, value=EMAIL_VALUE[:5], checked=None),
        make_event("input", t=1_400, target=9, value=EMAIL_VALUE, checked=None),
        make_event("submit", t=1_500, target=10, form="quote", invalid=[[9, "Email"]]),
        click(2_000, 12, "button.retry", "Retry", 300, 300),
        click(2_200, 12, "button.retry", "Retry", 301, 300),
        click(2_400, 12, "button.retry", "Retry", 300, 301),
        click(2_600, 14, "button.evil", HOSTILE, 500, 500),
        make_event(
            "error",
            t=3_000,
            how="error",
            message="Error: Payment provider unavailable",
            source=f"{ORIGIN}/app.js",
            line=10,
            col=5,
            stack=ERROR_STACK,
        ),  # fmt: skip
        make_event("error", t=3_100, how="error", message=HOSTILE, source="", line=0, col=0, stack=HOSTILE),
        make_event("custom", t=4_000, name="quote_requested", props={}),
        make_event("nav", t=5_000, url=f"{ORIGIN}/pricing/done", how="push", title="Done"),
    ]
    if has_kind("experiment"):
        events.append(make_event("experiment", t=600, name="checkout_button", variant="green"))
    if has_kind("console"):
        events.append(
            make_event("console", t=3_200, level="warn", message="Slow response from /api/pay", stack="")
        )
    if has_kind("request"):
        events += [
            make_event(
                "request",
                t=2_900,
                how="fetch",
                method="POST",
                url=FAILED_URL,
                status=503,
                duration=812,
                size=0,
                failed=1,
            ),  # fmt: skip
            make_event(
                "request",
                t=100,
                how="resource",
                method="GET",
                url=f"{ORIGIN}/app.js",
                status=200,
                duration=40,
                size=5120,
                failed=0,
            ),  # fmt: skip
            make_event(
                "request",
                t=3_300,
                how="xhr",
                method="GET",
                url=f"{ORIGIN}/{HOSTILE}",
                status=404,
                duration=5,
                size=10,
                failed=1,
            ),  # fmt: skip
        ]
    return sorted(events, key=lambda e: e[1])


def page_two_events() -> list[list[Any]]:
    return [
        meta_event(0, f"{ORIGIN}/signup"),
        make_event("snapshot", t=60, part=0, last=True, nodes=page_two_nodes()),
        make_event("move", t=2_000, x=10, y=10, target=None),
    ]


def session_batches(t0: int) -> tuple[str, list[str], list[dict[str, Any]]]:
    """(sid, [pid one, pid two], batches) of the scripted session starting at t0 (epoch ms)."""
    sid, one, two = new_id(), new_id(), new_id()
    batches = [
        batch(sid, one, 0, page_one_events(), t0=t0),
        batch(sid, two, 0, page_two_events(), t0=t0 + PAGE_TWO_AT),
    ]
    return sid, [one, two], batches
