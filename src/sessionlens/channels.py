"""Channel grouping: where a session came from, from its entry referrer and UTM tags.

Rules after Google Analytics 4's default channel grouping, reduced to the
channels a researcher filters on (docs/session-attributes.md lists them in
order). The known search engines, social networks and webmail hosts are
data (channel_sources.json), so they can grow without code changes.

Everything here is visitor-controlled text: referrers and tags of any
length, case or shape are accepted and never raise.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import orjson

DIRECT = "direct"
INTERNAL = "internal"
ORGANIC_SEARCH = "organic_search"
PAID_SEARCH = "paid_search"
SOCIAL = "social"
PAID_SOCIAL = "paid_social"
EMAIL = "email"
DISPLAY = "display"
AFFILIATE = "affiliate"
PAID_OTHER = "paid_other"
REFERRAL = "referral"
OTHER = "other"
# Every value of sessions.channel, in the order the rules try them (roughly).
CHANNELS = (
    DIRECT, INTERNAL, PAID_SEARCH, PAID_SOCIAL, DISPLAY, PAID_OTHER, EMAIL, AFFILIATE,
    SOCIAL, ORGANIC_SEARCH, REFERRAL, OTHER,
)  # fmt: skip

_SOURCES_PATH = Path(__file__).resolve().parent / "channel_sources.json"
# GA4's "paid" medium pattern: cpc, ppc, cpm, cpv, retargeting, paid*, ...
_PAID_MEDIUM = re.compile(r"^(.*cp.*|ppc|retargeting|paid.*)$")
_DISPLAY_MEDIUM = frozenset({"display", "banner", "expandable", "interstitial", "cpm"})
_SOCIAL_MEDIUM = frozenset(
    {"social", "social-network", "social-media", "sm", "social network", "social media"}
)
_EMAIL = re.compile(r"^(email|e-mail|e_mail|e mail|newsletter)$")
# Click ids ad networks append to the landing URL: an ad click even without UTM tags.
_AD_CLICK_IDS = ("gclid", "gbraid", "wbraid", "msclkid", "dclid", "yclid")
_MAX_TEXT = 2048  # longer referrers / tags are cut before parsing (they are stored as sent)


@functools.cache
def _sources() -> dict[str, dict[str, frozenset[str]]]:
    raw = orjson.loads(_SOURCES_PATH.read_bytes())
    return {
        kind: {
            part: frozenset(v.lower() for v in raw[kind].get(part, ()))
            for part in ("domains", "names", "apps")
        }
        for kind in ("search", "social", "email")
    }


def _host(url: str) -> tuple[str, str]:
    """(scheme, host) of a URL, lower case, without port or a leading 'www.'; ('', '') if unparsable."""
    try:
        parts = urlsplit(url.strip()[:_MAX_TEXT])
        host = (parts.hostname or "").rstrip(".")
    except ValueError:
        return "", ""
    return parts.scheme.lower(), host[4:] if host.startswith("www.") else host


def _known(host: str, scheme: str) -> str | None:
    """'search' | 'social' | 'email' for a known referrer host (longest domain match wins)."""
    if not host:
        return None
    sources = _sources()
    if scheme == "android-app":
        return next((kind for kind, s in sources.items() if host in s["apps"]), None)
    best: tuple[int, str] | None = None
    for kind, s in sources.items():
        for domain in s["domains"]:
            if (host == domain or host.endswith("." + domain)) and (best is None or len(domain) > best[0]):
                best = (len(domain), kind)
    if best is not None:
        return best[1]
    # google.co.uk, google.com.tr, yandex.kz: a search engine's name before any public suffix.
    labels = host.split(".")
    if len(labels) >= 3 and len(labels[-1]) == 2 and len(labels[-2]) <= 3:
        name = labels[-3]
    else:
        name = labels[-2] if len(labels) >= 2 else ""
    return "search" if name in sources["search"]["names"] else None


def _source_kind(source: str) -> str | None:
    """'search' | 'social' | 'email' for a utm_source value (a name like 'google' or a domain)."""
    source = source.strip().lower()
    if not source:
        return None
    sources = _sources()
    for kind in ("search", "social"):
        if source in sources[kind]["names"]:
            return kind
    if "." in source:
        return _known(source[4:] if source.startswith("www.") else source, "https")
    return None


def _same_site(host: str, site_hosts: frozenset[str]) -> bool:
    """The host is one of the site's, or a subdomain of one."""
    return host in site_hosts or any(host.endswith("." + h) for h in site_hosts)


def channel(referrer: str | None, landing_url: str | None, site_hosts: frozenset[str] = frozenset()) -> str:
    """The channel of a session from its entry page view's referrer and URL.

    site_hosts: the site's own hosts (without 'www.'); the landing URL's host is always one.
    """
    referrer = (referrer or "")[:_MAX_TEXT]
    landing = (landing_url or "")[:_MAX_TEXT]
    try:
        query = {k.lower(): v for k, v in parse_qsl(urlsplit(landing).query, keep_blank_values=True)}
    except ValueError:
        query = {}
    source = query.get("utm_source", "").strip().lower()
    medium = query.get("utm_medium", "").strip().lower()
    campaign = query.get("utm_campaign", "").strip().lower()
    tagged = bool(source or medium or campaign)
    ref_scheme, ref_host = _host(referrer) if referrer else ("", "")
    _, landing_host = _host(landing)
    hosts = site_hosts | ({landing_host} if landing_host else frozenset())

    if not tagged and ref_host and ref_scheme in ("http", "https") and _same_site(ref_host, hosts):
        return INTERNAL
    if not tagged and any(query.get(k) for k in _AD_CLICK_IDS):
        return PAID_SEARCH
    kind = _source_kind(source) if source else _known(ref_host, ref_scheme)
    if not tagged and kind is None and not ref_host:
        return DIRECT
    if _EMAIL.match(medium) or _EMAIL.match(source) or (not tagged and kind == "email"):
        return EMAIL
    if medium == "affiliate":
        return AFFILIATE
    if _PAID_MEDIUM.match(medium):
        if kind == "search":
            return PAID_SEARCH
        if kind == "social":
            return PAID_SOCIAL
        if medium in _DISPLAY_MEDIUM:
            return DISPLAY
        return PAID_OTHER
    if medium in _DISPLAY_MEDIUM:
        return DISPLAY
    if kind == "social" or medium in _SOCIAL_MEDIUM:
        return SOCIAL
    if kind == "search" or medium == "organic":
        return ORGANIC_SEARCH
    if medium == "referral" or (not tagged and ref_host):
        return REFERRAL
    if tagged and not medium and ref_host:
        return REFERRAL  # a utm_source alone (e.g. a partner's name) on a referred visit
    return OTHER


def site_hosts(origins: Any) -> frozenset[str]:
    """Hosts of a site's allowed origins (without 'www.'), for `channel`."""
    return frozenset(h for _, h in (_host(str(o)) for o in origins or ()) if h)
