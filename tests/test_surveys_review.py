"""The survey review's findings (shared-notes/survey-review.md), each pinned on both index
backends with the real app, store and index: query integers that are digits only to Unicode
('²') on the surveys, funnels and notes endpoints; URL patterns with hostile wildcards; ids
the collector's PII scrub would mask; the response rate with hand-made events; C1 and bidi
controls; an unreadable site's public endpoint; the cap on active surveys per site."""

from __future__ import annotations

import random
import re
from typing import Any

import orjson

from sessionlens.keys import site_config_key
from sessionlens.surveys.definition import MAX_ACTIVE, MAX_URL_WILDCARDS
from sessionlens.url_patterns import url_matches
from tests import test_surveys
from tests.helpers import new_id, snapshot_event
from tests.test_surveys import DEFINITION, ORIGIN, OWN, Rig, meta, move, sv

rig = test_surveys.rig  # the same fixture: a logged-in viewer and collector on this backend

HOSTILE_INTS = ("²", "³", "١", "½", "-1", "1e3", " 5", "9" * 30)


def _refused(r: Any, name: str) -> None:
    assert r.status_code == 400, (name, r.status_code, r.text)
    assert name in r.json()["error"], r.json()


def test_unicode_digits_in_query_integers_are_400_naming_the_parameter(rig: Rig) -> None:
    survey = rig.create({**DEFINITION, "active": True})
    r = rig.client.post(
        "/api/funnels",
        json={
            "site": rig.site.key,
            "name": "F",
            "steps": [{"type": "url", "pattern": "/a*"}, {"type": "url", "pattern": "/b*"}],
        },
        headers=rig.csrf,
    )
    assert r.status_code == 201, r.text
    funnel = r.json()
    sid, pid = new_id(), new_id()
    body = {"v": 1, "sid": sid, "pid": pid, "seq": 0, "t0": rig.t0,
            "events": [meta(f"{ORIGIN}/checkout"), snapshot_event(5), move(50)]}  # fmt: skip
    r = rig.client.post(f"/ingest/{rig.site.key}", content=orjson.dumps(body), headers={"Origin": ORIGIN})
    assert r.status_code == 200, r.text
    rig.app.state.derivation.drain()
    r = rig.client.post(
        f"/api/sessions/{sid}/notes", json={"t": 10, "pid": pid, "text": "x"}, headers=rig.csrf
    )
    assert r.status_code == 201, r.text
    note = r.json()
    for bad in HOSTILE_INTS:
        for name in ("limit", "offset"):
            r = rig.client.get(
                f"/api/surveys/{survey['id']}/answers", params={"question": "ease", name: bad}, headers=OWN
            )
            _refused(r, name)
            r = rig.client.get(
                f"/api/funnels/{funnel['id']}/sessions",
                params={"step": "1", "outcome": "dropped", name: bad},
                headers=OWN,
            )
            _refused(r, name)
        _refused(
            rig.client.get(
                f"/api/funnels/{funnel['id']}/sessions",
                params={"step": bad, "outcome": "dropped"},
                headers=OWN,
            ),
            "step",
        )
        _refused(rig.client.get("/api/notes", params={"q": "x", "limit": bad}, headers=OWN), "limit")
        _refused(
            rig.client.delete(f"/api/notes/{note['id']}", params={"version": bad}, headers=rig.csrf),
            "version",
        )
    # ASCII digits still work.
    r = rig.client.get(
        f"/api/surveys/{survey['id']}/answers", params={"question": "ease", "limit": "5"}, headers=OWN
    )
    assert r.status_code == 200, r.text
    assert rig.client.get("/api/notes", params={"q": "x", "limit": "10"}, headers=OWN).status_code == 200
    assert (
        rig.client.delete(f"/api/notes/{note['id']}", params={"version": "1"}, headers=rig.csrf).status_code
        == 204
    )


def test_wildcard_patterns_are_capped_collapsed_and_matched_linearly(rig: Rig) -> None:
    hostile = "/" + "*a" * 200 + "b"
    answer = rig.create({**DEFINITION, "trigger": {"url": hostile}}, status=400)
    assert "trigger.url" in answer["error"] and str(MAX_URL_WILDCARDS) in answer["error"]
    too_many = "/" + "*x" * (MAX_URL_WILDCARDS + 1)
    assert "trigger.url" in rig.create({**DEFINITION, "trigger": {"url": too_many}}, status=400)["error"]
    # '**' is one wildcard: a run of them counts once and is saved as one.
    fine = "/" + "**x" * MAX_URL_WILDCARDS
    saved = rig.create({**DEFINITION, "trigger": {"url": fine}})
    assert saved["trigger"]["url"] == "/" + "*x" * MAX_URL_WILDCARDS
    # The server's matching (heatmaps, funnels) has the regex's exact semantics ('*' any run but
    # a line feed) without its backtracking: a hostile pattern on a long URL answers at once
    # (this call would not return with the old regex).
    assert url_matches("https://x/" + "a" * 5000, "/" + "*a" * 200 + "b") is False
    assert url_matches("https://x/" + "a" * 5000 + "b", "/" + "*a" * 200 + "b") is True
    rng = random.Random(7)
    for _ in range(20_000):
        pattern = "".join(rng.choice("ab\n*") for _ in range(rng.randint(0, 6)))
        text = "".join(rng.choice("ab\n") for _ in range(rng.randint(0, 7)))
        regex = "".join(".*" if p == "*" else re.escape(p) for p in re.split(r"(\*)", pattern))
        assert url_matches("x" + text, "x" + pattern) == (re.fullmatch(regex, text) is not None), (
            text,
            pattern,
        )


