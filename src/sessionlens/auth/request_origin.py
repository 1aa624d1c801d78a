"""Where a browser request comes from: Origin and Fetch Metadata checks.

Two rules:
- A login POST must come from the viewer's own origin: Sec-Fetch-Site
  "same-origin", or (browsers that send no Fetch Metadata, e.g. on plain
  http to a non-local host) an Origin equal to the viewer's origin after
  normalisation. "null", a missing Origin and anything else are refused.
- Resource isolation: a request carrying the viewer cookie that another
  site made (Sec-Fetch-Site cross-site or same-site, other than a
  top-level navigation to a page) or that loads the viewer as a
  subresource (Sec-Fetch-Dest image, script, iframe, ...) is refused, so
  recorded content cannot spend the researcher's session.
"""

from __future__ import annotations

from urllib.parse import urlsplit

DEFAULT_PORTS = {"http": 80, "https": 443}
# What the viewer's own pages send: fetch() and top-level navigations.
ALLOWED_DESTS = frozenset({"", "empty", "document"})
OWN_SITES = frozenset({"", "same-origin", "none"})

Origin = tuple[str, str, int]


def normalised_origin(text: str) -> Origin | None:
    """(scheme, host, port) with the host lower-cased and the port explicit."""
    try:
        parts = urlsplit(text.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.hostname or parts.username or parts.password:
        return None
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        return None
    return scheme, parts.hostname.lower().rstrip("."), port or DEFAULT_PORTS[scheme]


def login_source_problem(headers: dict[str, str], viewer_origins: list[str]) -> str | None:
    """Why a login POST is not from the viewer's own pages, or None when it is."""
    fetch_site = headers.get("sec-fetch-site")
    if fetch_site is not None:
        return None if fetch_site.lower() == "same-origin" else f"cross-site login refused ({fetch_site})"
    origin = headers.get("origin")
    if not origin:
        return "login refused: no Origin header (send Origin: the viewer's own origin)"
    mine = {o for o in map(normalised_origin, viewer_origins) if o}
    if origin == "null" or normalised_origin(origin) not in mine:
        return f"cross-site login refused (Origin {origin[:100]})"
    return None


def isolation_problem(method: str, path: str, headers: dict[bytes, bytes]) -> str | None:
    """Why a cookie-authenticated request must not reach the viewer, or None."""
    site = headers.get(b"sec-fetch-site", b"").decode("latin-1").lower()
    dest = headers.get(b"sec-fetch-dest", b"").decode("latin-1").lower()
    mode = headers.get(b"sec-fetch-mode", b"").decode("latin-1").lower()
    if dest not in ALLOWED_DESTS:
        return f"the viewer cannot be loaded as a subresource (Sec-Fetch-Dest: {dest[:40]})"
    if site not in OWN_SITES:
        page_navigation = (
            method == "GET" and mode == "navigate" and dest == "document" and not path.startswith("/api/")
        )
        if not page_navigation:
            return f"cross-site request refused (Sec-Fetch-Site: {site[:40]})"
    return None
