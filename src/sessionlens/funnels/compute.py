"""Counting a funnel: which step each session (or visitor) reached, and when.

The index gives each step's (session, moment) rows (index/funnels.py); here they are
ordered and matched, vectorised with numpy so 100,000 sessions take well under a second:

- a unit (a session, or a visitor: all of its sessions the filter keeps, merged in time)
  enters at a moment of step 1 and then takes, step after step, the first moment of the
  next step strictly after the previous one: step B before step A does not count;
- moments are ordered by time, then by kind at the same millisecond (a page view before
  a click on it, a click before the submit it caused, before a custom event), so one
  event never counts for two steps;
- with a conversion window every step must happen within the window after step 1; each
  moment of step 1 is then tried as a start and the attempt that goes furthest wins
  (ties: the earliest). Without a window the earliest start always goes furthest.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import repeat
from typing import Any
from urllib.parse import quote

import numpy as np

from sessionlens.funnels.definition import Funnel, Step
from sessionlens.funnels.stats import difference
from sessionlens.index import Index
from sessionlens.index import funnels as sql

# Order of kinds at one millisecond (see the module docstring).
RANK = {"url": 0, "click": 1, "submit": 2, "event": 3}
MAX_SEGMENTS = 20  # segment values shown side by side; the rest are summed as "(other)"
NONE_SEGMENT, OTHER_SEGMENT = "(none)", "(other)"


@dataclass
class Matched:
    """Per unit: steps reached, and each reached step's moment (epoch ms) and session index."""

    sids: list[str]  # session index -> sid
    starts: np.ndarray  # session index -> session start_time
    segment_of: np.ndarray | None  # session index -> segment code (None: no breakdown)
    segments: list[str]  # segment code -> segment value ("" = none)
    reached: np.ndarray  # (units,) 1..n
    at: np.ndarray  # (units, n) epoch ms, -1 where not reached
    session: np.ndarray  # (units, n) session index, -1 where not reached


def step_statement(d: Any, site: str, step: Step) -> tuple[str, list[Any]]:
    if step.type == "url":
        assert step.pattern is not None
        return sql.url_step(d, site, step.pattern)
    if step.type == "click":
        return sql.click_step(d, site, step.text, step.selector)
    if step.type == "event":
        assert step.name is not None
        return sql.event_step(d, site, step.name, step.props)
    return sql.submit_step(d, site, step.form, step.valid)


def run(index: Index, funnel: Funnel) -> Matched:
    """Read the funnel's facts from the index and match them."""
    d = index.dialect
    sessions, steps = sql.read_funnel(
        index,
        sql.funnel_sessions(d, funnel.session_filter, funnel.by),
        [step_statement(d, funnel.site, s) for s in funnel.steps],
        segmented=funnel.by is not None,
    )
    return match(funnel, sessions, steps)


def _codes(values: list[str]) -> tuple[np.ndarray, list[str]]:
    """Each value's number among the distinct values, and the distinct values."""
    number = {v: i for i, v in enumerate(dict.fromkeys(values))}
    return np.fromiter(map(number.__getitem__, values), dtype=np.int64, count=len(values)), list(number)


def _visitor_units(sids: list[str], visitors: list[str]) -> np.ndarray:
    """Session index -> unit: one per visitor id; a session without one ("") is a visitor of
    its own (keyed by its sid after a NUL, which no id holds)."""
    return _codes([v or "\0" + s for v, s in zip(visitors, sids, strict=True)])[0]


