"""Funnels over a crafted set of visits ingested through the collector's API and derived:
exact counts per step, order, the conversion window, per session vs per visitor, the
breakdown and its confidence interval against a hand computation, the drop-off lists and
their replay links, saved funnels, and hostile definitions (both index backends)."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from starlette.testclient import TestClient

from sessionlens.app import create_app
from sessionlens.auth.users import Accounts
from sessionlens.cli import main as cli_main
from sessionlens.contracts import make_event
from sessionlens.index import Index
from sessionlens.reindex import reindex
from sessionlens.settings import Settings
from sessionlens.sites import Site
from sessionlens.stores.local import LocalStore
from tests.helpers import new_id, settings_with, snapshot_event

ORIGIN = "https://shop.example"
HUMAN_UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"
PASSWORD = "correct horse battery"
OWN = {"Origin": "http://testserver"}
MIN = 60_000


def meta(url: str, webdriver: int = 0) -> list[Any]:
    return make_event(
        "meta", t=0, url=url, referrer="", title="Shop", vw=1280, vh=800, sw=1920, sh=1080, dpr=1,
        ua=HUMAN_UA, lang="en-US", tz="UTC", lw=1280, lh=800, vs=1, touch=0, webdriver=webdriver,
        brands="Chromium;Google Chrome",
    )  # fmt: skip


def click(t: int, text: str) -> list[Any]:
    return make_event(
        "click", t=t, target=5, selector="#buy", fx=0.5, fy=0.5, px=10, py=10, cx=10, cy=10, button=0,
        pointer="mouse", pw=1280, ph=3000, tag="button", flags="", control="body>button#buy", text=text,
        anchor="", ax=0, ay=0,
    )  # fmt: skip


def submit(t: int, invalid: list[Any] | None = None) -> list[Any]:
    return make_event("submit", t=t, target=9, form="signup", invalid=invalid or [])


def event(t: int, name: str = "signup_completed", **props: Any) -> list[Any]:
    return make_event("custom", t=t, name=name, props=props)


def nav(t: int, url: str) -> list[Any]:
    return make_event("nav", t=t, url=url, how="push", title="Shop")


def variant(v: str) -> list[Any]:
    return make_event("experiment", t=1, name="checkout", variant=v)


class Rig:
    """Posts batches as browsers would, derives them, and talks to the viewer API logged in."""

    def __init__(self, client: TestClient, site: Site, app: Any) -> None:
        self.client, self.site, self.app = client, site, app
        self.t0 = int(time.time() * 1000) - 3_600_000
        self.sids: dict[str, str] = {}
        self.csrf: dict[str, str] = {}

    def visit(self, name: str, pages: list[tuple[int, list[list[Any]]]], vid: str | None = None) -> None:
        """One session: (start ms after the rig's t0, events) per page view."""
        sid = self.sids.setdefault(name, new_id())
        for start, events in pages:
            body: dict[str, Any] = {"v": 1, "sid": sid, "pid": new_id(), "seq": 0, "t0": self.t0 + start,
                                    "events": events}  # fmt: skip
            if vid:
                body["vid"] = f"visitor-{vid}"
            r = self.client.post(
                f"/ingest/{self.site.key}",
                content=orjson.dumps(body),
                headers={"Origin": ORIGIN, "User-Agent": HUMAN_UA},
            )
            assert r.status_code == 200, r.text

    def login(self) -> None:
        r = self.client.post("/login", data={"name": "ada", "password": PASSWORD, "next": "/"}, headers=OWN)
        assert r.status_code == 303, r.text
        self.csrf = {**OWN, "X-CSRF-Token": self.client.get("/api/me", headers=OWN).json()["csrf"]}

    def query(self, definition: dict[str, Any], status: int = 200) -> dict[str, Any]:
        r = self.client.post("/api/funnels/query", json=definition, headers=self.csrf)
        assert r.status_code == status, r.text
        return r.json()


@pytest.fixture
def rig(settings: Settings, store: LocalStore, index: Index, site: Site) -> Iterator[Rig]:
    Accounts(store).add_user("ada", PASSWORD)
    app = create_app(settings_with(settings, derivation_worker=False), store=store, index=index)
    with TestClient(app, follow_redirects=False) as client:
        rig = Rig(client, site, app)
        record(rig)
        app.state.derivation.drain()
        rig.login()
        yield rig


def page(url: str, *events: list[Any], webdriver: int = 0) -> list[list[Any]]:
    return [meta(url, webdriver), snapshot_event(5), *events]


def record(rig: Rig) -> None:
    """The scripted visits (t = ms into the page view; page views start at the given offsets)."""
    pricing = f"{ORIGIN}/pricing"
    # A1: the whole funnel, in order (an SPA route to /signup between the click and the submit).
    rig.visit("A1", [(0, page(pricing, variant("A"), click(1000, "Sign up"), nav(1500, f"{ORIGIN}/signup"),
                             submit(5000), event(6000, plan="pro")))], vid="va1")  # fmt: skip
    # A2: clicks, then submits on a second page view 3 s later (with a field invalid), no event.
    rig.visit("A2", [(10_000, page(pricing, variant("A"), click(2000, "Sign up now"))),
                     (13_000, page(f"{ORIGIN}/signup", submit(1000, [[None, "Email"]])))], vid="va2")  # fmt: skip
    # A3: only looks at the pricing page.
    rig.visit("A3", [(20_000, page(pricing, variant("A"), click(400, "Features")))], vid="va3")
    # A4: the whole funnel, but submits half an hour after the click.
    rig.visit("A4", [(30_000, page(pricing, variant("A"), click(1000, "SIGN UP"), submit(31 * MIN),
                                   event(31 * MIN + 500)))], vid="va4")  # fmt: skip
    # B1: the whole funnel.
    rig.visit("B1", [(40_000, page(pricing, variant("B"), click(1000, "Sign up"), submit(2000), event(4000)))],
              vid="vb1")  # fmt: skip
    # B2: clicks "Sign up" on the home page, then views pricing: B before A does not convert.
    rig.visit("B2", [(50_000, page(f"{ORIGIN}/", variant("B"), click(1000, "Sign up"))),
                     (52_000, page(pricing, click(100, "Back")))], vid="vb2")  # fmt: skip
    # B3: pricing, clicks, leaves.
    rig.visit("B3", [(60_000, page(pricing, variant("B"), click(3000, "Sign up")))], vid="vb3")
    # One visitor, two sessions: R1 views pricing and clicks; R2 (later) submits and completes.
    rig.visit("R1", [(70_000, page(pricing, variant("A"), click(500, "Sign up")))], vid="vr")
    rig.visit("R2", [(80_000, page(f"{ORIGIN}/signup", variant("A"), submit(700), event(900)))], vid="vr")
    # An automated visitor doing everything: a bot, left out by default.
    rig.visit("BOT", [(90_000, page(pricing, variant("A"), click(100, "Sign up"), submit(200), event(300),
                                    webdriver=1))], vid="vbot")  # fmt: skip


FUNNEL = {
    "steps": [
        {"type": "url", "pattern": "/pricing*"},
        {"type": "click", "text": "sign up"},
        {"type": "submit", "form": "signup"},
        {"type": "event", "name": "signup_completed"},
    ]
}


def funnel(rig: Rig, **changes: Any) -> dict[str, Any]:
    return {**FUNNEL, "site": rig.site.key, **changes}


def entered(result: dict[str, Any]) -> list[int]:
    return [s["entered"] for s in result["steps"]]


def test_counts_per_step_order_and_bots(rig: Rig) -> None:
    r = rig.query(funnel(rig))
    assert entered(r) == [8, 6, 4, 3]  # B2 clicked before pricing; the bot is left out
    steps = r["steps"]
    assert [s["converted"] for s in steps] == [6, 4, 3, 3]
    assert [s["dropped"] for s in steps] == [2, 2, 1, 0]
    assert steps[1]["conversion_from_previous"] == 6 / 8 and steps[3]["conversion_from_first"] == 3 / 8
    assert steps[0]["conversion_from_previous"] == 1.0
    # Step 1 -> 2 gaps: A1 1000, A2 2000, A4 1000, B1 1000, B3 3000, R1 500 (ms): median 1000, p90 2500.
    assert steps[0]["median_ms_to_next"] == 1000 and steps[0]["p90_ms_to_next"] == 2500
    # 2 -> 3: A1 4000, A2 (1000 + 3000 page offset - 2000) 2000, A4 31 min - 1 s, B1 1000.
    assert steps[1]["median_ms_to_next"] == 3000
    assert steps[3]["median_ms_to_next"] is None
    assert (r["units"], r["completed"], r["conversion"]) == (8, 3, 3 / 8)
    assert rig.query(funnel(rig, filters="bots=include"))["steps"][3]["entered"] == 4
    # The steps in the other order: nobody clicks sign up and then views pricing, except B2.
    reverse = funnel(rig, steps=[FUNNEL["steps"][1], FUNNEL["steps"][0]])
    assert entered(rig.query(reverse)) == [7, 1]


def test_window_and_per_visitor(rig: Rig) -> None:
    assert entered(rig.query(funnel(rig, window="10m"))) == [8, 6, 3, 2]  # A4 submits after 31 min
    assert entered(rig.query(funnel(rig, window=3600))) == [8, 6, 4, 3]
    visitors = rig.query(funnel(rig, per="visitor"))
    assert visitors["per"] == "visitor"
    assert entered(visitors) == [8, 6, 5, 4]  # visitor vr: pricing + click in R1, submit + event in R2
    # Within 1 second of the first step (inclusive): the clicks at 1000 ms (A1, A4, B1) and R1's at 500.
    assert entered(rig.query(funnel(rig, window=1, per="visitor"))) == [8, 4, 0, 0]


def test_session_filter_restricts_the_funnel(rig: Rig) -> None:
    r = rig.query(funnel(rig, filters="experiment=checkout:B"))
    assert entered(r) == [3, 2, 1, 1]
    r = rig.query(funnel(rig, filters=[["visited", "/signup*"]]))
    assert entered(r) == [2, 2, 2, 1]  # A1 (route change) and A2 (second page view)


def _wilson(x: int, n: int) -> tuple[float, float]:
    z = 1.959963984540054
    p = x / n
    centre = (2 * n * p + z * z) / (2 * (n + z * z))
    half = z * math.sqrt(z * z + 4 * n * p * (1 - p)) / (2 * (n + z * z))
    return centre - half, centre + half


def test_breakdown_by_variant_with_its_interval(rig: Rig) -> None:
    r = rig.query(funnel(rig, by="experiment:checkout"))
    b = r["breakdown"]
    assert b["by"] == "experiment:checkout" and b["baseline"] == "A"
    segments = {s["value"]: s for s in b["segments"]}
    assert [s["value"] for s in b["segments"]] == ["A", "B"]
    assert entered(segments["A"]) == [5, 4, 3, 2]  # A1, A2, A3, A4, R1
    assert entered(segments["B"]) == [3, 2, 1, 1]  # B1, B2, B3
    assert segments["A"]["difference"] is None
    diff = segments["B"]["difference"]
    # By hand: p1 = 1/3 (B), p2 = 2/5 (A); Wilson intervals, then Newcombe's hybrid score.
    l1, u1 = _wilson(1, 3)
    l2, u2 = _wilson(2, 5)
    p1, p2 = 1 / 3, 2 / 5
    assert diff["value"] == pytest.approx(p1 - p2)
    assert diff["low"] == pytest.approx(p1 - p2 - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2))
    assert diff["high"] == pytest.approx(p1 - p2 + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2))
    # Wilson 1/3: [0.0615, 0.7923], 2/5: [0.1176, 0.7693] (published tables).
    assert diff["low"] == pytest.approx(-0.5252, abs=1e-4) and diff["high"] == pytest.approx(0.4722, abs=1e-4)
    step2 = segments["B"]["steps"][1]["difference"]
    assert step2["value"] == pytest.approx(2 / 3 - 4 / 5)
    # Another baseline, and a field of the sessions row.
    r = rig.query(funnel(rig, by="experiment:checkout", baseline="B"))
    assert r["breakdown"]["baseline"] == "B"
    # R2 (vr's second session, returning) never views pricing: every session entering is a first visit.
    by_visit = rig.query(funnel(rig, by="visitor"))["breakdown"]["segments"]
    assert [(s["value"], s["units"]) for s in by_visit] == [("new", 8)]


