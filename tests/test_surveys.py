"""On-page surveys, server side (issue 13 item 4; docs/surveys.md), on both index backends:
saved definitions and hostile ones, the public endpoint and the ingest ack header, answers
ingested through the collector -> survey_responses -> session filters (list, funnel, heatmap
segment) -> exact results and CSV, reindex rebuilding the facts, erasure removing them, CLI."""

from __future__ import annotations

import csv
import io
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
from sessionlens.lifecycle.erasure import Subject, erase
from sessionlens.reindex import reindex
from sessionlens.settings import Settings
from sessionlens.sites import Site, SiteRegistry, new_site
from sessionlens.stores.local import LocalStore
from sessionlens.surveys.public import ACK_HEADER
from tests.helpers import new_id, settings_with, snapshot_event

ORIGIN = "https://shop.example"
HUMAN_UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"
PASSWORD = "correct horse battery"
OWN = {"Origin": "http://testserver"}

DEFINITION: dict[str, Any] = {
    "name": "Why did you stop?",
    "questions": [
        {"id": "ease", "type": "rating", "prompt": "How easy was it?", "required": True,
         "scale": {"min": 1, "max": 5, "low_label": "Hard", "high_label": "Easy"}},
        {"id": "nps", "type": "nps", "prompt": "Would you recommend us?"},
        {"id": "why", "type": "choice", "prompt": "What stopped you?",
         "options": [{"id": "price", "label": "Price"}, {"id": "shipping", "label": "Shipping"},
                     {"id": "other", "label": "Something else"}]},
        {"id": "pay", "type": "multi", "prompt": "How would you pay?",
         "options": [{"id": "card", "label": "Card"}, {"id": "paypal", "label": "PayPal"},
                     {"id": "invoice", "label": "Invoice"}]},
        {"id": "words", "type": "text", "prompt": "Anything else?"},
    ],
    "trigger": {"url": "/checkout*", "event": "cart_abandoned", "exit_intent": False, "after_seconds": 0},
    "theme": {"accent": "#FF0066", "background": "#ffffff", "text": "#111111", "position": "bottom-left"},
    "thanks": "Thanks!",
}  # fmt: skip


def meta(url: str) -> list[Any]:
    return make_event(
        "meta", t=0, url=url, referrer="", title="Shop", vw=1280, vh=800, sw=1920, sh=1080, dpr=1,
        ua=HUMAN_UA, lang="en-US", tz="UTC", lw=1280, lh=800, vs=1, touch=0, webdriver=0,
        brands="Chromium;Google Chrome",
    )  # fmt: skip


def sv(t: int, survey: str, action: str, question: str = "", value: str = "") -> list[Any]:
    return make_event("survey", t=t, survey=survey, action=action, question=question, value=value)


def move(t: int) -> list[Any]:
    return make_event("move", t=t, x=10, y=10, target=5)


def click(t: int, text: str) -> list[Any]:
    return make_event(
        "click", t=t, target=5, selector="#buy", fx=0.5, fy=0.5, px=10, py=10, cx=10, cy=10, button=0,
        pointer="mouse", pw=1280, ph=3000, tag="button", flags="", control="body>button#buy", text=text,
        anchor="", ax=0, ay=0,
    )  # fmt: skip


