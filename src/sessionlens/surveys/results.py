"""A survey's results from its rows in the index: per question the counts per option, the
rating distribution and mean, the NPS score, the free-text answers; how many sessions saw
it, answered, completed and dismissed it; and one CSV row per answer.

Counting rules (docs/surveys.md):
- a session answers a question once: when the same session sent several answers to one
  question (a changed mind, a second page view), the last one counts;
- shown / answered / completed / dismissed count distinct sessions; `answered` counts answers
  to questions of the definition only; the response rate is the share of the sessions shown
  the survey that answered (sessions answered without a recorded `shown`, e.g. hand-made events,
  count as answered but never push the rate past 1; None until someone was shown the survey);
- NPS: promoters answer 9-10, passives 7-8, detractors 0-6; score = % promoters - % detractors
  (-100..100, one decimal);
- an answer that is not one of the question's values (a question edited after answers came
  in, or a hand-made event) is counted under `other`, never as an option;
- every answer links to the replay at the moment it was given:
  /sessions/{sid}?site={site}&t={ms since the session's start}.
"""

from __future__ import annotations

import csv
import io
from typing import Any
from urllib.parse import quote

from sessionlens.index import Index
from sessionlens.index.surveys import survey_rows
from sessionlens.surveys.definition import Question, Survey
from sessionlens.text_cells import csv_cell as _cell

MAX_TEXT_ANSWERS = 500  # free-text answers listed per question in the results (the CSV has all)
CSV_COLUMNS = ("survey", "question", "type", "prompt", "answer", "label", "sid", "visitor_id", "at", "link")


def replay_link(site: str, sid: str, t: int) -> str:
    return f"/sessions/{quote(sid, safe='')}?site={quote(site, safe='')}&t={max(t, 0)}"


def answers(
    index: Index, survey_id: str, survey: Survey, rows: list[dict[str, Any]] | None = None
) -> list[dict[str, Any]]:
    """The answers that count (one per session and question: the last), in the order given."""
    last: dict[tuple[str, str], dict[str, Any]] = {}
    for r in survey_rows(index, survey.site, survey_id) if rows is None else rows:
        if r["action"] != "answer" or not r["question"]:
            continue
        key = (r["sid"], r["question"])
        last.pop(key, None)  # re-inserted: the dict keeps the order of the counted answers
        last[key] = {
            "sid": r["sid"],
            "question": r["question"],
            "value": r["value"],
            "at": int(r["at"]),
            "t": int(r["at"]) - int(r["start"]),
            "visitor_id": r["visitor_id"],
            "link": replay_link(survey.site, r["sid"], int(r["at"]) - int(r["start"])),
        }
    return list(last.values())


def _sessions_by_action(rows: list[dict[str, Any]], known: set[str]) -> dict[str, set[str]]:
    """Distinct sessions per action; an answer counts only for a question of the definition
    (an answer to an unknown or removed question is named in unknown_questions instead)."""
    out: dict[str, set[str]] = {a: set() for a in ("shown", "answer", "dismiss", "complete")}
    for r in rows:
        if r["action"] != "answer" or r["question"] in known:
            out.setdefault(r["action"], set()).add(r["sid"])
    return out


def _rate(part: int, whole: int) -> float | None:
    return None if whole == 0 else part / whole


def _question_result(q: Question, given: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {"id": q.id, "type": q.type, "prompt": q.prompt, "responses": len(given)}
    if q.type == "text":
        listed = sorted(given, key=lambda a: (-a["at"], a["sid"]))[:MAX_TEXT_ANSWERS]
        out["answers"] = [{k: a[k] for k in ("sid", "value", "at", "t", "link")} for a in listed]
        out["answers_listed"] = len(listed)
        return out
    values = q.values()
    counts = dict.fromkeys(values, 0)
    other = 0
    for a in given:
        parts = a["value"].split("\n") if q.type == "multi" else [a["value"]]
        for part in dict.fromkeys(parts):  # an option ticked twice in one answer counts once
            if part in counts:
                counts[part] += 1
            else:
                other += 1
    labels = dict(q.options)
    out["counts"] = [
        {"value": v, "label": labels.get(v, v), "count": counts[v], "share": _rate(counts[v], len(given))}
        for v in values
    ]
    out["other"] = other
    if q.type in ("rating", "nps"):
        n = sum(counts.values())
        out["mean"] = None if n == 0 else round(sum(int(v) * c for v, c in counts.items()) / n, 2)
    if q.type == "nps":
        n = sum(counts.values())
        promoters = counts["9"] + counts["10"]
        passives = counts["7"] + counts["8"]
        detractors = n - promoters - passives
        out["nps"] = {
            "promoters": promoters,
            "passives": passives,
            "detractors": detractors,
            "score": None if n == 0 else round(100 * (promoters - detractors) / n, 1),
        }
    return out


def survey_results(index: Index, survey_id: str, survey: Survey) -> dict[str, Any]:
    """The survey's numbers (see the module's counting rules)."""
    rows = survey_rows(index, survey.site, survey_id)
    known = {q.id for q in survey.questions}
    sessions = _sessions_by_action(rows, known)
    given = answers(index, survey_id, survey, rows)
    by_question: dict[str, list[dict[str, Any]]] = {}
    for a in given:
        by_question.setdefault(a["question"], []).append(a)
    shown, answered = len(sessions["shown"]), len(sessions["answer"])
    return {
        "id": survey_id,
        "site": survey.site,
        "name": survey.name,
        "active": survey.active,
        "shown": shown,
        "answered": answered,
        "completed": len(sessions["complete"]),
        "dismissed": len(sessions["dismiss"]),
        "response_rate": _rate(len(sessions["shown"] & sessions["answer"]), shown),
        "questions": [_question_result(q, by_question.get(q.id, [])) for q in survey.questions],
        # answers to questions no longer in the definition (edited after answers came in)
        "unknown_questions": sorted({a["question"] for a in given} - known),
    }


def survey_csv(index: Index, survey_id: str, survey: Survey) -> str:
    """One row per counted answer (a multi-select's options joined by '; '); free text as stored,
    which the collector PII-scrubbed at ingest."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for a in answers(index, survey_id, survey):
        q = survey.question(a["question"])
        labels = dict(q.options) if q else {}
        parts = a["value"].split("\n") if q is not None and q.type == "multi" else [a["value"]]
        writer.writerow(
            [
                _cell(survey.name),
                _cell(a["question"]),
                q.type if q else "",
                _cell(q.prompt if q else ""),
                _cell("; ".join(parts)),
                _cell("; ".join(labels.get(p, "") for p in parts) if labels else ""),
                _cell(a["sid"]),  # a recorder's id may start with "-"
                _cell(a["visitor_id"] or ""),
                a["at"],
                a["link"],
            ]
        )
    return out.getvalue()
