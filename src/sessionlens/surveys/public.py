"""What the collector (ingest role) serves for surveys, without a login:

- GET /ingest/{site}/surveys: the site's active surveys, public fields only (definition.public);
- the ingest ack's `X-Sessionlens-Surveys: <survey_widget_path>` header when the site has an
  active survey, so the recorder loads the widget only then (surveys-interface.md);
- the widget script at `survey_widget_path` (src/sessionlens/static/survey.js).

The ack is on every batch, so the per-site answer is cached in memory for
`site_cache_seconds` (like site settings) and dropped in this process when a survey of the
site changes; a cache hit is one dict lookup, a miss one index query in a worker thread.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import threading
import time
from pathlib import Path
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from sessionlens.responses import JSON, error
from sessionlens.saved_docs import SavedDocs
from sessionlens.stores.base import StoreError
from sessionlens.surveys.store import active_surveys

log = logging.getLogger(__name__)
ACK_HEADER = "X-Sessionlens-Surveys"
WIDGET_PATH = Path(__file__).resolve().parent.parent / "static" / "survey.js"


class SurveyCache:
    """site -> the public JSON of its active surveys, for `seconds`."""

    def __init__(self, store: Any, index: Any, seconds: float) -> None:
        self.docs = SavedDocs(store, index)
        self.seconds = seconds
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[float, list[dict[str, Any]]]] = {}

    def cached(self, site: str) -> list[dict[str, Any]] | None:
        """The cached answer, or None when it must be read (absent or expired)."""
        hit = self._cache.get(site)
        if hit is None or time.monotonic() - hit[0] >= self.seconds:
            return None
        return hit[1]

    def read(self, site: str) -> list[dict[str, Any]]:
        """Read the site's active surveys from the index (blocking: call in a worker thread)."""
        found = [survey.public(survey_id) for survey_id, survey in active_surveys(self.docs, site)]
        with self._lock:
            self._cache[site] = (time.monotonic(), found)
        return found

    def forget(self, site: str) -> None:
        """A survey of the site changed in this process: the next request reads again."""
        with self._lock:
            self._cache.pop(site, None)

    async def surveys(self, site: str) -> list[dict[str, Any]]:
        found = self.cached(site)
        return found if found is not None else await run_in_threadpool(self.read, site)

    async def has_active(self, site: str) -> bool:
        """For the ingest ack: never fails the batch (an index error means no header this time)."""
        try:
            return bool(await self.surveys(site))
        except Exception:
            log.exception("survey flag lookup failed for site %s", site)
            return False


def ack_headers(widget_path: str) -> dict[str, str]:
    return {ACK_HEADER: widget_path, "Access-Control-Expose-Headers": ACK_HEADER}


async def public_surveys(request: Request) -> Response:
    """GET /ingest/{site}/surveys: CORS for the site's allowed origins (like ingest); no Origin
    (a same-origin or non-browser read) gets the answer without CORS headers."""
    state = request.app.state
    try:
        site = await run_in_threadpool(state.sites.get, request.path_params["site"])
    except Exception as exc:
        # As the collector's site check: site settings live in the blob store, and any failure
        # reading them (an outage, an unreadable object) is a 503 the widget may retry, never a
        # bare 500. Only a store outage's text is shown; anything else is logged.
        if not isinstance(exc, StoreError):
            log.exception("site lookup failed for the survey endpoint")
        reason = f"storage unavailable: {exc}" if isinstance(exc, StoreError) else "site settings unavailable"
        return error(503, reason, {"Retry-After": str(state.settings.retry_after_seconds)})
    if site is None:
        return error(404, "unknown site key")
    headers = {"Cache-Control": "no-store", "Vary": "Origin"}
    origin = request.headers.get("origin")
    if origin is not None:
        if not site.allows_origin(origin):
            return error(403, f"origin {origin[:200]} is not allowed for this site", headers)
        headers["Access-Control-Allow-Origin"] = origin
    try:
        found = await state.surveys.surveys(site.key)
    except Exception:  # the index: the widget shows nothing this time and the page is unaffected
        log.exception("survey lookup failed for site %s", site.key)
        return error(
            503, "surveys unavailable", {**headers, "Retry-After": str(state.settings.retry_after_seconds)}
        )
    return JSON({"surveys": found}, headers=headers)


class WidgetAsset:
    """The widget script, read on the first request (it may be added after the collector
    started) and then served like the recorder: gzip, strong ETag, an hour's max-age."""

    def __init__(self, path: Path = WIDGET_PATH) -> None:
        self.path = path
        self._loaded: tuple[bytes, bytes, str] | None = None

    def _load(self) -> tuple[bytes, bytes, str] | None:
        if self._loaded is None:
            try:
                body = self.path.read_bytes()
            except OSError:
                return None
            etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
            self._loaded = (body, gzip.compress(body, compresslevel=9, mtime=0), etag)
        return self._loaded

    async def respond(self, request: Request) -> Response:
        loaded = self._load()
        if loaded is None:
            return error(404, "the survey widget is not installed")
        body, gzipped, etag = loaded
        headers = {
            "ETag": etag,
            "Cache-Control": "public, max-age=3600",
            "Vary": "Accept-Encoding",
            "Access-Control-Allow-Origin": "*",
            "X-Content-Type-Options": "nosniff",
        }
        if etag in request.headers.get("if-none-match", ""):
            return Response(status_code=304, headers=headers)
        if "gzip" in request.headers.get("accept-encoding", ""):
            headers["Content-Encoding"] = "gzip"
            return Response(gzipped, media_type="text/javascript", headers=headers)
        return Response(body, media_type="text/javascript", headers=headers)
