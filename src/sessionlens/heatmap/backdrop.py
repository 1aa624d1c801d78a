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
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson
from PIL import Image

from sessionlens import keys
from sessionlens.chromium import DEFAULT_PATH, ChromiumUnavailable
from sessionlens.heatmap import page_moments
from sessionlens.heatmap.device_profile import DeviceProfile, profile_for
from sessionlens.heatmap.isolated_page import render_page
from sessionlens.heatmap.page_moments import Moment
from sessionlens.heatmap.resource_fetch import FetchPolicy
from sessionlens.replay.dom import ELEMENT, DomState
from sessionlens.replay.html_export import export_html
from sessionlens.replay.pageview import PageViewReader
from sessionlens.settings import Settings
from sessionlens.stores.base import BlobStore

log = logging.getLogger(__name__)

# Pages taller than this are cut (settings: backdrop_max_height). Tiles are captured and heatmaps
# encoded a strip at a time, so memory stays at one tile whatever the height.
MAX_HEIGHT = 150_000
THUMBNAIL_WIDTH = 240
# Bumped when rendering changes what a backdrop may contain, so older cached ones are not reused.
RENDER_VERSION = 3


class BackdropUnavailable(RuntimeError):
    """Backdrops cannot be rendered on this server (Chromium missing, settings wrong); says what to do."""


@dataclass(frozen=True, slots=True)
class BackdropConfig:
    chromium_path: str = DEFAULT_PATH
    chromium_user: str = "nobody"
    fetch: FetchPolicy = FetchPolicy()  # no origins: nothing is fetched
    max_height: int = MAX_HEIGHT

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
        max_height = int(getattr(settings, "backdrop_max_height", MAX_HEIGHT))
        if max_height < 1_000:
            raise BackdropUnavailable(f"backdrop_max_height must be at least 1000 (px), not {max_height}")
        return cls(settings.chromium_path or DEFAULT_PATH, settings.chromium_user, policy, max_height)

    def cache_tag(self) -> str:
        origins = ",".join(sorted(self.fetch.origins))
        return f"r{RENDER_VERSION}-h{self.max_height}-" + hashlib.sha256(origins.encode()).hexdigest()[:10]


@dataclass(slots=True)
class Backdrop:
    tiles: list[bytes]  # PNGs from the top of the page, tile_height CSS px each (the last shorter)
    boxes: dict[str, list[float]]  # selector -> [x, y, w, h, hidden (1 hidden, 2 scrolled out of view)]
    width: int
    height: int
    fold: int  # viewport height it was rendered with
    tile_height: int = 0
    inner_width: float = 0.0  # window.innerWidth in the render: the recorder's vw for this layout
    page_height: int = 0  # the whole page's height (height is less when the page was cut)
    device: DeviceProfile | None = None
    plain: bool = False  # the page view could not be rendered; a blank page stands in

    def strips(self) -> Iterator[tuple[int, np.ndarray]]:
        """(top, RGB rows) of each tile, decoded one at a time."""
        top = 0
        for png in self.tiles:
            with Image.open(io.BytesIO(png)) as tile:
                rows = np.asarray(tile.convert("RGB"))
            rows = rows[: self.height - top, : self.width]
            if rows.shape[1] < self.width:  # a tile narrower than the page (never by Chromium): pad white
                rows = np.pad(rows, ((0, 0), (0, self.width - rows.shape[1]), (0, 0)), constant_values=255)
            yield top, rows
            top += rows.shape[0]

    @property
    def image(self) -> Image.Image:
        """The whole backdrop as one image (small pages, thumbnails and tests; heatmaps use strips)."""
        whole = Image.new("RGB", (self.width, self.height), (255, 255, 255))
        for top, rows in self.strips():
            whole.paste(Image.fromarray(rows, "RGB"), (0, top))
        return whole


def _mark_inner_scrolls(state: DomState, extra: dict[int, list[float]] | None) -> int:
    """Tag scrolled elements with where they stood, for isolated_page to scroll them back."""
    # Where the snapshot found them (a page that scrolls a table at load sends no
    # scroll event for it), then where later scroll events moved them.
    positions = {
        node.id: node.props["scroll"]
        for node in state.nodes.values()
        if node.type == ELEMENT and isinstance(node.props.get("scroll"), list) and len(node.props["scroll"]) == 2
    }
    positions.update((k, v) for k, v in state.scroll.items() if k is not None)
    positions.update(extra or {})
    marked = 0
    for node_id, (x, y) in positions.items():
        node = state.nodes.get(node_id)
        if node is None or node.type != ELEMENT or not (x or y):
            continue
        node.attrs["data-sl-scroll"] = f"{float(x):.0f} {float(y):.0f}"
        marked += 1
    return marked