class Rig:
    def __init__(self, client: TestClient, site: Site, app: Any) -> None:
        self.client, self.site, self.app = client, site, app
        self.t0 = int(time.time() * 1000) - 3_600_000
        self.sids: dict[str, str] = {}
        self.csrf: dict[str, str] = {}

    def post_batch(self, sid: str, events: list[list[Any]], start: int = 0, vid: str | None = None) -> Any:
        body: dict[str, Any] = {"v": 1, "sid": sid, "pid": new_id(), "seq": 0, "t0": self.t0 + start,
                                "events": events}  # fmt: skip
        if vid:
            body["vid"] = vid
        r = self.client.post(
            f"/ingest/{self.site.key}",
            content=orjson.dumps(body),
            headers={"Origin": ORIGIN, "User-Agent": HUMAN_UA},
        )
        assert r.status_code == 200, r.text
        return r

    def visit(self, name: str, pages: list[tuple[int, list[list[Any]]]], vid: str | None = None) -> None:
        sid = self.sids.setdefault(name, new_id())
        for start, events in pages:
            # A pointer move: a person (a session without any human input is a bot's).
            self.post_batch(
                sid, [meta(f"{ORIGIN}/checkout"), snapshot_event(5), move(50), *events], start, vid
            )

    def login(self) -> None:
        r = self.client.post("/login", data={"name": "ada", "password": PASSWORD, "next": "/"}, headers=OWN)
        assert r.status_code == 303, r.text
        self.csrf = {**OWN, "X-CSRF-Token": self.client.get("/api/me", headers=OWN).json()["csrf"]}

    def create(self, definition: dict[str, Any], status: int = 201) -> dict[str, Any]:
        r = self.client.post("/api/surveys", json={"site": self.site.key, **definition}, headers=self.csrf)
        assert r.status_code == status, r.text
        return r.json()

    def get(self, path: str, status: int = 200, **params: Any) -> Any:
        r = self.client.get(path, params=params, headers=OWN)
        assert r.status_code == status, r.text
        return r.json()

    def sessions(self, **params: Any) -> set[str]:
        found = self.get("/api/sessions", site=self.site.key, **params)["sessions"]
        return {s["sid"] for s in found}


@pytest.fixture
def rig(settings: Settings, store: LocalStore, index: Index, site: Site) -> Iterator[Rig]:
    Accounts(store).add_user("ada", PASSWORD)
    app = create_app(settings_with(settings, derivation_worker=False), store=store, index=index)
    with TestClient(app, follow_redirects=False) as client:
        rig = Rig(client, site, app)
        rig.login()
        yield rig


def record(rig: Rig, survey: str) -> None:
    """Five visitors: who saw the survey, what they answered (the exact numbers are asserted below)."""
    # V1: shown, answers everything, completes. Free text with an e-mail and a formula.
    rig.visit("V1", [(0, [sv(1000, survey, "shown"), sv(2000, survey, "answer", "ease", "4"),
                          sv(3000, survey, "answer", "nps", "10"), sv(4000, survey, "answer", "why", "price"),
                          sv(5000, survey, "answer", "pay", "card\npaypal"),
                          sv(6000, survey, "answer", "words", "=HYPERLINK(\"x\") write me at ada@example.com"),
                          sv(6500, survey, "complete")])], vid="visitor-v1")  # fmt: skip
    # V2: shown, rating 2, NPS 6, changes the choice from price to shipping (the last counts), dismisses.
    rig.visit("V2", [(10_000, [sv(500, survey, "shown"), sv(1500, survey, "answer", "ease", "2"),
                               sv(2500, survey, "answer", "nps", "6"), sv(3000, survey, "answer", "why", "price"),
                               sv(3500, survey, "answer", "why", "shipping"), sv(4000, survey, "dismiss")])],
              vid="visitor-v2")  # fmt: skip
    # V3: shown on one page view, answers on the next (NPS 8, pays by invoice).
    rig.visit("V3", [(20_000, [sv(700, survey, "shown")]),
                     (25_000, [sv(900, survey, "answer", "nps", "8"), sv(950, survey, "answer", "pay", "invoice"),
                               sv(1200, survey, "answer", "words", "Too slow"), sv(1300, survey, "complete")])],
              vid="visitor-v3")  # fmt: skip
    # V4: shown, dismisses without answering.
    rig.visit("V4", [(30_000, [sv(300, survey, "shown"), sv(400, survey, "dismiss")])], vid="visitor-v4")
    # V5: never sees it; a survey that does not exist is answered (hand-made events) and ignored.
    rig.visit(
        "V5", [(40_000, [click(100, "Buy"), sv(200, "nosuch", "answer", "ease", "5")])], vid="visitor-v5"
    )
    rig.app.state.derivation.drain()


