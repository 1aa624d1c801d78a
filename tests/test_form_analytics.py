"""Form analytics (docs/forms.md): scripted visitors ingested through the API, derived by the
worker pass, read through /api/forms with login; exact metric values per form and field, SPA
forms without <form>, success by URL and custom event, reindex equality, erasure, hostile
values. Both index backends (conftest)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from starlette.testclient import TestClient

from sessionlens.app import create_app
from sessionlens.auth.users import Accounts
from sessionlens.contracts import field, make_event, make_node
from sessionlens.index import Index
from sessionlens.lifecycle.erasure import Subject, erase
from sessionlens.reindex import reindex
from sessionlens.settings import Settings
from sessionlens.sites import Site
from sessionlens.stores.local import LocalStore
from tests.conftest import SITE_ORIGIN
from tests.helpers import click_event, meta_event, new_id, settings_with

UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"
PASSWORD = "correct horse battery"
OWN_ORIGIN = {"Origin": "http://testserver"}
FORM, NAME, EMAIL, PHONE, TERMS, BUTTON = 10, 11, 12, 13, 14, 15
SECRET = "typed-secret-4711"


def signup_page(hostile: str = "") -> list[Any]:
    el, tx = (
        (lambda i, p, tag, **a: make_node("element", id=i, parent=p, tag=tag, attrs=a)),
        (lambda i, p, text: make_node("text", id=i, parent=p, text=text)),
    )
    nodes = [
        make_node("document", id=1),
        el(3, 1, "html"),
        el(4, 3, "body"),
        el(FORM, 4, "form", id="signup"),
        el(20, FORM, "h2"),
        tx(21, 20, "Create your account" + hostile),
        el(22, FORM, "label", **{"for": "name"}),
        tx(23, 22, "Full name"),
        el(NAME, FORM, "input", id="name", name="name", type="text"),
        el(24, FORM, "label", **{"for": "email"}),
        tx(25, 24, "Email"),
        el(EMAIL, FORM, "input", id="email", name="email", type="email"),
        el(26, FORM, "label", **{"for": "phone"}),
        tx(27, 26, "Phone"),
        el(PHONE, FORM, "input", id="phone", name="phone", type="tel"),
        el(TERMS, FORM, "input", name="terms", type="checkbox"),
        el(BUTTON, FORM, "button", type="submit"),
        tx(28, BUTTON, "Sign up"),
    ]
    return [
        meta_event(0, f"{SITE_ORIGIN}/signup"),
        make_event("snapshot", t=5, part=0, last=True, nodes=nodes),
    ]


def spa_page() -> list[Any]:
    """Fields without a <form>: grouped by the div that holds the button."""
    el = lambda i, p, tag, **a: make_node("element", id=i, parent=p, tag=tag, attrs=a)  # noqa: E731
    nodes = [
        make_node("document", id=1),
        el(3, 1, "html"),
        el(4, 3, "body"),
        el(30, 4, "div", id="newsletter", **{"aria-label": "Newsletter"}),
        el(31, 30, "input", name="address", type="text"),
        el(32, 30, "button"),
    ]
    return [meta_event(0, f"{SITE_ORIGIN}/app"), make_event("snapshot", t=5, part=0, last=True, nodes=nodes)]


def focus(t: int, target: int) -> list[Any]:
    return make_event("focus", t=t, target=target)


def blur(t: int, target: int) -> list[Any]:
    return make_event("blur", t=t, target=target)


def typed(t: int, target: int, value: str = "********") -> list[Any]:
    return make_event("input", t=t, target=target, value=value, checked=None)


def correct(t: int, target: int) -> list[Any]:
    return ["correct", t, target]


def submit(t: int, invalid: list[list[Any]] | None = None) -> list[Any]:
    return make_event("submit", t=t, target=FORM, form="signup", invalid=invalid or [])


def move(t: int) -> list[Any]:
    return make_event("move", t=t, x=10, y=10, target=None)


def fill(start: int, target: int, hesitate: int = 100) -> list[list[Any]]:
    return [focus(start, target), typed(start + hesitate, target), blur(start + 1_000, target)]


class Rig:
    def __init__(self, client: TestClient, site: Site, app: Any) -> None:
        self.client, self.site, self.app = client, site, app
        self.t0 = int(time.time() * 1000) - 3_600_000
        self.csrf: dict[str, str] = {}

    def session(self, *views: tuple[list[list[Any]], int], vid: str | None = None) -> str:
        sid = new_id()
        for events, start in views:
            body: dict[str, Any] = {"v": 1, "sid": sid, "pid": new_id(), "seq": 0, "t0": self.t0 + start}
            body["events"] = [*events[:2], move(6), *events[2:]]
            if vid:
                body["vid"] = vid
            r = self.client.post(
                f"/ingest/{self.site.key}",
                content=orjson.dumps(body),
                headers={"Origin": SITE_ORIGIN, "User-Agent": UA},
            )
            assert r.status_code == 200, r.text
        self.app.state.derivation.drain()
        return sid

    def login(self) -> None:
        r = self.client.post(
            "/login", data={"name": "ada", "password": PASSWORD, "next": "/"}, headers=OWN_ORIGIN
        )
        assert r.status_code == 303, r.text
        self.csrf = {"X-CSRF-Token": self.client.get("/api/me").json()["csrf"]}

    def get(self, path: str, **params: Any) -> Any:
        r = self.client.get(path, params={"site": self.site.key, **params})
        assert r.status_code == 200, r.text
        return r.json()


@pytest.fixture
def rig(settings: Settings, store: LocalStore, index: Index, site: Site) -> Iterator[Rig]:
    Accounts(store).add_user("ada", PASSWORD)
    app = create_app(settings_with(settings, derivation_worker=False), store=store, index=index)
    with TestClient(app, follow_redirects=False) as client:
        yield Rig(client, site, app)


def scripted(rig: Rig) -> dict[str, str]:
    """Five visitors of the signup form with known behaviour, and one who only looks."""
    page = signup_page()
    done = [
        *fill(1_000, NAME),
        *fill(2_100, EMAIL),
        *fill(3_200, PHONE),
        typed(4_300, TERMS, ""),
        submit(5_000),
    ]
    done[-2] = make_event("input", t=4_300, target=TERMS, value="", checked=True)
    out = {
        "completes": rig.session((page + done, 0), (signup_page()[:1], 6_000)),
        # hesitates 4 s on the name field, then completes
        "hesitates": rig.session(
            (
                page
                + [
                    *fill(1_000, NAME, hesitate=4_000)[:2],
                    blur(5_500, NAME),
                    *fill(6_000, EMAIL),
                    *fill(7_100, PHONE),
                    submit(9_000),
                ],
                0,
            ),
            (signup_page()[:1], 10_000),
        ),  # fmt: skip
        # corrects the email three times, returns to the name once, then leaves at the phone field
        "leaves_at_phone": rig.session(
            (
                page
                + [
                    *fill(1_000, NAME),
                    focus(2_100, EMAIL),
                    typed(2_200, EMAIL),
                    correct(2_300, EMAIL),
                    typed(2_400, EMAIL),
                    correct(2_500, EMAIL),
                    correct(2_700, EMAIL),
                    blur(3_000, EMAIL),
                    *fill(3_100, NAME),
                    focus(4_500, PHONE),
                ],
                0,
            ),
        ),  # fmt: skip
        # submits with the email blank: shown invalid, then leaves
        "invalid": rig.session(
            (
                page
                + [
                    *fill(1_000, NAME),
                    submit(2_500, [[EMAIL, "Email"]]),
                    make_event("invalid", t=2_501, target=EMAIL, field="Email", reason="invalid"),
                ],
                0,
            ),
        ),  # fmt: skip
        "looks": rig.session((page, 0)),
    }
    return out


def test_signup_form_metrics_are_exact(rig: Rig) -> None:
    sids = scripted(rig)
    rig.login()
    [form] = rig.get("/api/forms")["forms"]
    assert form["name"] == "Create your account" and form["ident"] == "#signup" and not form["spa"]
    assert (form["views"], form["starters"], form["completions"], form["abandons"]) == (5, 4, 2, 2)
    assert form["view_to_start"] == 0.8 and form["start_to_completion"] == 0.5
    report = rig.get(f"/api/forms/{form['form']}")
    # time to complete: first focus to the clean submit, 4,000 and 8,000 ms
    assert report["median_time_to_complete_ms"] == 6_000
    fields = {f["field"]: f for f in report["fields"]}
    assert [f["field"] for f in report["fields"]] == ["name", "email", "phone", "terms"]
    assert fields["name"]["label"] == "Full name" and fields["email"]["label"] == "Email"
    assert (
        fields["name"]["interactions"] == 4
        and fields["name"]["mean_hesitation_ms"] == (100 + 4_000 + 100 + 100) // 4
    )
    assert (fields["email"]["corrections"], fields["email"]["correction_sessions"]) == (3, 1)
    assert fields["email"]["correction_rate"] == round(1 / 3, 4)
    assert (fields["name"]["returns"], fields["name"]["return_sessions"]) == (1, 1)
    assert fields["email"]["returns"] == 0
    # blank on submit: the invalid visitor left email, phone and terms blank; the hesitating one terms
    assert (
        fields["email"]["blank_submit"],
        fields["phone"]["blank_submit"],
        fields["terms"]["blank_submit"],
    ) == (1, 1, 2)
    assert fields["email"]["blank_rate"] == round(1 / 3, 4)
    assert (fields["email"]["errors"], fields["email"]["error_sessions"]) == (1, 1) and fields["name"][
        "errors"
    ] == 0
    # abandon field: one left at the phone field, one at the name field (the last it touched)
    assert (fields["phone"]["abandons"], fields["phone"]["abandon_share"]) == (1, 0.5)
    assert (fields["name"]["abandons"], fields["email"]["abandons"]) == (1, 0)
    # the sessions behind numbers, each linking to the replay at the field's moment
    behind = rig.get(f"/api/forms/{form['form']}/sessions", field="email", metric="corrections")["sessions"]
    assert behind == [
        {
            "sid": sids["leaves_at_phone"],
            "t": 2_100,
            "link": f"/sessions/{sids['leaves_at_phone']}?site={rig.site.key}&t=2100",
        }
    ]
    left = rig.get(f"/api/forms/{form['form']}/sessions", field="phone", metric="abandons")["sessions"]
    assert [(s["sid"], s["t"]) for s in left] == [(sids["leaves_at_phone"], 4_500)]
    completed = rig.get(f"/api/forms/{form['form']}/sessions", metric="completions")["sessions"]
    assert sorted(s["sid"] for s in completed) == sorted([sids["completes"], sids["hesitates"]])


def test_breakdown_by_variant_and_session_filters(rig: Rig) -> None:
    page = signup_page()
    bucket = lambda v: make_event("experiment", t=10, name="cta", variant=v)  # noqa: E731
    a = [
        rig.session((page + [bucket("A"), *fill(1_000, NAME), submit(2_500)], 0), (page[:1], 3_000))
        for _ in range(2)
    ]
    b = rig.session((page + [bucket("B"), *fill(1_000, NAME)], 0))
    rig.login()
    [form] = rig.get("/api/forms")["forms"]
    report = rig.get(f"/api/forms/{form['form']}", by="experiment:cta")
    seg = {s["value"]: s for s in report["segments"]}
    assert (seg["A"]["starters"], seg["A"]["completions"]) == (2, 2)
    assert (seg["B"]["starters"], seg["B"]["completions"], seg["B"]["abandons"]) == (1, 0, 1)
    only_b = rig.get("/api/forms", experiment="cta:B")["forms"][0]
    assert (only_b["views"], only_b["abandons"]) == (1, 1)
    assert len(a) == 2 and b
    assert rig.client.get("/api/forms", params={"site": rig.site.key, "by": "password"}).status_code == 400
    assert rig.client.get("/api/forms", params={"site": rig.site.key, "nonsense": "1"}).status_code == 400
    assert rig.client.get("/api/forms").status_code == 400
    assert rig.client.get("/api/forms/not-a-key", params={"site": rig.site.key}).status_code == 400
    bad = rig.client.get(f"/api/forms/{form['form']}/sessions", params={"site": rig.site.key, "metric": "x"})
    assert bad.status_code == 400 and "metric" in bad.json()["error"]


def test_spa_form_without_form_element_and_success_by_url_and_event(rig: Rig) -> None:
    spa = spa_page()
    nav = make_event("nav", t=3_000, url=f"{SITE_ORIGIN}/app/thanks", how="push", title="")
    ok = rig.session((spa + [*fill(1_000, 31), click(2_500, 32), nav], 0))
    stays = rig.session((spa + [*fill(1_000, 31), click(2_500, 32)], 0))
    rig.login()
    [form] = rig.get("/api/forms")["forms"]
    assert form["spa"] and form["name"] == "Newsletter" and form["ident"] == "#newsletter"
    assert (form["starters"], form["completions"], form["abandons"]) == (2, 1, 1)
    # the site owner names a success URL: navigating elsewhere no longer counts
    r = rig.client.put(
        f"/api/forms/{form['form']}/settings", params={"site": rig.site.key},
        json={"name": "Newsletter signup", "success": {"kind": "url", "value": "/app/welcome"}}, headers=rig.csrf,
    )  # fmt: skip
    assert r.status_code == 200, r.text
    [form] = rig.get("/api/forms")["forms"]
    assert form["name"] == "Newsletter signup" and form["completions"] == 0
    # ... or a custom event
    rig.client.put(
        f"/api/forms/{form['form']}/settings", params={"site": rig.site.key},
        json={"success": {"kind": "event", "value": "subscribed"}}, headers=rig.csrf,
    )  # fmt: skip
    evt = rig.session(
        (spa + [*fill(1_000, 31), click(2_500, 32),
                make_event("custom", t=2_900, name="subscribed", props={})], 0)
    )  # fmt: skip
    [form] = rig.get("/api/forms")["forms"]
    assert form["completions"] == 1
    done = rig.get(f"/api/forms/{form['form']}/sessions", metric="completions")["sessions"]
    assert [s["sid"] for s in done] == [evt] and ok != stays
    for bad in ({"success": {"kind": "sql"}}, {"success": {"kind": "element", "value": "a b"}}, {"x": 1}):
        r = rig.client.put(
            f"/api/forms/{form['form']}/settings", params={"site": rig.site.key}, json=bad, headers=rig.csrf
        )
        assert r.status_code == 400, bad
    # no CSRF token: refused
    r = rig.client.put(f"/api/forms/{form['form']}/settings", params={"site": rig.site.key}, json={})
    assert r.status_code == 403


def click(t: int, target: int) -> list[Any]:
    event = click_event(t)
    event[field("click", "target")] = target
    return event


def test_login_required_reindex_equal_and_erasure(rig: Rig, store: LocalStore, index: Index) -> None:
    assert rig.client.get("/api/forms", params={"site": rig.site.key}).status_code in (401, 303)
    scripted(rig)
    erased = rig.session((signup_page() + fill(1_000, NAME), 0), vid="vid-forms-erased")
    query = "SELECT * FROM {} ORDER BY sid, pid, form_key{}"
    before = [
        index.query(query.format(t, ", field_key" if t == "form_fields" else ""))
        for t in ("form_views", "form_fields")
    ]
    assert before[0] and before[1]
    reindex(store, index)
    after = [
        index.query(query.format(t, ", field_key" if t == "form_fields" else ""))
        for t in ("form_views", "form_fields")
    ]
    assert after == before
    erase(store, index, Subject(visitor="vid-forms-erased"), "test")
    assert not index.query("SELECT 1 FROM form_views WHERE sid = ?", (erased,))
    assert not index.query("SELECT 1 FROM form_fields WHERE sid = ?", (erased,))
    assert index.query("SELECT 1 FROM form_views WHERE sid <> ?", (erased,))


def test_hostile_values_never_reach_the_index_or_the_api(rig: Rig, index: Index) -> None:
    hostile = "<img src=x onerror=alert(1)>\x1b[31m"
    page = signup_page(hostile)
    # an unmasked field's value reaches the chunk as the recorder sent it; form facts never hold it
    sid = rig.session((page + [focus(1_000, NAME), typed(1_100, NAME, SECRET), typed(1_200, NAME, ""),
                               typed(1_300, NAME, SECRET + "x"), blur(2_000, NAME), submit(2_100),
                               ["correct", 2_200, 999_999], ["focus", 2_300, 424_242], ["submit", 2_400, None, "", []]], 0))  # fmt: skip
    rig.login()
    [form] = rig.get("/api/forms")["forms"]
    assert form["name"] == "Create your account" + " ".join(hostile.split())  # text, shown via textContent
    for table in ("form_views", "form_fields"):
        assert SECRET not in orjson.dumps(index.query(f"SELECT * FROM {table}")).decode()  # noqa: S608
    body = rig.client.get(f"/api/forms/{form['form']}", params={"site": rig.site.key}).text
    assert SECRET not in body and sid


def test_forms_page_is_served_behind_login(rig: Rig) -> None:
    assert rig.client.get("/forms").status_code in (302, 303, 401)
    rig.login()
    r = rig.client.get("/forms")
    assert r.status_code == 200 and "forms.js" in r.text


def test_a_session_that_saw_the_form_twice_counts_once_per_field(rig: Rig) -> None:
    # Two page views of the form in one session: its rows are merged (the report sums the
    # sessions that saw a form once in the index, and merges these in Python).
    page = signup_page()
    twice = rig.session(
        (page + [*fill(1_000, NAME, hesitate=300), correct(1_500, NAME)], 0),
        (page + [*fill(1_000, NAME, hesitate=700), correct(1_400, NAME), *fill(2_100, EMAIL)], 60_000),
    )
    once = rig.session((page + [*fill(1_000, NAME, hesitate=100)], 0))
    rig.login()
    [form] = rig.get("/api/forms")["forms"]
    assert (form["views"], form["starters"], form["abandons"]) == (2, 2, 2)
    fields = {f["field"]: f for f in rig.get(f"/api/forms/{form['form']}")["fields"]}
    name = fields["name"]
    assert (name["interactions"], name["corrections"], name["correction_sessions"]) == (2, 2, 1)
    # the hesitation of the session's first page view that had one (300), and the other's 100
    assert name["mean_hesitation_ms"] == (300 + 100) // 2
    assert name["mean_time_ms"] == (1_000 + 1_000 + 1_000) // 2
    assert (fields["email"]["interactions"], fields["email"]["abandons"]) == (1, 1)
    assert (name["abandons"], name["abandon_share"]) == (1, 0.5)
    behind = rig.get(f"/api/forms/{form['form']}/sessions", field="name", metric="corrections")["sessions"]
    assert sorted(s["sid"] for s in behind) == [twice]
    assert once