def test_drop_off_and_converted_lists_link_to_the_moment(rig: Rig) -> None:
    r = rig.client.post("/api/funnels", json=funnel(rig, name="Signup"), headers=rig.csrf)
    assert r.status_code == 201, r.text
    fid = r.json()["id"]
    base = f"/api/funnels/{fid}/sessions"
    sid = {v: k for k, v in rig.sids.items()}

    def listed(step: int, outcome: str, **extra: Any) -> dict[str, Any]:
        got = rig.client.get(base, params={"step": step, "outcome": outcome, **extra})
        assert got.status_code == 200, got.text
        return got.json()

    dropped = listed(2, "dropped")
    assert dropped["total"] == 2
    rows = {sid[s["sid"]]: s for s in dropped["sessions"]}
    assert set(rows) == {"B3", "R1"}
    assert rows["B3"]["t"] == 3000 and rows["R1"]["t"] == 500  # the click, on the session clock
    assert rows["B3"]["link"] == f"/sessions/{rig.sids['B3']}?site={rig.site.key}&t=3000"
    # A2 drops at the submit on its second page view, 3 s after its start: t = 3000 + 1000.
    (a2,) = listed(3, "dropped")["sessions"]
    assert (sid[a2["sid"]], a2["t"], a2["reached"]) == ("A2", 4000, 3)
    converted = listed(3, "converted")
    assert {sid[s["sid"]] for s in converted["sessions"]} == {"A1", "A4", "B1"}
    a1 = next(s for s in converted["sessions"] if sid[s["sid"]] == "A1")
    assert a1["t"] == 6000  # the moment of the next step reached (the event)
    assert {sid[s["sid"]] for s in listed(4, "converted")["sessions"]} == {"A1", "A4", "B1"}
    assert listed(4, "dropped")["total"] == 0
    # Paging: newest moment first, one at a time, every row once.
    seen, offset = [], 0
    while offset is not None:
        part = listed(1, "converted", limit=1, offset=offset)
        seen += [s["sid"] for s in part["sessions"]]
        offset = part["next"]
    assert len(seen) == 6 == len(set(seen))
    # The link opens the player page (behind login) at that moment.
    assert rig.client.get(rows["B3"]["link"]).status_code == 200
    assert "funnels.js" in rig.client.get("/funnels").text
    # Saved funnel: results as the query gives them; rename; delete.
    assert entered(rig.client.get(f"/api/funnels/{fid}/results").json()) == [8, 6, 4, 3]
    r = rig.client.patch(f"/api/funnels/{fid}", json={"name": "Signup v2", "version": 1}, headers=rig.csrf)
    assert r.status_code == 200 and r.json()["name"] == "Signup v2" and r.json()["version"] == 2
    assert (
        rig.client.patch(
            f"/api/funnels/{fid}", json={"name": "x", "version": 1}, headers=rig.csrf
        ).status_code
        == 409
    )
    assert [f["id"] for f in rig.client.get("/api/funnels").json()["funnels"]] == [fid]
    assert rig.client.get(base, params={"step": 9, "outcome": "dropped"}).status_code == 400
    assert rig.client.get(base, params={"step": 1, "outcome": "gone"}).status_code == 400
    assert rig.client.delete(f"/api/funnels/{fid}", headers=rig.csrf).status_code == 204
    assert rig.client.get(f"/api/funnels/{fid}/results").status_code == 404


