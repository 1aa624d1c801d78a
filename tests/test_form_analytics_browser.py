"""Form analytics in real Chromium (docs/forms.md): human-like visitors run the real recorder
against `sessionlens serve` and fill real forms; /api/forms (logged in) must give exactly what
they were scripted to do, no typed value may reach the bytes sent, the stored chunks, the index
or the API, and the /forms page shows the form and its fields, whose session links open the
player at the field's moment.

Visitors (recorded once per backend, module-scoped rig):
- ann completes the signup <form>: hesitates on email, corrects it three times (a Backspace run,
  a forward Delete, another Backspace), corrects her name once (select-all and overtype; email
  inputs do not expose their selection, see docs/forms.md), returns to the name field, submits
  with the required phone blank (checkValidity's `invalid`, aria-invalid and role=alert error
  text), fills the phone, submits again and is taken to /welcome (a POST, so no value in a URL);
- bob starts the signup form and leaves at the phone field;
- dee only views it;
- cal uses an SPA newsletter box (fields and a button, no <form>): a blank attempt shown
  invalid, then a filled one that changes the route.
"""

from __future__ import annotations

import gzip
import json
import re
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from sessionlens import codec
from sessionlens.auth.users import Accounts
from sessionlens.forms.track import form_key
from tests.helpers import free_port
from tests.live import LiveCollector, ThreadServer, demo_snippet, wait_until
from tests.test_research_e2e import Visits, human_chromium, ready
from tests.viewer_live import VIEWER_USER, add_viewer_user, log_in

# What the visitors type: none of it may be sent, stored, indexed or shown.
NAME, NAME_MORE = "Zebediah", "Quuxfield"
EMAIL_PARTS = ("qa", "zz-secret", "mail4711", "xample.org")
PHONE = "5550104711"
CAL = "cal-newsletter-9931"
SECRETS = (NAME, NAME_MORE, "Zebedi", "zz-secret", "mail4711", "xample", PHONE, "0104711", CAL, "9931")


def _leaked(secret: str, text: bytes) -> bool:
    """Whether `secret` is in `text`, case-insensitively. A secret of digits counts only as a number
    of its own: a millisecond timestamp (1796469931123) holds "9931" by chance, a typed one does not."""
    pattern = re.escape(secret.lower().encode())
    if secret.isdigit():
        pattern = rb"(?<![0-9])" + pattern + rb"(?![0-9])"
    return re.search(pattern, text.lower()) is not None

SIGNUP = """<!doctype html><html><head><title>Signup</title></head><body>
<h1>Join us</h1>
<form id="signup" method="post" action="/welcome" novalidate>
  <h2>Create your account</h2>
  <p><label for="name">Full name</label> <input id="name" name="name" type="text"></p>
  <p><label for="email">Email</label> <input id="email" name="email" type="email"></p>
  <p><label for="phone">Phone</label> <input id="phone" name="phone" type="tel" required
     aria-describedby="phone-error"> <span id="phone-error" role="alert"></span></p>
  <button type="submit" id="go">Sign up</button>
</form>
<script>
  const form = document.getElementById("signup");
  const phone = document.getElementById("phone");
  form.addEventListener("submit", (e) => {
    if (form.checkValidity()) return; // fires `invalid` on the blank required phone
    e.preventDefault();
    phone.setAttribute("aria-invalid", "true");
    document.getElementById("phone-error").textContent = "Enter your phone number";
  });
  phone.addEventListener("input", () => {
    phone.removeAttribute("aria-invalid");
    document.getElementById("phone-error").textContent = "";
  });
</script>
<!--SNIPPET--></body></html>"""

WELCOME = """<!doctype html><html><head><title>Welcome</title></head><body>
<h1 id="welcome">Welcome aboard</h1><!--SNIPPET--></body></html>"""