def match(funnel: Funnel, sessions: sql.SessionColumns, step_rows: Sequence[sql.StepRows]) -> Matched:
    """Match each step's (sid, at) rows against the filter's sessions."""
    n = len(funnel.steps)
    sids = sessions.sids
    segment_of, segments = _codes(sessions.segments) if sessions.segments is not None else (None, [])
    index_of = {sid: i for i, sid in enumerate(sids)}
    if funnel.per == "visitor":
        unit_of = _visitor_units(sids, sessions.visitors)
    else:
        unit_of = np.arange(len(sids), dtype=np.int64)
    # Each step's moments: session index, time, order key (time * 4 + kind rank); rows of
    # sessions the filter leaves out are dropped. dict.get through map() runs in C.
    steps: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    for step, rows in zip(funnel.steps, step_rows, strict=True):
        s = np.fromiter(map(index_of.get, rows.sids, repeat(-1)), dtype=np.int64, count=len(rows.sids))
        keep = s >= 0
        s, t = s[keep], rows.at[keep]
        steps.append((s, t, t * 4 + RANK[step.type]))
    # (unit, order key) packed into one int64: the key's offset from the smallest when
    # units x the keys' range fits (a few years of moments for a million units), else its
    # dense rank among the keys (a sort of every moment more).
    every = np.concatenate([k for _, _, k in steps])
    low = int(every.min()) if len(every) else 0
    width = int(every.max()) - low + 2 if len(every) else 1
    if width * (len(sids) + 1) < 2**62:
        span, rank = np.int64(width), lambda k: k - low
    else:
        keys = np.unique(every)
        span, rank = np.int64(len(keys) + 1), lambda k: np.searchsorted(keys, k)
    packed: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    for s, t, k in steps:
        c = unit_of[s] * span + rank(k)
        order = np.argsort(c, kind="stable")
        packed.append((c[order], t[order], s[order]))

    c1, t1, s1 = packed[0]
    if len(c1):
        if funnel.window_ms is None:
            first = np.concatenate(([True], (c1[1:] // span) != (c1[:-1] // span)))  # earliest per unit
        else:
            first = np.concatenate(([True], c1[1:] != c1[:-1]))  # every distinct moment
        c1, t1, s1 = c1[first], t1[first], s1[first]
    units = c1 // span
    cur = c1 % span
    start_key = cur.copy()
    reached = np.ones(len(c1), dtype=np.int64)
    at = np.full((len(c1), n), -1, dtype=np.int64)
    session = np.full((len(c1), n), -1, dtype=np.int64)
    at[:, 0], session[:, 0] = t1, s1
    for j in range(1, n):
        c, t, s = packed[j]
        active = np.nonzero(reached == j)[0]
        if not len(c) or not len(active):
            break
        u = units[active]
        idx = np.searchsorted(c, u * span + cur[active] + 1, side="left")
        ok = idx < len(c)
        idx = np.minimum(idx, len(c) - 1)
        ok &= c[idx] < (u + 1) * span
        if funnel.window_ms is not None:
            ok &= t[idx] - at[active, 0] <= funnel.window_ms
        chosen, idx = active[ok], idx[ok]
        cur[chosen] = c[idx] - units[chosen] * span
        at[chosen, j], session[chosen, j] = t[idx], s[idx]
        reached[chosen] = j + 1
    if funnel.window_ms is not None and len(units):
        # The best attempt of each unit: furthest, then earliest.
        order = np.lexsort((start_key, -reached, units))
        best = order[np.concatenate(([True], units[order][1:] != units[order][:-1]))]
        reached, at, session = reached[best], at[best], session[best]
    return Matched(sids, sessions.starts, segment_of, segments, reached, at, session)


# -- results ---------------------------------------------------------------------------


def _rate(x: int, n: int) -> float | None:
    return x / n if n else None


def _percentile(values: np.ndarray, q: float) -> int | None:
    return int(round(float(np.percentile(values, q)))) if len(values) else None


def step_counts(reached: np.ndarray, n: int) -> list[int]:
    return [int(np.count_nonzero(reached >= i)) for i in range(1, n + 1)]


def _steps(funnel: Funnel, m: Matched, rows: np.ndarray | None = None) -> list[dict[str, Any]]:
    reached = m.reached if rows is None else m.reached[rows]
    at = m.at if rows is None else m.at[rows]
    n = len(funnel.steps)
    entered = step_counts(reached, n)
    out = []
    for i, step in enumerate(funnel.steps):
        converted = entered[i + 1] if i + 1 < n else entered[i]
        row: dict[str, Any] = {
            "step": i + 1,
            "title": step.title(),
            "definition": step.as_json(),
            "entered": entered[i],
            "converted": converted,
            "dropped": entered[i] - converted,
            "conversion_from_previous": 1.0
            if i == 0 and entered[0]
            else _rate(entered[i], entered[i - 1] if i else 0),
            "conversion_from_first": _rate(entered[i], entered[0]),
            "median_ms_to_next": None,
            "p90_ms_to_next": None,
        }
        if i + 1 < n:
            done = reached >= i + 2
            gaps = at[done, i + 1] - at[done, i]
            row["median_ms_to_next"], row["p90_ms_to_next"] = _percentile(gaps, 50), _percentile(gaps, 90)
        out.append(row)
    return out


def results(funnel: Funnel, m: Matched) -> dict[str, Any]:
    """The funnel's numbers: per step, and per segment value side by side with differences."""
    n = len(funnel.steps)
    entered = step_counts(m.reached, n)
    out: dict[str, Any] = {
        "funnel": funnel.as_json(),
        "per": funnel.per,
        "units": entered[0],
        "completed": entered[-1],
        "conversion": _rate(entered[-1], entered[0]),
        "steps": _steps(funnel, m),
        "breakdown": None,
    }
    if funnel.by is not None:
        out["breakdown"] = breakdown(funnel, m)
    return out


def breakdown(funnel: Funnel, m: Matched) -> dict[str, Any]:
    """Each segment value's steps, and its difference from the baseline at each step
    (conversion from the first step, with its 95 % Newcombe-Wilson interval)."""
    n = len(funnel.steps)
    # A label per segment code (NULL and "" are both "(none)"), then per unit: the label of
    # the session where it entered step 1; counted with numpy, not per unit in Python.
    assert m.segment_of is not None
    code_labels = [v or NONE_SEGMENT for v in m.segments]
    names = list(dict.fromkeys(code_labels))
    number = {v: i for i, v in enumerate(names)}
    label_of_code = np.array([number[v] for v in code_labels], dtype=np.int64)
    unit_labels = label_of_code[m.segment_of[m.session[:, 0]]] if len(m.reached) else np.zeros(0, np.int64)
    counts = np.bincount(unit_labels, minlength=len(names))
    ranked = sorted(range(len(names)), key=lambda i: (-int(counts[i]), names[i]))
    ranked = [i for i in ranked if counts[i]]
    shown = [names[i] for i in ranked[:MAX_SEGMENTS]]
    groups = {names[i]: np.nonzero(unit_labels == i)[0] for i in ranked[:MAX_SEGMENTS]}
    if len(ranked) > MAX_SEGMENTS:
        shown.append(OTHER_SEGMENT)
        groups[OTHER_SEGMENT] = np.nonzero(~np.isin(unit_labels, ranked[:MAX_SEGMENTS]))[0]
    baseline = funnel.baseline if funnel.baseline in shown else (shown[0] if shown else None)
    reached_of = {v: step_counts(m.reached[rows], n) for v, rows in groups.items()}
    segments = []
    for value in shown:
        counts_v = reached_of[value]
        steps = _steps(funnel, m, groups[value])
        for i, row in enumerate(steps):
            row["difference"] = None
            if baseline is not None and value != baseline and i > 0:
                base = reached_of[baseline]
                row["difference"] = difference(counts_v[i], counts_v[0], base[i], base[0])
        segments.append(
            {
                "value": value,
                "units": counts_v[0],
                "completed": counts_v[-1],
                "conversion": _rate(counts_v[-1], counts_v[0]),
                "difference": steps[-1]["difference"],
                "steps": steps,
            }
        )
    by = funnel.by
    assert by is not None
    return {
        "by": by[0] if by[1] is None else f"{by[0]}:{by[1]}",
        "baseline": baseline,
        "method": "newcombe-wilson 95%",
        "segments": segments,
    }


OUTCOMES = ("dropped", "converted")


def sessions_at_step(
    funnel: Funnel, m: Matched, step: int, outcome: str, limit: int, offset: int
) -> tuple[list[dict[str, Any]], int]:
    """The units that dropped at `step` (1-based; it was the last they reached) or converted
    from it (reached the next step; at the last step: completed the funnel), newest moment
    first, one page; with the replay link at the moment of the last step reached: the
    dropped step for a drop-off (what they did next follows), the next step for a conversion."""
    n = len(funnel.steps)
    if outcome == "dropped":
        rows = np.nonzero(m.reached == step)[0] if step < n else np.zeros(0, dtype=np.int64)
        column = step - 1
    else:
        rows = np.nonzero(m.reached >= step + 1)[0] if step < n else np.nonzero(m.reached == n)[0]
        column = min(step, n - 1)
    moments = m.at[rows, column]
    sessions = m.session[rows, column]
    sids = np.array([m.sids[s] for s in sessions], dtype=object) if len(rows) else np.zeros(0, dtype=object)
    order = sorted(range(len(rows)), key=lambda i: (-int(moments[i]), sids[i]))
    page = order[offset : offset + limit]
    out = []
    for i in page:
        s = int(sessions[i])
        sid = m.sids[s]
        t = int(moments[i]) - int(m.starts[s])
        out.append(
            {
                "sid": sid,
                "reached": int(m.reached[rows[i]]),
                "at": int(moments[i]),
                "t": t,
                "link": f"/sessions/{quote(sid, safe='')}?site={quote(funnel.site, safe='')}&t={t}",
            }
        )
    return out, len(rows)