def test_login_csrf_and_read_tokens(rig: Rig) -> None:
    body = funnel(rig, name="Signup")
    assert rig.client.post("/api/funnels", json=body, headers=OWN).status_code == 403  # no CSRF token
    token = Accounts(rig.app.state.store).create_token("ada", "script", scope="read")
    bearer = {"Authorization": f"Bearer {token}"}
    rig.client.cookies.clear()
    assert rig.client.post("/api/funnels/query", json=body).status_code == 401
    assert rig.client.post("/api/funnels", json=body, headers=bearer).status_code == 403
    assert rig.client.get("/api/funnels", headers=bearer).status_code == 200


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"steps": [{"type": "url", "pattern": f"/p{i}"} for i in range(11)]}, "steps"),
        ({"steps": [{"type": "url", "pattern": "/a"}]}, "steps"),
        ({"window": "1000d"}, "window"),
        ({"window": 1e308}, "window"),
        ({"window": "1 fortnight"}, "window"),
        ({"per": "user"}, "per"),
        ({"by": "shoe_size"}, "by"),
        ({"by": "experiment"}, "by"),
        ({"filters": "device=toaster"}, "filters: device"),
        ({"filters": "site=other"}, "filters: site"),
        ({"steps": [{"type": "url", "pattern": "*"}, FUNNEL["steps"][1]]}, "step 1 (url): pattern"),
        ({"steps": [FUNNEL["steps"][0], {"type": "hover"}]}, "step 2: type"),
        ({"steps": [FUNNEL["steps"][0], {"type": "click"}]}, "step 2 (click)"),
        ({"steps": [FUNNEL["steps"][0], {"type": "click", "text": "a", "selector": "#b"}]}, "step 2 (click)"),
        ({"steps": [FUNNEL["steps"][0], {"type": "click", "text": "x\x00y"}]}, "step 2 (click): text"),
        ({"steps": [FUNNEL["steps"][0], {"type": "click", "text": "x" * 501}]}, "step 2 (click): text"),
        (
            {"steps": [FUNNEL["steps"][0], {"type": "event", "name": "e", "props": {"k": [1]}}]},
            "step 2 (event): props.k",
        ),
        (
            {"steps": [FUNNEL["steps"][0], {"type": "event", "name": "e", "sql": "1"}]},
            "step 2 (event): unknown field",
        ),
        ({"steps": [FUNNEL["steps"][0], {"type": "submit", "valid": "yes"}]}, "step 2 (submit): valid"),
        ({"steps": [FUNNEL["steps"][0], "url:/x"]}, "step 2 must be an object"),
        ({"drop": "table"}, "unknown field 'drop'"),
    ],
)
def test_hostile_definitions_are_refused_naming_the_step(
    rig: Rig, change: dict[str, Any], named: str
) -> None:
    r = rig.query(funnel(rig, **change), status=400)
    assert named in r["error"], r["error"]