SPA = """<!doctype html><html><head><title>App</title></head><body>
<main><div id="newsletter" aria-label="Newsletter">
  <input id="address" name="address" type="email" placeholder="Your email" aria-describedby="address-error">
  <span id="address-error" role="alert"></span>
  <button id="join" type="button">Join</button>
</div></main>
<script>
  const address = document.getElementById("address");
  document.getElementById("join").addEventListener("click", () => {
    if (!address.value) {
      address.setAttribute("aria-invalid", "true");
      document.getElementById("address-error").textContent = "Enter an address";
      return;
    }
    history.pushState({}, "", "/app/done");
    const done = document.createElement("p");
    done.id = "subscribed";
    done.textContent = "Subscribed";
    document.getElementById("newsletter").replaceWith(done);
  });
  address.addEventListener("input", () => {
    address.removeAttribute("aria-invalid");
    document.getElementById("address-error").textContent = "";
  });
</script>
<!--SNIPPET--></body></html>"""


def site_app(snippet: str) -> Starlette:
    def page(html: str) -> Callable[[Request], Any]:
        body = html.replace("<!--SNIPPET-->", snippet)

        async def serve(request: Request) -> Response:
            await request.body()  # the POSTed form: read and dropped
            return HTMLResponse(body)

        return serve

    return Starlette(
        routes=[
            Route("/signup", page(SIGNUP)),
            Route("/welcome", page(WELCOME), methods=["GET", "POST"]),
            Route("/app", page(SPA)),
            Route("/app/done", page(SPA)),
        ]
    )


def script_visitors(v: Visits) -> None:
    # ann: completes the signup form after one validation error.
    ctx = v.context()
    page = v.open(ctx, "/signup")
    page.focus("#name")
    page.keyboard.type("Zeb" + "xyz", delay=15)
    page.keyboard.press("Control+A")
    page.keyboard.type(NAME, delay=15)  # one correction: typing over a selection
    page.focus("#email")
    page.wait_for_timeout(900)  # hesitation: focus to first input
    page.keyboard.type(EMAIL_PARTS[0] + "oops", delay=15)
    for _ in range(4):
        page.keyboard.press("Backspace")  # correction 1: a run of deletions
    page.keyboard.type("-" + EMAIL_PARTS[1] + "@x", delay=15)
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("Delete")  # correction 2: deleting forward
    page.keyboard.press("End")
    page.keyboard.type(EMAIL_PARTS[2] + ".ex", delay=15)
    page.keyboard.press("Backspace")  # correction 3
    page.keyboard.type("." + EMAIL_PARTS[3], delay=15)
    page.focus("#name")  # a return to the name field
    page.keyboard.press("End")
    page.keyboard.type(" " + NAME_MORE, delay=15)
    page.wait_for_timeout(200)
    page.click("#go")  # phone left blank
    page.wait_for_selector("text=Enter your phone number")
    page.wait_for_timeout(300)
    page.focus("#phone")
    page.keyboard.type(PHONE, delay=15)
    page.wait_for_timeout(200)
    page.click("#go")
    page.wait_for_url("**/welcome")
    ready(page)
    page.wait_for_timeout(200)
    v.done("ann", page)
    ctx.close()

    # bob: starts, types his name and a phone number, and leaves at the phone field.
    ctx = v.context()
    page = v.open(ctx, "/signup")
    page.focus("#name")
    page.keyboard.type(NAME, delay=15)
    page.focus("#phone")
    page.keyboard.type(PHONE, delay=15)
    page.wait_for_timeout(200)
    v.done("bob", page)
    ctx.close()

    # dee: sees the form and moves the mouse, nothing else.
    ctx = v.context()
    page = v.open(ctx, "/signup")
    page.mouse.move(300, 300)
    page.mouse.move(400, 350)
    page.wait_for_timeout(300)
    v.done("dee", page)
    ctx.close()

    # cal: the SPA newsletter box: a blank attempt, then a filled one that changes the route.
    ctx = v.context()
    page = v.open(ctx, "/app")
    page.click("#join")
    page.wait_for_selector("text=Enter an address")
    page.wait_for_timeout(300)
    page.focus("#address")
    page.keyboard.type(CAL + "@example.org", delay=15)
    page.wait_for_timeout(200)
    page.click("#join")
    page.wait_for_selector("#subscribed")
    page.wait_for_timeout(300)
    v.done("cal", page)
    ctx.close()


