"""A funnel definition: parsed from JSON (API, saved funnels) or step strings (CLI), and checked.

Every value is a researcher's (or an attacker's) text: each field is bounded, typed and
refused with a message naming the step and the field, so a bad definition is a 400,
never a slow or failing query. Values reach SQL only as parameters (index/funnels.py).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import orjson

from sessionlens.index.funnels import ATTR_SEGMENTS, SESSION_SEGMENTS
from sessionlens.responses import ParamError
from sessionlens.session_search import SessionFilter

MIN_STEPS, MAX_STEPS = 2, 10
MAX_TEXT = 500  # characters of a pattern, text, selector or form name
MAX_NAME = 100  # custom event names and property keys (as the derivation keeps them)
MAX_LABEL = 100
MAX_FUNNEL_NAME = 200
MAX_PROPS = 10
MAX_WINDOW_MS = 90 * 86_400_000  # a conversion window of at most 90 days
MIN_WINDOW_MS = 1_000
MAX_FILTERS = 8 * 1024  # characters of the session filter's query string
STEP_TYPES = ("url", "click", "event", "submit")
PER = ("session", "visitor")
SEGMENTS = (*SESSION_SEGMENTS, *(f"{name}:KEY" for name in ATTR_SEGMENTS))
# Session list parameters that page or order the list: not part of what a funnel counts.
NOT_FILTERS = ("site", "sort", "order", "cursor", "before", "limit")
_UNITS = {"s": 1_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
_WINDOW = re.compile(r"([0-9]{1,9})\s*([smhd])")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class DefinitionError(ParamError):
    """400: the message names the step and field that are wrong."""


@dataclass(frozen=True, slots=True)
class Step:
    type: str  # url | click | event | submit
    pattern: str | None = None  # url
    text: str | None = None  # click: visible text contains (ASCII case ignored)
    selector: str | None = None  # click: target or control path (`*` wildcards)
    name: str | None = None  # event
    props: tuple[tuple[str, str], ...] = ()  # event: (key, value as stored text)
    form: str | None = None  # submit: the form's recorded name (`*` wildcards); None: any form
    valid: bool = False  # submit: only attempts without invalid fields
    label: str = ""

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type}
        for key in ("pattern", "text", "selector", "name", "form"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        if self.props:
            out["props"] = dict(self.props)
        if self.type == "submit" and self.valid:
            out["valid"] = True
        if self.label:
            out["label"] = self.label
        return out

    def title(self) -> str:
        """What the step is, for tables and bars: its label, else its definition in words."""
        if self.label:
            return self.label
        if self.type == "url":
            return f"Viewed {self.pattern}"
        if self.type == "click":
            return f"Clicked '{self.text}'" if self.text is not None else f"Clicked {self.selector}"
        if self.type == "event":
            props = ", ".join(f"{k}={v}" for k, v in self.props)
            return f"Event {self.name}" + (f" ({props})" if props else "")
        return ("Submitted " + (self.form or "a form")) + (" without errors" if self.valid else "")


@dataclass(frozen=True, slots=True)
class Funnel:
    site: str
    steps: tuple[Step, ...]
    name: str = ""
    window_ms: int | None = None  # every step within this long after the first; None: no limit
    per: str = "session"  # session | visitor
    by: tuple[str, str | None] | None = None  # (segment field, key for experiment/trait/prop)
    filters: tuple[tuple[str, str], ...] = ()  # the session list's query, as (name, value) pairs
    baseline: str | None = None  # the segment value others are compared with
    session_filter: SessionFilter = field(default_factory=SessionFilter)

    def as_json(self) -> dict[str, Any]:
        """The definition as saved and returned (reads back to an equal Funnel)."""
        out: dict[str, Any] = {
            "site": self.site,
            "name": self.name,
            "steps": [s.as_json() for s in self.steps],
            "per": self.per,
            "window": None
            if self.window_ms is None
            else (self.window_ms // 1000 if self.window_ms % 1000 == 0 else self.window_ms / 1000),
            "by": None
            if self.by is None
            else (self.by[0] if self.by[1] is None else f"{self.by[0]}:{self.by[1]}"),
            "filters": [list(p) for p in self.filters],
        }
        if self.baseline is not None:
            out["baseline"] = self.baseline
        return out


# -- JSON ------------------------------------------------------------------------------

TOP_FIELDS = ("site", "name", "steps", "window", "per", "by", "filters", "baseline")
STEP_FIELDS = {
    "url": ("type", "pattern", "label"),
    "click": ("type", "text", "selector", "label"),
    "event": ("type", "name", "props", "label"),
    "submit": ("type", "form", "valid", "label"),
}


def parse_funnel(body: Any, *, site: str | None = None, require_name: bool = False) -> Funnel:
    """A Funnel from its JSON object; `site` (a saved funnel's) wins over the body's."""
    if not isinstance(body, Mapping):
        raise DefinitionError('definition must be a JSON object like {"site": "...", "steps": [...]}')
    unknown = sorted(set(body) - set(TOP_FIELDS))
    if unknown:
        raise DefinitionError(f"unknown field {_shown(str(unknown[0]))}; known: {', '.join(TOP_FIELDS)}")
    site = site or body.get("site")
    if not isinstance(site, str) or not site or len(site) > 64 or _CONTROL.search(site):
        raise DefinitionError("site must name the site the funnel counts (its key)")
    name = body.get("name", "")
    if name is None:
        name = ""
    if not isinstance(name, str) or len(name) > MAX_FUNNEL_NAME or _CONTROL.search(name):
        raise DefinitionError(
            f"name must be text of at most {MAX_FUNNEL_NAME} characters without control characters"
        )
    name = name.strip()
    if require_name and not name:
        raise DefinitionError("name must not be empty (a saved funnel needs a name)")
    raw_steps = body.get("steps")
    if not isinstance(raw_steps, list):
        raise DefinitionError(f"steps must be a list of {MIN_STEPS} to {MAX_STEPS} steps")
    if not MIN_STEPS <= len(raw_steps) <= MAX_STEPS:
        raise DefinitionError(f"steps: a funnel has {MIN_STEPS} to {MAX_STEPS} steps, got {len(raw_steps)}")
    steps = tuple(parse_step(s, i + 1) for i, s in enumerate(raw_steps))
    per = body.get("per", "session")
    if per not in PER:
        raise DefinitionError(f"per must be session or visitor, got {_shown(str(per))}")
    window = parse_window(body.get("window"))
    by = parse_by(body.get("by"))
    baseline = body.get("baseline")
    if baseline is not None and (not isinstance(baseline, str) or len(baseline) > MAX_TEXT):
        raise DefinitionError(f"baseline must be a segment value (text of at most {MAX_TEXT} characters)")
    if baseline is not None and by is None:
        raise DefinitionError("baseline needs by (the segment field whose value it names)")
    filters, session_filter = parse_filters(body.get("filters"), site)
    return Funnel(site, steps, name, window, per, by, filters, baseline, session_filter)


def parse_step(raw: Any, n: int) -> Step:
    """One step; `n` (1-based) names it in every error."""
    where = f"step {n}"
    if not isinstance(raw, Mapping):
        raise DefinitionError(f"{where} must be an object with a type ({', '.join(STEP_TYPES)})")
    kind = raw.get("type")
    if kind not in STEP_TYPES:
        raise DefinitionError(
            f"{where}: type must be one of {', '.join(STEP_TYPES)}, got {_shown(str(kind))}"
        )
    where = f"step {n} ({kind})"
    unknown = sorted(set(raw) - set(STEP_FIELDS[kind]))
    if unknown:
        raise DefinitionError(
            f"{where}: unknown field {_shown(str(unknown[0]))}; a {kind} step has {', '.join(STEP_FIELDS[kind][1:])}"
        )
    label = _text(raw.get("label", ""), f"{where}: label", MAX_LABEL, empty_ok=True)
    if kind == "url":
        return Step("url", pattern=_pattern(raw.get("pattern"), f"{where}: pattern"), label=label)
    if kind == "click":
        has_text, has_selector = raw.get("text") is not None, raw.get("selector") is not None
        if has_text == has_selector:
            raise DefinitionError(f"{where}: give text (the element's visible text) or selector, one of them")
        if has_text:
            return Step("click", text=_text(raw["text"], f"{where}: text", MAX_TEXT), label=label)
        return Step("click", selector=_pattern(raw["selector"], f"{where}: selector"), label=label)
    if kind == "event":
        name = _text(raw.get("name"), f"{where}: name", MAX_NAME)
        props = raw.get("props") or {}
        if not isinstance(props, Mapping):
            raise DefinitionError(f"{where}: props must be an object of property names to values")
        if len(props) > MAX_PROPS:
            raise DefinitionError(f"{where}: props may name at most {MAX_PROPS} properties")
        pairs = tuple(
            (_text(k, f"{where}: props key", MAX_NAME), _prop_value(v, f"{where}: props.{str(k)[:40]}"))
            for k, v in props.items()
        )
        return Step("event", name=name, props=pairs, label=label)
    form = raw.get("form")
    valid = raw.get("valid", False)
    if not isinstance(valid, bool):
        raise DefinitionError(f"{where}: valid must be true or false")
    return Step(
        "submit",
        form=None if form is None else _pattern(form, f"{where}: form"),
        valid=valid,
        label=label,
    )


def parse_window(raw: Any) -> int | None:
    """A conversion window: seconds (a number) or text like "30m", "1h", "7d"; None: no window."""
    if raw is None or raw == "":
        return None
    if isinstance(raw, bool):
        raise DefinitionError("window must be seconds or text like 30m, 1h, 7d")
    if isinstance(raw, int | float):
        if raw != raw or raw in (float("inf"), float("-inf")):
            raise DefinitionError("window must be a finite number of seconds")
        ms = int(raw * 1000) if abs(raw) < 1e15 else MAX_WINDOW_MS + 1
    elif isinstance(raw, str):
        match = _WINDOW.fullmatch(raw.strip())
        if not match:
            raise DefinitionError(f"window must be seconds or text like 30m, 1h, 7d, got {_shown(raw)}")
        ms = int(match[1]) * _UNITS[match[2]]
    else:
        raise DefinitionError("window must be seconds or text like 30m, 1h, 7d")
    if not MIN_WINDOW_MS <= ms <= MAX_WINDOW_MS:
        raise DefinitionError("window must be between 1 second and 90 days")
    return ms


def parse_by(raw: Any) -> tuple[str, str | None] | None:
    """A breakdown field: device, channel, ... or experiment:NAME / trait:KEY / prop:KEY."""
    if raw is None or raw == "":
        return None
    if not isinstance(raw, str) or len(raw) > MAX_NAME + 20:
        raise DefinitionError(f"by must be one of {', '.join(SEGMENTS)}")
    name, sep, key = raw.partition(":")
    if name in SESSION_SEGMENTS and not sep:
        return name, None
    if name in ATTR_SEGMENTS and sep and key.strip() and not _CONTROL.search(key) and len(key) <= MAX_NAME:
        return name, key
    if name in ATTR_SEGMENTS:
        raise DefinitionError(f"by: {name} needs a name, like {name}:checkout")
    raise DefinitionError(f"by must be one of {', '.join(SEGMENTS)}, got {_shown(raw)}")


def parse_filters(raw: Any, site: str) -> tuple[tuple[tuple[str, str], ...], SessionFilter]:
    """The session list's filters (a query string, or a list of [name, value] pairs), checked
    by the list's own parser; the funnel's site is added, paging and order are refused."""
    if raw is None or raw == "":
        pairs: list[tuple[str, str]] = []
    elif isinstance(raw, str):
        if len(raw) > MAX_FILTERS:
            raise DefinitionError(f"filters must be at most {MAX_FILTERS} characters")
        pairs = parse_qsl(raw.lstrip("?"), keep_blank_values=True)
    elif isinstance(raw, list) and len(raw) <= 200:
        pairs = []
        for p in raw:
            if not (isinstance(p, list | tuple) and len(p) == 2 and all(isinstance(x, str) for x in p)):
                raise DefinitionError(
                    'filters must be the session list\'s query string or [["name", "value"], ...]'
                )
            pairs.append((p[0], p[1]))
    else:
        raise DefinitionError(
            "filters must be the session list's query string (e.g. device=mobile&channel=email)"
        )
    for key, _ in pairs:
        if key in NOT_FILTERS:
            raise DefinitionError(f"filters: {key} is not a filter of a funnel (the funnel names its site)")
    merged: dict[str, list[str]] = {"site": [site]}
    for k, v in pairs:
        merged.setdefault(k, []).append(v)
    try:
        parsed = SessionFilter.from_query(merged)
    except ParamError as exc:
        raise DefinitionError(f"filters: {exc}") from None
    return tuple(pairs), parsed


# -- CLI step strings ------------------------------------------------------------------


def step_from_text(raw: str, n: int) -> dict[str, Any]:
    """A step written on the command line, as the JSON step object:

    url:/cart*                   a page view showing a matching URL
    click:text=Checkout          a click on an element whose text contains Checkout
    click:selector=#buy          a click on that element path (`*` wildcards)
    event:purchase               a custom event; event:purchase?plan=pro&coupon=yes with properties
    submit  submit:signup  submit:signup?valid=1   a form submit (any form, one form; without errors)
    """
    kind, sep, rest = raw.partition(":")
    kind = kind.strip()
    if kind == "url" and sep:
        return {"type": "url", "pattern": rest}
    if kind == "click" and sep:
        key, eq, value = rest.partition("=")
        if not eq or key not in ("text", "selector"):
            raise DefinitionError(
                f"step {n}: write click:text=TEXT or click:selector=PATH, got {_shown(raw)}"
            )
        return {"type": "click", key: value}
    if kind == "event" and sep:
        name, q, query = rest.partition("?")
        step: dict[str, Any] = {"type": "event", "name": name}
        if q:
            step["props"] = dict(parse_qsl(query, keep_blank_values=True))
        return step
    if kind == "submit":
        form, q, query = rest.partition("?")
        step = {"type": "submit"}
        if form:
            step["form"] = form
        if q:
            options = dict(parse_qsl(query, keep_blank_values=True))
            if set(options) - {"valid"} or options.get("valid") not in ("1", "0", "true", "false"):
                raise DefinitionError(f"step {n}: write submit:FORM?valid=1, got {_shown(raw)}")
            step["valid"] = options["valid"] in ("1", "true")
        return step
    raise DefinitionError(
        f"step {n}: write url:PATTERN, click:text=TEXT, click:selector=PATH, event:NAME or submit[:FORM], got {_shown(raw)}"
    )


# -- values ----------------------------------------------------------------------------


def _text(value: Any, where: str, limit: int, *, empty_ok: bool = False) -> str:
    if not isinstance(value, str):
        if empty_ok and value is None:
            return ""
        raise DefinitionError(f"{where} must be text")
    if not empty_ok and not value.strip():
        raise DefinitionError(f"{where} must not be empty")
    if len(value) > limit:
        raise DefinitionError(f"{where} is longer than {limit} characters")
    if _CONTROL.search(value):
        raise DefinitionError(f"{where} must not contain control characters")
    return value


def _pattern(value: Any, where: str) -> str:
    text = _text(value, where, MAX_TEXT)
    if text.strip("*") == "":
        raise DefinitionError(f"{where} must say more than * (it would match everything)")
    if text.count("*") > 10:
        raise DefinitionError(f"{where} may hold at most 10 * wildcards")
    return text


def _prop_value(value: Any, where: str) -> str:
    """A property value compared as the index stores it (derivation/attributes.as_text)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int) and abs(value) < 2**53:
        return str(value)
    if isinstance(value, float) and value == value and abs(value) < 1e300:
        return orjson.dumps(value).decode()  # as the derivation writes numbers: JSON text
    if isinstance(value, str):
        return _text(value, where, MAX_TEXT, empty_ok=True)
    raise DefinitionError(f"{where} must be text, a number or true/false")


def _shown(raw: str) -> str:
    return repr(raw if len(raw) <= 40 else raw[:40] + "…")
