"""Server-side second line of defence: mask personal data that slipped past
the recorder's masking (e-mail addresses, card-like numbers) in every string
of a batch before it is stored. Masks keep the length so layouts replay the
same.
"""

from __future__ import annotations

import re
from typing import Any

_EMAIL = re.compile(r"[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63})*\.[A-Za-z]{2,24}")
# 13-19 digits, optionally grouped by spaces or dashes, checked with Luhn below.
_CARD = re.compile(r"(?<![\d-])(?:\d[ -]?){12,18}\d(?![\d-])")
# Attribute values such as URLs and CSS legitimately contain "@" and digit
# runs (font names, data URIs); scrub text, values and attributes that users type
# into, not stylesheet text.
_SKIP_ATTRS = frozenset({"style", "class", "srcset", "d", "points", "viewbox", "transform"})


def _luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        n = ord(ch) - 48
        if i % 2 == 1:
            n *= 2
            if n > 9:
                n -= 9
        total += n
    return total % 10 == 0


def _mask_card(match: re.Match[str]) -> str:
    text = match.group(0)
    digits = re.sub(r"\D", "", text)
    if 13 <= len(digits) <= 19 and _luhn_ok(digits):
        return re.sub(r"\d", "*", text)
    return text


def scrub_text(text: str) -> str:
    if "@" in text:
        text = _EMAIL.sub(lambda m: "*" * len(m.group(0)), text)
    if sum(c.isdigit() for c in text[:4096]) >= 13 or len(text) > 4096:
        text = _CARD.sub(_mask_card, text)
    return text


def scrub_value(value: Any) -> Any:
    """Scrub every string inside value, changing lists and dicts in place.

    Iterative, so a hostile nesting depth cannot exhaust the stack. Ingest
    owns the parsed batch, so changing it in place saves a copy. Returns
    the scrubbed value (a new object only when value itself is a string).
    """
    if isinstance(value, str):
        return scrub_text(value)
    stack: list[Any] = [value]
    while stack:
        container = stack.pop()
        if isinstance(container, list):
            for i, item in enumerate(container):
                if isinstance(item, str):
                    new = scrub_text(item)
                    if new is not item:
                        container[i] = new
                elif isinstance(item, (list, dict)):
                    stack.append(item)
        elif isinstance(container, dict):
            for k, v in container.items():
                if (isinstance(k, str) and k.lower() in _SKIP_ATTRS) or k == "css" or k == "adopted":
                    continue
                if isinstance(v, str):
                    new = scrub_text(v)
                    if new is not v:
                        container[k] = new
                elif isinstance(v, (list, dict)):
                    stack.append(v)
    return value


# Cheap pre-check on the raw JSON: most batches hold neither "@" nor a long
# digit run, and then the per-string walk below can be skipped entirely.
# The envelope's t0 (13 digits of epoch milliseconds) is not a card number:
# a run is suspect only when it starts a number that is not t0's.
_SUSPECT = re.compile(rb'@|(?<!"t0":)(?<!\d)\d(?:[ -]?\d){12}')


def might_contain_pii(raw_json: bytes) -> bool:
    return _SUSPECT.search(raw_json) is not None


def scrub_events(events: list[Any]) -> list[Any]:
    """Scrub every event in place; returns the same list."""
    scrub_value(events)
    return events
