"""The replay frame: where the player rebuilds recorded pages, away from the viewer's origin.

Recorded DOM is hostile. If it lived in a document of the viewer's origin,
any URL that slipped past the sanitisers (an alternate spelling of the
viewer's address, a relative URL) would be requested with the
researcher's cookie. So the player shows recordings in this page, which is
always sandboxed without allow-same-origin: its origin is opaque, every
request it makes is cross-site, and SameSite cookies are never attached.

The page is public, static and holds no data: the player (which does hold
the cookie) fetches the recording and hands it over by postMessage
(see static/viewer/replay-frame.js). Its own policy, not the viewer's:
- `sandbox allow-scripts` in the CSP itself, so the document is opaque even
  when opened directly or framed without the iframe's sandbox attribute;
- scripts only from this server ('self': our two modules, loaded with CORS
  because an opaque origin is cross-origin to everything), nothing inline,
  no eval; no fetch/XHR/WebSocket, plugins, forms, <base>, workers or
  nested navigations; framed only by the viewer's own pages.
Recorded styles, images, fonts and media still load from the recorded site.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, Response
from starlette.routing import Route

from sessionlens.responses import error
from sessionlens.viewer.pages import STATIC

PREFIX = "/replay/"
FRAME_PATH = PREFIX + "frame"
# URL name -> file in static/viewer; nothing else under PREFIX is served.
SCRIPTS = {"frame.js": "replay-frame.js", "replay-dom.js": "replay-dom.js", "wire.js": "wire.js"}

CSP = (
    "sandbox allow-scripts; default-src 'none'; script-src 'self'; "
    "style-src 'unsafe-inline' http: https:; img-src data: blob: http: https:; "
    "font-src data: http: https:; media-src data: blob: http: https:; "
    "connect-src 'none'; object-src 'none'; form-action 'none'; base-uri 'none'; "
    "frame-src 'none'; child-src 'none'; worker-src 'none'; manifest-src 'none'; "
    "frame-ancestors 'self'"
)
FRAME_HTML = (
    "<!doctype html><html><head><meta charset=utf-8>"
    f'<script type=module src="{PREFIX}frame.js"></script></head><body></body></html>'
)
_COMMON = {
    "referrer-policy": "no-referrer",
    "x-content-type-options": "nosniff",
    "cache-control": "no-cache",
}


async def frame(request: Request) -> Response:
    return HTMLResponse(
        FRAME_HTML,
        headers={**_COMMON, "content-security-policy": CSP, "x-frame-options": "SAMEORIGIN"},
    )


async def script(request: Request) -> Response:
    name = SCRIPTS.get(request.path_params["name"])
    if name is None:
        return error(404, f"no replay script {request.path_params['name'][:80]!r}")
    # The frame's origin is opaque ("null"): module scripts reach it only with CORS.
    headers = {
        **_COMMON,
        "access-control-allow-origin": "*",
        "content-security-policy": "default-src 'none'; frame-ancestors 'none'",
    }
    return FileResponse(STATIC / name, media_type="text/javascript", headers=headers)


def routes() -> list[Route]:
    return [
        Route(FRAME_PATH, frame, methods=["GET", "HEAD"]),
        Route(PREFIX + "{name}", script, methods=["GET", "HEAD"]),
    ]
