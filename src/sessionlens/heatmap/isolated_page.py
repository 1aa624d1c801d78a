"""Render one recorded (so untrusted) HTML document in Chromium with no network.

The document is served by us: Chromium navigates to a name that can never
resolve (`.invalid`) and request interception answers that navigation
with the HTML and a Content-Security-Policy header. Every other request
the page makes is aborted in the browser, except images, fonts and
stylesheets from the operator's allow-list, which Python fetches under the
limits of `resource_fetch` and hands to the browser. Scripts are off,
service workers blocked, and the browser itself (see `chromium.py`)
cannot resolve a name or open a connection even if interception missed
a request. `file:` and every other scheme are never loaded.

The page is laid out in a browser context set up like the visitor's
(`device_profile`: viewport, device pixel ratio, mobile emulation, touch),
inner scroll containers are put back where the recording had them
(elements marked `data-sl-scroll="x y"` by the backdrop), and the whole
page is captured in tiles of at most TILE_DEVICE_PX device pixels from the
top with the window never scrolled: fixed elements are drawn once, at their
place in the first viewport, and no tile is larger than Chromium can paint.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

from sessionlens.chromium import launch_isolated
from sessionlens.heatmap.click_paths import LOCATE_JS
from sessionlens.heatmap.device_profile import DeviceProfile
from sessionlens.heatmap.resource_fetch import FetchPolicy, FetchRefused, fetch, origins_csp

log = logging.getLogger(__name__)

DOCUMENT_URL = "http://backdrop.sessionlens.invalid/"
FETCH_BUDGET_RESOURCES = 4  # total fetch time of one page, in per-resource time limits
# Resource types Python may fetch for the browser (when their origin is allowed), and what they accept.
FETCHED_TYPES = {"image": "image/avif,image/webp,image/*,*/*;q=0.8", "font": "*/*", "stylesheet": "text/css,*/*;q=0.1"}  # fmt: skip

TILE_DEVICE_PX = 4096  # rows of one captured tile, in device pixels
MAX_PAGE_WIDTH = 8192  # CSS px: a page wider than this is cut at the right

# Inner scroll containers back where they were (scripts are off: this is DevTools' evaluate, not the page's).
SCROLLS_JS = """() => {
  let done = 0;
  const roots = [document];
  while (roots.length) {
    const root = roots.pop();
    for (const el of root.querySelectorAll("*")) {
      if (el.shadowRoot) roots.push(el.shadowRoot);
      if (el.tagName === "IFRAME") { try { if (el.contentDocument) roots.push(el.contentDocument); } catch (e) {} }
      const spec = el.getAttribute && el.getAttribute("data-sl-scroll");
      if (!spec) continue;
      const [x, y] = spec.split(" ").map(Number);
      if (Number.isFinite(x) && Number.isFinite(y)) { el.scrollLeft = x; el.scrollTop = y; done++; }
    }
  }
  return done;
}"""

# The part of an element's box its clipping ancestors (scroll containers, overflow: hidden) let show;
# an element scrolled out of its container's view is not where a click on it can be drawn.
VISIBLE_PART_JS = """
function visiblePart(el, r) {
  let left = r.left, top = r.top, right = r.right, bottom = r.bottom;
  for (let a = el.parentElement; a; a = a.parentElement) {
    const s = getComputedStyle(a);
    if (s.overflowX === "visible" && s.overflowY === "visible") continue;
    const c = a.getBoundingClientRect();
    if (s.overflowX !== "visible") { left = Math.max(left, c.left); right = Math.min(right, c.right); }
    if (s.overflowY !== "visible") { top = Math.max(top, c.top); bottom = Math.min(bottom, c.bottom); }
    if (s.position === "fixed") break;
  }
  return right > left && bottom > top;
}
"""

# Click paths (click_paths.py) cross shadow roots and frames; a frame's content is offset by its box.
BOXES_JS = """(selectors) => {""" + LOCATE_JS + """
  const out = {};
  for (const sel of selectors) {
    const found = locate(sel);
    if (!found) continue;
    const [el, dx, dy] = found;
    const r = el.getBoundingClientRect();
    const style = el.ownerDocument.defaultView.getComputedStyle(el);
    const hidden = !r.width || !r.height || style.visibility === "hidden" || style.display === "none";
    // 2: present, but scrolled out of its container's view (counted like hidden, not drawn)
    const clipped = !hidden && !visiblePart(el, r);
    out[sel] = [r.left + dx, r.top + dy, r.width, r.height, hidden ? 1 : clipped ? 2 : 0];
  }
  return out;
}"""


def document_csp(policy: FetchPolicy) -> str:
    """A second lock: the browser itself refuses anything but inline data and allowed origins."""
    allowed = f" {origins_csp(policy.origins)}" if policy.enabled else ""
    return (
        f"default-src 'none'; img-src data: blob:{allowed}; style-src 'unsafe-inline' data:{allowed}; "
        f"font-src data:{allowed}; script-src 'none'; object-src 'none'; base-uri 'none'; form-action 'none'"
    )


@dataclass(slots=True)
class RenderedPage:
    tiles: list[bytes]  # PNGs of the page from the top, each `tile_height` CSS px high (the last shorter)
    boxes: dict[str, Any]
    width: int  # CSS px: the page's laid-out width (wider than the viewport on a zoomed-out phone)
    height: int  # CSS px, at most max_height
    tile_height: int
    inner_width: float  # the window's innerWidth then (what the recorder's vw means for this layout)
    page_height: int = 0  # the whole page's height, before max_height
    scrolls: int = 0  # inner scroll positions put back
    blocked: list[str] = field(default_factory=list)  # URLs the page asked for and did not get
    fetched: list[str] = field(default_factory=list)  # URLs fetched from allowed origins

    @property
    def png(self) -> bytes:
        """The first tile (the whole page when it fits in one)."""
        return self.tiles[0]


class _Gate:
    """The request handler: serves the document once, fetches allowed resources, aborts the rest."""

    def __init__(self, html: str, policy: FetchPolicy) -> None:
        self.html = html
        self.policy = policy
        # Fetches block the browser while they run: the whole page gets a few resources' worth of time.
        self.fetch_deadline = time.monotonic() + FETCH_BUDGET_RESOURCES * policy.timeout
        self.served = False
        self.blocked: list[str] = []
        self.fetched: list[str] = []

    def handle(self, route: Any) -> None:
        request = route.request
        url = request.url
        if not self.served and url == DOCUMENT_URL and request.is_navigation_request():
            self.served = True
            route.fulfill(
                status=200,
                body=self.html,
                headers={
                    "Content-Type": "text/html; charset=utf-8",
                    "Content-Security-Policy": document_csp(self.policy),
                },
            )
            return
        if self._may_fetch(request):
            try:
                got = fetch(url, self.policy, FETCHED_TYPES[request.resource_type])
            except FetchRefused as exc:
                log.info("backdrop resource not fetched: %s", exc)
            else:
                self.fetched.append(url)
                content_type = "text/css" if request.resource_type == "stylesheet" else got.content_type
                route.fulfill(
                    status=200,
                    body=got.body,
                    headers={
                        "Content-Type": content_type,
                        "Access-Control-Allow-Origin": "*",  # fonts are fetched in CORS mode
                        "Cache-Control": "no-store",
                    },
                )
                return
        self.blocked.append(url[:200])
        route.abort("blockedbyclient")

    def _may_fetch(self, request: Any) -> bool:
        return (
            self.policy.enabled
            and request.method == "GET"
            and request.resource_type in FETCHED_TYPES
            and self.policy.allows_origin(request.url)
            and len(self.fetched) < self.policy.max_resources
            and time.monotonic() < self.fetch_deadline
        )


def render_page(
    html: str, width: int, viewport_height: int, selectors: list[str], *, chromium_path: str,
    chromium_user: str, policy: FetchPolicy, max_height: int, timeout_ms: int = 30_000,
    device: DeviceProfile | None = None,
) -> RenderedPage:  # fmt: skip
    """The full page (up to max_height CSS px) in tiles, and the boxes of the given selectors.

    `device` sets up the browser like the visitor's; without it, a desktop window of
    width x viewport_height at device pixel ratio 1.
    """
    from playwright.sync_api import sync_playwright

    device = device or DeviceProfile(width, viewport_height)
    gate = _Gate(html, policy)
    with sync_playwright() as p:
        browser = launch_isolated(p, chromium_path, chromium_user)
        try:
            context = browser.new_context(
                **device.context_options(),
                java_script_enabled=False,
                service_workers="block",
                accept_downloads=False,
            )
            context.route("**/*", gate.handle)
            page = context.new_page()
            page.goto(DOCUMENT_URL, wait_until="load", timeout=timeout_ms)
            # page.evaluate runs with page scripts disabled (it is the DevTools protocol's, not the page's).
            scrolls = int(page.evaluate(SCROLLS_JS))
            boxes: dict[str, Any] = page.evaluate(
                "(selectors) => {" + VISIBLE_PART_JS + "return (" + BOXES_JS + ")(selectors); }", selectors
            )
            size = page.evaluate(
                "[document.documentElement.scrollWidth, document.documentElement.scrollHeight, innerWidth]"
            )
            page_width = max(1, min(MAX_PAGE_WIDTH, int(size[0])))
            page_height = max(1, int(size[1]))
            height = min(max_height, page_height)
            tile_height = max(256, int(TILE_DEVICE_PX // max(device.dpr, 1)))
            tiles = []
            for top in range(0, height, tile_height):
                clip = {"x": 0, "y": top, "width": page_width, "height": min(tile_height, height - top)}
                tiles.append(page.screenshot(full_page=True, clip=clip, scale="css", timeout=timeout_ms))
        finally:
            browser.close()
    return RenderedPage(
        tiles,
        boxes,
        page_width,
        height,
        tile_height,
        float(size[2]),
        page_height,
        scrolls,
        gate.blocked,
        gate.fetched,
    )
