"""Issue 12 acceptance: real Chromium visitors run the real recorder against `sessionlens serve`,
then the researcher finds and explains their sessions (viewer API and the player in Chromium).

Visitors are recorded once per backend (module-scoped rig) and every test reads them:
- who they were and where they came from: referrers, UTM tags, identify, set, experiments, custom
  events, locale/time zone, a country from the trusted proxy header, a returning visitor, a bot;
- what went wrong: quick back, excessive scrolling, thrashed cursor, a validation error after submit,
  and a calm visitor with none; the frustration score orders them;
- the player: summary, one entry per interaction, console stack, failed fetch, seeking by each lands
  at its moment (the replay frame's colour says which step it shows), notes, copied links, page views
  opened on their page;
- no request body, header, cookie or query value captured, in the bytes sent and stored.

Humans are launched with --disable-blink-features=AutomationControlled and a plain Chrome user agent
(Playwright's navigator.webdriver and HeadlessChrome user agent are bot hints); the automated visitor
keeps the HeadlessChrome user agent.
"""

from __future__ import annotations

import gzip
import io
import json
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import numpy as np
import orjson
import pytest
from PIL import Image
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from sessionlens import codec
from sessionlens.auth.users import Accounts
from tests.heatmap_visitors import Visitors, human_chromium, recorder_ready
from tests.helpers import free_port
from tests.live import LiveCollector, ThreadServer, demo_snippet, wait_until
from tests.viewer_live import VIEWER_USER, add_viewer_user, log_in

FIXTURES = Path(__file__).parent / "fixtures" / "research"
COUNTRY_HEADER = "CF-IPCountry"
ANN_UTM = "utm_source=google&utm_medium=cpc&utm_campaign=spring_sale&utm_term=shoes&utm_content=ad1"
BOB_RETURN_UTM = "utm_source=newsletter&utm_medium=email&utm_campaign=spring_news"
# What the page's requests carry that no capture may send or store.
SECRETS = (
    "cookie-secret-e2e",
    "query-secret-e2e",
    "header-secret-e2e",
    "body-secret-e2e",
    "xhr-query-secret",
    "xhr-header-secret",
    "xhr-body-secret",
    "img-secret-e2e",
)
COLOURS = {
    "white": (255, 255, 255),
    "green": (0x1B, 0x8A, 0x3A),
    "blue": (0x1F, 0x4F, 0xBF),
    "red": (0xB3, 0x26, 0x1E),
    "dark": (0x20, 0x20, 0x3A),
}
HUMANS = {"ann", "bob1", "bob2", "cal", "qb", "ff", "qk", "sc", "th"}
FRUSTRATED = ("qb", "ff", "qk", "sc", "th")
SIGNAL_COLUMNS = (
    "rage_clicks", "dead_clicks", "error_clicks", "quick_backs", "excessive_scrolls", "thrashes", "form_errors",
)  # fmt: skip


# -- the visited site ----------------------------------------------------------------------------


def site_app(snippet: str) -> Starlette:
    def page(name: str) -> Callable[[Request], Any]:
        html = (FIXTURES / f"{name}.html").read_text().replace("<!--SNIPPET-->", snippet)

        async def serve(request: Request) -> Response:
            return HTMLResponse(html)

        return serve

    async def blank(request: Request) -> Response:
        return HTMLResponse("<!doctype html><title>blank</title>")

    async def stock(request: Request) -> Response:
        return JSONResponse({"error": "stock service down"}, status_code=503)

    return Starlette(
        routes=[
            *(Route(f"/{name}", page(name)) for name in ("shop", "pricing", "signup")),
            Route("/blank", blank),
            Route("/api/stock", stock, methods=["GET", "POST"]),
        ]
    )


