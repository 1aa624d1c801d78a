"""Is a session a bot's? From what its chunks say (docs/session-attributes.md, "Bots").

Reasons, in the order they are tried:
- webdriver:  the page said navigator.webdriver was true (meta's bot hint), or its
              client hint brands name a headless browser;
- user_agent: a crawler, headless browser or automation tool user agent
              (device.py's bot pattern and the tools below);
- no_input:   no human input at all (no click, pointer move, input or scroll) in any
              page view of the session.
The hints are sent by the visitor's browser, so a bot can hide from them; they
catch automation that does not try to (monitoring, crawlers, test scripts).
"""

from __future__ import annotations

import re

from sessionlens.device import classify

WEBDRIVER = "webdriver"
USER_AGENT = "user_agent"
NO_INPUT = "no_input"
REASONS = (WEBDRIVER, USER_AGENT, NO_INPUT)

_AUTOMATION_UA = re.compile(
    r"HeadlessChrome|PhantomJS|Puppeteer|Playwright|Selenium|WebDriver|Cypress|Electron/.*\bHeadless"
    r"|SlimerJS|HtmlUnit|python-requests|python-urllib|aiohttp|curl/|Wget/|Go-http-client|okhttp"
    r"|Java/|libwww-perl|node-fetch|axios/|Scrapy|crawl|slurp|spider|bot\b|bot/|monitor|pingdom"
    r"|uptime|prerender|Chrome-Lighthouse|PageSpeed|GTmetrix",
    re.I,
)


def bot_reason(ua: str | None, webdriver: bool, human_inputs: int | None) -> str | None:
    """Why the session is a bot's, or None.

    webdriver: a meta event's bot hints said automation (facts.py); human_inputs: human input
    events of the whole session, None when not known (chunks indexed before they were counted).
    """
    ua = (ua or "")[:1024]
    if webdriver:
        return WEBDRIVER
    if ua and (classify(ua).device == "bot" or _AUTOMATION_UA.search(ua)):
        return USER_AGENT
    if human_inputs == 0:
        return NO_INPUT
    return None
