"""Surveys as saved documents of kind "survey": the document's name is the survey's name, its
body the rest of the definition (saved_docs.py keeps versions, the index lists them)."""

from __future__ import annotations

from typing import Any

import orjson

from sessionlens.index.surveys import active_survey_docs
from sessionlens.saved_docs import SavedDoc, SavedDocs
from sessionlens.surveys.definition import MAX_ACTIVE, Survey, SurveyError, parse_survey

KIND = "survey"


def from_doc(doc: SavedDoc) -> Survey:
    """The survey a document holds (checked again: one saved by an older version is checked too)."""
    return parse_survey({**doc.body, "name": doc.name}, site=doc.site)


def survey_json(doc: SavedDoc) -> dict[str, Any]:
    return {
        "id": doc.id,
        "site": doc.site,
        "name": doc.name,
        **doc.body,
        "author": doc.author,
        "created": doc.created,
        "updated": doc.updated,
        "version": doc.version,
    }


def _active_docs(docs: SavedDocs, site: str) -> list[SavedDoc]:
    rows = active_survey_docs(docs.index, site, MAX_ACTIVE + 1)
    found = [SavedDoc.from_dict(orjson.loads(r["body"])) for r in rows]
    return [d for d in found if d.kind == KIND and d.body.get("active") is True]


def active_surveys(docs: SavedDocs, site: str) -> list[tuple[str, Survey]]:
    """(id, survey) of the site's active surveys, oldest first (a stable order for the widget),
    at most MAX_ACTIVE; a stored document that no longer parses is left out rather than served."""
    out = []
    for doc in _active_docs(docs, site):
        try:
            out.append((doc.id, from_doc(doc)))
        except SurveyError:
            continue
    return out[:MAX_ACTIVE]


def check_active_limit(docs: SavedDocs, site: str, doc_id: str | None = None) -> None:
    """Before saving an active survey: refuse a site's (MAX_ACTIVE + 1)th (every visitor's page
    reads them all). `doc_id`: the survey being saved, which does not count against itself."""
    others = [d for d in _active_docs(docs, site) if d.id != doc_id]
    if len(others) >= MAX_ACTIVE:
        raise SurveyError(
            f"active: a site may have at most {MAX_ACTIVE} active surveys and {site[:64]!r} has"
            f" {len(others)}; deactivate one first"
        )