class Visits(Visitors):
    """Visitors of the research site (a country header on the way, when given) and their sessions."""

    def __init__(self, browser: Any, collector: LiveCollector, base: str) -> None:
        super().__init__(browser)
        self.collector, self.base = collector, base
        self.sids: dict[str, str] = {}

    def context(self, *, country: str | None = None, bot: bool = False, **options: Any) -> Any:
        context = super().context(bot=bot, **options)
        if country:
            # The operator's proxy names the visitor's country on the way to the collector.
            def add_country(route: Any) -> None:
                route.continue_(headers={**route.request.all_headers(), COUNTRY_HEADER.lower(): country})

            context.route(f"{self.collector.url}/ingest/**", add_country)
        return context

    def open(self, context: Any, path: str, referer: str | None = None) -> Any:
        page = context.new_page()
        page.goto(f"{self.base}{path}", **({"referer": referer} if referer else {}))
        ready(page)
        return page

    def done(self, name: str, page: Any) -> None:
        """Remember the visitor's session once the collector answered all it sent."""
        self.sids[name] = self.finish(page, name)


ready = recorder_ready


def body_is(page: Any, phase: str) -> None:
    page.wait_for_function(f"() => document.body.className === '{phase}'")


def follow(page: Any, selector: str, path: str) -> None:
    """Click a link to another page and wait for its recorder."""
    page.click(selector)
    page.wait_for_url(f"**{path}")
    ready(page)


def script_visitors(v: Visits) -> None:
    # ann: paid search, identified, bucketed, a tracked event; quote, typing, a failing fetch,
    # a console error, then on to pricing. No frustration.
    ctx = v.context(country="DE", locale="de-DE", timezone_id="Europe/Berlin")
    page = v.open(ctx, f"/shop?{ANN_UTM}", referer="https://www.google.com/search?q=shoes")
    page.evaluate(
        "() => { sessionlens.identify('u-ann', {plan: 'pro'}); sessionlens.set({cart: 'full'});"
        " sessionlens.experiment('checkout', 'B'); sessionlens.track('signup_completed', {plan: 'pro'}); }"
    )
    page.wait_for_timeout(300)
    page.click("#quote")
    body_is(page, "phase-green")
    page.wait_for_timeout(300)
    page.focus("#email")
    page.keyboard.type("hello", delay=20)
    body_is(page, "phase-blue")
    page.wait_for_timeout(300)
    page.click("#stock")
    body_is(page, "phase-red")
    page.wait_for_timeout(1_200)  # past error_click_ms: the console error is no click's doing
    page.evaluate("() => window.checkout()")
    page.wait_for_timeout(300)
    follow(page, "#pricing", "/pricing")
    page.wait_for_timeout(300)
    page.click("#plan")
    page.wait_for_selector("text=Plan chosen")
    v.done("ann", page)
    ctx.close()

    # bob: social referral, then a later visit of the same browser from a newsletter (returning).
    ctx = v.context(country="US", locale="en-US", timezone_id="America/New_York")
    page = v.open(ctx, "/shop", referer="https://t.co/abc")
    page.evaluate(
        "() => { sessionlens.identify('u-bob', {plan: 'free'}); sessionlens.set({cart: 'empty'});"
        " sessionlens.experiment('checkout', 'A'); sessionlens.track('signup_started'); }"
    )
    page.click("#quote")
    body_is(page, "phase-green")
    v.done("bob1", page)
    page.close()
    # The visit ends: the stored session's last activity is over 30 minutes ago.
    page = ctx.new_page()
    page.goto(f"{v.base}/blank")
    page.evaluate(
        "() => { const s = JSON.parse(localStorage.getItem('sl_session'));"
        " s.last -= 31 * 60 * 1000; localStorage.setItem('sl_session', JSON.stringify(s)); }"
    )
    page.goto(f"{v.base}/signup?{BOB_RETURN_UTM}")
    ready(page)
    page.click("#create")
    page.wait_for_selector("text=Account created")
    v.done("bob2", page)
    ctx.close()

    # cal: calm, from organic search; one click that works and one scroll.
    ctx = v.context(country="FR", locale="fr-FR", timezone_id="Europe/Paris")
    page = v.open(ctx, "/shop", referer="https://duckduckgo.com/")
    page.click("#quote")
    body_is(page, "phase-green")
    page.mouse.move(640, 500)
    page.mouse.wheel(0, 400)
    page.wait_for_function("() => scrollY >= 300")
    page.wait_for_timeout(300)
    v.done("cal", page)
    ctx.close()

    # qb: a validation error after submit, then pricing and straight back (two signals).
    ctx = v.context()
    page = v.open(ctx, "/shop")
    page.click("#signup-go")
    page.wait_for_selector("text=Enter your email")
    page.wait_for_timeout(300)
    follow(page, "#pricing", "/pricing")
    follow(page, "#back", "/shop")
    page.wait_for_timeout(300)
    v.done("qb", page)
    ctx.close()

    # ff: a validation error after submit only.
    ctx = v.context()
    page = v.open(ctx, "/shop")
    page.click("#signup-go")
    page.wait_for_selector("text=Enter your email")
    page.wait_for_timeout(300)
    v.done("ff", page)
    ctx.close()

    # qk: pricing and straight back only.
    ctx = v.context()
    page = v.open(ctx, "/shop")
    follow(page, "#pricing", "/pricing")
    follow(page, "#back", "/shop")
    page.wait_for_timeout(300)
    v.done("qk", page)
    ctx.close()

    # sc: scrolls down and up again and again, touching nothing.
    ctx = v.context()
    page = v.open(ctx, "/shop")
    page.mouse.move(640, 500)
    for i in range(7):
        down = i % 2 == 0
        before = page.evaluate("() => scrollY")
        page.mouse.wheel(0, 700 if down else -600)
        page.wait_for_function(f"() => scrollY {'>' if down else '<'}= {before + (500 if down else -500)}")
        page.wait_for_timeout(200)  # the recorder samples scrolling: each end position is recorded
    v.done("sc", page)
    ctx.close()

    # th: the pointer rushes left and right over the page.
    ctx = v.context()
    page = v.open(ctx, "/shop")
    page.mouse.move(200, 600)
    page.wait_for_timeout(300)
    for i in range(16):
        # One pointermove per stroke: the recorder keeps the first move of each 50 ms, so
        # intermediate steps would be recorded instead of the ends.
        page.mouse.move(900 if i % 2 == 0 else 200, 600 + (i % 3) * 20)
        page.wait_for_timeout(70)
    page.wait_for_timeout(300)
    v.done("th", page)
    ctx.close()

    # bot: an automated browser (HeadlessChrome user agent) clicking like a human would.
    ctx = v.context(bot=True)
    page = v.open(ctx, "/shop")
    page.click("#quote")
    body_is(page, "phase-green")
    v.done("bot", page)
    ctx.close()