def test_sql_metacharacters_are_plain_text(rig: Rig) -> None:
    for pattern in ("/pricing'; DROP TABLE sessions;--", "/pri%", "/pr_cing", "/pri[c]ing*", "/pri?ing"):
        steps = [{"type": "url", "pattern": pattern}, FUNNEL["steps"][1]]
        assert entered(rig.query(funnel(rig, steps=steps))) == [0, 0], pattern
    steps = [FUNNEL["steps"][0], {"type": "click", "text": "%"}]
    assert entered(rig.query(funnel(rig, steps=steps))) == [8, 0]
    steps = [FUNNEL["steps"][0], {"type": "click", "selector": "body>button#*"}]
    assert entered(rig.query(funnel(rig, steps=steps))) == [8, 8]
    steps = [FUNNEL["steps"][0], {"type": "event", "name": "signup_completed", "props": {"plan": "pro"}}]
    assert entered(rig.query(funnel(rig, steps=steps))) == [8, 1]
    assert rig.query(funnel(rig))["steps"][0]["entered"] == 8  # the sessions table is still there


def test_valid_submits_and_reindex_rebuilds_the_facts(rig: Rig, index: Index) -> None:
    steps = [FUNNEL["steps"][0], {"type": "submit", "form": "sign*", "valid": True}]
    assert entered(rig.query(funnel(rig, steps=steps))) == [8, 3]  # A2's submit had an invalid field
    before = index.query("SELECT sid, t0, t, form, invalid FROM form_submits ORDER BY sid, t")
    routes = index.query("SELECT sid, t0, t, url FROM route_changes ORDER BY sid, t")
    assert len(before) == 6 and [r["url"] for r in routes] == [f"{ORIGIN}/signup"]
    reindex(rig.app.state.store, index)
    assert index.query("SELECT sid, t0, t, form, invalid FROM form_submits ORDER BY sid, t") == before
    assert index.query("SELECT sid, t0, t, url FROM route_changes ORDER BY sid, t") == routes
    assert entered(rig.query(funnel(rig))) == [8, 6, 4, 3]


