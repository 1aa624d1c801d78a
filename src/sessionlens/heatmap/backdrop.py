"""The page behind a heatmap: a recorded page view rebuilt and rendered by Chromium.

Rendering from the recording (not by crawling the live URL) means pages
behind a login, and pages as they were that day, work. The recording is
written by a visitor, so it is rendered the way `isolated_page` renders
untrusted pages: no network except the operator's allow-list. The
rendered PNG and the boxes of the clicked elements are cached in the blob
store beside the page view, keyed by moment, width and the fetch policy
(a different allow-list renders anew).

A page view that cannot be rebuilt or rendered (a forged recording, a
page that never finishes loading) must not take the heatmap down for
everyone: it gets a plain backdrop, clicks fall back to their page
positions, and the failure is logged. Chromium missing or the settings
wrong is different: that is the operator's to fix, so it is raised
(BackdropUnavailable, which the API answers with 503).
"""

from __future__ import annotations

import hashlib
import io
import logging
from dataclasses import dataclass

import orjson
from PIL import Image

from sessionlens import keys
from sessionlens.chromium import DEFAULT_PATH, ChromiumUnavailable
from sessionlens.heatmap.isolated_page import render_page
from sessionlens.heatmap.resource_fetch import FetchPolicy
from sessionlens.replay.html_export import export_html
from sessionlens.replay.pageview import PageViewReader
from sessionlens.settings import Settings
from sessionlens.stores.base import BlobStore

log = logging.getLogger(__name__)

MAX_HEIGHT = 20_000
# Bumped when rendering changes what a backdrop may contain, so older cached ones are not reused.
RENDER_VERSION = 2


class BackdropUnavailable(RuntimeError):
    """Backdrops cannot be rendered on this server (Chromium missing, settings wrong); says what to do."""


@dataclass(frozen=True, slots=True)
class BackdropConfig:
    chromium_path: str = DEFAULT_PATH
    chromium_user: str = "nobody"
    fetch: FetchPolicy = FetchPolicy()  # no origins: nothing is fetched

    @classmethod
    def from_settings(cls, settings: Settings) -> BackdropConfig:
        try:
            policy = FetchPolicy.from_list(
                settings.backdrop_fetch_origins,
                max_bytes=settings.backdrop_fetch_max_bytes,
                timeout=float(settings.backdrop_fetch_timeout_seconds),
                max_resources=settings.backdrop_fetch_max_resources,
                allow_private=settings.backdrop_fetch_private_addresses,
            )
        except ValueError as exc:
            raise BackdropUnavailable(str(exc)) from None
        return cls(settings.chromium_path or DEFAULT_PATH, settings.chromium_user, policy)

    def cache_tag(self) -> str:
        origins = ",".join(sorted(self.fetch.origins))
        return f"r{RENDER_VERSION}-" + hashlib.sha256(origins.encode()).hexdigest()[:10]


@dataclass(slots=True)
class Backdrop:
    image: Image.Image
    boxes: dict[str, list[float]]  # selector -> [x, y, w, h, hidden]
    width: int
    height: int
    fold: int  # viewport height it was rendered with
    plain: bool = False  # the page view could not be rendered; a blank page stands in


def render_backdrop(
    store: BlobStore, reader: PageViewReader, site: str, sid: str, pid: str, at: int, width: int,
    selectors: list[str], viewport_height: int = 800, config: BackdropConfig | None = None,
) -> Backdrop:  # fmt: skip
    config = config or BackdropConfig()
    stem = f"{keys.backdrop_key(site, sid, pid, at, width)}-{config.cache_tag()}"
    try:
        png = store.get(stem + ".png")
        boxes = orjson.loads(store.get(stem + ".json"))
        if all(s in boxes["checked"] for s in selectors):
            image = Image.open(io.BytesIO(png))
            image.load()
            return Backdrop(image, boxes["boxes"], image.width, image.height, viewport_height)
    except KeyError:
        pass
    try:
        html = export_html(reader.dom_at(site, sid, pid, at))
    except (RecursionError, MemoryError, ValueError, TypeError, KeyError, IndexError) as exc:
        log.warning("page view %s/%s/%s cannot be rebuilt for a backdrop (%r); using a plain one", site, sid, pid, exc)  # fmt: skip
        return _plain(width, viewport_height)
    try:
        page = render_page(
            html, width, viewport_height, selectors, chromium_path=config.chromium_path,
            chromium_user=config.chromium_user, policy=config.fetch, max_height=MAX_HEIGHT,
        )  # fmt: skip
    except ChromiumUnavailable as exc:
        raise BackdropUnavailable(str(exc)) from None
    except Exception as exc:  # playwright's errors: a page that times out or crashes its renderer
        log.warning("page view %s/%s/%s did not render as a backdrop (%s); using a plain one", site, sid, pid, exc)  # fmt: skip
        return _plain(width, viewport_height)
    if page.blocked:
        log.info("backdrop %s/%s/%s: %d requests blocked", site, sid, pid, len(page.blocked))
    store.put(stem + ".png", page.png)
    store.put(stem + ".json", orjson.dumps({"boxes": page.boxes, "checked": selectors}))
    image = Image.open(io.BytesIO(page.png))
    image.load()
    return Backdrop(image, page.boxes, image.width, image.height, viewport_height)


def _plain(width: int, viewport_height: int) -> Backdrop:
    image = Image.new("RGB", (width, viewport_height), (255, 255, 255))
    return Backdrop(image, {}, width, viewport_height, viewport_height, plain=True)