# -- the rig -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def rig(
    tmp_path_factory: pytest.TempPathFactory, new_collector: Callable[..., LiveCollector]
) -> Iterator[dict[str, Any]]:
    collector = new_collector(
        Path(tmp_path_factory.mktemp("research-e2e")) / "data",
        env={"SESSIONLENS_COUNTRY_HEADER": COUNTRY_HEADER},
    )
    collector.start()
    add_viewer_user(collector)
    token = Accounts(collector.store).create_token(VIEWER_USER, "e2e")
    port = free_port()
    site = collector.add_site(f"http://127.0.0.1:{port}")
    snippet = demo_snippet(collector, site, flush_ms=300)
    try:
        with ThreadServer(site_app(snippet), port) as server, human_chromium() as browser:
            visits = Visits(browser, collector, server.url)
            script_visitors(visits)
            sids = visits.sids
            assert len(set(sids.values())) == len(sids), sids
            rig = {
                "collector": collector,
                "site": site,
                "sids": sids,
                "names": {sid: name for name, sid in sids.items()},
                "token": token,
                "sent": visits.sent,
                "base": server.url,
            }
            wait_for_derivation(rig)
            viewer = browser.new_context(
                viewport={"width": 1500, "height": 950}, permissions=["clipboard-read", "clipboard-write"]
            )
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
        return orjson.loads(response.read())


