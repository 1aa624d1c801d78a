"""The index side of on-page surveys: a survey's rows in survey_responses (migration 0015,
written by the derivation pass in index/attributes.py), each with the moments the replay
link needs (the page view's start and the session's start).

The session filters survey= and survey_answer= are in index/queries.py (fact_filters).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sessionlens.index.database import Index

ACTIONS = ("shown", "answer", "dismiss", "complete")


def survey_rows(index: Index, site: str, survey: str) -> list[dict[str, Any]]:
    """Every row of one survey on one site: sid, pid, t, action, question, value, at (epoch ms of
    the event), start (the session's start; the page view's when the session row is not written
    yet) and visitor_id, in the order they happened."""
    return index.query(
        "SELECT r.sid, r.pid, r.t, r.action, r.question, r.value,"
        " COALESCE(p.t0, 0) + r.t AS at, COALESCE(s.start_time, p.t0, 0) AS start, s.visitor_id"
        " FROM survey_responses r"
        " LEFT JOIN page_views p ON p.site = r.site AND p.sid = r.sid AND p.pid = r.pid"
        " LEFT JOIN sessions s ON s.site = r.site AND s.sid = r.sid"
        " WHERE r.site = ? AND r.survey = ?"
        " ORDER BY at, r.sid, r.pid, r.t",
        (site, survey),
    )


def session_survey_rows(index: Index, site: str, sid: str) -> list[dict[str, Any]]:
    """A session's survey events (pid, t, survey, action, question, value), for its timeline."""
    return index.query(
        "SELECT pid, t, survey, action, question, value FROM survey_responses WHERE site = ? AND sid = ?"
        " ORDER BY pid, t",
        (site, sid),
    )
