"""Surveys as saved documents of kind "survey": the document's name is the survey's name, its
body the rest of the definition (saved_docs.py keeps versions, the index lists them)."""

from __future__ import annotations

from typing import Any

from sessionlens.saved_docs import SavedDoc, SavedDocs
from sessionlens.surveys.definition import Survey, SurveyError, parse_survey

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


def active_surveys(docs: SavedDocs, site: str) -> list[tuple[str, Survey]]:
    """(id, survey) of the site's active surveys, oldest first (a stable order for the widget);
    a stored document that no longer parses is left out rather than served."""
    out = []
    for doc in sorted(docs.list(KIND, site, limit=500), key=lambda d: (d.created, d.id)):
        if not doc.body.get("active"):
            continue
        try:
            out.append((doc.id, from_doc(doc)))
        except SurveyError:
            continue
    return out