def rows(rig: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every scripted session's index row, by visitor name."""
    found = rig["collector"].index_rows("SELECT * FROM sessions WHERE site = ?", (rig["site"].key,))
    return {rig["names"][r["sid"]]: r for r in found if r["sid"] in rig["names"]}


def wait_for_derivation(rig: dict[str, Any]) -> None:
    """All sessions indexed, the derivation queue empty and the scripted signals derived."""
    index = rig["collector"].index

    def derived() -> bool:
        r = rows(rig)
        return (
            len(r) == len(rig["sids"])
            and index.work_backlog(10**6)["pending"] == 0
            and r["qb"]["quick_backs"] and r["qb"]["form_errors"] and r["ff"]["form_errors"]
            and r["qk"]["quick_backs"] and r["sc"]["excessive_scrolls"] and r["th"]["thrashes"]
        )  # fmt: skip

    try:
        wait_until(derived, timeout=60, interval=0.5, message="sessions indexed and derived")
    except AssertionError:
        counts = {n: {c: x[c] for c in SIGNAL_COLUMNS} for n, x in rows(rig).items()}
        raise AssertionError(f"not derived: {counts} backlog {index.work_backlog(10**6)}") from None


def found(rig: dict[str, Any], query: str | list[tuple[str, str]]) -> set[str]:
    qs = (query if isinstance(query, str) else urlencode(query)).replace(" ", "%20")
    body = api(rig, f"/api/sessions?site={rig['site'].key}&limit=200&{qs}")
    names = [rig["names"].get(s["sid"], s["sid"]) for s in body["sessions"]]
    assert body["total"] == len(names), (qs, body["total"], names)
    return set(names)


# -- 1. who the visitors were and where they came from ---------------------------------------------


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", HUMANS),
        ("referrer=google.com", {"ann"}),
        ("referrer=t.co", {"bob1"}),
        ("utm_source=google", {"ann"}),
        ("utm_source=newsletter", {"bob2"}),
        ("utm_medium=cpc", {"ann"}),
        ("utm_medium=email", {"bob2"}),
        ("utm_campaign=spring_sale", {"ann"}),
        ("utm_campaign=spring_news", {"bob2"}),
        ("utm_term=shoes", {"ann"}),
        ("utm_content=ad1", {"ann"}),
        ("channel=paid_search", {"ann"}),
        ("channel=social", {"bob1"}),
        ("channel=email", {"bob2"}),
        ("channel=organic_search", {"cal"}),
        ("channel=direct", set(FRUSTRATED)),
        ("user=u-ann", {"ann"}),
        ("user=u-bob", {"bob1"}),
        ("trait=plan:pro", {"ann"}),
        ("trait=plan", {"ann", "bob1"}),
        ("prop=cart:full", {"ann"}),
        ("prop=cart", {"ann", "bob1"}),
        ("experiment=checkout:B", {"ann"}),
        ("experiment=checkout:A", {"bob1"}),
        ("experiment=checkout", {"ann", "bob1"}),
        ("event=signup_completed", {"ann"}),
        ("event=signup_started", {"bob1"}),
        ("event_prop=signup_completed.plan:pro", {"ann"}),
        ("event_prop=signup_completed.plan:free", set()),
        ("clicked=Get my quote", {"ann", "bob1", "cal"}),
        ("clicked=choose plan", {"ann"}),
        ("clicked=Sign up", {"qb", "ff"}),
        ("visited=/pricing", {"ann", "qb", "qk"}),
        ("visited=/shop&not_visited=/pricing", {"bob1", "cal", "ff", "sc", "th"}),
        ("visited=/signup", {"bob2"}),
        ("min_pages=2", {"ann", "qb", "qk"}),
        ("min_pages=3", {"qb", "qk"}),
        ("max_pages=1", {"bob1", "bob2", "cal", "ff", "sc", "th"}),
        ("visitor=new", HUMANS - {"bob2"}),
        ("visitor=returning", {"bob2"}),
        ("min_visits=2", {"bob2"}),
        ("country=DE", {"ann"}),
        ("country=us", {"bob1", "bob2"}),
        ("country=FR", {"cal"}),
        ("country=unknown", set(FRUSTRATED)),
        ("language=de", {"ann"}),
        ("language=fr", {"cal"}),
        ("language=en-US", HUMANS - {"ann", "cal"}),
        ("timezone=Europe/Berlin", {"ann"}),
        ("timezone=America/New_York", {"bob1", "bob2"}),
        ("timezone=Europe/Paris", {"cal"}),
        # combined with AND
        ("channel=direct&visited=/pricing", {"qb", "qk"}),
        ("experiment=checkout&country=US", {"bob1"}),
        ("clicked=Get my quote&language=fr&timezone=Europe/Paris", {"cal"}),
        ("utm_source=google&channel=social", set()),
        # bots: left out by default, found when asked
        ("bots=only", {"bot"}),
        ("clicked=Get my quote&bots=include", {"ann", "bob1", "cal", "bot"}),
        ("bots=include", HUMANS | {"bot"}),
    ],
)
def test_each_filter_finds_exactly_the_scripted_sessions(
    rig: dict[str, Any], query: str, expected: set
) -> None:
    assert found(rig, query) == expected


