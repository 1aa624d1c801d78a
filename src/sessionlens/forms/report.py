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

from sessionlens.forms.settings import FormSettings
from sessionlens.index import Index
from sessionlens.index import forms as q
from sessionlens.url_patterns import page_matches

FORM_METRICS = ("views", "starters", "completions", "abandons")
FIELD_METRICS = (
    "interactions", "time", "hesitation", "corrections", "returns", "blank_submit", "errors", "abandons",
)  # fmt: skip
MAX_SESSIONS = 500  # sessions listed behind one number


def _succeeded(
    row: dict[str, Any], rule: dict[str, str], later: dict[str, list[tuple[int, str]]]
) -> int | None:
    """The moment the row's form counted as completed, or None."""
    kind, value = rule.get("kind", "nav"), rule.get("value", "")
    if kind == "nav":
        if row["clean_at"] is None:
            return None
        moments = [m for m in (row["nav_at"], row["next_view_at"]) if m is not None]
        return row["clean_at"] if moments else None
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


def _field_metrics(sessions: list[_Session], rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    by_sid = {s.sid: s for s in sessions}
    per: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)  # field -> sid -> merged
    labels: dict[str, tuple[int, str]] = {}
    for r in rows:
        if r["sid"] not in by_sid:
            continue
        labels.setdefault(r["field_key"], (r["position"], r["label"]))
        m = per[r["field_key"]].setdefault(r["sid"], {
            "touched": 0, "time": 0, "hesitation": None, "corrections": 0, "returns": 0, "blank": 0, "errors": 0,
        })  # fmt: skip
        m["touched"] |= r["touched"]
        m["time"] += r["time_ms"]
        if m["hesitation"] is None and r["hesitation_ms"] is not None:
            m["hesitation"] = r["hesitation_ms"]
        m["corrections"] += r["corrections"]
        m["returns"] += r["returns"]
        m["blank"] |= r["blank_submit"]
        m["errors"] += r["errors"]
    abandons = [s for s in sessions if s.abandoned]
    submitters = sum(1 for s in sessions if s.submitted)
    out = []
    for key, by in sorted(per.items(), key=lambda kv: labels[kv[0]]):
        used = [m for m in by.values() if m["touched"]]
        hes = [m["hesitation"] for m in used if m["hesitation"] is not None]
        left_here = sum(1 for s in abandons if s.last_field == key)
        out.append({
            "field": key,
            "label": labels[key][1],
            "position": labels[key][0],
            "interactions": len(used),
            "mean_time_ms": int(statistics.fmean([m["time"] for m in used])) if used else None,
            "mean_hesitation_ms": int(statistics.fmean(hes)) if hes else None,
            "corrections": sum(m["corrections"] for m in used),
            "correction_sessions": sum(1 for m in used if m["corrections"]),
            "correction_rate": _rate(sum(1 for m in used if m["corrections"]), len(used)),
            "returns": sum(m["returns"] for m in used),
            "return_sessions": sum(1 for m in used if m["returns"]),
            "return_rate": _rate(sum(1 for m in used if m["returns"]), len(used)),
            "blank_submit": sum(1 for m in by.values() if m["blank"]),
            "blank_rate": _rate(sum(1 for m in by.values() if m["blank"]), submitters),
            "errors": sum(m["errors"] for m in by.values()),
            "error_sessions": sum(1 for m in by.values() if m["errors"]),
            "abandons": left_here,
            "abandon_share": _rate(left_here, len(abandons)),
        })  # fmt: skip
    return out


def _sessions(
    index: Index, settings: FormSettings, f: Any, form_key: str | None, by: str | None
) -> dict[str, list[_Session]]:
    """form key -> the sessions that viewed it."""
    site = settings.site
    rows = q.form_view_rows(index, f, form_key, by)
    grouped: dict[str, dict[str, list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
    for r in rows:
        grouped[r["form_key"]][r["sid"]].append(r)
    out: dict[str, list[_Session]] = {}
    for key, by_sid in grouped.items():
        rule = settings.success(key)
        later = _later(index, site, rule, list(by_sid)) if rule.get("kind") in ("url", "event") else {}
        out[key] = [_Session(sid, rs, rule, later) for sid, rs in by_sid.items()]
    return out


def forms_list(index: Index, settings: FormSettings, f: Any) -> list[dict[str, Any]]:
    """Every form the filter's sessions viewed, with its form metrics, most viewed first."""
    rows = q.form_view_rows(index, f)
    names: dict[str, dict[str, Any]] = {}
    for r in rows:
        names.setdefault(
            r["form_key"], {"ident": r["ident"], "name": r["name"], "path": r["path"], "spa": bool(r["spa"])}
        )
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
    rows_v = q.form_view_rows(index, f, form_key)
    sessions = _sessions(index, settings, f, form_key, by).get(form_key)
    if sessions is None or not rows_v:
        return None
    first = rows_v[0]
    rows = q.form_field_rows(index, settings.site, form_key, [s.sid for s in sessions])
    out: dict[str, Any] = {
        "form": form_key, "ident": first["ident"], "name": settings.name(form_key) or first["name"],
        "path": first["path"], "spa": bool(first["spa"]), "success": settings.success(form_key),
        **_form_metrics(sessions), "fields": _field_metrics(sessions, rows),
    }  # fmt: skip
    if by:
        groups: dict[str, list[_Session]] = defaultdict(list)
        for s in sessions:
            groups[s.segment].append(s)
        out["by"] = by
        out["segments"] = [
            {"value": value, **_form_metrics(ss), "fields": _field_metrics(ss, rows)}
            for value, ss in sorted(groups.items())
        ]
    return out


def _field_moment(rows: list[dict[str, Any]], metric: str) -> int | None:
    test = {
        "interactions": lambda r: r["touched"],
        "time": lambda r: r["touched"],
        "hesitation": lambda r: r["hesitation_ms"] is not None,
        "corrections": lambda r: r["corrections"] > 0,
        "returns": lambda r: r["returns"] > 0,
        "blank_submit": lambda r: r["blank_submit"] > 0,
        "errors": lambda r: r["errors"] > 0,
    }[metric]
    return next((r["first_at"] for r in rows if test(r)), None) if any(test(r) for r in rows) else None


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
        rows = q.form_field_rows(index, site, form_key, [s.sid for s in sessions])
        by_sid: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for r in rows:
            if r["field_key"] == field:
                by_sid[r["sid"]].append(r)
        for s in sessions:
            if metric == "abandons":
                at = s.last_at if s.abandoned and s.last_field == field else None
            else:
                at = _field_moment(by_sid.get(s.sid, []), metric)
            if at is not None:
                out.append({"sid": s.sid, "t": max(0, at - s.start_time)})
    out.sort(key=lambda x: x["sid"])
    for x in out:
        x["link"] = f"/sessions/{x['sid']}?t={x['t']}"
    return out[:MAX_SESSIONS]
