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


# saved_docs.body holds the whole document as compact JSON (orjson) with the survey's "active"
# flag in its body; inside a JSON string a quote is always escaped, so this text appears only
# as that key. A pre-filter in SQL (the caller checks the parsed flag again).
_ACTIVE_TEXT = '%"active":true%'


def active_survey_docs(index: Index, site: str, limit: int) -> list[dict[str, Any]]:
    """The saved_docs rows of the site's active surveys (oldest first, at most `limit`): the
    public endpoint and the ingest ack read these, not every survey of the site."""
    return index.query(
        "SELECT body FROM saved_docs WHERE kind = 'survey' AND site = ? AND body LIKE ?"
        " ORDER BY created, id LIMIT ?",
        (site, _ACTIVE_TEXT, limit),
    )