def test_the_index_holds_what_the_visitors_were(rig: dict[str, Any]) -> None:
    r = rows(rig)
    assert (r["bob1"]["visitor_id"], r["bob1"]["visit_number"]) == (r["bob2"]["visitor_id"], 1)
    assert r["bob2"]["visit_number"] == 2 and r["bob1"]["visitor_id"]
    assert len({r[n]["visitor_id"] for n in HUMANS - {"bob2"}}) == len(HUMANS) - 1
    assert not any(r[n]["is_bot"] for n in HUMANS), {n: r[n]["bot_reason"] for n in HUMANS}
    assert (r["bot"]["is_bot"], r["bot"]["bot_reason"]) == (1, "user_agent")


def test_active_time_filters_split_the_sessions_as_their_activity(rig: dict[str, Any]) -> None:
    active = {name: row["active_ms"] for name, row in rows(rig).items() if name in HUMANS}
    assert all(ms > 0 for ms in active.values()), active
    values = sorted(set(active.values()))
    assert len(values) >= 2, active
    middle = len(values) // 2
    cut = (values[middle - 1] + values[middle]) / 2 / 1000  # seconds, between two sessions' values
    assert found(rig, f"min_active={cut}") == {n for n, ms in active.items() if ms >= cut * 1000}
    assert found(rig, f"max_active={cut}") == {n for n, ms in active.items() if ms <= cut * 1000}
    # The thrasher and the scroller kept busy longer than the visitor who left on the first page.
    assert active["sc"] > active["ff"] and active["th"] > active["ff"]


def test_a_saved_segment_finds_the_same_sessions(rig: dict[str, Any]) -> None:
    page = rig["page"]
    page.goto(f"{rig['collector'].url}/")
    status, segment = page.evaluate(
        """async ([site]) => {
          const me = await (await fetch('/api/me')).json();
          const r = await fetch('/api/segments', {method: 'POST',
            headers: {'Content-Type': 'application/json', 'X-CSRF-Token': me.csrf},
            body: JSON.stringify({name: 'Bounced from pricing', site, query: 'visited=/pricing&quick_back=1&channel=direct'})});
          return [r.status, await r.json()];
        }""",
        [rig["site"].key],
    )
    assert status == 201, segment
    listed = api(rig, f"/api/segments?site={rig['site'].key}")["segments"]
    saved = next(s for s in listed if s["id"] == segment["id"])
    assert saved["name"] == "Bounced from pricing"
    assert found(rig, saved["query"]) == {"qb", "qk"}


# -- 2. frustration signals ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("quick_back=1", {"qb", "qk"}),
        ("form_error=1", {"qb", "ff"}),
        ("excessive_scroll=1", {"sc"}),
        ("thrash=1", {"th"}),
        ("rage=1", set()),
        ("dead=1", set()),
        ("error_clicks=1", set()),
        ("quick_back=1&form_error=1", {"qb"}),
        ("min_frustration=1", set(FRUSTRATED)),
    ],
)
def test_signal_filters_find_the_scripted_frustration(rig: dict[str, Any], query: str, expected: set) -> None:
    assert found(rig, query) == expected


