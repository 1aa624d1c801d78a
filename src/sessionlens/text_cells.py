"""Recorded or visitor-typed text made safe where it is written out: a CSV cell a spreadsheet
will not run as a formula, and one line for a terminal table. One definition, used by every
CSV export (heatmap top elements, survey answers) and CLI table (funnels, surveys)."""

from __future__ import annotations

# A spreadsheet reads a cell starting with one of these as a formula (or, for tab and carriage
# return, strips them and reads what follows as one): a leading "'" keeps it text.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(text: str) -> str:
    """`text` inert in a spreadsheet: prefixed with "'" when it would start a formula."""
    return "'" + text if text[:1] in _FORMULA_STARTS else text


def one_line(text: str) -> str:
    """`text` on one line of printable ASCII (escapes for the rest), so a visitor's text never
    breaks a table or writes control sequences to a terminal."""
    return text.encode("unicode_escape").decode("ascii")
