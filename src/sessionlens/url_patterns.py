"""URL patterns as researchers type them: `/product/*`, `https://shop.example/*`.

`*` stands for any run of characters. A pattern that starts with "/" is
matched against the URL's path and query, so it works whatever the host;
any other pattern against the whole URL. Matching is case-sensitive, like
URLs' paths.
"""

from __future__ import annotations

import functools
import re
from urllib.parse import urlsplit


@functools.lru_cache(maxsize=256)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(
        "".join(".*" if part == "*" else re.escape(part) for part in re.split(r"(\*)", pattern))
    )


def url_matches(url: str | None, pattern: str) -> bool:
    if not url:
        return False
    if pattern.startswith("/"):
        parts = urlsplit(url)
        url = parts.path + ("?" + parts.query if parts.query else "")
    return _compiled(pattern).fullmatch(url) is not None
