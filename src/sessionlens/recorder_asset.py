"""Serving the recorder script and per-site snippets.

The script is read and gzipped once at start; it is served with a strong
ETag so browsers revalidate cheaply, and a short max-age so a new release
reaches sites within the hour.
"""

from __future__ import annotations

import gzip
import hashlib
import html
from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response

RECORDER_PATH = Path(__file__).resolve().parent / "static" / "recorder.js"


class RecorderAsset:
    def __init__(self, path: Path = RECORDER_PATH) -> None:
        self.body = path.read_bytes()
        self.gzipped = gzip.compress(self.body, compresslevel=9, mtime=0)
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
