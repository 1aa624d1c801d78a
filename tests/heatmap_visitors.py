"""Scripted heatmap visitors who are not bots: Chromium without the automation flag
(navigator.webdriver false) and a plain Chrome user agent (not HeadlessChrome). Bots' sessions
(sessions.is_bot) are left out of every heatmap by default, as in the session list."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tests.live import CHROMIUM, CHROMIUM_ARGS, wait_until

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


def recorder_ready(page: Any) -> None:
    """The page's recorder runs and has taken its snapshot."""
    page.wait_for_function(
        "() => window.sessionlens && window.sessionlens.pageViewId && window.sessionlens.debug().snapshot"
    )


class Visitors:
    """Visitors' browser contexts that watch the recorder's ingest requests: what each sent, and
    how many are still unanswered, so a visit ends only once the collector answered all of it."""

    def __init__(self, browser: Any) -> None:
        self.browser = browser
        self.in_flight = 0
        self.sent: list[bytes] = []  # every ingest body as the browsers sent it

    def context(self, *, bot: bool = False, **options: Any) -> Any:
        """A new visitor (a person unless bot: then Chromium's own HeadlessChrome user agent)."""
        options.setdefault("viewport", {"width": 1280, "height": 800})
        if not bot:
            options.setdefault("user_agent", HUMAN_UA)
        context = self.browser.new_context(**options)

        def on_request(r: Any) -> None:
            if "/ingest/" in r.url:
                self.in_flight += 1
                self.sent.append(r.post_data_buffer or b"")

        def on_done(r: Any) -> None:
            if "/ingest/" in r.url:
                self.in_flight -= 1

        context.on("request", on_request)
        context.on("requestfinished", on_done)
        context.on("requestfailed", on_done)
        return context

    def finish(self, page: Any, name: str = "visitor") -> str:
        """Send what the page's recorder buffered, wait for the collector's answers; the session id."""
        sid = page.evaluate("() => sessionlens.sessionId")
        page.evaluate("() => sessionlens.flush()")

        def answered() -> bool:
            page.wait_for_timeout(100)  # playwright delivers request events while it waits
            return self.in_flight == 0

        wait_until(answered, message=f"{name}'s batches answered ({self.in_flight} in flight)")
        return sid
