"""Server-side second line of defence: mask personal data that slipped past
the recorder's masking (e-mail addresses, card-like numbers) in every string
of a batch before it is stored. Masks keep the length so layouts replay the
same. That covers the research events too: console messages and stacks,
set() properties, experiment names, identify traits (not the user id), and
survey answers, whose free text also loses phone numbers.
Request URLs also lose their query values, fragment and credentials
(scrub_url), as the recorder already does.
"""

from __future__ import annotations

import re
from typing import Any

from sessionlens.contracts import change_fields, field

_EMAIL = re.compile(r"[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63})*\.[A-Za-z]{2,24}")
# 13-19 digits, optionally grouped by spaces or dashes, checked with Luhn below.
_CARD = re.compile(r"(?<![\d-])(?:\d[ -]?){12,18}\d(?![\d-])")
# Attributes that carry geometry or code, never text a person wrote: SVG path
# data and point lists, matrices, lengths, class names, srcset candidates and
# inline CSS. Long digit runs there are coordinates ("M 0.12345678901234567
# 10" or "1 2 3 4 5 6 7 8 9 1 2 3 4" look like card numbers), so they are
# never scanned for card numbers; e-mail addresses are still masked in them
# (geometry holds no "@", and CSS custom properties or url() can carry text).
# `style` is in the list on purpose: CSS numbers are not cards, but its
# e-mails are masked like any text. One list, applied wherever an attribute
# arrives: snapshot and added-node attribute maps (by key) and a mutation's
# attribute changes (by their name field). Names by lower-cased local part.
GEOMETRY_OR_CODE_ATTRS = frozenset(
    """
    d points viewbox transform x y x1 y1 x2 y2 cx cy r rx ry fx fy fr dx dy z width height
    rotate offset pathlength path stroke-width stroke-dasharray stroke-dashoffset stroke-miterlimit
    gradienttransform patterntransform kernelmatrix kernelunitlength keypoints keysplines keytimes
    tablevalues stddeviation basefrequency k1 k2 k3 k4 order refx refy markerwidth markerheight
    startoffset textlength glyph-orientation-vertical font-size letter-spacing word-spacing
    style class srcset imagesrcset sizes coords
    """.split()
)
# Stylesheet text kept in node props: CSS, never scanned.
_CSS_PROPS = frozenset({"css", "adopted"})
_ATTR_CHANGES = field("mutation", "attrs")
_CHANGE_NAME = change_fields()["attrs"].index("name")
_CHANGE_VALUE = change_fields()["attrs"].index("value")
_IDENTIFY_TRAITS = field("identify", "traits")
_REQUEST_URL = field("request", "url")
_SURVEY_VALUE = field("survey", "value")
# A phone number in a survey's free-text answer (the one place visitors type contact details to
# the site owner): 7 to 15 digits, optionally +, grouped by spaces, dots, dashes or parentheses.
_DATE = re.compile(r"\d{4}[./-]\d{1,2}[./-]\d{1,2}|\d{1,2}[./-]\d{1,2}[./-]\d{4}")
_PHONE = re.compile(r"(?<![\w+])\+?\(?\d(?:[ ().-]{0,2}\d){6,14}(?![\w])")
# A request URL's query values (the recorder sends "?key=*"), its fragment and a user:password@.
_QUERY_VALUE = re.compile(r"=[^&]+")
_USERINFO = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://)[^/?#]*@")


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


def scrub_phones(text: str) -> str:
    """Phone-like digit runs masked digit by digit (length and separators kept); dates stay."""

    def mask(m: re.Match[str]) -> str:
        run = m.group(0)
        return run if _DATE.fullmatch(run) else re.sub(r"\d", "*", run)

    return _PHONE.sub(mask, text)


def scrub_emails(text: str) -> str:
    if "@" in text:
        return _EMAIL.sub(lambda m: "*" * len(m.group(0)), text)
    return text


def carries_geometry_or_code(name: str) -> bool:
    lowered = name.lower()
    return lowered[lowered.rfind(":") + 1 :] in GEOMETRY_OR_CODE_ATTRS


def scrub_attr(name: str, value: str) -> str:
    """An attribute's value, scrubbed as its name says (see GEOMETRY_OR_CODE_ATTRS)."""
    return scrub_emails(value) if carries_geometry_or_code(name) else scrub_text(value)


def scrub_url(url: str) -> str:
    """A request URL reduced as the recorder reduces it: every query value "*" (keys kept), no
    fragment, no user:password. Applied again at ingest, so a recorder that did not (an old or
    hand-made one) cannot store tokens from query strings."""
    base, _, query = url.partition("#")[0].partition("?")
    base = _USERINFO.sub(r"\1", base)
    return base + "?" + _QUERY_VALUE.sub("=*", query) if query else base


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
                if k in _CSS_PROPS:
                    continue
                if isinstance(v, str):
                    new = scrub_attr(k, v) if isinstance(k, str) else scrub_text(v)
                    if new is not v:
                        container[k] = new
                elif isinstance(v, (list, dict)):
                    stack.append(v)
    return value


# Cheap pre-check on the raw JSON: most batches hold neither "@" nor a long
# digit run nor a request event (whose URL is always reduced), and then the
# per-string walk below can be skipped entirely. The envelope's t0 (13
# digits of epoch milliseconds) is not a card number: a run is suspect only
# when it starts a number that is not t0's.
_SUSPECT = re.compile(rb'@|"request"|"survey"|(?<!"t0":)(?<!\d)\d(?:[ -]?\d){12}')


def might_contain_pii(raw_json: bytes) -> bool:
    return _SUSPECT.search(raw_json) is not None


def scrub_events(events: list[Any]) -> list[Any]:
    """Scrub every event in place; returns the same list.

    A mutation's attribute changes are [id, name, value] lists: their value
    is scrubbed by the attribute's name, as attribute maps are by key.
    """
    for event in events:
        if isinstance(event, list) and len(event) > _IDENTIFY_TRAITS and event[0] == "identify":
            # The user id is the site's own key for the person (what erasure and access look
            # up): kept as sent, so the docs ask for an opaque id. Traits are scrubbed.
            scrub_value(event[_IDENTIFY_TRAITS])
        elif isinstance(event, list) and len(event) > _REQUEST_URL and event[0] == "request":
            if isinstance(event[_REQUEST_URL], str):
                event[_REQUEST_URL] = scrub_url(event[_REQUEST_URL])
            scrub_value(event)
        elif isinstance(event, list) and len(event) > _SURVEY_VALUE and event[0] == "survey":
            scrub_value(event)
            if isinstance(event[_SURVEY_VALUE], str):
                event[_SURVEY_VALUE] = scrub_phones(event[_SURVEY_VALUE])
        elif isinstance(event, list) and len(event) > _ATTR_CHANGES and event[0] == "mutation":
            changes = event[_ATTR_CHANGES]
            if isinstance(changes, list):
                _scrub_attr_changes(changes)
            for i, part in enumerate(event):
                if i != _ATTR_CHANGES:
                    event[i] = scrub_value(part)
        else:
            scrub_value(event)
    return events


def _scrub_attr_changes(changes: list[Any]) -> None:
    for change in changes:
        if not isinstance(change, list) or len(change) <= max(_CHANGE_NAME, _CHANGE_VALUE):
            scrub_value(change)
            continue
        name, value = change[_CHANGE_NAME], change[_CHANGE_VALUE]
        if isinstance(value, str):
            change[_CHANGE_VALUE] = scrub_attr(name, value) if isinstance(name, str) else scrub_text(value)
        elif isinstance(value, (list, dict)):
            scrub_value(value)
