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
from sessionlens.url_patterns import page_matches

FORM_METRICS = ("views", "starters", "completions", "abandons")
FIELD_METRICS = (
    "interactions", "time", "hesitation", "corrections", "returns", "blank_submit", "errors", "abandons",
)  # fmt: skip
MAX_SESSIONS = 500  # sessions listed behind one number
_SUMS = ("interactions", "time_sum", "hes_sum", "hes_n", "corrections", "correction_sessions", "returns",
         "return_sessions", "blank_submit", "errors", "error_sessions")  # fmt: skip


def _succeeded(
    row: dict[str, Any], rule: dict[str, str], later: dict[str, list[tuple[int, str]]]
) -> int | None:
    """The moment the row's form counted as completed, or None."""
    kind, value = rule.get("kind", "nav"), rule.get("value", "")
    if kind == "nav":
        if row["clean_at"] is None:
            return None
        return row["clean_at"] if row["nav_at"] is not None or row["later_view"] else None
    start = row["first_submit_at"]
    if start is None:
        return None
    if kind == "element":
        return row["clean_at"] if row["clean_at"] is not None and f" {value} " in row["appeared"] else None
    if kind == "url":
        if row["nav_at"] is not None and page_matches(row["next_url"], value):
            return row["nav_at"]
        return next(
            (at for at, url in later.get(row["sid"], ()) if at > start and page_matches(url, value)), None
        )
    if kind == "event":
        return next((at for at, _ in later.get(row["sid"], ()) if at >= start), None)
    return None


def _later(
    index: Index, site: str, rule: dict[str, str], sids: list[str]
) -> dict[str, list[tuple[int, str]]]:
    out: dict[str, list[tuple[int, str]]] = defaultdict(list)
    if rule.get("kind") == "url":
        for r in q.page_view_urls(index, site, sids):
            out[r["sid"]].append((r["t0"], r["url"] or ""))
    elif rule.get("kind") == "event":
        for r in q.custom_event_times(index, site, rule.get("value", ""), sids):
            out[r["sid"]].append((int(r["at"]), ""))
    for moments in out.values():
        moments.sort()
    return out


class _Session:
    """One session's use of one form (its form view rows merged)."""

    __slots__ = ("sid", "start_time", "segment", "viewed_at", "started_at", "completed_at", "submitted",
                 "first_submit_at", "last_field", "last_at")  # fmt: skip

    def __init__(self, sid: str, rows: list[dict[str, Any]], rule: dict[str, str], later: Any) -> None:
        self.sid = sid
        self.start_time = rows[0]["start_time"]
        self.segment = rows[0]["segment"]
        self.viewed_at = min(r["viewed_at"] for r in rows)
        started = [r for r in rows if r["started_at"] is not None]
        self.started_at = min((r["started_at"] for r in started), default=None)
        done = [m for m in (_succeeded(r, rule, later) for r in started) if m is not None]
        self.completed_at = min(done, default=None)
        self.submitted = any(r["attempts"] for r in rows)
        self.first_submit_at = min(
            (r["first_submit_at"] for r in rows if r["first_submit_at"] is not None), default=None
        )
        last = max(started, key=lambda r: r["last_at"] or 0, default=None)
        self.last_field = last["last_field"] if last else None
        self.last_at = last["last_at"] if last else None

    @property
    def abandoned(self) -> bool:
        return self.started_at is not None and self.completed_at is None


def _rate(n: int, d: int) -> float | None:
    return round(n / d, 4) if d else None


def _form_metrics(sessions: list[_Session]) -> dict[str, Any]:
    views = len(sessions)
    starters = sum(1 for s in sessions if s.started_at is not None)
    done = [s for s in sessions if s.completed_at is not None and s.started_at is not None]
    times = [s.completed_at - s.started_at for s in done]
    return {
        "views": views,
        "starters": starters,
        "completions": len(done),
        "abandons": sum(1 for s in sessions if s.abandoned),
        "view_to_start": _rate(starters, views),
        "start_to_completion": _rate(len(done), starters),
        "median_time_to_complete_ms": int(statistics.median(times)) if times else None,
    }


