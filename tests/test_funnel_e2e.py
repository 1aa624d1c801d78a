"""Issue 13 acceptance (funnels): a scripted signup funnel with known outcomes, recorded by real
Chromium visitors running the real recorder against `sessionlens serve`.

Eight visitors walk landing -> pricing -> signup form -> submit -> `signup_completed`, each
bucketed into experiment `signup_test` A or B, stopping at a known step:

    variant A: stops at landing, at pricing, at the signup form, at a submit the browser's
               validation refuses, and one completes                  -> entered 5,4,3,2,1
    variant B: stops at the signup form, two complete                  -> entered 3,3,3,2,2

The funnel (API, saved funnel and the `sessionlens funnel` command) must give exactly those
counts per step and per variant; every drop-off row's link must open the player at the moment
of the last step reached. Each page paints itself its own colour (the signup page turns red
150 ms after a refused submit, green after a completed one), so the replay frame's colour says
which page and which moment the player shows; the player's current page view and its
?t= are checked too. Both index backends (module-scoped rig per backend).
"""

from __future__ import annotations

import io
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import numpy as np
import orjson
import pytest
from PIL import Image
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from sessionlens.auth.users import Accounts
from tests.heatmap_visitors import Visitors, human_chromium, recorder_ready
from tests.helpers import free_port
from tests.live import LiveCollector, ThreadServer, demo_snippet, wait_until
from tests.viewer_live import VIEWER_USER, add_viewer_user, log_in

