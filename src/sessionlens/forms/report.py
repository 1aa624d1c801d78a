"""Per-form and per-field metrics (docs/forms.md), from the form rows of the filter's sessions.

A session counts once per form: it viewed the form, started it (touched a field or tried to
submit), completed it (its success rule held after an attempt) or abandoned it (started,
not completed). Field metrics count sessions (Zuko's definitions): see docs/forms.md.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote

from sessionlens.forms.settings import FormSettings
from sessionlens.index import Index
from sessionlens.index import forms as q

FORM_METRICS = ("views", "starters", "completions", "abandons")
FIELD_METRICS = (
    "interactions", "time", "hesitation", "corrections", "returns", "blank_submit", "errors", "abandons",
)  # fmt: skip
MAX_SESSIONS = 500  # sessions listed behind one number
_SUMS = ("interactions", "time_sum", "hes_sum", "hes_n", "corrections", "correction_sessions", "returns",
         "return_sessions", "blank_submit", "errors", "error_sessions")  # fmt: skip


class _Outcome:
    """The sessions of one form (and segment value) as counted by the index (form_outcomes):
    how many viewed, started, completed and tried to submit it, their start-to-completion
    times, and how many abandoned it per last field touched."""

    __slots__ = ("views", "starters", "completions", "submitters", "times", "left")

    def __init__(self) -> None:
        self.views = self.starters = self.completions = self.submitters = 0
        self.times: list[int] = []
        self.left: dict[str | None, int] = defaultdict(int)

    def add(self, row: dict[str, Any]) -> None:
        self.views += row["views"]
        self.starters += row["starters"]
        self.completions += row["completions"]
        self.submitters += int(row["submitters"] or 0)
        if row["durations"]:
            self.times += [int(x) for x in row["durations"].split(",")]
        if row["abandoned"]:
            self.left[row["last_field"]] += row["views"]

    @property
    def abandons(self) -> int:
        return sum(self.left.values())


def _rate(n: int, d: int) -> float | None:
    return round(n / d, 4) if d else None


def _form_metrics(o: _Outcome) -> dict[str, Any]:
    return {
        "views": o.views,
        "starters": o.starters,
        "completions": o.completions,
        "abandons": o.abandons,
        "view_to_start": _rate(o.starters, o.views),
        "start_to_completion": _rate(o.completions, o.starters),
        "median_time_to_complete_ms": int(statistics.median(o.times)) if o.times else None,
    }


def _field_metrics(o: _Outcome, aggregates: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The field table from the index's per-field sums (index/forms.field_aggregates) of these
    sessions, and the abandon field of each abandoned session."""
    abandons, left = o.abandons, o.left
    out = []
    for a in sorted(aggregates, key=lambda a: (a["position"], a["label"], a["field_key"])):
        used = a["interactions"]
        out.append({
            "field": a["field_key"],
            "label": a["label"],
            "position": a["position"],
            "interactions": used,
            "mean_time_ms": int(a["time_sum"] / used) if used else None,
            "mean_hesitation_ms": int(a["hes_sum"] / a["hes_n"]) if a["hes_n"] else None,
            "corrections": a["corrections"],
            "correction_sessions": a["correction_sessions"],
            "correction_rate": _rate(a["correction_sessions"], used),
            "returns": a["returns"],
            "return_sessions": a["return_sessions"],
            "return_rate": _rate(a["return_sessions"], used),
            "blank_submit": a["blank_submit"],
            "blank_rate": _rate(a["blank_submit"], o.submitters),
            "errors": a["errors"],
            "error_sessions": a["error_sessions"],
            "abandons": left.get(a["field_key"], 0),
            "abandon_share": _rate(left.get(a["field_key"], 0), abandons),
        })  # fmt: skip
    return out


