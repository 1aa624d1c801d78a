"""A page view's custom events, identify traits, set() props and experiment buckets,
collected from its events as the derivation pass feeds them (index/attributes.py stores them).

Every value is the visitor's: keys and values are cut to fixed lengths, counts are
bounded per page view, and anything not a flat scalar is kept as short JSON text.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson

from sessionlens.contracts import field
from sessionlens.heatmap.frustration import DEAD, ERROR_CLICK, RAGE, Signal
from sessionlens.heatmap.signals import ClickFact
from sessionlens.index.attributes import PageViewAttributes

MAX_KEY = 100
MAX_VALUE = 500
MAX_CUSTOMS = 5_000  # custom events kept per page view
MAX_PROPS = 50  # properties kept per custom event
MAX_ATTRS = 200  # traits + props + experiments kept per page view
MAX_SURVEY_EVENTS = 500  # survey events kept per page view (a widget sends a handful)


_CUSTOM_NAME, _CUSTOM_PROPS = field("custom", "name"), field("custom", "props")
_IDENTIFY_TRAITS = field("identify", "traits")
_SET_PROPS = field("set", "props")
_EXPERIMENT_NAME, _EXPERIMENT_VARIANT = field("experiment", "name"), field("experiment", "variant")
_SURVEY_ID, _SURVEY_ACTION = field("survey", "survey"), field("survey", "action")
_SURVEY_QUESTION, _SURVEY_VALUE = field("survey", "question"), field("survey", "value")


def as_text(value: Any) -> str:
    """A property value as stored: strings as they are, numbers and booleans as JSON, null as ''."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value[:MAX_VALUE]
    if isinstance(value, bool | int | float):
        try:
            return orjson.dumps(value).decode()[:MAX_VALUE]
        except TypeError:  # an int past 64 bits
            return str(value)[:MAX_VALUE]
    try:
        return orjson.dumps(value).decode()[:MAX_VALUE]
    except (TypeError, orjson.JSONEncodeError):
        return ""


def _flat(props: Any) -> Iterable[tuple[str, Any]]:
    return ((str(k)[:MAX_KEY], v) for k, v in props.items()) if isinstance(props, dict) else ()


class AttributeCollector:
    """Fed every event of a page view in order; `attributes` is what it found."""

    def __init__(self) -> None:
        self.attributes = PageViewAttributes()

    def add(self, events: Iterable[list[Any]]) -> None:
        out = self.attributes
        for event in events:
            kind, t = event[0], event[1]
            if kind == "custom" and len(out.customs) < MAX_CUSTOMS:
                name = str(event[_CUSTOM_NAME])[:MAX_KEY]
                out.customs.append((t, name))
                for i, (key, value) in enumerate(_flat(event[_CUSTOM_PROPS])):
                    if i >= MAX_PROPS:
                        break
                    out.custom_props.append((t, name, key, as_text(value)))
            elif kind == "identify" and len(event) > _IDENTIFY_TRAITS:
                self._attrs("trait", t, _flat(event[_IDENTIFY_TRAITS]))
            elif kind == "set" and len(event) > _SET_PROPS:
                self._attrs("prop", t, _flat(event[_SET_PROPS]))
            elif kind == "experiment" and len(event) > _EXPERIMENT_VARIANT:
                name = str(event[_EXPERIMENT_NAME])[:MAX_KEY]
                self._attrs("experiment", t, [(name, str(event[_EXPERIMENT_VARIANT]))])
            elif kind == "survey" and len(event) > _SURVEY_VALUE and len(out.surveys) < MAX_SURVEY_EVENTS:
                # The schema fixed the shape and lengths at ingest; the value was PII-scrubbed there.
                answer = event[_SURVEY_ACTION] == "answer"
                out.surveys.append(
                    (t, str(event[_SURVEY_ID]), str(event[_SURVEY_ACTION]),
                     str(event[_SURVEY_QUESTION]) if answer else "", str(event[_SURVEY_VALUE]) if answer else "")
                )  # fmt: skip

    def _attrs(self, scope: str, t: int, items: Iterable[tuple[str, Any]]) -> None:
        attrs = self.attributes.attrs
        for key, value in items:
            if (scope, key) in attrs or len(attrs) < MAX_ATTRS:
                attrs.pop((scope, key), None)
                attrs[(scope, key)] = (t, as_text(value))  # a later setting in the page view wins


def click_signals(clicks: Iterable[ClickFact]) -> list[Signal]:
    """One signal row per rage, dead and error click, at the click's page position."""
    out: list[Signal] = []
    for c in clicks:
        label = (c.text or c.label)[:200]
        for flagged, kind in ((c.rage, RAGE), (c.dead, DEAD), (c.error, ERROR_CLICK)):
            if flagged:
                out.append(Signal(c.t, kind, c.px, c.py, c.url, c.selector, label))
    return out
