"""Funnels defined after the fact over what is already recorded (docs/funnels.md).

- `definition`: a funnel's JSON (and the CLI's step strings), parsed and checked;
- `compute`: matching each session's or visitor's steps in order, and the numbers;
- `stats`: the confidence interval of a difference of conversion rates.

The SQL is in sessionlens.index.funnels; the HTTP API in sessionlens.viewer.funnels.
"""

from __future__ import annotations

from typing import Any

from sessionlens.funnels.compute import OUTCOMES, Matched, results, run, sessions_at_step
from sessionlens.funnels.definition import DefinitionError, Funnel, parse_funnel, step_from_text
from sessionlens.index import Index
from sessionlens.index.funnels import session_rows

MAX_PAGE = 200
MAX_OFFSET = 1_000_000
# Session columns shown beside a drop-off list's rows.
ROW_COLUMNS = ("start_time", "duration_ms", "page_count", "device", "browser", "channel", "country",
               "visitor_id", "user_id", "entry_url", "exit_url")  # fmt: skip


def funnel_results(index: Index, funnel: Funnel) -> dict[str, Any]:
    return results(funnel, run(index, funnel))


def funnel_sessions(
    index: Index, funnel: Funnel, step: int, outcome: str, limit: int = 50, offset: int = 0
) -> dict[str, Any]:
    """One page of the sessions that dropped at, or converted from, a step (1-based)."""
    if not 1 <= step <= len(funnel.steps):
        raise DefinitionError(f"step must be 1 to {len(funnel.steps)}")
    if outcome not in OUTCOMES:
        raise DefinitionError(f"outcome must be dropped or converted, got {outcome[:40]!r}")
    if not 1 <= limit <= MAX_PAGE:
        raise DefinitionError(f"limit must be 1 to {MAX_PAGE}")
    if not 0 <= offset <= MAX_OFFSET:
        raise DefinitionError(f"offset must be 0 to {MAX_OFFSET}")
    matched = run(index, funnel)
    rows, total = sessions_at_step(funnel, matched, step, outcome, limit, offset)
    found = session_rows(index, funnel.site, [r["sid"] for r in rows])
    for r in rows:
        session = found.get(r["sid"], {})
        r["session"] = {k: session.get(k) for k in ROW_COLUMNS}
    return {
        "step": step,
        "outcome": outcome,
        "total": total,
        "offset": offset,
        "next": offset + limit if offset + limit < total else None,
        "sessions": rows,
    }


__all__ = [
    "DefinitionError",
    "Funnel",
    "Matched",
    "funnel_results",
    "funnel_sessions",
    "parse_funnel",
    "step_from_text",
]