def test_signals_as_scripted_and_a_calm_session_has_none(rig: dict[str, Any]) -> None:
    r = rows(rig)
    counts = {n: {c: r[n][c] for c in SIGNAL_COLUMNS if r[n][c]} for n in HUMANS}
    assert counts == {
        "ann": {}, "bob1": {}, "bob2": {}, "cal": {},
        "qb": {"quick_backs": 1, "form_errors": 1}, "ff": {"form_errors": 1}, "qk": {"quick_backs": 1},
        "sc": {"excessive_scrolls": 1}, "th": {"thrashes": 1},
    }  # fmt: skip
    assert r["cal"]["frustration_score"] == 0
    signals = rig["collector"].index_rows(
        "SELECT sid, kind, label, url FROM session_signals WHERE site = ?", (rig["site"].key,)
    )
    by_name = {(rig["names"][s["sid"]], s["kind"]) for s in signals}
    assert by_name == {
        ("qb", "quick_back"), ("qb", "form_error"), ("ff", "form_error"), ("qk", "quick_back"),
        ("sc", "excessive_scroll"), ("th", "thrash"),
    }  # fmt: skip
    form = next(s for s in signals if rig["names"][s["sid"]] == "ff")
    assert "Email" in form["label"]
    back = next(s for s in signals if rig["names"][s["sid"]] == "qk")
    assert urlsplit(back["url"]).path == "/pricing"


def test_the_frustration_score_orders_the_sessions_as_scripted(rig: dict[str, Any]) -> None:
    body = api(rig, f"/api/sessions?site={rig['site'].key}&sort=frustration&order=desc&limit=200")
    order = [rig["names"][s["sid"]] for s in body["sessions"]]
    scores = {rig["names"][s["sid"]]: s["frustration_score"] for s in body["sessions"]}
    # two signals > a form error > a quick back > one scroll or thrash episode > nothing
    assert order[:3] == ["qb", "ff", "qk"], scores
    assert set(order[3:5]) == {"sc", "th"}, scores
    assert scores["qb"] > scores["ff"] > scores["qk"] > scores["sc"] > 0
    assert all(scores[n] == 0 for n in order[5:]), scores


# -- 3. the player ----------------------------------------------------------------------------------


def open_player(rig: dict[str, Any], t: int | None = None) -> Any:
    page = rig["page"]
    query = "" if t is None else f"?t={t}"
    page.goto(f"{rig['collector'].url}/sessions/{rig['sids']['ann']}{query}")
    page.wait_for_selector("body[data-state=ready]", state="attached", timeout=20_000)
    page.wait_for_selector("body[data-inspect=ready]", state="attached", timeout=20_000)
    page.evaluate("window.sessionlensPlayer.pause()")
    return page


def url_t(page: Any) -> int:
    """The player's ?t= as the page has it now (history updates, read from the page itself)."""
    return int(parse_qs(urlsplit(page.evaluate("() => location.href")).query)["t"][0])


def shown_at(page: Any, t: int) -> None:
    page.wait_for_selector(f"body[data-replay-t='{t}'][data-state=ready]", state="attached", timeout=15_000)


def colour_share(png: bytes, name: str) -> float:
    pixels = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=np.int16)
    near = (np.abs(pixels - np.array(COLOURS[name], dtype=np.int16)) <= 10).all(axis=2)
    return float(near.mean())


def frame_shows(page: Any, name: str) -> None:
    """The replay frame is painted in the step's colour (the visitor's page at that moment)."""
    png = page.locator(".frame-box iframe").screenshot()
    shares = {n: round(colour_share(png, n), 3) for n in COLOURS}
    assert shares[name] > 0.6, shares


def ann_session(rig: dict[str, Any]) -> dict[str, Any]:
    return api(rig, f"/api/sessions/{rig['sids']['ann']}")


