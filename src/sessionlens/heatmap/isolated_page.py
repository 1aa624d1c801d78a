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
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

from sessionlens.chromium import launch_isolated
from sessionlens.heatmap.click_paths import LOCATE_JS
from sessionlens.heatmap.resource_fetch import FetchPolicy, FetchRefused, fetch, origins_csp

log = logging.getLogger(__name__)

DOCUMENT_URL = "http://backdrop.sessionlens.invalid/"
FETCH_BUDGET_RESOURCES = 4  # total fetch time of one page, in per-resource time limits
# Resource types Python may fetch for the browser (when their origin is allowed), and what they accept.
FETCHED_TYPES = {"image": "image/avif,image/webp,image/*,*/*;q=0.8", "font": "*/*", "stylesheet": "text/css,*/*;q=0.1"}  # fmt: skip

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
    out[sel] = [r.left + dx, r.top + dy, r.width, r.height, hidden ? 1 : 0];
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
    png: bytes
    boxes: dict[str, Any]
    blocked: list[str] = field(default_factory=list)  # URLs the page asked for and did not get
    fetched: list[str] = field(default_factory=list)  # URLs fetched from allowed origins


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
) -> RenderedPage:  # fmt: skip
    """Screenshot of the full page (up to max_height) and the boxes of the given selectors."""
    from playwright.sync_api import sync_playwright

    gate = _Gate(html, policy)
    with sync_playwright() as p:
        browser = launch_isolated(p, chromium_path, chromium_user)
        try:
            context = browser.new_context(
                viewport={"width": width, "height": viewport_height},
                java_script_enabled=False,
                service_workers="block",
                accept_downloads=False,
            )
            context.route("**/*", gate.handle)
            page = context.new_page()
            page.goto(DOCUMENT_URL, wait_until="load", timeout=timeout_ms)
            # page.evaluate runs with page scripts disabled (it is the DevTools protocol's, not the page's).
            boxes: dict[str, Any] = page.evaluate(BOXES_JS, selectors)
            height = int(page.evaluate("document.documentElement.scrollHeight"))
            height = max(1, min(max_height, height))
            png = page.screenshot(
                full_page=True, clip={"x": 0, "y": 0, "width": width, "height": height}, timeout=timeout_ms
            )
        finally:
            browser.close()
    return RenderedPage(png, boxes, gate.blocked, gate.fetched)