# -- the rig -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def rig(
    tmp_path_factory: pytest.TempPathFactory, new_collector: Callable[..., LiveCollector]
) -> Iterator[dict[str, Any]]:
    collector = new_collector(Path(tmp_path_factory.mktemp("forms-browser")) / "data")
    collector.start()
    add_viewer_user(collector)
    token = Accounts(collector.store).create_token(VIEWER_USER, "forms")
    port = free_port()
    site = collector.add_site(f"http://127.0.0.1:{port}")
    snippet = demo_snippet(collector, site, flush_ms=300)
    try:
        with ThreadServer(site_app(snippet), port) as server, human_chromium() as browser:
            visits = Visits(browser, collector, server.url)
            script_visitors(visits)
            rig: dict[str, Any] = {
                "collector": collector,
                "site": site,
                "sids": visits.sids,
                "token": token,
                "sent": visits.sent,
                "responses": [],
            }
            wait_for_forms(rig)
            viewer = browser.new_context(viewport={"width": 1400, "height": 900})
            rig["page"] = viewer.new_page()
            log_in(rig["page"], collector)
            yield rig
            viewer.close()
    finally:
        collector.stop()


def api(rig: dict[str, Any], path: str) -> Any:
    request = urllib.request.Request(
        f"{rig['collector'].url}{path}", headers={"Authorization": f"Bearer {rig['token']}"}
    )
    with urllib.request.urlopen(request, timeout=20) as response:
        raw = response.read()
    rig["responses"].append(raw)
    return orjson.loads(raw)


def wait_for_forms(rig: dict[str, Any]) -> None:
    """Every visitor's session indexed (none a bot), the derivation queue empty, form rows written."""
    collector, sids = rig["collector"], rig["sids"]

    def derived() -> bool:
        rows = collector.index_rows("SELECT sid, is_bot FROM sessions WHERE site = ?", (rig["site"].key,))
        forms = collector.index_rows("SELECT DISTINCT sid FROM form_views WHERE site = ?", (rig["site"].key,))
        return (
            {r["sid"] for r in rows} >= set(sids.values())
            and collector.index.work_backlog(10**6)["pending"] == 0
            and {r["sid"] for r in forms} >= set(sids.values())
        )

    wait_until(derived, timeout=90, interval=0.5, message="sessions indexed and their forms derived")
    bots = collector.index_rows(
        "SELECT sid, bot_reason FROM sessions WHERE site = ? AND is_bot = 1", (rig["site"].key,)
    )
    assert not bots, bots


def signup_key(rig: dict[str, Any]) -> str:
    return form_key("#signup", "/signup")


def newsletter_key(rig: dict[str, Any]) -> str:
    return form_key("#newsletter", "/app")


COUNTED = (
    "interactions", "corrections", "correction_sessions", "returns", "return_sessions", "blank_submit",
    "errors", "error_sessions", "abandons", "abandon_share",
)  # fmt: skip


def fields(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["field"]: f for f in report["fields"]}


# -- the numbers -----------------------------------------------------------------------------------


def test_the_forms_list_counts_views_starts_completions_and_abandons(rig: dict[str, Any]) -> None:
    body = api(rig, f"/api/forms?site={rig['site'].key}")
    forms = {f["form"]: f for f in body["forms"]}
    assert set(forms) == {signup_key(rig), newsletter_key(rig)}, forms
    signup = forms[signup_key(rig)]
    assert (signup["name"], signup["ident"], signup["path"], signup["spa"]) == (
        "Create your account", "#signup", "/signup", False,
    )  # fmt: skip
    assert (signup["views"], signup["starters"], signup["completions"], signup["abandons"]) == (3, 2, 1, 1)
    assert (signup["view_to_start"], signup["start_to_completion"]) == (round(2 / 3, 4), 0.5)
    # ann's first interaction to her clean attempt spans at least the scripted waits.
    assert signup["median_time_to_complete_ms"] >= 900 + 200 + 300 + 200
    spa = forms[newsletter_key(rig)]
    assert (spa["name"], spa["ident"], spa["path"], spa["spa"]) == ("Newsletter", "#newsletter", "/app", True)
    assert (spa["views"], spa["starters"], spa["completions"], spa["abandons"]) == (1, 1, 1, 0)
    assert (spa["view_to_start"], spa["start_to_completion"]) == (1.0, 1.0)