# -- definitions --------------------------------------------------------------------------


HOSTILE: list[tuple[dict[str, Any], str]] = [
    ({"questions": DEFINITION["questions"]}, "name"),
    ({**DEFINITION, "questions": []}, "questions"),
    ({**DEFINITION, "questions": "rate us"}, "questions"),
    ({**DEFINITION, "questions": [{"id": "a", "type": "slider", "prompt": "x"}]}, "questions[0].type"),
    ({**DEFINITION, "questions": [{"id": "a b", "type": "text", "prompt": "x"}]}, "questions[0].id"),
    ({**DEFINITION, "questions": [{"id": "a\nb", "type": "text", "prompt": "x"}]}, "questions[0].id"),
    ({**DEFINITION, "questions": [{"id": "a", "type": "text", "prompt": ""}]}, "questions[0].prompt"),
    ({**DEFINITION, "questions": [{"id": "a", "type": "text", "prompt": "x" * 301}]}, "questions[0].prompt"),
    ({**DEFINITION, "questions": [{"id": "a", "type": "text", "prompt": "a\u2028b"}]}, "questions[0].prompt"),
    ({**DEFINITION, "questions": [{"id": "a", "type": "text", "prompt": "x"}, {"id": "a", "type": "nps", "prompt": "y"}]},
     "questions[1].id"),
    ({**DEFINITION, "questions": [{"id": "a", "type": "choice", "prompt": "x", "options": [{"id": "o", "label": "O"}]}]},
     "questions[0].options"),
    ({**DEFINITION, "questions": [{"id": "a", "type": "choice", "prompt": "x",
                                   "options": [{"id": f"o{i}", "label": "O"} for i in range(13)]}]}, "questions[0].options"),
    ({**DEFINITION, "questions": [{"id": "a", "type": "multi", "prompt": "x",
                                   "options": [{"id": "o", "label": "O"}, {"id": "o", "label": "P"}]}]},
     "questions[0].options[1].id"),
    ({**DEFINITION, "questions": [{"id": "a", "type": "multi", "prompt": "x",
                                   "options": [{"id": "o", "label": "O"}, {"id": "p", "label": "<b>" * 40}]}]},
     "questions[0].options[1].label"),
    ({**DEFINITION, "questions": [{"id": "a", "type": "text", "prompt": "x", "options": []}]}, "questions[0].options"),
    ({**DEFINITION, "questions": [{"id": "a", "type": "rating", "prompt": "x", "scale": {"min": 0, "max": 11}}]},
     "questions[0].scale.max"),
    ({**DEFINITION, "questions": [{"id": "a", "type": "rating", "prompt": "x", "scale": {"min": True, "max": 5}}]},
     "questions[0].scale.min"),
    ({**DEFINITION, "questions": [{"id": "a", "type": "nps", "prompt": "x", "scale": {"min": 0, "max": 5}}]},
     "questions[0].scale"),
    ({**DEFINITION, "questions": [{"id": "a", "type": "text", "prompt": "x", "onclick": "alert(1)"}]},
     "questions[0].onclick"),
    ({**DEFINITION, "questions": [{"id": "a", "type": "text", "prompt": "x"}] * 11}, "questions"),
    ({**DEFINITION, "theme": {"accent": "red;background:url(//evil.example/x)"}}, "theme.accent"),
    ({**DEFINITION, "theme": {"background": "#fff"}}, "theme.background"),
    ({**DEFINITION, "theme": {"text": "#12345g"}}, "theme.text"),
    ({**DEFINITION, "theme": {"text": "#123456\n"}}, "theme.text"),
    ({**DEFINITION, "theme": {"position": "top"}}, "theme.position"),
    ({**DEFINITION, "theme": {"font": "Comic Sans"}}, "theme.font"),
    ({**DEFINITION, "trigger": {"after_seconds": -1}}, "trigger.after_seconds"),
    ({**DEFINITION, "trigger": {"after_seconds": 1.5}}, "trigger.after_seconds"),
    ({**DEFINITION, "trigger": {"exit_intent": "yes"}}, "trigger.exit_intent"),
    ({**DEFINITION, "trigger": {"event": "x" * 129}}, "trigger.event"),
    ({**DEFINITION, "trigger": {"url": "/a\x00b"}}, "trigger.url"),
    ({**DEFINITION, "trigger": "/checkout"}, "trigger"),
    ({**DEFINITION, "active": "true"}, "active"),
    ({**DEFINITION, "thanks": "x" * 301}, "thanks"),
    ({**DEFINITION, "author": "mallory"}, "author"),
]  # fmt: skip