def test_cli_funnel(
    rig: Rig, settings: Settings, index_in_environ: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["funnel", "--data-dir", str(settings.data_dir), "--site", rig.site.key, "--step", "url:/pricing*", "--step", "click:text=Sign up",
            "--step", "submit:signup", "--step", "event:signup_completed"]  # fmt: skip
    assert cli_main([*args, "--json"]) == 0
    out = orjson.loads(capsys.readouterr().out)
    assert entered(out) == [8, 6, 4, 3]
    assert cli_main([*args, "--by", "experiment:checkout", "--window", "10m"]) == 0
    text = capsys.readouterr().out
    assert "experiment:checkout" in text and "Viewed /pricing*" in text
    assert (
        cli_main(["funnel", "--data-dir", str(settings.data_dir), "--site", rig.site.key, "--step", "url:/a"])
        == 2
    )
    assert "steps" in capsys.readouterr().err


# -- the fast path against a straightforward computation ---------------------------------

RANDOM_URLS = ["https://shop.example/a", "https://shop.example/a/1?x=1", "https://shop.example/b",
               "https://shop.example/cb", "https://other.example/a"]  # fmt: skip
RANDOM_TEXTS = ["Buy now", "BUY", "Details", "", "rebuy it"]
RANDOM_CHANNELS = ["direct", "email", None, "social"]
RANDOM_STEPS = [
    {"type": "url", "pattern": "/a*"},
    {"type": "click", "text": "buy"},
    {"type": "url", "pattern": "/b"},
    {"type": "submit", "form": "checkout", "valid": True},
    {"type": "event", "name": "purchase"},
]
RANK_OF = {"url": 0, "click": 1, "submit": 2, "event": 3}


def _random_rows(seed: int) -> dict[str, list[tuple]]:
    """Sessions of 1-3 page views with page views, SPA routes, clicks, submits and events at
    moments on a 250 ms grid (so kinds tie at one millisecond), some out of order, visitors
    with several sessions, bots, and a second site with the same facts."""
    import random

    rng = random.Random(seed)
    out: dict[str, list[tuple]] = {k: [] for k in ("sessions", "page_views", "route_changes", "clicks",
                                                   "form_submits", "custom_events")}  # fmt: skip
    base = 1_790_000_000_000
    for site in ("s", "other"):
        for i in range(160 if site == "s" else 20):
            sid, start = f"{site}sess{seed}{i:05d}", base + i * 3_600_000  # sessions never overlap
            visitor = rng.choice([None, *(f"visitor{v:03d}" for v in range(40))])
            for p in range(rng.randint(1, 3)):
                pid, t0 = f"pv{p}", start + p * 20_000
                url = rng.choice(RANDOM_URLS)
                out["page_views"].append((site, sid, pid, t0, t0 + 10_000, 10_000, 5_000, url, 1, 10, 1, 0, 0, 0,
                                          0, 100))  # fmt: skip
                for _ in range(rng.randint(2, 14)):
                    kind, t = rng.choice(("route", "click", "submit", "event")), rng.randrange(0, 6_000, 250)
                    if kind == "route":
                        out["route_changes"].append((site, sid, pid, t0, t, rng.choice(RANDOM_URLS)))
                    elif kind == "click":
                        out["clicks"].append((site, sid, pid, t0, t, url, "body>button", 0.5, 0.5, 1.0, 1.0, 1280.0,
                                              1280.0, 900.0, "button", 0, 0, 0, "body>button",
                                              rng.choice(RANDOM_TEXTS), "", 0.0, 0.0))  # fmt: skip
                    elif kind == "submit":
                        out["form_submits"].append((site, sid, pid, t0, t, rng.choice(("checkout", "news")),
                                                    rng.choice((0, 0, 1))))  # fmt: skip
                    else:
                        out["custom_events"].append((site, sid, pid, t, rng.choice(("purchase", "view"))))
            pages = sum(1 for r in out["page_views"] if r[1] == sid)
            out["sessions"].append((site, sid, start, start + 60_000, 60_000, 30_000, None, pages, "desktop", 0, 0, 0,
                                    0, 1, 100, rng.choice(RANDOM_CHANNELS), int(rng.random() < 0.05), visitor,
                                    1 if visitor else None))  # fmt: skip
    return out


RANDOM_COLUMNS = {
    "sessions": ("site", "sid", "start_time", "end_time", "duration_ms", "active_ms", "entry_url", "page_count",
                 "device", "clicks", "inputs", "errors", "customs", "batches", "stored_bytes", "channel", "is_bot",
                 "visitor_id", "visit_number"),
    "page_views": ("site", "sid", "pid", "t0", "end_time", "duration_ms", "active_ms", "url", "chunks", "events",
                   "clicks", "inputs", "errors", "customs", "navs", "stored_bytes"),
    "route_changes": ("site", "sid", "pid", "t0", "t", "url"),
    "clicks": ("site", "sid", "pid", "t0", "t", "url", "selector", "fx", "fy", "px", "py", "vw", "pw", "ph", "tag",
               "rage", "dead", "error", "control", "text", "anchor", "ax", "ay"),
    "form_submits": ("site", "sid", "pid", "t0", "t", "form", "invalid"),
    "custom_events": ("site", "sid", "pid", "t", "name"),
}  # fmt: skip


def _fill(index: Index, data: dict[str, list[tuple]]) -> None:
    from sessionlens.index.url_keys import url_key_rows

    for t0 in {r[3] for r in data["clicks"]}:
        index._ensure_partitions(t0)  # noqa: SLF001 - PostgreSQL's day partitions, as ingest makes them
    urls = [(r[0], r[7]) for r in data["page_views"]] + [(r[0], r[5]) for r in data["route_changes"]]

    def write(conn: Any) -> None:
        for table, columns in RANDOM_COLUMNS.items():
            marks = ",".join("?" * len(columns))
            conn.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", data[table])  # noqa: S608
        conn.executemany(
            "INSERT INTO url_keys (site, url, path, norm_url, norm_path) VALUES (?, ?, ?, ?, ?)",
            url_key_rows(urls),
        )

    index.write(write)


def _reference(data: dict[str, list[tuple]], definition: dict[str, Any]) -> dict[str, list[tuple[str, int]]]:
    """Straightforward: every unit's moments per step in Python lists, each start tried in turn.
    Per unit: the (sid, at) of each step reached, keyed by the number of steps reached."""
    import re

    window = {"3s": 3_000, "10s": 10_000, None: None}[definition.get("window")]
    per_visitor = definition.get("per") == "visitor"
    only = dict(definition.get("filters", []))
    sessions = {r[1]: r for r in data["sessions"] if r[0] == "s" and r[16] == 0
                and ("channel" not in only or r[15] == only["channel"])}  # fmt: skip
    t0_of = {(r[1], r[2]): r[3] for r in data["page_views"]}

    def url_matches(pattern: str, url: str) -> bool:
        if "*" not in pattern:
            return pattern in url
        target = re.sub(r"^https?://[^/]*", "", url) if pattern.startswith("/") else url
        return re.fullmatch(".*".join(map(re.escape, pattern.split("*"))), target) is not None

    moments: list[list[tuple[int, str]]] = []  # per step: (at, sid)
    for step in definition["steps"]:
        found: list[tuple[int, str]] = []
        if step["type"] == "url":
            found += [
                (r[3], r[1]) for r in data["page_views"] if r[0] == "s" and url_matches(step["pattern"], r[7])
            ]
            found += [(r[3] + r[4], r[1]) for r in data["route_changes"]
                      if r[0] == "s" and url_matches(step["pattern"], r[5])]  # fmt: skip
        elif step["type"] == "click":
            found += [
                (r[3] + r[4], r[1]) for r in data["clicks"] if r[0] == "s" and step["text"] in r[19].lower()
            ]
        elif step["type"] == "submit":
            found += [(r[3] + r[4], r[1]) for r in data["form_submits"]
                      if r[0] == "s" and r[5] == step["form"] and r[6] == 0]  # fmt: skip
        else:
            found += [(t0_of[(r[1], r[2])] + r[3], r[1]) for r in data["custom_events"]
                      if r[0] == "s" and r[4] == step["name"]]  # fmt: skip
        moments.append([m for m in found if m[1] in sessions])

    def unit(sid: str) -> str:
        visitor = sessions[sid][17]
        return visitor if per_visitor and visitor else "session " + sid

    out: dict[str, list[tuple[str, int]]] = {}
    units = {unit(sid) for _, sid in moments[0]}
    for u in units:
        mine = [sorted((at * 4 + RANK_OF[step["type"]], at, sid) for at, sid in m if unit(sid) == u)
                for step, m in zip(definition["steps"], moments, strict=True)]  # fmt: skip
        best: list[tuple[int, int, str]] = []
        for start in sorted(set(mine[0])) if window else mine[0][:1]:
            path = [start]
            for later in mine[1:]:
                nxt = next((m for m in later if m[0] > path[-1][0]), None)
                if nxt is None or (window is not None and nxt[1] - start[1] > window):
                    break
                path.append(nxt)
            if len(path) > len(best):
                best = path
        out[u] = [(sid, at) for _, at, sid in best]
    return out


@pytest.mark.parametrize("seed", [1, 2])
def test_fast_path_equals_a_straightforward_computation(index: Index, seed: int) -> None:
    """Random sessions written to the index; every step's counts, each unit's moments (through
    the sessions lists) and the breakdown equal a plain per-unit Python computation."""
    import numpy as np

    from sessionlens.funnels import funnel_results, funnel_sessions, parse_funnel

    data = _random_rows(seed)
    _fill(index, data)
    cases = [
        {},
        {"window": "3s"},
        {"per": "visitor"},
        {"per": "visitor", "window": "10s"},
        {"by": "channel", "filters": [["channel", "email"]]},
        {"by": "channel"},
        # Two URL steps in a row: one page view never counts for both.
        {"steps": [RANDOM_STEPS[0], {"type": "url", "pattern": "/a"}, RANDOM_STEPS[1]], "window": "10s"},
    ]
    for case in cases:
        definition = {"site": "s", "steps": RANDOM_STEPS, **case}
        steps = definition["steps"]
        expected = list(_reference(data, definition).values())
        got = funnel_results(index, parse_funnel(definition))
        n = len(steps)
        assert [s["entered"] for s in got["steps"]] == [
            sum(len(p) > i for p in expected) for i in range(n)
        ], case
        assert expected and sum(len(p) == n for p in expected), f"seed {seed} never completes: {case}"
        for i in range(n - 1):
            gaps = np.array([p[i + 1][1] - p[i][1] for p in expected if len(p) > i + 1])
            want = int(round(float(np.percentile(gaps, 50)))) if len(gaps) else None
            assert got["steps"][i]["median_ms_to_next"] == want, (case, i)
        for step in range(1, n + 1):
            for outcome in ("dropped", "converted"):
                page = funnel_sessions(index, parse_funnel(definition), step, outcome, limit=200)
                if outcome == "dropped":
                    want_rows = sorted((p[-1][0], p[-1][1]) for p in expected if len(p) == step and step < n)
                else:
                    want_rows = sorted((p[min(step, n - 1)][0], p[min(step, n - 1)][1]) for p in expected
                                       if len(p) >= min(step + 1, n))  # fmt: skip
                assert sorted((r["sid"], r["at"]) for r in page["sessions"]) == want_rows, (
                    case,
                    step,
                    outcome,
                )
        if "by" in case:
            channel = {r[1]: r[15] or "(none)" for r in data["sessions"]}
            for segment in got["breakdown"]["segments"]:
                mine = [p for p in expected if channel[p[0][0]] == segment["value"]]
                assert [s["entered"] for s in segment["steps"]] == [
                    sum(len(p) > i for p in mine) for i in range(n)
                ], (case, segment["value"])


def test_a_separator_inside_an_id_or_segment_is_read_row_by_row(index: Index) -> None:
    """Ids never hold a comma (the batch schema) nor segment values U+001F, but when a row
    does, the answer is the same: the aggregated read notices and reads rows."""
    from sessionlens.funnels import funnel_results, parse_funnel

    data = _random_rows(3)
    odd = {"ssess300000": "odd,sid", "ssess300001": "plain-sid"}
    data = {t: [tuple(odd.get(v, v) if i == 1 else v for i, v in enumerate(r)) for r in rows]
            for t, rows in data.items()}  # fmt: skip
    data["sessions"] = [
        r[:15] + ("e\x1fmail" if r[1] == "plain-sid" else r[15],) + r[16:] for r in data["sessions"]
    ]
    _fill(index, data)
    for case in ({}, {"by": "channel"}):
        definition = {"site": "s", "steps": RANDOM_STEPS[:2], **case}
        expected = list(_reference(data, definition).values())
        got = funnel_results(index, parse_funnel(definition))
        assert [s["entered"] for s in got["steps"]] == [sum(len(p) > i for p in expected) for i in range(2)]
        assert any(p[0][0] == "odd,sid" for p in expected)
    values = {s["value"] for s in got["breakdown"]["segments"]}
    assert ("e\x1fmail" in values) == any(p[0][0] == "plain-sid" for p in expected)
