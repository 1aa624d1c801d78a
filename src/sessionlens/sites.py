"""Sites: who may record, from which origins, with which privacy options.

Site settings are configuration, not derived data, so they live in the blob
store (config/sites/{key}.json) beside the chunks: every collector sees the
same list and `reindex` never touches it. Collectors cache them briefly.
"""

from __future__ import annotations

import re
import secrets
import threading
import time
from dataclasses import asdict, dataclass, field
from urllib.parse import urlsplit

import orjson

from sessionlens import keys
from sessionlens.stores.base import BlobStore

_ORIGIN = re.compile(r"^https?://(\*\.)?[A-Za-z0-9.-]+(:\d{1,5})?$")


class SiteError(ValueError):
    pass


MAX_RETENTION_DAYS = 36_600


def check_retention_days(days: int) -> int:
    if isinstance(days, bool) or not isinstance(days, int) or not 0 <= days <= MAX_RETENTION_DAYS:
        raise SiteError(f"retention days must be a whole number from 0 (keep forever) to {MAX_RETENTION_DAYS}")
    return days


@dataclass(slots=True)
class Site:
    key: str
    name: str
    allowed_origins: list[str] = field(default_factory=list)
    mask_all_text: bool = False
    consent_required: bool = False
    respect_dnt: bool = False
    sample_rate: float = 1.0
    record_canvas: bool = True
    retention_days: int = 0  # sessions older than this are removed (lifecycle/retention.py); 0 keeps them

    def allows_origin(self, origin: str | None) -> bool:
        if not origin:
            return False
        origin = origin.rstrip("/").lower()
        for allowed in self.allowed_origins:
            if allowed == "*" or allowed == origin:
                return True
            if "://*." in allowed:
                scheme, host_pattern = allowed.split("://*.", 1)
                parts = urlsplit(origin)
                host = parts.netloc
                if parts.scheme == scheme and host.endswith("." + host_pattern):
                    return True
        return False

    def to_json(self) -> bytes:
        return orjson.dumps(asdict(self), option=orjson.OPT_INDENT_2)

    @classmethod
    def from_json(cls, data: bytes) -> Site:
        raw = orjson.loads(data)
        known = {k: v for k, v in raw.items() if k in cls.__dataclass_fields__}
        return cls(**known)


def normalise_origin(origin: str) -> str:
    origin = origin.strip().rstrip("/").lower()
    if origin == "*":
        return origin
    if not _ORIGIN.match(origin):
        raise SiteError(
            f"allowed origin {origin!r} must look like https://example.com, "
            "http://127.0.0.1:8001 or https://*.example.com"
        )
    return origin


def new_site(
    name: str,
    origins: list[str],
    *,
    key: str | None = None,
    mask_all_text: bool = False,
    consent_required: bool = False,
    respect_dnt: bool = False,
    sample_rate: float = 1.0,
    record_canvas: bool = True,
) -> Site:
    if not name.strip():
        raise SiteError("a site needs a name")
    if not 0.0 <= sample_rate <= 1.0:
        raise SiteError(f"sample rate must be between 0 and 1, got {sample_rate}")
    # A key never starts with "-", so `--site KEY` is never read as an option.
    key = key or "s" + secrets.token_urlsafe(12)
    if not re.fullmatch(r"[A-Za-z0-9_-]{8,64}", key):
        raise SiteError("site key must be 8-64 characters of A-Z a-z 0-9 _ -")
    return Site(
        key=key,
        name=name.strip(),
        allowed_origins=[normalise_origin(o) for o in origins],
        mask_all_text=mask_all_text,
        consent_required=consent_required,
        respect_dnt=respect_dnt,
        sample_rate=sample_rate,
        record_canvas=record_canvas,
    )


class SiteRegistry:
    def __init__(self, store: BlobStore, cache_seconds: float = 10.0) -> None:
        self.store = store
        self.cache_seconds = cache_seconds
        self._cache: dict[str, tuple[float, Site | None]] = {}
        self._lock = threading.Lock()

    def save(self, site: Site) -> None:
        self.store.put(keys.site_config_key(site.key), site.to_json())
        with self._lock:
            self._cache[site.key] = (time.monotonic(), site)

    def get(self, key: str) -> Site | None:
        """The site, or None when the key is unknown. Cached briefly."""
        if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", key):
            return None
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(key)
        if hit and now - hit[0] < self.cache_seconds:
            return hit[1]
        try:
            site: Site | None = Site.from_json(self.store.get(keys.site_config_key(key)))
        except KeyError:
            site = None
        with self._lock:
            self._cache[key] = (now, site)
        return site

    def all(self) -> list[Site]:
        sites = []
        for key in self.store.list(keys.SITE_CONFIG_PREFIX):
            sites.append(Site.from_json(self.store.get(key)))
        return sorted(sites, key=lambda s: s.name)
