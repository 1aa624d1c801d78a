"""URL keys: each recorded URL in the forms URL patterns are matched against.

The semantics are those of sessionlens.url_patterns (the reference the
tests compare with): `*` is any run of characters; a pattern starting with
"/" matches the path and query whatever the host; matching is case-sensitive.
Session search matches URLs as recorded; heatmap page selection matches them
normalised (no fragment, no tracking parameters, host in lower case), and a
pattern without `*` names one page. The keys are computed here, once per
distinct URL, and stored in `url_keys`, so the database matches them with
GLOB / LIKE and equality: no Python function inside the database.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from urllib.parse import urlsplit

from sessionlens.index.dialect import Dialect
from sessionlens.url_patterns import normalise_url


def path_and_query(url: str) -> str:
    try:
        parts = urlsplit(url)
    except ValueError:
        return ""
    return parts.path + ("?" + parts.query if parts.query else "")


@functools.lru_cache(maxsize=4096)  # a page view's URLs are keyed again at each of its chunks
def url_key_row(site: str, url: str) -> tuple[str, str, str, str, str]:
    norm = normalise_url(url)
    return site, url, path_and_query(url), norm, path_and_query(norm)


def url_key_rows(pairs: Iterable[tuple[str, str]]) -> list[tuple[str, str, str, str, str]]:
    return [url_key_row(site, url) for site, url in dict.fromkeys(pairs) if url]


INSERT_URL_KEYS = (
    "INSERT INTO url_keys (site, url, path, norm_url, norm_path) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING"
)


def session_url_condition(dialect: Dialect, pattern: str) -> tuple[str, list[str]]:
    """A condition on url_keys `k` for session search's wildcard patterns (URLs as recorded)."""
    column = "k.path" if pattern.startswith("/") else "k.url"
    return dialect.wildcard(column), [dialect.wildcard_param(pattern)]


def page_url_condition(dialect: Dialect, pattern: str) -> tuple[str, list[str]]:
    """A condition on url_keys `k` for heatmap page selection (url_patterns.page_matches)."""
    if "*" in pattern:
        column = "k.norm_path" if pattern.startswith("/") else "k.norm_url"
        return dialect.wildcard(column), [dialect.wildcard_param(pattern)]
    if pattern.startswith("/"):
        return "k.norm_path = ?", [path_and_query(normalise_url("http://x" + pattern))]
    return "k.norm_url = ?", [normalise_url(pattern)]