def test_hostile_definitions_are_refused_naming_the_field(rig: Rig) -> None:
    for body, field in HOSTILE:
        answer = rig.create(body, status=400)
        assert field in answer["error"], (field, answer)
    # Not JSON, not an object, too large, an unknown site, no CSRF token.
    for content in (b"{", b"[]", b"{" + b" " * 40_000 + b"}"):
        r = rig.client.post("/api/surveys", content=content, headers=rig.csrf)
        assert r.status_code == 400, r.text
        assert "error" in r.json()
    assert "site" in rig.create({**DEFINITION, "site": "nosuchsite"}, status=400)["error"]
    r = rig.client.post("/api/surveys", json={"site": rig.site.key, **DEFINITION}, headers=OWN)
    assert r.status_code == 403
    assert rig.get("/api/surveys", site=rig.site.key)["surveys"] == []


def test_crud_public_endpoint_and_ack_header(rig: Rig, settings: Settings) -> None:
    created = rig.create(DEFINITION)
    sid = new_id()
    # Inactive: nothing public, no header on the ack.
    assert rig.client.get(f"/ingest/{rig.site.key}/surveys", headers={"Origin": ORIGIN}).json() == {
        "surveys": []
    }
    assert ACK_HEADER not in rig.post_batch(sid, [meta(f"{ORIGIN}/")]).headers
    # Activate (PATCH with the version edited), then the public answer and the header.
    r = rig.client.patch(
        f"/api/surveys/{created['id']}", json={"active": True, "version": 1}, headers=rig.csrf
    )
    assert r.status_code == 200, r.text
    assert r.json()["active"] is True and r.json()["version"] == 2
    stale = rig.client.patch(
        f"/api/surveys/{created['id']}", json={"name": "x", "version": 1}, headers=rig.csrf
    )
    assert stale.status_code == 409 and stale.json()["version"] == 2
    r = rig.client.get(f"/ingest/{rig.site.key}/surveys", headers={"Origin": ORIGIN})
    assert r.status_code == 200
    assert r.headers["access-control-allow-origin"] == ORIGIN
    (public,) = r.json()["surveys"]
    assert set(public) == {"id", "name", "questions", "trigger", "theme", "thanks"}
    assert public["id"] == created["id"]
    assert public["theme"] == {
        "accent": "#ff0066",
        "background": "#ffffff",
        "text": "#111111",
        "position": "bottom-left",
    }
    assert public["trigger"] == DEFINITION["trigger"]
    assert public["questions"][0] == {**DEFINITION["questions"][0], "required": True}
    assert "options" not in public["questions"][1] and public["questions"][2]["options"][0] == {
        "id": "price",
        "label": "Price",
    }
    ack = rig.post_batch(sid, [meta(f"{ORIGIN}/")], start=1000)
    assert ack.headers[ACK_HEADER] == settings.survey_widget_path == "/survey.js"
    assert ack.headers["access-control-expose-headers"] == ACK_HEADER
    # Another site's origin, an unknown site: refused; no login needed for any of it.
    assert (
        rig.client.get(
            f"/ingest/{rig.site.key}/surveys", headers={"Origin": "https://evil.example"}
        ).status_code
        == 403
    )
    assert rig.client.get("/ingest/nosuchsite/surveys", headers={"Origin": ORIGIN}).status_code == 404
    # Another site with no survey: no header.
    other = new_site("Other", [ORIGIN])
    SiteRegistry(rig.app.state.store).save(other)
    body = {"v": 1, "sid": new_id(), "pid": new_id(), "seq": 0, "t0": rig.t0, "events": [meta(f"{ORIGIN}/")]}
    r = rig.client.post(f"/ingest/{other.key}", content=orjson.dumps(body), headers={"Origin": ORIGIN})
    assert r.status_code == 200 and ACK_HEADER not in r.headers
    # Deactivate: gone from the public answer and the ack at once (this process's cache is dropped).
    r = rig.client.patch(f"/api/surveys/{created['id']}", json={"active": False}, headers=rig.csrf)
    assert r.status_code == 200
    assert rig.client.get(f"/ingest/{rig.site.key}/surveys").json() == {"surveys": []}
    assert ACK_HEADER not in rig.post_batch(sid, [meta(f"{ORIGIN}/")], start=2000).headers
    # Read, list, delete.
    assert rig.get(f"/api/surveys/{created['id']}")["name"] == DEFINITION["name"]
    assert [s["id"] for s in rig.get("/api/surveys", site=rig.site.key)["surveys"]] == [created["id"]]
    assert rig.client.delete(f"/api/surveys/{created['id']}", headers=rig.csrf).status_code == 204
    assert rig.client.get(f"/api/surveys/{created['id']}", headers=OWN).status_code == 404
    # The widget asset is public; its path is outside the login.
    widget = rig.client.get(settings.survey_widget_path)
    assert widget.status_code in (200, 404)
    assert widget.status_code == 404 or widget.headers["content-type"].startswith("text/javascript")
    assert rig.client.get("/surveys").status_code == 200


