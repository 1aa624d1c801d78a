"""URL patterns as researchers type them: `/product/*`, `https://shop.example/*`.

`*` stands for any run of characters. A pattern that starts with "/" is
matched against the URL's path and query, so it works whatever the host;
any other pattern against the whole URL. Matching is case-sensitive, like
URLs' paths.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

# Query parameters that say where a visitor came from, not what they saw.
TRACKING_PARAMS = re.compile(r"^(utm_.*|gclid|fbclid|msclkid|dclid|yclid|mc_cid|mc_eid|_ga|_gl|ref|ref_src)$")


def normalise_url(url: str) -> str:
    """The URL without its fragment and tracking parameters (so one page is one page)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    query = urlencode(
        [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not TRACKING_PARAMS.match(k)]
    )
    return urlunsplit((parts.scheme, parts.netloc.lower(), parts.path or "/", query, ""))


def page_matches(url: str | None, pattern: str) -> bool:
    """Heatmap page selection: a pattern with *, or one page after normalising both sides."""
    if not url:
        return False
    if "*" in pattern:
        return url_matches(normalise_url(url), pattern)
    if pattern.startswith("/"):
        parts = urlsplit(normalise_url(url))
        return (parts.path + ("?" + parts.query if parts.query else "")) == normalise_url(
            "http://x" + pattern
        )[8:]
    return normalise_url(url) == normalise_url(pattern)


def _glob_fullmatch(text: str, pattern: str) -> bool:
    """`pattern` (its `*` any run of characters but a line feed, the rest literal) matches the
    whole of `text`. Linear in len(text) per literal part (no backtracking, unlike a regex of
    one `.*` per `*`: a pattern is typed by whoever saves a heatmap or survey): each part is
    found at its leftmost place after the previous one, which leaves the most room for the rest;
    a gap with a line feed can only grow by looking further, so it fails at once."""
    parts = pattern.split("*")
    if len(parts) == 1:
        return text == pattern
    first, *middle, last = parts
    if not text.startswith(first):
        return False
    pos = len(first)
    end = len(text) - len(last)
    if end < pos:  # the first and last parts would overlap (and a negative end counts from the back)
        return False
    for part in middle:
        found = text.find(part, pos, end) if part else pos
        if found < 0 or "\n" in text[pos:found]:
            return False
        pos = found + len(part)
    return end >= pos and text.endswith(last) and "\n" not in text[pos:end]


def url_matches(url: str | None, pattern: str) -> bool:
    if not url:
        return False
    if pattern.startswith("/"):
        parts = urlsplit(url)
        url = parts.path + ("?" + parts.query if parts.query else "")
    return _glob_fullmatch(url, pattern)