def _outcomes(
    index: Index, settings: FormSettings, f: Any, form_key: str | None, by: str | None
) -> tuple[dict[str, _Outcome], dict[tuple[str, str], _Outcome], dict[str, dict[str, Any]]]:
    """(form key -> its sessions, (form key, segment value) -> those of the segment, form key ->
    ident, name, path, spa), from the index's counts (a few rows per form and segment)."""
    whole: dict[str, _Outcome] = defaultdict(_Outcome)
    parts: dict[tuple[str, str], _Outcome] = defaultdict(_Outcome)
    info: dict[str, dict[str, Any]] = {}
    for t in q.form_outcomes(index, f, settings.site, settings.rules(), form_key, by):
        row = dict(zip(q.OUTCOME_COLUMNS, t, strict=True))
        key = row["form_key"]
        whole[key].add(row)
        parts[key, row["segment"]].add(row)
        was = info.get(key)
        now = {"ident": row["ident"], "name": row["name"], "path": row["path"], "spa": row["spa"]}
        info[key] = now if was is None else {k: min(was[k], now[k]) for k in now}
    for x in info.values():
        x["spa"] = bool(x["spa"])
    return whole, parts, info


def forms_list(index: Index, settings: FormSettings, f: Any) -> list[dict[str, Any]]:
    """Every form the filter's sessions viewed, with its form metrics, most viewed first."""
    whole, _, names = _outcomes(index, settings, f, None, None)
    out = []
    for key, outcome in whole.items():
        info = names[key]
        out.append({
            "form": key, **info, "name": settings.name(key) or info["name"], "success": settings.success(key),
            **_form_metrics(outcome),
        })  # fmt: skip
    out.sort(key=lambda x: (-x["views"], x["form"]))
    return out


def form_report(
    index: Index, settings: FormSettings, f: Any, form_key: str, by: str | None = None
) -> dict[str, Any] | None:
    """One form's metrics, its fields' metrics, and with `by` the same per segment value."""
    whole_outcomes, parts, names = _outcomes(index, settings, f, form_key, by)
    outcome, info = whole_outcomes.get(form_key), names.get(form_key)
    if outcome is None or info is None:
        return None
    aggregates = q.field_aggregates(index, f, form_key, by)
    whole: dict[str, dict[str, Any]] = {}
    for a in aggregates:  # the whole selection: the segments' sums added up
        w = whole.setdefault(a["field_key"], {**a, **dict.fromkeys(_SUMS, 0)})
        w["position"], w["label"] = min(w["position"], a["position"]), min(w["label"], a["label"])
        for k in _SUMS:
            w[k] += a[k] or 0
    out: dict[str, Any] = {
        "form": form_key, "ident": info["ident"], "name": settings.name(form_key) or info["name"],
        "path": info["path"], "spa": info["spa"], "success": settings.success(form_key),
        **_form_metrics(outcome), "fields": _field_metrics(outcome, whole.values()),
    }  # fmt: skip
    if by:
        out["by"] = by
        out["segments"] = [
            {
                "value": value,
                **_form_metrics(o),
                "fields": _field_metrics(o, [a for a in aggregates if a["segment"] == value]),
            }
            for (_, value), o in sorted(parts.items())
        ]
    return out


def metric_sessions(
    index: Index, settings: FormSettings, f: Any, form_key: str, field: str | None, metric: str
) -> list[dict[str, Any]] | None:
    """The sessions behind one number, each with the moment (session clock ms) to open the replay at."""
    site = settings.site
    out = [
        {"sid": sid, "t": max(0, t)}
        for sid, t in q.outcome_sessions(index, f, site, settings.rules(), form_key, field, metric)
    ]
    if not out and not q.form_seen(index, f, form_key):
        return None
    out.sort(key=lambda x: x["sid"])
    del out[MAX_SESSIONS:]
    for x in out:
        # the site in the link: the player reads the session of that site (as funnel links do)
        x["link"] = f"/sessions/{quote(x['sid'], safe='')}?site={quote(site, safe='')}&t={x['t']}"
    return out