def _field_metrics(sessions: list[_Session], aggregates: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The field table from the index's per-field sums (index/forms.field_aggregates) of these
    sessions, and the abandon field of each abandoned session."""
    abandons = [s for s in sessions if s.abandoned]
    left: dict[str | None, int] = defaultdict(int)
    for s in abandons:
        left[s.last_field] += 1
    submitters = sum(1 for s in sessions if s.submitted)
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
            "blank_rate": _rate(a["blank_submit"], submitters),
            "errors": a["errors"],
            "error_sessions": a["error_sessions"],
            "abandons": left[a["field_key"]],
            "abandon_share": _rate(left[a["field_key"]], len(abandons)),
        })  # fmt: skip
    return out


def _sessions(
    index: Index, settings: FormSettings, f: Any, form_key: str | None, by: str | None
) -> dict[str, list[_Session]]:
    """form key -> the sessions that viewed it."""
    site = settings.site
    grouped: dict[str, dict[str, list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
    for t in q.form_session_rows(index, f, form_key, by):
        grouped[t[0]][t[1]].append(dict(zip(q.SESSION_COLUMNS, t, strict=True)))
    out: dict[str, list[_Session]] = {}
    for key, by_sid in grouped.items():
        rule = settings.success(key)
        later: dict[str, list[tuple[int, str]]] = {}
        if rule.get("kind") in ("url", "event"):
            # only sessions that tried to submit can succeed by URL or event
            tried = [sid for sid, rs in by_sid.items() if any(r["first_submit_at"] is not None for r in rs)]
            later = _later(index, site, rule, tried)
        out[key] = [_Session(sid, rs, rule, later) for sid, rs in by_sid.items()]
    return out


def forms_list(index: Index, settings: FormSettings, f: Any) -> list[dict[str, Any]]:
    """Every form the filter's sessions viewed, with its form metrics, most viewed first."""
    names = q.form_names(index, f)
    out = []
    for key, sessions in _sessions(index, settings, f, None, None).items():
        info = names[key]
        out.append({
            "form": key, **info, "name": settings.name(key) or info["name"], "success": settings.success(key),
            **_form_metrics(sessions),
        })  # fmt: skip
    out.sort(key=lambda x: (-x["views"], x["form"]))
    return out


def form_report(
    index: Index, settings: FormSettings, f: Any, form_key: str, by: str | None = None
) -> dict[str, Any] | None:
    """One form's metrics, its fields' metrics, and with `by` the same per segment value."""
    sessions = _sessions(index, settings, f, form_key, by).get(form_key)
    info = q.form_names(index, f, form_key).get(form_key)
    if sessions is None or info is None:
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
        **_form_metrics(sessions), "fields": _field_metrics(sessions, whole.values()),
    }  # fmt: skip
    if by:
        groups: dict[str, list[_Session]] = defaultdict(list)
        for s in sessions:
            groups[s.segment].append(s)
        out["by"] = by
        out["segments"] = [
            {
                "value": value,
                **_form_metrics(ss),
                "fields": _field_metrics(ss, [a for a in aggregates if a["segment"] == value]),
            }
            for value, ss in sorted(groups.items())
        ]
    return out


def _field_moment(rows: list[dict[str, Any]], metric: str, session: _Session) -> int | None:
    """When to open the replay for this field and metric: its first touch, except for the numbers
    an attempt makes (blank on submit, errors), which open at the first attempt: a field left
    blank may never have been touched."""
    test = {
        "interactions": lambda r: r["touched"],
        "time": lambda r: r["touched"],
        "hesitation": lambda r: r["hesitation_ms"] is not None,
        "corrections": lambda r: r["corrections"] > 0,
        "returns": lambda r: r["returns"] > 0,
        "blank_submit": lambda r: r["blank_submit"] > 0,
        "errors": lambda r: r["errors"] > 0,
    }[metric]
    if not any(test(r) for r in rows):
        return None
    if metric in ("blank_submit", "errors") and session.first_submit_at is not None:
        return session.first_submit_at
    return next((r["first_at"] for r in rows if test(r) and r["first_at"] is not None), session.viewed_at)


def metric_sessions(
    index: Index, settings: FormSettings, f: Any, form_key: str, field: str | None, metric: str
) -> list[dict[str, Any]] | None:
    """The sessions behind one number, each with the moment (session clock ms) to open the replay at."""
    site = settings.site
    sessions = _sessions(index, settings, f, form_key, None).get(form_key)
    if sessions is None:
        return None
    out: list[dict[str, Any]] = []
    if field is None:
        for s in sessions:
            at = {
                "views": s.viewed_at,
                "starters": s.started_at,
                "completions": s.completed_at,
                "abandons": s.last_at if s.abandoned else None,
            }[metric]
            if at is not None:
                out.append({"sid": s.sid, "t": max(0, at - s.start_time)})
    else:
        by_sid: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for r in q.field_moment_rows(index, f, form_key, field):
            by_sid[r["sid"]].append(r)
        for s in sessions:
            if metric == "abandons":
                at = s.last_at if s.abandoned and s.last_field == field else None
            else:
                at = _field_moment(by_sid.get(s.sid, []), metric, s)
            if at is not None:
                out.append({"sid": s.sid, "t": max(0, at - s.start_time)})
    out.sort(key=lambda x: x["sid"])
    for x in out:
        # the site in the link: the player reads the session of that site (as funnel links do)
        x["link"] = f"/sessions/{quote(x['sid'], safe='')}?site={quote(site, safe='')}&t={x['t']}"
    return out[:MAX_SESSIONS]
