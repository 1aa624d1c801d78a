"""Finding the URLs of a stylesheet's text in linear time: url(...) and @import "...".

Stylesheet text comes from recordings, so it is hostile: a regular expression
that looks for the end of a url( from every url( (`url\\(.*?\\)`) takes
quadratic time on "url(url(url(..." (minutes for 100 KB). This scanner reads
each character a bounded number of times, and reads tokens the way the CSS
tokenizer ends them: a url( or a string left open runs to the end of the text
(a browser still uses it), an unquoted URL ends at ")".
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import NamedTuple

_START = re.compile(r"url\(|@import", re.I)
_SPACE = " \t\n\r\f"


class Token(NamedTuple):
    start: int  # where "url(" or "@import" begins
    end: int  # just past the token (past its ")" for url(...))
    quote: str  # '"', "'" or "" (an unquoted url(...))
    body: str  # the URL as written (escapes left in)
    is_import: bool
    body_start: int  # where the body is in the text (inside its quotes)
    body_end: int


def _string_end(text: str, at: int, quote: str) -> int:
    """Index of the closing quote of a string whose body starts at `at` (len(text) when open)."""
    i = at
    n = len(text)
    while i < n:
        c = text[i]
        if c == "\\":
            i += 2
        elif c == quote:
            return i
        else:
            i += 1
    return n


def tokens(text: str) -> Iterator[Token]:
    """Every url(...) and @import "..." of `text`, in order, not overlapping."""
    n = len(text)
    pos = 0
    while (m := _START.search(text, pos)) is not None:
        is_import = m[0][0] == "@"
        i = m.end()
        while i < n and text[i] in _SPACE:
            i += 1
        quote = text[i] if i < n and text[i] in "\"'" else ""
        if is_import and not quote:
            pos = m.end()  # @import url(...) is found as a url(; anything else is not a URL
            continue
        if quote:
            close = _string_end(text, i + 1, quote)
            body_start = i + 1
            body = text[i + 1 : close]
            end = min(close + 1, n)
            if not is_import:
                # url("x"): the function ends at its ")"; anything before it is not the URL.
                paren = text.find(")", end)
                end = n if paren < 0 else paren + 1
        else:
            paren = text.find(")", i)
            close = n if paren < 0 else paren
            body_start = i
            body = text[i:close].rstrip(_SPACE)
            end = n if paren < 0 else paren + 1
        yield Token(m.start(), end, quote, body, is_import, body_start, body_start + len(body))
        pos = end


def rewrite(text: str, replace: Callable[[Token], str | None], *, whole: bool = True) -> str:
    """`text` with each token (or, not `whole`, only its body) replaced by `replace(token)`;
    None keeps it as written."""
    out: list[str] = []
    last = 0
    for token in tokens(text):
        new = replace(token)
        if new is not None:
            out.append(text[last : token.start if whole else token.body_start])
            out.append(new)
            last = token.end if whole else token.body_end
    if not out:
        return text
    out.append(text[last:])
    return "".join(out)