def test_the_summary_shows_the_scripted_values(rig: dict[str, Any]) -> None:
    page = open_player(rig, 0)
    page.click(".tabs button[data-tab=summary]")
    dts = page.locator(".summary-pane dl.summary dt").all_inner_texts()
    dds = page.locator(".summary-pane dl.summary dd").all_inner_texts()
    shown = dict(zip(dts, dds, strict=True))
    assert {k: shown[k] for k in (
        "User", "Traits", "Properties", "Visit", "Device", "Browser", "OS", "Viewport", "Country", "Language",
        "Time zone", "Channel", "UTM", "Pages", "Experiments", "Frustration score",
    )} == {
        "User": "u-ann", "Traits": "plan: pro", "Properties": "cart: full", "Visit": "1 (new visitor)",
        "Device": "desktop", "Browser": "Chrome", "OS": "Linux", "Viewport": "1280×800", "Country": "DE",
        "Language": "de-DE", "Time zone": "Europe/Berlin", "Channel": "paid search",
        "UTM": "source: google, medium: cpc, campaign: spring_sale, term: shoes, content: ad1", "Pages": "2",
        "Experiments": "checkout: B", "Frustration score": "0.0",
    }, shown  # fmt: skip
    assert shown["Referrer"].startswith("https://www.google.com/"), shown
    assert urlsplit(shown["Landing page"]).path == "/shop" and "utm_source=google" in shown["Landing page"]
    assert urlsplit(shown["Exit page"]).path == "/pricing"
    # Page speed per page view, one row each.
    assert page.locator(".summary-pane table.speed tbody tr").count() == 2


# entry label -> the colour the visitor's page had at that moment
SCRIPTED_ENTRIES = {
    "Event: signup_completed": "white",
    "Clicked 'Get my quote'": "white",
    "Typed in 'Email'": "green",
    "Clicked 'Check stock'": "blue",
    "Clicked 'Pricing'": "red",
    "Clicked 'Choose plan'": "dark",
}


def test_one_entry_per_interaction_and_each_seeks_to_its_moment(rig: dict[str, Any]) -> None:
    page = open_player(rig, 0)
    entries = page.locator(".events-pane li.entry").evaluate_all(
        "els => els.map(e => [e.dataset.kind, e.querySelector('.label').textContent, Number(e.dataset.t)])"
    )
    # The visitor's interactions: one entry each, named by the element's text; beside them only the
    # console error and the failed requests (no frustration entry: ann's visit was calm).
    interactions = [label for kind, label, _ in entries if kind in ("click", "input", "custom")]
    assert sorted(interactions) == sorted(SCRIPTED_ENTRIES), entries
    others = sorted(
        label.split(":")[0] for kind, label, _ in entries if kind not in ("click", "input", "custom")
    )
    assert others == ["Request failed"] * 3 + ["console.error"], entries
    # Clicks and custom events are the API's entries at the same moments.
    api_t = {e["label"]: int(e["t"]) for e in ann_session(rig)["entries"]}
    for label, colour in SCRIPTED_ENTRIES.items():
        entry = page.locator(".events-pane li.entry", has=page.locator(".label", has_text=label))
        t = int(entry.get_attribute("data-t"))
        assert label not in api_t or api_t[label] == t, (label, api_t, t)
        entry.click()
        shown_at(page, t)
        assert url_t(page) == t
        frame_shows(page, colour)


def test_console_entry_with_its_stack_seeks_to_its_moment(rig: dict[str, Any]) -> None:
    session = ann_session(rig)
    shop = session["page_views"][0]
    inspect = api(rig, f"/api/sessions/{rig['sids']['ann']}/pages/{shop['pid']}/inspect")
    error = next(c for c in inspect["console"] if "Payment provider unavailable" in c["message"])
    page = open_player(rig, 0)
    page.click(".tabs button[data-tab=console]")
    entry = page.locator(".console-entry", has_text="Payment provider unavailable")
    assert entry.count() == 1
    assert "Checkout failed:" in entry.inner_text()
    stack = entry.locator("pre.stack").inner_text()
    assert "Error: Payment provider unavailable" in stack and "chargeCard" in stack, stack
    entry.click()
    t = shop["offset"] + int(error["t"])
    shown_at(page, t)
    assert url_t(page) == t
    frame_shows(page, "red")


