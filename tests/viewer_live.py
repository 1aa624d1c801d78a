"""A logged-in viewer in Chromium, for player tests."""

from __future__ import annotations

import urllib.request
from typing import Any
from urllib.parse import urlsplit

import orjson

from sessionlens.auth.users import Accounts
from sessionlens.sites import Site
from sessionlens.viewer.replay_frame import FRAME_PATH as REPLAY_FRAME_PATH
from tests.live import LiveCollector

VIEWER_USER, VIEWER_PASSWORD = "researcher", "replay-password-1"


def add_viewer_user(collector: LiveCollector) -> None:
    Accounts(collector.store).add_user(VIEWER_USER, VIEWER_PASSWORD, replace=True)


def log_in(page: Any, collector: LiveCollector) -> None:
    page.goto(f"{collector.url}/login")
    page.fill("input[name=name]", VIEWER_USER)
    page.fill("input[name=password]", VIEWER_PASSWORD)
    page.click("button")
    page.wait_for_url(f"{collector.url}/")


def open_player(page: Any, collector: LiveCollector, sid: str, t: int, zoom: str | None = None) -> None:
    """The player at session time t; zoom "100" shows the replay at 1:1, "fit" scales it."""
    query = f"?t={t}" + (f"&zoom={zoom}" if zoom else "")
    page.goto(f"{collector.url}/sessions/{sid}{query}")
    page.wait_for_selector("body[data-state=ready]", state="attached", timeout=20_000)


def replay_frame(page: Any) -> Any:
    """The player's replay frame. Its origin is opaque, so tests reach its
    document through playwright's frame API, never iframe.contentDocument."""
    for frame in page.frames:
        if urlsplit(frame.url).path == REPLAY_FRAME_PATH:
            return frame
    raise AssertionError(f"no replay frame in {[f.url for f in page.frames]}")


def post_batch(collector: LiveCollector, site: Site, origin: str, body: dict) -> None:
    request = urllib.request.Request(
        f"{collector.url}/ingest/{site.key}",
        data=orjson.dumps(body),
        headers={"Origin": origin, "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200


# The replayed document, serialised without the classes the player adds for
# hover/focus. Evaluated in the replay frame (replay_frame(page).evaluate).
REPLAY_TREE_JS = """() => {
  window.sessionlensReplay.dom.cleanStateClasses();
  const doc = document;
  function ser(n) {
    if (n.nodeType === 3) return n.data;
    if (n.nodeType !== 1) return null;
    const attrs = {};
    for (const a of n.attributes) attrs[a.name] = a.value;
    const kids = [];
    if (n.shadowRoot) kids.push(['#shadow', {}, Array.from(n.shadowRoot.childNodes).map(ser).filter((x) => x !== null)]);
    for (const c of n.childNodes) { const s = ser(c); if (s !== null) kids.push(s); }
    return [n.localName, attrs, kids];
  }
  return { tree: ser(doc.documentElement), scrollY: doc.defaultView.scrollY };
}"""
