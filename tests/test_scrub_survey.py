"""The server's scrub of survey answers (scrub.py): free text loses e-mails, card numbers and
phone numbers before it is stored; ratings, option ids and dates stay."""

from __future__ import annotations

import orjson
import pytest

from sessionlens.contracts import make_event
from sessionlens.scrub import might_contain_pii, scrub_events, scrub_phones


def _answer(value: str) -> list[object]:
    return make_event("survey", t=10, survey="s1", action="answer", question="why", value=value)


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("call me on +1 415 555 0134 please", "call me on +* *** *** **** please"),
        ("(030) 1234-5678", "(***) ****-****"),
        ("+49 30 12345678.", "+** ** ********."),
        ("0151.2345.6789", "****.****.****"),
        ("mail a.person@example.com", "mail ********************"),
        ("card 4111 1111 1111 1111", "card **** **** **** ****"),
    ],
)
def test_contact_details_in_free_text_are_masked_keeping_the_length(typed: str, stored: str) -> None:
    event = _answer(typed)
    # The batch pre-check sends every survey event through the scrub (a phone is no 13-digit run).
    assert might_contain_pii(orjson.dumps({"events": [event]}))
    scrub_events([event])
    assert event[-1] == stored and len(stored) == len(typed)


@pytest.mark.parametrize(
    "kept",
    ["9", "10", "price\ncard", "I paid 49.99 in 2024", "order 12345", "2024-12-05", "05.12.2024", "v1.2.3.4"],
)
def test_ratings_options_short_numbers_and_dates_stay(kept: str) -> None:
    event = _answer(kept)
    scrub_events([event])
    assert event[-1] == kept
    assert scrub_phones(kept) == kept


def test_phones_are_only_scrubbed_from_survey_answers() -> None:
    # Elsewhere a 10-digit run is an order number or an id as often as a phone (cards and e-mails
    # are masked everywhere).
    custom = make_event("custom", t=1, name="ordered", props={"order": "0151 2345 6789"})
    scrub_events([custom])
    assert custom[-1] == {"order": "0151 2345 6789"}
