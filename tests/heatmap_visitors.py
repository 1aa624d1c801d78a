"""Scripted heatmap visitors who are not bots: Chromium without the automation flag
(navigator.webdriver false) and a plain Chrome user agent (not HeadlessChrome). Bots' sessions
(sessions.is_bot) are left out of every heatmap by default, as in the session list."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tests.live import CHROMIUM, CHROMIUM_ARGS

HUMAN_UA = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36"
)


@contextmanager
def human_chromium() -> Iterator[Any]:
    """A browser whose new contexts record as people (pass user_agent=HUMAN_UA to new_context)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, "--disable-blink-features=AutomationControlled"]
        )
        try:
            yield browser
        finally:
            browser.close()
