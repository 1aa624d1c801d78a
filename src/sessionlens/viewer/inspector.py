"""A page view's console, network and form entries for the player's panes.

GET /api/sessions/{sid}/pages/{pid}/inspect decodes the page view's chunks
once (the player asks page view by page view, after its first frame):
- console: uncaught errors with their whole stack, and console messages
  (error and warn by default; log and info when the site opted in);
- network: fetch, XHR and resource timing entries (method, URL with query
  values scrubbed at capture, status, duration, size, failed);
- inputs: one entry per typing burst in a field, named by what the visitor
  saw on it (viewer/field_labels.py), never by its value;
- submits: one entry per submit attempt, naming the form and the fields that
  were invalid at that moment (the recorder names them, never by value);
- surveys: the on-page survey's moments (shown, each answer as stored, i.e.
  scrubbed, dismissed, completed); the player names them from the definitions.
All strings are recorded by the visitor's browser: they are cut to size
here and shown by the player as text only. Event positions come from the
schema by name; a kind the schema does not define yet is simply absent.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from sessionlens.contracts import event_fields
from sessionlens.viewer.entries import quote
from sessionlens.viewer.field_labels import FieldNames

MAX_ENTRIES = 2_000  # of each list per page view
MAX_MESSAGE = 2_000
MAX_STACK = 16_000
MAX_URL = 2_000
LEVELS = ("error", "warn", "info", "log")
HOWS = ("fetch", "xhr", "resource")
SURVEY_ACTIONS = ("shown", "answer", "dismiss", "complete")


def _getter(kind: str) -> Any:
    names = event_fields().get(kind)
    if names is None:
        return None
    at = {name: i for i, name in enumerate(names)}
    return lambda event, name: event[at[name]] if name in at and len(event) > at[name] else None


def _text(value: Any, limit: int) -> str:
    if value is None:
        return ""
    return (value if isinstance(value, str) else str(value))[:limit]


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return value


def inspect_events(events: Iterable[list[Any]]) -> dict[str, list[dict[str, Any]]]:
    """console, network and inputs of one page view's events (t relative to the page view)."""
    error, console, request, user_input, focus, submit, survey = (
        _getter(k) for k in ("error", "console", "request", "input", "focus", "submit", "survey")
    )
    names = FieldNames()
    out: dict[str, list[dict[str, Any]]] = {
        "console": [], "network": [], "inputs": [], "submits": [], "surveys": []
    }  # fmt: skip
    last_input: dict[str, Any] | None = None
    for event in events:
        if not isinstance(event, list) or len(event) < 2 or not isinstance(event[0], str):
            continue
        kind, t = event[0], _number(event[1])
        if t is None:
            continue
        names.add(event)
        if kind == "error" and error and len(out["console"]) < MAX_ENTRIES:
            out["console"].append(
                {
                    "t": t,
                    "level": "error",
                    "uncaught": True,
                    "how": _text(error(event, "how"), 40),
                    "message": _text(error(event, "message"), MAX_MESSAGE),
                    "source": _text(error(event, "source"), MAX_URL),
                    "line": _number(error(event, "line")),
                    "col": _number(error(event, "col")),
                    "stack": _text(error(event, "stack"), MAX_STACK),
                }
            )
        elif kind == "console" and console and len(out["console"]) < MAX_ENTRIES:
            level = console(event, "level")
            out["console"].append(
                {
                    "t": t,
                    "level": level if level in LEVELS else "log",
                    "uncaught": False,
                    "message": _text(console(event, "message"), MAX_MESSAGE),
                    "stack": _text(console(event, "stack"), MAX_STACK),
                }
            )
        elif kind == "request" and request and len(out["network"]) < MAX_ENTRIES:
            how, status = request(event, "how"), _number(request(event, "status"))
            out["network"].append(
                {
                    "t": t,
                    "how": how if how in HOWS else "resource",
                    "method": _text(request(event, "method"), 16).upper() or "GET",
                    "url": _text(request(event, "url"), MAX_URL),
                    "status": int(status) if status is not None else 0,
                    "duration": _number(request(event, "duration")),
                    "size": _number(request(event, "size")),
                    "failed": bool(request(event, "failed")),
                }
            )
        elif kind == "input" and user_input:
            target = user_input(event, "target")
            if last_input is not None and last_input["target"] == target:
                last_input["until"] = t
                continue
            if len(out["inputs"]) >= MAX_ENTRIES:
                continue
            last_input = {"t": t, "until": t, "target": target, "label": _input_label(names, target)}
            out["inputs"].append(last_input)
        elif kind == "submit" and submit and len(out["submits"]) < MAX_ENTRIES:
            out["submits"].append(
                {"t": t, "label": _submit_label(submit(event, "form"), submit(event, "invalid"))}
            )
        elif kind == "survey" and survey and len(out["surveys"]) < MAX_ENTRIES:
            action = survey(event, "action")
            if action in SURVEY_ACTIONS:
                out["surveys"].append(
                    {
                        "t": t,
                        "survey": _text(survey(event, "survey"), 64),
                        "action": action,
                        "question": _text(survey(event, "question"), 64),
                        "value": _text(survey(event, "value"), 1_000),
                    }
                )
        elif kind in ("click", "focus") and last_input is not None:
            # Typing in a field again after doing something else is a new entry.
            if kind == "click" or (focus and focus(event, "target") != last_input["target"]):
                last_input = None
    return out


def _input_label(names: FieldNames, target: Any) -> str:
    tag, kind = names.tag(target)
    said = quote(names.name(target)) or (f"a {kind or tag} field" if tag else "a field")
    if tag == "select":
        return f"Chose in {said}"
    if kind in ("checkbox", "radio"):
        return f"Toggled {said}"
    return f"Typed in {said}"


def _submit_label(form: Any, invalid: Any) -> str:
    # The form's id, name or aria-label reads as itself; a selector path (no name) says nothing more.
    name = _text(form, 256)
    said = f"form {quote(name)}" if name.strip() and ">" not in name else "a form"
    fields = (
        [quote(_text(f[1], 100)) for f in invalid if isinstance(f, list) and len(f) > 1]
        if isinstance(invalid, list)
        else []
    )
    fields = [f for f in fields if f]
    if not fields and not (isinstance(invalid, list) and invalid):
        return f"Submitted {said}"
    named = ", ".join(fields[:3]) + (f" and {len(fields) - 3} more" if len(fields) > 3 else "")
    count = len(invalid)
    return f"Submit of {said} blocked: {count} invalid field{'s' if count != 1 else ''}" + (
        f" ({named})" if named else ""
    )
