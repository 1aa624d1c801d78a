"""The player's event list: one entry per interaction, labelled by what the visitor saw.

A click and its frustration signals are one entry ("Rage click on 'Get my
quote'"), a burst of rage clicks on one control is one entry with a count,
errors read "Error: <message>", page views "Visited /pricing". Labels are
plain text made from recorded (visitor-controlled) strings: the player shows
them with textContent only.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

MAX_LABEL = 200
MAX_QUOTE = 60
# The most telling signal names the click (rage before error before dead).
CLICK_KINDS = (("rage", "rage"), ("error", "error-click"), ("dead", "dead"))
CLICK_VERBS = {
    "click": "Clicked",
    "rage": "Rage click on",
    "error-click": "Error after click on",
    "dead": "Dead click on",
}
# Signals of migration 0008 beside the click signals (those are on the clicks).
SIGNAL_LABELS = {
    "quick_back": ("quick-back", "Quick back"),
    "excessive_scroll": ("excessive-scroll", "Excessive scrolling"),
    "thrash": ("thrash", "Thrashed cursor"),
    "form_error": ("form-error", "Form error"),
}
_POSITION = re.compile(r":nth-(?:of-type|child)\(\d+\)")
_TEXT_PART = re.compile(r":text\((.*)\)$")
_SPACE = re.compile(r"\s+")


def quote(text: str) -> str:
    """'text' squeezed to one short line, or '' when there is none."""
    text = _SPACE.sub(" ", text or "").strip()
    if not text:
        return ""
    if len(text) > MAX_QUOTE:
        text = text[: MAX_QUOTE - 1] + "…"
    return f"'{text}'"


def target_name(text: str, control: str, selector: str) -> str:
    """What the visitor saw on a click target: its text, else the end of its path made readable."""
    said = quote(text)
    if said:
        return said
    path = (control or selector or "").split(">>>")[-1].split(">")[-1].strip()
    own = _TEXT_PART.search(path)
    if own:
        return quote(own.group(1))
    return _POSITION.sub("", path) or "element"


def page_label(url: str | None) -> str:
    """A URL as a researcher reads it: path and query ("/pricing?plan=pro")."""
    if not url:
        return "(page)"
    try:
        parts = urlsplit(url)
    except ValueError:
        return url[:MAX_LABEL]
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return path[:MAX_LABEL]


def click_entries(pid: str, offset: int, clicks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One entry per click of a page view; consecutive rage clicks on one target merged with a count."""
    out: list[dict[str, Any]] = []
    for c in clicks:
        kind = next((k for flag, k in CLICK_KINDS if c.get(flag)), "click")
        signals = [k for flag, k in CLICK_KINDS if c.get(flag)]
        name = target_name(c.get("text") or "", c.get("control") or "", c.get("selector") or "")
        target = c.get("control") or c.get("selector") or ""
        prev = out[-1] if out else None
        if prev and kind == "rage" and prev["kind"] == "rage" and prev["target"] == target:
            prev["count"] += 1
            for s in signals:
                if s not in prev["signals"]:
                    prev["signals"].append(s)
            prev["label"] = f"{CLICK_VERBS['rage']} {name} ×{prev['count']}"
            continue
        out.append(
            {
                "pid": pid,
                "t": offset + c["t"],
                "kind": kind,
                "label": f"{CLICK_VERBS[kind]} {name}"[:MAX_LABEL],
                "target": target,
                "signals": signals,
                "count": 1,
            }
        )
    return out


def marker_entry(pid: str, offset: int, t: int, kind: str, label: str) -> dict[str, Any] | None:
    """An error, custom event or navigation marker as an entry."""
    if kind == "error":
        text = f"Error: {label}"
    elif kind == "custom":
        text = f"Event: {label}"
    elif kind == "nav":
        text = f"Navigated to {page_label(label)}"
    else:
        return None
    return {"pid": pid, "t": offset + t, "kind": kind, "label": text[:MAX_LABEL], "detail": label}


def signal_entry(pid: str, offset: int, row: dict[str, Any]) -> dict[str, Any] | None:
    known = SIGNAL_LABELS.get(row.get("kind") or "")
    if known is None:
        return None
    kind, text = known
    about = quote(row.get("label") or "") or (page_label(row.get("url")) if row.get("url") else "")
    return {
        "pid": pid,
        "t": offset + int(row["t"]),
        "kind": kind,
        "label": (f"{text} on {about}" if about else text)[:MAX_LABEL],
    }


def page_entry(pv: dict[str, Any]) -> dict[str, Any]:
    return {
        "pid": pv["pid"],
        "t": pv["offset"],
        "kind": "pageview",
        "label": f"Visited {page_label(pv.get('url'))}",
        "detail": pv.get("url") or "",
    }