def test_network_entry_of_the_failing_fetch_with_its_status_seeks_to_its_moment(rig: dict[str, Any]) -> None:
    page = open_player(rig, 0)
    page.click(".tabs button[data-tab=network]")
    fetch = page.locator("table.network tr.request", has_text="/api/stock?token=*&sku=*")
    assert fetch.count() == 1
    cells = fetch.locator("td").all_inner_texts()
    assert cells[1] == "POST" and cells[3] == "503", cells
    assert "failed" in (fetch.get_attribute("class") or "")
    xhr = page.locator("table.network tr.request.failed", has_text="/api/stock?session=*")
    assert xhr.count() == 1
    before = url_t(page)
    fetch.click()
    page.wait_for_function(f"() => new URL(location.href).searchParams.get('t') !== '{before}'")
    t = url_t(page)
    shown_at(page, t)
    # The fetch started on the click on 'Check stock': the page was still blue (red after the answer).
    click_t = next(e["t"] for e in ann_session(rig)["entries"] if e["label"] == "Clicked 'Check stock'")
    assert click_t <= t < click_t + 150, (click_t, t)
    frame_shows(page, "blue")


def test_a_note_added_at_a_moment_is_on_the_timeline_after_reload(rig: dict[str, Any]) -> None:
    t = next(e["t"] for e in ann_session(rig)["entries"] if e["label"] == "Clicked 'Get my quote'") + 400
    page = open_player(rig, t)
    page.click(".tabs button[data-tab=notes]")
    page.fill(".sl-notes-input", "Quote shown before typing")
    page.click(".sl-notes-form button[type=submit]")
    page.locator(".sl-notes-list li", has_text="Quote shown before typing").wait_for()
    open_player(rig, 0)
    mark = page.locator(".timeline .mark[data-kind=note]")
    mark.wait_for()
    assert mark.get_attribute("data-t") == str(t)
    mark.click()
    shown_at(page, t)
    frame_shows(page, "green")
    assert found(rig, "note=before typing") == {"ann"}


def test_a_copied_link_opens_at_its_moment(rig: dict[str, Any]) -> None:
    t = next(e["t"] for e in ann_session(rig)["entries"] if e["label"] == "Clicked 'Check stock'") + 400
    page = open_player(rig, t)
    page.click("button.copy-link")
    link = page.locator("button.copy-link").get_attribute("data-link")
    assert link and parse_qs(urlsplit(link).query)["t"] == [str(t)]
    assert page.evaluate("navigator.clipboard.readText()") == link
    page.goto("about:blank")
    page.goto(link)
    shown_at(page, t)
    frame_shows(page, "red")  # 400 ms after the click the failed answer had turned the page red


def test_page_view_switches_show_no_blank_frame(rig: dict[str, Any]) -> None:
    pricing = ann_session(rig)["page_views"][1]
    # Opened at the page view's first ms: the pricing page at once.
    page = open_player(rig, pricing["offset"])
    shown_at(page, pricing["offset"])
    frame_shows(page, "dark")
    # Switching from the shop page view: the first frame shown is the page.
    open_player(rig, 1_000)
    page.locator(".side .pages li").nth(1).click()
    shown_at(page, pricing["offset"])
    frame_shows(page, "dark")
    assert url_t(page) == pricing["offset"]


# -- 4. nothing of a request but its method, scrubbed URL, status, timing and size ------------------


def test_no_body_header_cookie_or_query_value_is_sent_or_stored(rig: dict[str, Any]) -> None:
    collector = rig["collector"]
    # What the browsers sent (gunzipped batches).
    sent = [gzip.decompress(b) if b[:2] == b"\x1f\x8b" else b for b in rig["sent"]]
    assert len(sent) >= len(rig["sids"])
    # Every stored object, raw and decoded (chunks are compressed msgpack).
    stored: list[bytes] = []
    for key in collector.store.list(""):
        raw = collector.store.get(key)
        stored.append(raw)
        try:
            stored.append(json.dumps(codec.decode(raw), default=str).encode())
        except Exception:  # noqa: BLE001 - not every object is a codec object
            pass
    everything = b"\n".join([*sent, *stored, collector.index_bytes()])
    # The requests were captured (so their absence below means something).
    assert b"/api/stock?token=*&sku=*" in everything and b"/api/stock?session=*" in everything
    assert b"/pixel.png?u=*" in everything
    for secret in SECRETS:
        assert secret.encode() not in everything, secret
