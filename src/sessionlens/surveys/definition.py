"""A survey definition: parsed from JSON (API, saved surveys), checked strictly, and the public
part the widget reads (GET /ingest/{site}/surveys).

Every value is a site owner's (or an attacker's) text and some of it reaches every visitor's
page: theme colours go into the widget's CSS, so only `#rrggbb` passes; prompts, labels and
the thank-you text are shown as text by the widget; ids are letters, digits, '_' and '-' (an
answer of a multi-select joins option ids with "\\n", so an id can never hold one). Anything
unknown, mistyped, too long or out of range is refused with a message naming the field.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sessionlens.responses import ParamError
from sessionlens.scrub import scrub_phones, scrub_text

QUESTION_TYPES = ("rating", "nps", "choice", "multi", "text")
POSITIONS = ("bottom-right", "bottom-left", "center")
MAX_QUESTIONS = 10
MIN_OPTIONS, MAX_OPTIONS = 2, 12
MAX_NAME = 200
MAX_PROMPT = 300
MAX_LABEL = 100
MAX_SCALE_LABEL = 50
MAX_THANKS = 300
MAX_URL = 500
MAX_EVENT = 128  # a custom event name, as the wire allows
MAX_AFTER_SECONDS = 3_600
DEFAULT_THEME = {"accent": "#2563eb", "background": "#ffffff", "text": "#111827", "position": "bottom-right"}
DEFAULT_THANKS = "Thank you!"
_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_COLOUR = re.compile(r"#[0-9A-Fa-f]{6}")
# Control characters (C0, DEL, C1), the line/paragraph separators and the bidi embeddings,
# overrides and isolates (which make a prompt read differently from what it holds) have no
# place in a prompt or label.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
# trigger.url: every visitor's browser matches it on every URL change; the matching is linear
# (url_patterns), and a cap on wildcards keeps its work small whatever the pattern.
MAX_URL_WILDCARDS = 8
MAX_ACTIVE = 20  # active surveys per site: each visitor's page reads all of them
_TOP = ("name", "active", "questions", "trigger", "theme", "thanks")


class SurveyError(ParamError):
    """400: the message names the field that is wrong."""


@dataclass(frozen=True, slots=True)
class Question:
    id: str
    type: str
    prompt: str
    required: bool = False
    options: tuple[tuple[str, str], ...] = ()  # (id, label): choice and multi
    scale: tuple[int, int, str, str] | None = None  # (min, max, low_label, high_label): rating

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "type": self.type,
            "prompt": self.prompt,
            "required": self.required,
        }
        if self.type in ("choice", "multi"):
            out["options"] = [{"id": i, "label": label} for i, label in self.options]
        if self.scale is not None:
            low, high, low_label, high_label = self.scale
            out["scale"] = {"min": low, "max": high, "low_label": low_label, "high_label": high_label}
        return out

    def values(self) -> list[str]:
        """The answers a question can have, in display order ([] for free text)."""
        if self.type == "nps":
            return [str(v) for v in range(11)]
        if self.type == "rating" and self.scale is not None:
            return [str(v) for v in range(self.scale[0], self.scale[1] + 1)]
        return [i for i, _ in self.options]


@dataclass(frozen=True, slots=True)
class Survey:
    site: str
    name: str
    active: bool = False
    questions: tuple[Question, ...] = ()
    trigger: dict[str, Any] = field(default_factory=dict)  # url, event, exit_intent, after_seconds
    theme: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_THEME))
    thanks: str = DEFAULT_THANKS

    def body(self) -> dict[str, Any]:
        """What is stored in the saved document's body (its name and site are the document's)."""
        return {
            "active": self.active,
            "questions": [q.as_json() for q in self.questions],
            "trigger": dict(self.trigger),
            "theme": dict(self.theme),
            "thanks": self.thanks,
        }

    def public(self, survey_id: str) -> dict[str, Any]:
        """The fields the widget needs, and nothing else (no author, no dates, no site)."""
        return {"id": survey_id, "name": self.name, **{k: v for k, v in self.body().items() if k != "active"}}

    def question(self, question_id: str) -> Question | None:
        return next((q for q in self.questions if q.id == question_id), None)


def _text(value: Any, where: str, limit: int, *, empty: bool = False) -> str:
    if not isinstance(value, str):
        raise SurveyError(f"{where} must be a string")
    if not empty and not value.strip():
        raise SurveyError(f"{where} must not be empty")
    if len(value) > limit:
        raise SurveyError(f"{where} must be at most {limit} characters")
    if _CONTROL.search(value):
        raise SurveyError(f"{where} must not contain control characters or line breaks")
    return value


def _id(value: Any, where: str) -> str:
    if not isinstance(value, str) or not _ID.fullmatch(value):
        raise SurveyError(f"{where} must be 1-64 letters, digits, '_' or '-'")
    # Answers pass the collector's PII scrub (phones, cards, e-mails): an id it would mask
    # ('plan-1234567') would be stored masked and never counted as itself.
    if scrub_phones(value) != value or scrub_text(value) != value:
        raise SurveyError(
            f"{where} {value!r} looks like a phone or card number, which the collector masks in"
            " answers: use fewer digits in a row"
        )
    return value


def _bool(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise SurveyError(f"{where} must be true or false")
    return value


def _int(value: Any, where: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise SurveyError(f"{where} must be a whole number from {low} to {high}")
    return value


def _object(value: Any, where: str, allowed: tuple[str, ...]) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise SurveyError(f"{where} must be a JSON object")
    unknown = sorted(set(value) - set(allowed))
    if unknown:
        raise SurveyError(f"{where}.{str(unknown[0])[:40]} is not a known field; known: {', '.join(allowed)}")
    return value


def _question(raw: Any, where: str) -> Question:
    q = _object(raw, where, ("id", "type", "prompt", "required", "options", "scale"))
    qid = _id(q.get("id"), f"{where}.id")
    kind = q.get("type")
    if kind not in QUESTION_TYPES:
        raise SurveyError(f"{where}.type must be one of {', '.join(QUESTION_TYPES)}")
    prompt = _text(q.get("prompt"), f"{where}.prompt", MAX_PROMPT)
    required = _bool(q.get("required", False), f"{where}.required")
    options: tuple[tuple[str, str], ...] = ()
    scale = None
    if kind in ("choice", "multi"):
        raw_options = q.get("options")
        if not isinstance(raw_options, list) or not MIN_OPTIONS <= len(raw_options) <= MAX_OPTIONS:
            raise SurveyError(f"{where}.options must be a list of {MIN_OPTIONS} to {MAX_OPTIONS} options")
        found = []
        for j, option in enumerate(raw_options):
            o = _object(option, f"{where}.options[{j}]", ("id", "label"))
            oid = _id(o.get("id"), f"{where}.options[{j}].id")
            if any(oid == seen for seen, _ in found):
                raise SurveyError(f"{where}.options[{j}].id {oid!r} is used twice")
            found.append((oid, _text(o.get("label"), f"{where}.options[{j}].label", MAX_LABEL)))
        options = tuple(found)
    elif "options" in q:
        raise SurveyError(f"{where}.options: only choice and multi questions have options")
    if kind == "rating":
        s = _object(q.get("scale", {}), f"{where}.scale", ("min", "max", "low_label", "high_label"))
        low = _int(s.get("min", 1), f"{where}.scale.min", 0, 1)
        high = _int(s.get("max", 5), f"{where}.scale.max", 2, 10)
        scale = (
            low,
            high,
            _text(s.get("low_label", ""), f"{where}.scale.low_label", MAX_SCALE_LABEL, empty=True),
            _text(s.get("high_label", ""), f"{where}.scale.high_label", MAX_SCALE_LABEL, empty=True),
        )
    elif "scale" in q:
        raise SurveyError(f"{where}.scale: only rating questions have a scale (NPS is always 0-10)")
    return Question(qid, kind, prompt, required, options, scale)


def _url_pattern(value: Any) -> str:
    url = re.sub(r"\*{2,}", "*", _text(value, "trigger.url", MAX_URL, empty=True).strip())  # ** is *
    if url.count("*") > MAX_URL_WILDCARDS:
        raise SurveyError(f"trigger.url may hold at most {MAX_URL_WILDCARDS} '*' wildcards")
    return url


def _trigger(raw: Any) -> dict[str, Any]:
    t = _object(raw, "trigger", ("url", "event", "exit_intent", "after_seconds"))
    return {
        "url": _url_pattern(t.get("url", "")),
        "event": _text(t.get("event", ""), "trigger.event", MAX_EVENT, empty=True).strip(),
        "exit_intent": _bool(t.get("exit_intent", False), "trigger.exit_intent"),
        "after_seconds": _int(t.get("after_seconds", 0), "trigger.after_seconds", 0, MAX_AFTER_SECONDS),
    }


def _theme(raw: Any) -> dict[str, str]:
    t = _object(raw, "theme", ("accent", "background", "text", "position"))
    out = {}
    for name in ("accent", "background", "text"):
        value = t.get(name, DEFAULT_THEME[name])
        # The widget writes these into CSS: a colour and nothing else.
        if not isinstance(value, str) or not _COLOUR.fullmatch(value):
            raise SurveyError(f"theme.{name} must be a colour written #rrggbb")
        out[name] = value.lower()
    position = t.get("position", DEFAULT_THEME["position"])
    if position not in POSITIONS:
        raise SurveyError(f"theme.position must be one of {', '.join(POSITIONS)}")
    out["position"] = position
    return out


def parse_survey(raw: Any, site: str) -> Survey:
    """A survey from its JSON (name, active, questions, trigger, theme, thanks), or SurveyError."""
    d = _object(raw, "survey", _TOP)
    name = _text(d.get("name"), "name", MAX_NAME)
    active = _bool(d.get("active", False), "active")
    questions = d.get("questions")
    if not isinstance(questions, list) or not 1 <= len(questions) <= MAX_QUESTIONS:
        raise SurveyError(f"questions must be a list of 1 to {MAX_QUESTIONS} questions")
    parsed = []
    for i, q in enumerate(questions):
        question = _question(q, f"questions[{i}]")
        if any(question.id == p.id for p in parsed):
            raise SurveyError(f"questions[{i}].id {question.id!r} is used twice")
        parsed.append(question)
    return Survey(
        site=site,
        name=name,
        active=active,
        questions=tuple(parsed),
        trigger=_trigger(d.get("trigger", {})),
        theme=_theme(d.get("theme", {})),
        thanks=_text(d.get("thanks", DEFAULT_THANKS), "thanks", MAX_THANKS, empty=True),
    )
