"""A site's per-form settings: a display name and the success rule, as saved documents of kind
"form" (sessionlens.saved_docs; body {"form": key, "name": str, "success": {"kind", "value"}}).
One document per form key; the newest wins. Read when a report is asked for, so a changed rule
applies at once to every recorded session (nothing is re-derived)."""

from __future__ import annotations

import re
from typing import Any

from sessionlens.saved_docs import SavedDoc, SavedDocs

KIND = "form"
SUCCESS_KINDS = ("nav", "url", "event", "element")
MAX_NAME = 200
MAX_VALUE = 500
FORM_KEY = re.compile(r"^f[0-9a-f]{15}$")
_ELEMENT = re.compile(r"^[#.][A-Za-z0-9_:\-]{1,100}$")
DEFAULT_SUCCESS = {"kind": "nav", "value": ""}


class FormSettingsError(ValueError):
    pass


def check_success(value: Any) -> dict[str, str]:
    """A success rule as given by a site owner, checked (the message names what is wrong)."""
    if value is None:
        return dict(DEFAULT_SUCCESS)
    if not isinstance(value, dict) or set(value) - {"kind", "value"}:
        raise FormSettingsError('success must be {"kind": nav|url|event|element, "value": text}')
    kind, text = value.get("kind"), value.get("value", "")
    if kind not in SUCCESS_KINDS:
        raise FormSettingsError(f"success.kind must be one of {', '.join(SUCCESS_KINDS)}")
    if not isinstance(text, str) or len(text) > MAX_VALUE or any(ord(c) < 32 for c in text):
        raise FormSettingsError(f"success.value must be text of at most {MAX_VALUE} characters")
    if kind != "nav" and not text.strip():
        raise FormSettingsError(f"success.value is required for kind {kind}")
    if kind == "element" and not _ELEMENT.match(text):
        raise FormSettingsError("success.value for kind element must be #id or .class")
    return {"kind": kind, "value": text.strip()}


def check_name(value: Any) -> str:
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) > MAX_NAME or any(ord(c) < 32 for c in value):
        raise FormSettingsError(f"name must be text of at most {MAX_NAME} characters")
    return value.strip()


class FormSettings:
    def __init__(self, docs: SavedDocs, site: str) -> None:
        self.docs, self.site = docs, site
        self._by_key: dict[str, SavedDoc] = {}
        for doc in sorted(docs.list(KIND, site, limit=10_000), key=lambda d: d.updated):
            key = doc.body.get("form")
            if isinstance(key, str):
                self._by_key[key] = doc

    def name(self, key: str) -> str:
        doc = self._by_key.get(key)
        return str(doc.body.get("name") or "") if doc else ""

    def success(self, key: str) -> dict[str, str]:
        doc = self._by_key.get(key)
        try:
            return check_success(doc.body.get("success")) if doc else dict(DEFAULT_SUCCESS)
        except FormSettingsError:
            return dict(DEFAULT_SUCCESS)

    def rules(self) -> dict[str, dict[str, str]]:
        """form key -> success rule of every form with a saved document (the rest count by nav)."""
        return {key: self.success(key) for key in self._by_key}

    def save(self, key: str, author: str, name: Any, success: Any) -> dict[str, Any]:
        if not FORM_KEY.match(key):
            raise FormSettingsError("form key must be f and 15 hex digits")
        body = {"form": key, "name": check_name(name), "success": check_success(success)}
        doc = self._by_key.get(key)
        label = body["name"] or key
        if doc is None:
            doc = self.docs.create(KIND, self.site, author, name=label, body=body)
        else:
            doc = self.docs.update(KIND, self.site, doc.id, name=label, body=body)
        self._by_key[key] = doc
        return body