def test_answers_become_facts_filters_results_and_csv(rig: Rig, index: Index) -> None:
    survey = rig.create({**DEFINITION, "active": True})["id"]
    record(rig, survey)
    s = rig.sids
    rows = index.query(
        "SELECT sid, action, question, value FROM survey_responses WHERE survey = ?", (survey,)
    )
    assert len(rows) == 20  # every survey event, once
    # PII in free text was masked at ingest; the stored value keeps its length.
    (words,) = [r["value"] for r in rows if r["sid"] == s["V1"] and r["question"] == "words"]
    assert "ada@example.com" not in words and words.endswith("*" * len("ada@example.com"))

    # Session filters.
    assert rig.sessions(survey=survey) == {s["V1"], s["V2"], s["V3"]}
    assert rig.sessions(survey_answer=f"{survey}:why:shipping") == {s["V2"]}
    assert rig.sessions(survey_answer=f"{survey}:why:price") == {s["V1"], s["V2"]}  # V2 answered price first
    assert rig.sessions(survey_answer=f"{survey}:pay:paypal") == {s["V1"]}  # one option of a multi-select
    assert rig.sessions(survey_answer=f"{survey}:pay:card\npaypal") == {s["V1"]}
    assert rig.sessions(survey_answer=f"{survey}:pay:pal") == set()  # never a substring
    assert rig.sessions(survey_answer=f"{survey}:pay:%") == set()
    assert rig.sessions(survey_answer=f"{survey}:nps:10", survey=survey) == {s["V1"]}
    assert rig.sessions(survey="nosuch") == {s["V5"]}
    for bad in ("a b", "x" * 65):
        assert "survey" in rig.get("/api/sessions", 400, site=rig.site.key, survey=bad)["error"]
    for bad in (f"{survey}:why", f"{survey}:why:", "a b:why:x", f"{survey}::x", ":why:x"):
        assert "survey_answer" in rig.get("/api/sessions", 400, site=rig.site.key, survey_answer=bad)["error"]

    # Results.
    r = rig.get(f"/api/surveys/{survey}/results")
    assert (r["shown"], r["answered"], r["completed"], r["dismissed"]) == (4, 3, 2, 2)
    assert r["response_rate"] == 0.75
    q = {x["id"]: x for x in r["questions"]}
    assert q["ease"]["responses"] == 2
    assert [c["count"] for c in q["ease"]["counts"]] == [0, 1, 0, 1, 0] and q["ease"]["mean"] == 3.0
    assert [c["value"] for c in q["ease"]["counts"]] == ["1", "2", "3", "4", "5"]
    assert q["nps"]["responses"] == 3
    assert q["nps"]["nps"] == {"promoters": 1, "passives": 1, "detractors": 1, "score": 0.0}
    assert q["nps"]["mean"] == 8.0
    assert {c["value"]: c["count"] for c in q["why"]["counts"]} == {"price": 1, "shipping": 1, "other": 0}
    assert q["why"]["counts"][1]["label"] == "Shipping" and q["why"]["counts"][1]["share"] == 0.5
    assert {c["value"]: c["count"] for c in q["pay"]["counts"]} == {"card": 1, "paypal": 1, "invoice": 1}
    assert q["pay"]["responses"] == 2
    texts = q["words"]["answers"]
    assert [a["value"] for a in texts][0] == "Too slow" and len(texts) == 2
    # The link opens the replay at the answer: ms since the session's start (V3: second page view).
    assert texts[0]["link"] == f"/sessions/{s['V3']}?site={rig.site.key}&t={25_000 + 1200 - 20_000}"
    assert texts[0]["t"] == 25_000 + 1200 - 20_000 and texts[0]["sid"] == s["V3"]
    shipping = rig.get(f"/api/surveys/{survey}/answers", question="why", value="shipping")
    assert shipping["total"] == 1 and shipping["answers"][0]["t"] == 10_000 + 3500 - 10_000
    assert shipping["answers"][0]["link"] == f"/sessions/{s['V2']}?site={rig.site.key}&t=3500"
    paypal = rig.get(f"/api/surveys/{survey}/answers", question="pay", value="paypal")
    assert [a["sid"] for a in paypal["answers"]] == [s["V1"]]
    assert "question" in rig.get(f"/api/surveys/{survey}/answers", 400, question="nope")["error"]
    assert "limit" in rig.get(f"/api/surveys/{survey}/answers", 400, question="why", limit="-1")["error"]

    # CSV: one row per counted answer (V1 5 + V2 3 + V3 3), formulas inert, PII masked.
    text = rig.client.get(f"/api/surveys/{survey}/csv", headers=OWN).text
    table = list(csv.reader(io.StringIO(text)))
    assert table[0] == [
        "survey",
        "question",
        "type",
        "prompt",
        "answer",
        "label",
        "sid",
        "visitor_id",
        "at",
        "link",
    ]
    assert len(table) == 1 + 11
    (v1_words,) = [row for row in table if row[6].lstrip("'") == s["V1"] and row[1] == "words"]
    assert v1_words[4].startswith("'=HYPERLINK") and "ada@example.com" not in text
    (v1_pay,) = [row for row in table if row[6].lstrip("'") == s["V1"] and row[1] == "pay"]
    assert (v1_pay[4], v1_pay[5]) == ("card; paypal", "Card; PayPal")
    assert all(cell[:1] not in ("=", "+", "-", "@") for row in table[1:] for cell in row)