def test_the_signup_fields_hold_what_each_visitor_did(rig: dict[str, Any]) -> None:
    report = api(rig, f"/api/forms/{signup_key(rig)}?site={rig['site'].key}")
    f = fields(report)
    assert [x["field"] for x in report["fields"]] == ["name", "email", "phone"]
    assert [x["label"] for x in report["fields"]] == ["Full name", "Email", "Phone"]
    got = {key: {m: f[key][m] for m in COUNTED} for key in f}
    assert got == {
        "name": {"interactions": 2, "corrections": 1, "correction_sessions": 1, "returns": 1,
                 "return_sessions": 1, "blank_submit": 0, "errors": 0, "error_sessions": 0,
                 "abandons": 0, "abandon_share": 0.0},
        "email": {"interactions": 1, "corrections": 3, "correction_sessions": 1, "returns": 0,
                  "return_sessions": 0, "blank_submit": 0, "errors": 0, "error_sessions": 0,
                  "abandons": 0, "abandon_share": 0.0},
        "phone": {"interactions": 2, "corrections": 0, "correction_sessions": 0, "returns": 0,
                  "return_sessions": 0, "blank_submit": 1, "errors": 1, "error_sessions": 1,
                  "abandons": 1, "abandon_share": 1.0},
    }  # fmt: skip
    assert f["phone"]["blank_rate"] == 1.0  # of the one session that tried to submit
    assert (f["email"]["correction_rate"], f["name"]["return_rate"]) == (1.0, 0.5)
    # ann waited 900 ms between focusing the email field and typing; she was the only one there.
    assert f["email"]["mean_hesitation_ms"] >= 900
    assert f["email"]["mean_time_ms"] >= f["email"]["mean_hesitation_ms"]
    assert all(f[k]["mean_time_ms"] > 0 for k in f)


def test_the_spa_form_has_its_blank_attempt_and_its_error(rig: dict[str, Any]) -> None:
    report = api(rig, f"/api/forms/{newsletter_key(rig)}?site={rig['site'].key}")
    (address,) = report["fields"]
    assert (address["field"], address["label"]) == ("address", "Your email")
    assert {m: address[m] for m in ("interactions", "blank_submit", "errors", "abandons", "corrections")} == {
        "interactions": 1, "blank_submit": 1, "errors": 1, "abandons": 0, "corrections": 0,
    }  # fmt: skip


def test_the_sessions_behind_each_number_are_the_scripted_visitors(rig: dict[str, Any]) -> None:
    sids, key = rig["sids"], signup_key(rig)

    def behind(metric: str, field: str | None = None) -> set[str]:
        q = f"site={rig['site'].key}&metric={metric}" + (f"&field={field}" if field else "")
        names = {sid: name for name, sid in sids.items()}
        return {names[s["sid"]] for s in api(rig, f"/api/forms/{key}/sessions?{q}")["sessions"]}

    assert behind("views") == {"ann", "bob", "dee"}
    assert behind("starters") == {"ann", "bob"}
    assert (behind("completions"), behind("abandons")) == ({"ann"}, {"bob"})
    assert behind("corrections", "email") == {"ann"}
    assert behind("returns", "name") == {"ann"}
    # ann never touched the phone before her blank attempt: she is still behind these numbers.
    assert behind("blank_submit", "phone") == {"ann"} and behind("errors", "phone") == {"ann"}
    assert behind("abandons", "phone") == {"bob"} and behind("abandons", "name") == set()


def submit_moments(rig: dict[str, Any], name: str) -> list[int]:
    """The session-clock moments (ms) of the visitor's recorded submit events, from the stored chunks."""
    collector, sid = rig["collector"], rig["sids"][name]
    (start,) = collector.index_rows("SELECT start_time FROM sessions WHERE sid = ?", (sid,))
    out = []
    for chunk in collector.chunks(rig["site"]):
        if chunk.get("sid") != sid:
            continue
        out += [chunk["t0"] + e[1] - start["start_time"] for e in chunk["events"] if e[0] == "submit"]
    return sorted(out)


def test_an_error_link_opens_the_replay_at_the_failed_attempt(rig: dict[str, Any]) -> None:
    key = signup_key(rig)
    (ann,) = api(rig, f"/api/forms/{key}/sessions?site={rig['site'].key}&metric=errors&field=phone")[
        "sessions"
    ]
    assert len(submit_moments(rig, "ann")) == 2
    assert ann["t"] == submit_moments(rig, "ann")[0]
    assert ann["link"] == f"/sessions/{rig['sids']['ann']}?site={rig['site'].key}&t={ann['t']}"