COLOURS = {
    "amber": (0xF0, 0xB4, 0x00),  # landing
    "dark": (0x20, 0x20, 0x3A),  # pricing
    "blue": (0x1F, 0x4F, 0xBF),  # signup form
    "red": (0xB3, 0x26, 0x1E),  # signup after a refused submit
    "green": (0x1B, 0x8A, 0x3A),  # signup completed
}
PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>html, body {{ margin: 0; }} body {{ background: {bg}; font: 16px sans-serif; min-height: 900px; }}
body.refused {{ background: #b3261e; }} body.done {{ background: #1b8a3a; }} main {{ padding: 16px; }}</style>
<!--SNIPPET--></head><body><main>{body}</main>{script}</body></html>"""
PAGES = {
    "landing": PAGE.format(
        title="Welcome", bg="#f0b400", script="",
        body='<h1>Build faster</h1><p><a id="see-pricing" href="/pricing">See pricing</a></p>',
    ),
    "pricing": PAGE.format(
        title="Pricing", bg="#20203a", script="",
        body='<h1>Pricing</h1><p><a id="start" href="/signup">Start signup</a></p>',
    ),
    "signup": PAGE.format(
        title="Sign up", bg="#1f4fbf",
        body="""<h1>Create your account</h1>
<form id="signup-form" action="/welcome">
  <p><label for="email">Email</label> <input id="email" name="email" type="email" required></p>
  <p><label for="name">Name</label> <input id="name" name="name" required></p>
  <p><button id="create" type="submit">Create account</button> <span id="state"></span></p>
</form>""",
        script="""<script>
  // Changes come 150 ms after the action: the recorded moment still shows the page before.
  const later = (fn) => setTimeout(fn, 150);
  document.getElementById("email").addEventListener("invalid", () => later(() => {
    document.body.className = "refused";
  }));
  document.getElementById("signup-form").addEventListener("submit", (e) => {
    e.preventDefault();
    sessionlens.track("signup_completed", {plan: "pro"});
    later(() => { document.body.className = "done"; document.getElementById("state").textContent = "Welcome"; });
  });
</script>""",
    ),
}  # fmt: skip
# name: (variant, last step reached: 1 landing, 2 pricing, 3 signup form, 4 refused submit, 5 completed)
VISITORS = {
    "a_landing": ("A", 1),
    "a_pricing": ("A", 2),
    "a_signup": ("A", 3),
    "a_refused": ("A", 4),
    "a_done": ("A", 5),
    "b_signup": ("B", 3),
    "b_done1": ("B", 5),
    "b_done2": ("B", 5),
}
STEPS = [
    {"type": "url", "pattern": "/landing*"},
    {"type": "url", "pattern": "/pricing*"},
    {"type": "url", "pattern": "/signup*"},
    {"type": "submit", "form": "signup-form"},
    {"type": "event", "name": "signup_completed"},
]
CLI_STEPS = ["url:/landing*", "url:/pricing*", "url:/signup*", "submit:signup-form", "event:signup_completed"]
# The colour the player must show at the moment of the last step reached, by that step.
MOMENT_COLOUR = {1: "amber", 2: "dark", 3: "blue", 4: "blue"}  # 4: the refused submit, before it turned red
MOMENT_PATH = {1: "/landing", 2: "/pricing", 3: "/signup", 4: "/signup"}


def expected_entered(variant: str | None = None) -> list[int]:
    reached = [r for v, r in VISITORS.values() if variant in (None, v)]
    return [sum(r >= i for r in reached) for i in range(1, 6)]


# -- the visited site and the visitors -----------------------------------------------------------


def site_app(snippet: str) -> Starlette:
    def page(name: str) -> Callable[[Request], Any]:
        html = PAGES[name].replace("<!--SNIPPET-->", snippet)

        async def serve(request: Request) -> Response:
            return HTMLResponse(html)

        return serve

    return Starlette(routes=[Route(f"/{name}", page(name)) for name in PAGES])


class Visits(Visitors):
    """The funnel's visitors and their sessions, by name."""

    def __init__(self, browser: Any, base: str) -> None:
        super().__init__(browser)
        self.base = base
        self.sids: dict[str, str] = {}

    def done(self, name: str, page: Any) -> None:
        self.sids[name] = self.finish(page, name)


ready = recorder_ready


def follow(page: Any, selector: str, path: str) -> None:
    page.wait_for_timeout(300)  # a moment on the page, as a person reads it
    page.click(selector)
    page.wait_for_url(f"**{path}")
    ready(page)


def walk(v: Visits, name: str, variant: str, last: int) -> None:
    ctx = v.context()
    page = ctx.new_page()
    page.goto(f"{v.base}/landing")
    ready(page)
    page.evaluate(f"() => sessionlens.experiment('signup_test', '{variant}')")
    if last >= 2:
        follow(page, "#see-pricing", "/pricing")
    if last >= 3:
        follow(page, "#start", "/signup")
    if last == 4:
        page.wait_for_timeout(300)
        page.click("#create")  # empty required fields: the browser refuses the submit
        page.wait_for_function("() => document.body.className === 'refused'")
    if last == 5:
        page.fill("#email", "someone@example.org")
        page.fill("#name", "Someone")
        page.click("#create")
        page.wait_for_function("() => document.body.className === 'done'")
    page.wait_for_timeout(300)
    v.done(name, page)
    ctx.close()


# -- the rig -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def rig(
    tmp_path_factory: pytest.TempPathFactory, new_collector: Callable[..., LiveCollector]
) -> Iterator[dict[str, Any]]:
    collector = new_collector(Path(tmp_path_factory.mktemp("funnel-e2e")) / "data")
    collector.start()
    add_viewer_user(collector)
    token = Accounts(collector.store).create_token(VIEWER_USER, "funnel-e2e", scope="admin")
    port = free_port()
    site = collector.add_site(f"http://127.0.0.1:{port}")
    snippet = demo_snippet(collector, site, flush_ms=300)
    try:
        with ThreadServer(site_app(snippet), port) as server, human_chromium() as browser:
            visits = Visits(browser, server.url)
            for name, (variant, last) in VISITORS.items():
                walk(visits, name, variant, last)
            sids = visits.sids
            assert len(set(sids.values())) == len(VISITORS), sids
            rig = {
                "collector": collector, "site": site, "sids": sids, "token": token,
                "names": {sid: name for name, sid in sids.items()},
            }  # fmt: skip
            wait_for_derivation(rig)
            viewer = browser.new_context(viewport={"width": 1500, "height": 950})
            rig["page"] = viewer.new_page()
            log_in(rig["page"], collector)
            yield rig
            viewer.close()
    finally:
        collector.stop()


def wait_for_derivation(rig: dict[str, Any]) -> None:
    collector, key = rig["collector"], rig["site"].key
    submits = sum(last >= 4 for _, last in VISITORS.values())
    completed = sum(last == 5 for _, last in VISITORS.values())

    def derived() -> bool:
        def count(table: str) -> int:
            return len(collector.index_rows(f"SELECT sid FROM {table} WHERE site = ?", (key,)))  # noqa: S608

        return (
            count("sessions") == len(VISITORS)
            and collector.index.work_backlog(10**6)["pending"] == 0
            and count("form_submits") == submits
            and count("custom_events") == completed
            and len(collector.index_rows(
                "SELECT sid FROM session_attrs WHERE site = ? AND scope = 'experiment'", (key,)
            )) == len(VISITORS)
        )  # fmt: skip

    wait_until(derived, timeout=90, interval=0.5, message="sessions indexed and derived")


def api(rig: dict[str, Any], path: str, body: Any = None) -> Any:
    request = urllib.request.Request(
        f"{rig['collector'].url}{path}",
        data=None if body is None else orjson.dumps(body),
        headers={"Authorization": f"Bearer {rig['token']}", "Content-Type": "application/json"},
        method="GET" if body is None else "POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return orjson.loads(response.read())
    except urllib.error.HTTPError as exc:
        raise AssertionError(f"{path}: {exc.code} {exc.read()[:300]!r}") from None


def definition(rig: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"site": rig["site"].key, "steps": STEPS, "by": "experiment:signup_test", "baseline": "A", **extra}


def counts(steps: list[dict[str, Any]]) -> dict[str, list[int]]:
    return {k: [s[k] for s in steps] for k in ("entered", "converted", "dropped")}


def scripted_counts(variant: str | None = None) -> dict[str, list[int]]:
    entered = expected_entered(variant)
    converted = [*entered[1:], entered[-1]]
    return {
        "entered": entered,
        "converted": converted,
        "dropped": [e - c for e, c in zip(entered, converted, strict=True)],
    }


# -- counts ----------------------------------------------------------------------------------------


def test_scripted_counts_per_step(rig: dict[str, Any]) -> None:
    result = api(rig, "/api/funnels/query", definition(rig))
    assert counts(result["steps"]) == scripted_counts() == {
        "entered": [8, 7, 6, 4, 3], "converted": [7, 6, 4, 3, 3], "dropped": [1, 1, 2, 1, 0],
    }  # fmt: skip
    assert (result["units"], result["completed"]) == (8, 3)
    assert [s["conversion_from_first"] for s in result["steps"]] == pytest.approx(
        [1, 7 / 8, 6 / 8, 4 / 8, 3 / 8]
    )


def test_scripted_counts_per_variant(rig: dict[str, Any]) -> None:
    breakdown = api(rig, "/api/funnels/query", definition(rig))["breakdown"]
    assert (breakdown["by"], breakdown["baseline"]) == ("experiment:signup_test", "A")
    by_value = {s["value"]: s for s in breakdown["segments"]}
    assert set(by_value) == {"A", "B"}
    for variant in ("A", "B"):
        assert counts(by_value[variant]["steps"]) == scripted_counts(variant), variant
    assert (by_value["A"]["units"], by_value["A"]["completed"]) == (5, 1)
    assert (by_value["B"]["units"], by_value["B"]["completed"]) == (3, 2)
    # B against the baseline A at the last step: 2/3 - 1/5, with its interval around it.
    diff = by_value["B"]["difference"]
    assert diff["value"] == pytest.approx(2 / 3 - 1 / 5)
    assert diff["low"] < diff["value"] < diff["high"]
    assert by_value["A"]["difference"] is None
    # A session filter on the variant gives that variant's funnel alone.
    only_b = api(
        rig, "/api/funnels/query", definition(rig, by=None, baseline=None, filters="experiment=signup_test:B")
    )
    assert counts(only_b["steps"]) == scripted_counts("B")


def test_a_saved_funnel_gives_the_same_counts(rig: dict[str, Any]) -> None:
    saved = api(rig, "/api/funnels", definition(rig, name="Signup e2e"))
    result = api(rig, f"/api/funnels/{saved['id']}/results")
    assert counts(result["steps"]) == scripted_counts()
    dropped = api(rig, f"/api/funnels/{saved['id']}/sessions?step=3&outcome=dropped")
    assert {rig["names"][r["sid"]] for r in dropped["sessions"]} == {"a_signup", "b_signup"}


def test_the_cli_gives_the_same_counts_and_drop_offs(rig: dict[str, Any]) -> None:
    collector = rig["collector"]
    base = [sys.executable, "-m", "sessionlens.cli", "funnel", "--data-dir", str(collector.data_dir),
            "--site", rig["site"].key, *(a for s in CLI_STEPS for a in ("--step", s))]  # fmt: skip
    done = subprocess.run(
        [*base, "--by", "experiment:signup_test", "--baseline", "A", "--json"],
        capture_output=True, text=True, timeout=120, env=collector.cli_env(),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    result = orjson.loads(done.stdout)
    assert counts(result["steps"]) == scripted_counts()
    by_value = {s["value"]: s for s in result["breakdown"]["segments"]}
    assert {v: counts(s["steps"]) for v, s in by_value.items()} == {v: scripted_counts(v) for v in "AB"}
    listed = subprocess.run(
        [*base, "--sessions", "4:dropped"],
        capture_output=True,
        text=True,
        timeout=120,
        env=collector.cli_env(),
    )
    assert listed.returncode == 0, listed.stderr
    lines = [line.split("\t") for line in listed.stdout.splitlines()]
    assert [(rig["names"][sid], reached) for sid, reached, _ in lines] == [("a_refused", "4")]
    assert lines[0][2].startswith(f"/sessions/{rig['sids']['a_refused']}?site={rig['site'].key}&t=")


# -- drop-off links open the player at the moment of the last step reached -----------------------


def drop_offs(rig: dict[str, Any], step: int, filters: str = "") -> list[dict[str, Any]]:
    body = {"definition": definition(rig, filters=filters), "step": step, "outcome": "dropped", "limit": 50}
    page = api(rig, "/api/funnels/query/sessions", body)
    assert page["total"] == len(page["sessions"])
    return page["sessions"]


@pytest.mark.parametrize(
    ("step", "variant", "names"),
    [
        (1, None, {"a_landing"}),
        (2, None, {"a_pricing"}),
        (3, None, {"a_signup", "b_signup"}),
        (4, None, {"a_refused"}),
        (5, None, set()),
        (3, "A", {"a_signup"}),
        (3, "B", {"b_signup"}),
        (4, "B", set()),
    ],
)
def test_drop_offs_are_the_scripted_visitors(
    rig: dict[str, Any], step: int, variant: str | None, names: set[str]
) -> None:
    rows = drop_offs(rig, step, f"experiment=signup_test:{variant}" if variant else "")
    assert {rig["names"][r["sid"]] for r in rows} == names
    assert all(r["reached"] == step for r in rows)


def colour_share(png: bytes, name: str) -> float:
    pixels = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=np.int16)
    return float((np.abs(pixels - np.array(COLOURS[name], dtype=np.int16)) <= 10).all(axis=2).mean())


@pytest.mark.parametrize("step", [1, 2, 3, 4])
def test_each_drop_off_link_opens_the_replay_at_the_last_step_reached(rig: dict[str, Any], step: int) -> None:
    rows = drop_offs(rig, step)
    assert rows
    for row in rows:
        sid = row["sid"]
        session = api(rig, f"/api/sessions/{sid}")
        views = session["page_views"]
        # The moment the link names: the page view's start for a page step, the submit attempt for
        # the submit step (the session's recorded submit, on the player's clock).
        view = next(v for v in views if urlsplit(v["url"]).path == MOMENT_PATH[step])
        if step < 4:
            assert row["t"] == view["offset"], (row, views)
        else:
            submit = rig["collector"].index_rows(
                "SELECT t0 + t AS at FROM form_submits WHERE site = ? AND sid = ?", (rig["site"].key, sid)
            )
            assert [s["at"] for s in submit] == [row["at"]]
            assert view["offset"] < row["t"] < view["offset"] + view["duration_ms"], (row, view)
        page = rig["page"]
        page.goto(f"{rig['collector'].url}{row['link']}")
        page.wait_for_selector("body[data-state=ready]", state="attached", timeout=20_000)
        page.evaluate("window.sessionlensPlayer.pause()")
        page.wait_for_selector(
            f"body[data-replay-t='{row['t']}'][data-state=ready]", state="attached", timeout=15_000
        )
        assert parse_qs(urlsplit(page.evaluate("() => location.href")).query)["t"] == [str(row["t"])]
        # The page view shown is the step's page, and the frame is that page at that moment.
        current = page.locator(".side .pages li.current")
        assert current.count() == 1 and current.get_attribute("data-pid") == view["pid"]
        png = page.locator(".frame-box iframe").screenshot()
        shares = {n: round(colour_share(png, n), 3) for n in COLOURS}
        assert shares[MOMENT_COLOUR[step]] > 0.6, (rig["names"][sid], step, shares)