def test_survey_filters_are_segments_of_funnels_and_heatmaps(rig: Rig) -> None:
    survey = rig.create({**DEFINITION, "active": True})["id"]
    record(rig, survey)
    # A saved segment "answered the survey" and a funnel restricted to it.
    seg = rig.client.post(
        "/api/segments",
        json={"name": "answered", "site": rig.site.key, "query": f"survey={survey}"},
        headers=rig.csrf,
    )
    assert seg.status_code == 201, seg.text
    funnel = {"site": rig.site.key, "steps": [{"type": "url", "pattern": "/checkout*"}, {"type": "url", "pattern": "/checkout*"}],
              "filters": f"survey={survey}"}  # fmt: skip
    r = rig.client.post("/api/funnels/query", json=funnel, headers=rig.csrf)
    assert r.status_code == 200, r.text
    assert r.json()["steps"][0]["entered"] == 3
    funnel["filters"] = f"survey_answer={survey}:nps:6"
    assert (
        rig.client.post("/api/funnels/query", json=funnel, headers=rig.csrf).json()["steps"][0]["entered"]
        == 1
    )
    # Heatmap elements: only clicks of sessions that answered (V5 clicked and did not answer).
    base = {"site": rig.site.key, "url": "/checkout", "width": 1280}
    everyone = rig.client.get("/api/heatmaps/elements", params=base, headers=OWN)
    assert everyone.status_code == 200, everyone.text
    assert everyone.json()["total"] == 1
    answered = rig.client.get("/api/heatmaps/elements", params={**base, "survey": survey}, headers=OWN)
    assert answered.status_code == 200, answered.text
    assert answered.json()["total"] == 0
    by_segment = rig.client.get(
        "/api/heatmaps/elements", params={**base, "segment": seg.json()["id"]}, headers=OWN
    )
    assert by_segment.status_code == 200, by_segment.text
    assert by_segment.json()["total"] == 0
    clicked = rig.client.get(
        "/api/heatmaps/elements", params={**base, "survey_answer": "nosuch:ease:5"}, headers=OWN
    )
    assert clicked.json()["total"] == 1  # V5 answered the unknown survey's question