def test_ids_the_pii_scrub_would_mask_are_refused_naming_the_field(rig: Rig) -> None:
    choice = {"id": "plan", "type": "choice", "prompt": "Plan?",
              "options": [{"id": "plan-1234567", "label": "A"}, {"id": "b", "label": "B"}]}  # fmt: skip
    answer = rig.create({**DEFINITION, "questions": [choice]}, status=400)
    assert "questions[0].options[0].id" in answer["error"], answer
    card = {"id": "q4111111111111111", "type": "text", "prompt": "x"}
    assert "questions[0].id" in rig.create({**DEFINITION, "questions": [card]}, status=400)["error"]
    # A few digits are fine.
    rig.create({**DEFINITION, "questions": [{**choice, "options": [{"id": "plan-12", "label": "A"},
                                                                    {"id": "b", "label": "B"}]}]})  # fmt: skip


def test_c1_and_bidi_controls_are_refused(rig: Rig) -> None:
    for bad in ("a\x85b", "a\x9bb", "a\u202eb", "a\u202ab", "a\u2066b", "a\u2069b"):
        q = {"id": "a", "type": "text", "prompt": bad}
        assert "questions[0].prompt" in rig.create({**DEFINITION, "questions": [q]}, status=400)["error"]
        assert "name" in rig.create({**DEFINITION, "name": bad}, status=400)["error"]
        assert "thanks" in rig.create({**DEFINITION, "thanks": bad}, status=400)["error"]


def test_response_rate_never_exceeds_one_with_hand_made_events(rig: Rig) -> None:
    survey = rig.create({**DEFINITION, "active": True})["id"]
    # S1: shown and answered. S2: shown only. Three sessions answer without being shown (a
    # hand-made event, a widget on a page the recorder saw late), one of them only to a
    # question that is not in the survey.
    rig.visit("S1", [(0, [sv(100, survey, "shown"), sv(200, survey, "answer", "nps", "9")])])
    rig.visit("S2", [(1_000, [sv(100, survey, "shown")])])
    rig.visit("H1", [(2_000, [sv(100, survey, "answer", "nps", "3")])])
    rig.visit("H2", [(3_000, [sv(100, survey, "answer", "ease", "5")])])
    rig.visit("H3", [(4_000, [sv(100, survey, "answer", "nosuchquestion", "1")])])
    rig.app.state.derivation.drain()
    r = rig.get(f"/api/surveys/{survey}/results")
    assert r["shown"] == 2
    assert r["answered"] == 3  # S1, H1, H2: H3 answered no question of the survey
    assert r["response_rate"] == 0.5  # of the two shown, S1 answered
    assert r["unknown_questions"] == ["nosuchquestion"]


def test_public_endpoint_is_503_json_when_site_settings_are_unreadable(rig: Rig) -> None:
    rig.app.state.store.put(site_config_key("brokensite"), b"{this is not json")
    r = rig.client.get("/ingest/brokensite/surveys", headers={"Origin": ORIGIN})
    assert r.status_code == 503, r.text
    assert r.headers["retry-after"].isdigit()
    assert "error" in r.json()


def test_at_most_the_cap_of_active_surveys_per_site(rig: Rig) -> None:
    ids = [rig.create({**DEFINITION, "name": f"S{i}", "active": True})["id"] for i in range(MAX_ACTIVE)]
    answer = rig.create({**DEFINITION, "name": "one more", "active": True}, status=400)
    assert "active" in answer["error"] and str(MAX_ACTIVE) in answer["error"], answer
    inactive = rig.create({**DEFINITION, "name": "waiting"})  # inactive ones are not limited
    r = rig.client.patch(f"/api/surveys/{inactive['id']}", json={"active": True}, headers=rig.csrf)
    _refused(r, "active")
    # An active survey is still edited (it does not count against itself).
    r = rig.client.patch(f"/api/surveys/{ids[0]}", json={"name": "renamed"}, headers=rig.csrf)
    assert r.status_code == 200, r.text
    public = rig.client.get(f"/ingest/{rig.site.key}/surveys", headers={"Origin": ORIGIN}).json()["surveys"]
    assert [s["id"] for s in public] == ids  # oldest first, read by a filter on the active flag
    r = rig.client.patch(f"/api/surveys/{ids[3]}", json={"active": False}, headers=rig.csrf)
    assert r.status_code == 200, r.text
    r = rig.client.patch(f"/api/surveys/{inactive['id']}", json={"active": True}, headers=rig.csrf)
    assert r.status_code == 200, r.text
    public = rig.client.get(f"/ingest/{rig.site.key}/surveys", headers={"Origin": ORIGIN}).json()["surveys"]
    assert len(public) == MAX_ACTIVE and ids[3] not in {s["id"] for s in public}
