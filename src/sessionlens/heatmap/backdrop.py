"""The page behind a heatmap: a recorded page view rebuilt and rendered by Chromium.

Rendering from the recording (not by crawling the live URL) means pages
behind a login, and pages as they were that day, work. The rendered PNG
and the boxes of the clicked elements are cached in the blob store beside
the page view, keyed by moment and width.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

import orjson
from PIL import Image

from sessionlens import keys
from sessionlens.chromium import CHROMIUM, CHROMIUM_ARGS
from sessionlens.replay.html_export import export_html
from sessionlens.replay.pageview import PageViewReader
from sessionlens.stores.base import BlobStore

MAX_HEIGHT = 20_000

BOXES_JS = """(selectors) => {
  const out = {};
  for (const sel of selectors) {
    let el = null;
    try { el = document.querySelector(sel); } catch (e) { el = null; }
    if (!el) continue;
    const r = el.getBoundingClientRect();
    const style = getComputedStyle(el);
    const hidden = !r.width || !r.height || style.visibility === "hidden" || style.display === "none";
    out[sel] = [r.left + scrollX, r.top + scrollY, r.width, r.height, hidden ? 1 : 0];
  }
  return out;
}"""


@dataclass(slots=True)
class Backdrop:
    image: Image.Image
    boxes: dict[str, list[float]]  # selector -> [x, y, w, h, hidden]
    width: int
    height: int
    fold: int  # viewport height it was rendered with


def render_backdrop(
    store: BlobStore, reader: PageViewReader, site: str, sid: str, pid: str, at: int, width: int,
    selectors: list[str], viewport_height: int = 800,
) -> Backdrop:  # fmt: skip
    stem = keys.backdrop_key(site, sid, pid, at, width)
    try:
        png = store.get(stem + ".png")
        boxes = orjson.loads(store.get(stem + ".json"))
        if all(s in boxes["checked"] for s in selectors):
            image = Image.open(io.BytesIO(png))
            image.load()
            return Backdrop(image, boxes["boxes"], image.width, image.height, viewport_height)
    except KeyError:
        pass
    html = export_html(reader.dom_at(site, sid, pid, at))
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": viewport_height})
            page.set_content(html, wait_until="load", timeout=30_000)
            found: dict[str, Any] = page.evaluate(BOXES_JS, selectors)
            height = min(MAX_HEIGHT, int(page.evaluate("document.documentElement.scrollHeight")))
            page.set_viewport_size({"width": width, "height": viewport_height})
            png = page.screenshot(full_page=True, clip={"x": 0, "y": 0, "width": width, "height": height})
        finally:
            browser.close()
    store.put(stem + ".png", png)
    store.put(stem + ".json", orjson.dumps({"boxes": found, "checked": selectors}))
    image = Image.open(io.BytesIO(png))
    image.load()
    return Backdrop(image, found, image.width, image.height, viewport_height)