def test_reindex_rebuilds_and_erasure_removes_survey_facts(rig: Rig, store: LocalStore, index: Index) -> None:
    survey = rig.create({**DEFINITION, "active": True})["id"]
    record(rig, survey)
    query = "SELECT sid, pid, t, survey, action, question, value FROM survey_responses ORDER BY sid, pid, t, action"
    before = index.query(query)
    assert len(before) == 21
    index.write(lambda conn: conn.execute("DELETE FROM survey_responses"))
    reindex(store, index)
    assert index.query(query) == before
    results = rig.get(f"/api/surveys/{survey}/results")
    assert results["answered"] == 3
    # Erasing visitor V1 removes their answers, from the facts and the results.
    erase(store, index, Subject(visitor="visitor-v1"), "test")
    assert not index.query("SELECT 1 FROM survey_responses WHERE sid = ?", (rig.sids["V1"],))
    after = rig.get(f"/api/surveys/{survey}/results")
    assert (after["shown"], after["answered"]) == (3, 2)
    assert rig.sessions(survey=survey) == {rig.sids["V2"], rig.sids["V3"]}


def test_cli_lists_results_and_csv(
    rig: Rig, settings: Settings, index_in_environ: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    survey = rig.create({**DEFINITION, "active": True})["id"]
    record(rig, survey)
    data = ["--data-dir", settings.data_dir]
    assert cli_main(["surveys", "list", *data, "--site", rig.site.key]) == 0
    assert survey in capsys.readouterr().out
    assert cli_main(["surveys", "results", *data, survey, "--json"]) == 0
    result = orjson.loads(capsys.readouterr().out)
    assert result["answered"] == 3 and result["questions"][1]["nps"]["score"] == 0.0
    assert cli_main(["surveys", "results", *data, survey]) == 0
    assert "NPS +0.0 (promoters 1, passives 1, detractors 1)" in capsys.readouterr().out
    assert cli_main(["surveys", "csv", *data, survey]) == 0
    assert len(list(csv.reader(io.StringIO(capsys.readouterr().out)))) == 12
    assert cli_main(["surveys", "results", *data, "nosuch"]) == 1
