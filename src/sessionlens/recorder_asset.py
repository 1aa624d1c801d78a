"""Serving the recorder script, its canvas chunk and per-site snippets.

Each script is read and gzipped once at start, by zopfli (a gzip stream any browser
inflates, 2-3 % smaller than gzip -9: every visitor downloads the recorder); it is
served with a strong ETag so browsers revalidate cheaply, and a short max-age so a new
release reaches sites within the hour.

The canvas chunk (recorder-media.js, built from js_recorder/src/media/) is loaded by the
recorder only on pages with a canvas or a blob: image, from the path next to its own: the recorder derives it
from the URL it was loaded from (media_path), so the two can never disagree, also behind a
proxy that serves both under a prefix of its own.
"""

from __future__ import annotations

import hashlib
import html
import re
from pathlib import Path

import zopfli.gzip
from starlette.requests import Request
from starlette.responses import Response

RECORDER_PATH = Path(__file__).resolve().parent / "static" / "recorder.js"
MEDIA_PATH = RECORDER_PATH.with_name("recorder-media.js")


def media_path(recorder_path: str) -> str:
    """Where the canvas chunk is served: recorder_path with `-media` before `.js`
    (/recorder.js -> /recorder-media.js); the recorder's layout/media.js derives it alike."""
    return re.sub(r"(\.js)?$", "-media.js", recorder_path, count=1)


class RecorderAsset:
    def __init__(self, path: Path = RECORDER_PATH) -> None:
        self.body = path.read_bytes()
        # ~0.1 s for the 28 KB recorder, once per process.
        self.gzipped = zopfli.gzip.compress(self.body, numiterations=15)
        self.etag = '"' + hashlib.sha256(self.body).hexdigest()[:32] + '"'

    async def respond(self, request: Request) -> Response:
        headers = {
            "ETag": self.etag,
            "Cache-Control": "public, max-age=3600",
            "Vary": "Accept-Encoding",
            "Access-Control-Allow-Origin": "*",
            "X-Content-Type-Options": "nosniff",
        }
        if self.etag in request.headers.get("if-none-match", ""):
            return Response(status_code=304, headers=headers)
        if "gzip" in request.headers.get("accept-encoding", ""):
            headers["Content-Encoding"] = "gzip"
            return Response(self.gzipped, media_type="text/javascript", headers=headers)
        return Response(self.body, media_type="text/javascript", headers=headers)


def snippet_html(collector_url: str, recorder_path: str, site) -> str:
    """The tags a site owner pastes into <head>; options mirror the site's privacy settings."""
    attrs = [f'data-site="{html.escape(site.key)}"']
    if site.mask_all_text:
        attrs.append('data-mask-all-text="true"')
    if site.consent_required:
        attrs.append('data-consent="required"')
    if site.respect_dnt:
        attrs.append('data-respect-dnt="true"')
    if site.sample_rate < 1:
        attrs.append(f'data-sample-rate="{site.sample_rate:g}"')
    if not site.record_canvas:
        attrs.append('data-record-canvas="false"')
    stub = (
        "<script>window.sessionlens=window.sessionlens||{q:[]};"
        '["init","track","identify","set","experiment","survey","consent","stop"].forEach(function(m){sessionlens[m]=sessionlens[m]||'
        "function(){sessionlens.q.push([m,[].slice.call(arguments)])}});</script>"
    )
    src = html.escape(collector_url + recorder_path)
    return f'{stub}\n<script async src="{src}" {" ".join(attrs)}></script>\n'
