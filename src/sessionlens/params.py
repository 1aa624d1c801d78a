"""The one table of numeric query parameters: name, kind, bounds, default, help.

Every API endpoint and the CLI's numeric options parse through it, the
bounds table in docs/api.md is generated from it, and the hostile-input
tests in tests/security/test_param_bounds.py are generated from it. A value
outside its bounds, or anything that is not plainly a number (a float where a
whole number is meant, inf, nan, 1e400, a 20-digit string, Unicode digits,
an empty string) is refused with a message that starts with the parameter's
name and states the allowed range. The bounds are far beyond what a real user
asks for, but they bound what one request can cost (the blur radius of a
heatmap drove one request to 85 s and 4.4 GB).

Missing means "use the default"; present but empty is an error, because a
form that sends `limit=` meant something and we cannot tell what.

Regenerate the docs section with `python -m sessionlens.params`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from sessionlens.contracts import batch_schema
from sessionlens.responses import ParamError

Kind = Literal["int", "float", "date"]
Number = int | float

# Event times are ms since the page view started; the wire schema caps them.
MAX_EVENT_T: int = batch_schema()["definitions"]["t"]["maximum"]
DAY_MS = 86_400_000
YEAR_S = 366 * 86_400
# Dates: 1970-01-01 .. 2100-01-01 (UTC), as epoch ms.
EPOCH_MIN_MS = 0
EPOCH_MAX_MS = 4_102_444_800_000

_INT = re.compile(r"-?[0-9]{1,16}")  # [0-9], not \d: \d also matches Arabic-Indic and other digits
_FLOAT = re.compile(r"-?[0-9]{1,16}(?:\.[0-9]{1,9})?")
_EPOCH_MS = re.compile(r"[0-9]{1,16}")
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DATE_TIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]{1,6})?)?(?:Z|[+-][0-9]{2}:?[0-9]{2})?"
)


@dataclass(frozen=True, slots=True)
class Bound:
    """One numeric parameter: what it is, its bounds (inclusive) and its default."""

    name: str
    kind: Kind
    min: Number
    max: Number
    default: Number | None
    unit: str
    help: str
    end_of_day: bool = False  # dates: a bare day means the end of that day (for `to`)

    def range_text(self) -> str:
        if self.kind == "date":
            return f"between {_day(self.min)} and {_day(self.max)}"
        return f"between {self.min} and {self.max}"

    def _what(self) -> str:
        if self.kind == "date":
            return "a date (2026-11-23), a date-time (2026-11-23T10:00:00Z) or epoch ms"
        return "a whole number" if self.kind == "int" else "a number"

    def refusal(self, raw: str) -> ParamError:
        shown = raw if len(raw) <= 40 else raw[:40] + "…"
        hint = " (leave it out for the default)" if raw == "" else ""
        unit = f" {self.unit}" if self.unit and self.kind != "date" else ""
        return ParamError(
            f"{self.name} must be {self._what()} {self.range_text()}{unit}, got {shown!r}{hint}"
        )

    def parse(self, raw: str) -> Number:
        """The value of a present parameter, or ParamError naming it and its range."""
        value = self._number(raw)
        if value is None or not self.min <= value <= self.max:
            raise self.refusal(raw)
        return value

    def check(self, value: Number) -> Number:
        """For values that arrive already typed (library callers): the same bounds."""
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.refusal(repr(value))
        if (self.kind != "float" and not isinstance(value, int)) or not self.min <= value <= self.max:
            raise self.refusal(str(value))
        return value

    def _number(self, raw: str) -> Number | None:
        if self.kind == "int":
            return int(raw) if _INT.fullmatch(raw) else None
        if self.kind == "float":
            return float(raw) if _FLOAT.fullmatch(raw) else None
        return self._date(raw)

    def _date(self, raw: str) -> int | None:
        if _EPOCH_MS.fullmatch(raw):
            return int(raw)
        try:
            if _DAY.fullmatch(raw):
                day = dt.date.fromisoformat(raw)
                moment = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
                if self.end_of_day:
                    moment += dt.timedelta(days=1)
            elif _DATE_TIME.fullmatch(raw):
                moment = dt.datetime.fromisoformat(raw)
                if moment.tzinfo is None:
                    moment = moment.replace(tzinfo=dt.UTC)
            else:
                return None
            return int(moment.timestamp() * 1000)
        except (ValueError, OverflowError):  # 2026-02-30, or a day past year 9999
            return None

    def cli_type(self) -> Callable[[str], Number]:
        """An argparse `type=` that refuses what the API refuses, with the same message."""

        def convert(raw: str) -> Number:
            try:
                return self.parse(raw)
            except ParamError as exc:
                raise argparse.ArgumentTypeError(str(exc)) from None

        convert.__name__ = self.kind  # argparse names the type in some messages
        return convert


@dataclass(frozen=True, slots=True)
class Endpoint:
    """The numeric parameters one API endpoint (or CLI command) accepts."""

    path: str
    bounds: tuple[Bound, ...]

    def parse(self, query: Mapping[str, str]) -> dict[str, Number | None]:
        """name -> value (the default when missing) for every numeric parameter, checked."""
        values: dict[str, Number | None] = {}
        for bound in self.bounds:
            raw = query.get(bound.name)
            values[bound.name] = bound.default if raw is None else bound.parse(raw)
        return values

    def bound(self, name: str) -> Bound:
        return next(b for b in self.bounds if b.name == name)


def _day(ms: Number) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).date().isoformat()


# --- the table ------------------------------------------------------------------------------------

FROM = Bound("from", "date", EPOCH_MIN_MS, EPOCH_MAX_MS, None, "", "first day (inclusive), UTC")
TO = Bound("to", "date", EPOCH_MIN_MS, EPOCH_MAX_MS, None, "", "last day (inclusive; epoch ms or a date-time is exclusive)", end_of_day=True)  # fmt: skip
MIN_WIDTH = Bound("min_width", "int", 0, 20_000, None, "CSS px", "narrowest viewport counted")
MAX_WIDTH = Bound("max_width", "int", 0, 20_000, None, "CSS px", "widest viewport counted")
HEATMAP_AT = Bound("at", "int", 0, MAX_EVENT_T, None, "ms", "moment of the backdrop page view (default: its first keyframe)")  # fmt: skip

SESSIONS = Endpoint(
    "/api/sessions",
    (
        FROM,
        TO,
        Bound("min_duration", "float", 0, YEAR_S, None, "s", "shortest session"),
        Bound("max_duration", "float", 0, YEAR_S, None, "s", "longest session"),
        Bound("min_active", "float", 0, YEAR_S, None, "s", "least active time (input, scrolling, moving)"),
        Bound("max_active", "float", 0, YEAR_S, None, "s", "most active time"),
        Bound("min_pages", "int", 0, 1_000_000, None, "page views", "fewest page views"),
        Bound("max_pages", "int", 0, 1_000_000, None, "page views", "most page views"),
        Bound("min_visits", "int", 1, 1_000_000_000, None, "visits", "visit number at least (1: first)"),
        Bound("max_visits", "int", 1, 1_000_000_000, None, "visits", "visit number at most"),
        Bound("min_frustration", "float", 0, 1_000_000, None, "", "frustration score at least"),
        Bound("lcp_over", "int", 0, DAY_MS, None, "ms", "a page view's Largest Contentful Paint above this"),
        Bound("limit", "int", 1, 200, 50, "sessions", "rows per page"),
    ),
)
# The player asks for page views only first (markers=0: from the index, no
# chunk read), so the first frame does not wait for a scan of every chunk.
SESSION = Endpoint(
    "/api/sessions/{sid}",
    (Bound("markers", "int", 0, 1, 1, "", "1: event markers too (derived facts in the index); 0: page views only"),),
)
PAGE_STATE = Endpoint(
    "/api/sessions/{sid}/pages/{pid}/state",
    (Bound("at", "int", 0, MAX_EVENT_T, None, "ms", "moment on the page view's clock (required)"),),
)
# `after`/`until` may run past the last possible event: the player asks for a
# window ahead of what it has, so they reach two days, not one.
PAGE_EVENTS = Endpoint(
    "/api/sessions/{sid}/pages/{pid}/events",
    (
        Bound("after", "int", -1, 2 * DAY_MS, -1, "ms", "events strictly after this time"),
        Bound("until", "int", 0, 2 * DAY_MS, 2 * DAY_MS, "ms", "events up to and including this time"),
        Bound(
            "limit",
            "int",
            1,
            20_000,
            20_000,
            "events",
            "most events in one answer (more may follow in the same ms)",
        ),  # fmt: skip
    ),
)
HEATMAP_SELECTION = (FROM, TO, MIN_WIDTH, MAX_WIDTH)
SELECTION = Endpoint("heatmap selection", HEATMAP_SELECTION)  # what every heatmap endpoint filters by
WIDTH = Bound("width", "int", 200, 4000, 1440, "CSS px", "backdrop width")
# The blur kernel and its cost grow with the radius (3,000,000 once took 85 s and 4.4 GB).
RADIUS = Bound("radius", "int", 1, 200, 30, "px", "blur radius of one click")
HEATMAP_IMAGE = Endpoint(
    "/api/heatmaps/image",
    (
        *HEATMAP_SELECTION,
        WIDTH,
        RADIUS,
        HEATMAP_AT,
        Bound(
            "compare_from",
            "date",
            EPOCH_MIN_MS,
            EPOCH_MAX_MS,
            None,
            "",
            "first day of the period compared against",
        ),  # fmt: skip
        Bound(
            "compare_to",
            "date",
            EPOCH_MIN_MS,
            EPOCH_MAX_MS,
            None,
            "",
            "last day of the period compared against",
            end_of_day=True,
        ),  # fmt: skip
    ),
)
HEATMAP_ELEMENTS = Endpoint("/api/heatmaps/elements", HEATMAP_SELECTION)
HEATMAP_SESSIONS = Endpoint("/api/heatmaps/sessions", HEATMAP_SELECTION)
# The moment picker: candidate moments of the backdrop's page view, and their thumbnails.
HEATMAP_MOMENTS = Endpoint("/api/heatmaps/moments", (*HEATMAP_SELECTION, WIDTH))
HEATMAP_THUMBNAIL = Endpoint(
    "/api/heatmaps/thumbnail",
    (WIDTH, Bound("at", "int", 0, MAX_EVENT_T, None, "ms", "moment of the page view (required)")),
)

API_ENDPOINTS = (
    SESSIONS, SESSION, PAGE_STATE, PAGE_EVENTS, HEATMAP_IMAGE, HEATMAP_ELEMENTS, HEATMAP_SESSIONS, HEATMAP_MOMENTS,
    HEATMAP_THUMBNAIL,
)  # fmt: skip

# The CLI's numeric options share the API's bounds (flags are --NAME).
CLI_HEATMAP = Endpoint("sessionlens heatmap", (WIDTH, RADIUS, HEATMAP_AT, FROM, TO, MIN_WIDTH, MAX_WIDTH))
CLI_EXPORT = Endpoint(
    "sessionlens export --html",
    (
        Bound(
            "at", "int", 0, 366 * DAY_MS, None, "ms", "moment on the session's timeline (as the viewer's ?t=)"
        ),
    ),
)
CLI_COMMANDS = (CLI_HEATMAP, CLI_EXPORT)


# --- docs -----------------------------------------------------------------------------------------

DOC_START = (
    "<!-- params:start (generated by `python -m sessionlens.params` from src/sessionlens/params.py) -->"
)
DOC_END = "<!-- params:end -->"
DOC_PATH = Path(__file__).resolve().parents[2] / "docs" / "api.md"


def markdown() -> str:
    """The bounds table of docs/api.md, between its markers."""

    def value(b: Bound, v: Number | None) -> str:
        if v is None:
            return "—"
        return _day(v) if b.kind == "date" else str(v)

    lines = [DOC_START, "", "| endpoint | parameter | kind | min | max | default | unit | meaning |", "|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for ep in (*API_ENDPOINTS, *CLI_COMMANDS):
        for b in ep.bounds:
            name = f"`--{b.name}`" if ep in CLI_COMMANDS else f"`{b.name}`"
            lines.append(
                f"| `{ep.path}` | {name} | {b.kind} | {value(b, b.min)} | {value(b, b.max)} "
                f"| {value(b, b.default)} | {b.unit} | {b.help} |"
            )
    lines += ["", DOC_END]
    return "\n".join(lines) + "\n"


def docs_with_table(text: str) -> str:
    """text with the section between the markers replaced by the current table."""
    start, end = text.index(DOC_START), text.index(DOC_END) + len(DOC_END) + 1
    return text[:start] + markdown() + text[end:]


if __name__ == "__main__":
    DOC_PATH.write_text(docs_with_table(DOC_PATH.read_text(encoding="utf-8")), encoding="utf-8")
    print(f"updated {DOC_PATH}", file=sys.stderr)