# -- privacy -------------------------------------------------------------------------------------------


def test_no_typed_value_is_sent_stored_indexed_or_served(rig: dict[str, Any]) -> None:
    collector = rig["collector"]
    sent = [gzip.decompress(b) if b[:2] == b"\x1f\x8b" else b for b in rig["sent"]]
    assert len(sent) >= len(rig["sids"])
    stored: list[bytes] = []
    for key in collector.store.list(""):
        raw = collector.store.get(key)
        stored.append(raw)
        try:
            stored.append(json.dumps(codec.decode(raw), default=str).encode())
        except Exception:  # noqa: BLE001 - not every object is a codec object
            pass
    # The recorder did send the inputs, corrections and attempts (so the absence below means something).
    decoded = [e for c in collector.chunks(rig["site"]) for e in c["events"]]
    kinds = [e[0] for e in decoded]
    assert kinds.count("correct") == 4 and kinds.count("submit") == 2 and "input" in kinds
    site = rig["site"].key
    for path in (
        f"/api/forms?site={site}",
        f"/api/forms/{signup_key(rig)}?site={site}&by=device",
        f"/api/forms/{newsletter_key(rig)}?site={site}",
    ):
        api(rig, path)
    everything = b"\n".join([*sent, *stored, collector.index_bytes(), *rig["responses"]])
    for secret in SECRETS:
        assert not _leaked(secret, everything), secret


# -- the page ------------------------------------------------------------------------------------------


def test_the_forms_page_shows_the_form_and_its_fields_and_opens_the_replay(rig: dict[str, Any]) -> None:
    page, collector, site = rig["page"], rig["collector"], rig["site"].key
    page.goto(f"{collector.url}/forms?site={site}")
    table = page.locator("table.sl-forms")
    table.wait_for()
    row = table.locator("tbody tr", has_text="Create your account")
    assert [c.strip() for c in row.locator("td").all_inner_texts()] == [
        "Create your account", "/signup", "3", "2", "1", "1", "66.7%", "50.0%",
    ]  # fmt: skip
    row.locator("a").click()
    fields_table = page.locator("table.sl-form-fields")
    fields_table.wait_for()
    summary = page.locator("#app p", has_text="views 3").inner_text()
    assert "starters 2" in summary and "view→start 66.7%" in summary and "start→completion 50.0%" in summary
    cells = {
        r.locator("td").first.inner_text(): [c.strip() for c in r.locator("td").all_inner_texts()]
        for r in fields_table.locator("tbody tr").all()
    }
    assert list(cells) == ["Full name", "Email", "Phone"]
    # Used, corrections, returns, blank on submit, errors, abandons, abandon share
    pick = lambda c: [c[1], c[4], c[5], c[6], c[7], c[8], c[9]]  # noqa: E731
    assert pick(cells["Full name"]) == ["2", "1", "1", "0", "0", "0", "0.0%"]
    assert pick(cells["Email"]) == ["1", "3", "0", "0", "0", "0", "0.0%"]
    assert pick(cells["Phone"]) == ["2", "0", "0", "1", "1", "1", "100.0%"]
    page_text = page.locator("body").inner_text()
    for secret in SECRETS:
        assert not _leaked(secret, page_text.encode()), secret
    # Phone's errors: the sessions behind the number, each a replay link at that moment.
    phone = fields_table.locator("tbody tr", has_text="Phone")
    phone.locator("td").nth(7).locator("button").click()
    link = page.locator(".sl-form-sessions a")
    link.wait_for()
    assert link.count() == 1
    href = link.get_attribute("href")
    moment = submit_moments(rig, "ann")[0]
    assert href == f"/sessions/{rig['sids']['ann']}?site={site}&t={moment}"
    link.click()
    page.wait_for_url(f"**/sessions/{rig['sids']['ann']}?*")
    page.wait_for_selector("body[data-state=ready]", state="attached", timeout=20_000)
    assert page.evaluate("() => document.body.dataset.replayT") == str(moment)