def render_backdrop(
    store: BlobStore, reader: PageViewReader, site: str, sid: str, pid: str, at: int, width: int,
    selectors: list[str], viewport_height: int = 800, config: BackdropConfig | None = None,
    device: DeviceProfile | None = None, inner_scrolls: dict[int, list[float]] | None = None,
) -> Backdrop:  # fmt: skip
    """The page view at `at`, rendered with `device` (default: a desktop window of width x viewport_height).

    inner_scrolls: node id -> [x, y] of inner scroll containers to show scrolled (as when clicked in).
    """
    config = config or BackdropConfig()
    device = device or DeviceProfile(width, viewport_height)
    scroll_tag = hashlib.sha256(orjson.dumps(sorted((inner_scrolls or {}).items()))).hexdigest()[:8]
    stem = f"{keys.backdrop_key(site, sid, pid, at, width)}-{config.cache_tag()}-{device.tag()}-s{scroll_tag}"
    cached = _cached(store, stem, selectors, device)
    if cached is not None:
        return cached
    try:
        state = reader.dom_at(site, sid, pid, at)
        _mark_inner_scrolls(state, inner_scrolls)
        html = export_html(state)
    except (RecursionError, MemoryError, ValueError, TypeError, KeyError, IndexError) as exc:
        log.warning("page view %s/%s/%s cannot be rebuilt for a backdrop (%r); using a plain one", site, sid, pid, exc)  # fmt: skip
        return _plain(device.width, device.height)
    try:
        page = render_page(
            html, device.width, device.height, selectors, chromium_path=config.chromium_path,
            chromium_user=config.chromium_user, policy=config.fetch, max_height=config.max_height, device=device,
        )  # fmt: skip
    except ChromiumUnavailable as exc:
        raise BackdropUnavailable(str(exc)) from None
    except Exception as exc:  # playwright's errors: a page that times out or crashes its renderer
        log.warning("page view %s/%s/%s did not render as a backdrop (%s); using a plain one", site, sid, pid, exc)  # fmt: skip
        return _plain(device.width, device.height)
    if page.blocked:
        log.info("backdrop %s/%s/%s: %d requests blocked", site, sid, pid, len(page.blocked))
    if page.page_height > page.height:
        log.info("backdrop %s/%s/%s: page of %d px cut at backdrop_max_height %d", site, sid, pid, page.page_height, page.height)  # fmt: skip
    for i, tile in enumerate(page.tiles):
        store.put(f"{stem}-t{i}.png", tile)
    facts = {
        "boxes": page.boxes, "checked": selectors, "width": page.width, "height": page.height,
        "tiles": len(page.tiles), "tile_height": page.tile_height, "inner_width": page.inner_width,
        "page_height": page.page_height,
    }  # fmt: skip
    store.put(stem + ".json", orjson.dumps(facts))  # written last: its presence means the tiles are there
    return Backdrop(
        page.tiles, page.boxes, page.width, page.height, device.height, page.tile_height,
        page.inner_width, page.page_height, device,
    )  # fmt: skip


def _cached(store: BlobStore, stem: str, selectors: list[str], device: DeviceProfile) -> Backdrop | None:
    try:
        facts = orjson.loads(store.get(stem + ".json"))
        if not all(s in facts["checked"] for s in selectors):
            return None
        tiles = [store.get(f"{stem}-t{i}.png") for i in range(facts["tiles"])]
    except (KeyError, ValueError, TypeError):
        return None
    return Backdrop(
        tiles, facts["boxes"], facts["width"], facts["height"], device.height, facts["tile_height"],
        facts["inner_width"], facts["page_height"], device,
    )  # fmt: skip


def _plain(width: int, viewport_height: int) -> Backdrop:
    out = io.BytesIO()
    Image.new("RGB", (width, viewport_height), (255, 255, 255)).save(out, "PNG")
    return Backdrop([out.getvalue()], {}, width, viewport_height, viewport_height, viewport_height,
                    float(width), viewport_height, plain=True)  # fmt: skip


# -- the moment picker's side ----------------------------------------------------------------


def candidate_moments(reader: PageViewReader, site: str, sid: str, pid: str) -> list[Moment]:
    """Moments of a page view a heatmap may be drawn over (page_moments explains which)."""
    return page_moments.candidate_moments(reader, site, sid, pid)


def default_moment(reader: PageViewReader, site: str, sid: str, pid: str) -> int:
    """The page as first seen after load settled (page_moments explains the rule)."""
    return page_moments.default_moment(reader, site, sid, pid)


def page_view_meta(reader: PageViewReader, site: str, sid: str, pid: str) -> list[Any] | None:
    """The page view's meta event (its first event, in practice)."""
    for _, event in reader.events(site, sid, pid):
        if event[0] == "meta":
            return event
        if event[0] in ("snapshot", "mutation"):
            return None  # a recorder always sends meta first
    return None


def render_thumbnail(
    store: BlobStore, reader: PageViewReader, site: str, sid: str, pid: str, at: int, width: int,
    config: BackdropConfig | None = None,
) -> bytes:  # fmt: skip
    """A small PNG of the first viewport at `at`, rendered with the page view's own device settings."""
    config = config or BackdropConfig()
    device = profile_for(page_view_meta(reader, site, sid, pid), [], width)
    key = f"{keys.backdrop_key(site, sid, pid, at, width)}-{config.cache_tag()}-{device.tag()}-thumb.png"
    try:
        return store.get(key)
    except KeyError:
        pass
    thumb_config = BackdropConfig(config.chromium_path, config.chromium_user, config.fetch, device.height)
    bd = render_backdrop(store, reader, site, sid, pid, at, width, [], config=thumb_config, device=device)
    first = bd.image.crop((0, 0, bd.width, min(bd.height, device.height)))
    small = first.resize(
        (THUMBNAIL_WIDTH, max(1, round(first.height * THUMBNAIL_WIDTH / first.width))), Image.LANCZOS
    )
    out = io.BytesIO()
    small.save(out, "PNG", optimize=True)
    png = out.getvalue()
    if not bd.plain:
        store.put(key, png)
    return png
