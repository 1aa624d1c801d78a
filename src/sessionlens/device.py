"""Browser, OS and device class from a User-Agent string.

Deliberately small: the researcher filters on a handful of families, and a
wrong guess here only mislabels a row, it never loses data.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Device:
    device: str  # desktop | tablet | mobile | bot | unknown
    browser: str
    os: str


_BROWSERS = (
    ("Edge", re.compile(r"Edg(?:e|A|iOS)?/")),
    ("Opera", re.compile(r"OPR/|Opera")),
    ("Samsung Internet", re.compile(r"SamsungBrowser/")),
    ("Firefox", re.compile(r"Firefox/|FxiOS/")),
    ("Chrome", re.compile(r"Chrome/|CriOS/|HeadlessChrome/")),
    ("Safari", re.compile(r"Safari/")),
)
_OSES = (
    ("iOS", re.compile(r"iPhone|iPad|iPod")),
    ("Android", re.compile(r"Android")),
    ("Windows", re.compile(r"Windows")),
    ("macOS", re.compile(r"Mac OS X|Macintosh")),
    ("ChromeOS", re.compile(r"CrOS")),
    ("Linux", re.compile(r"Linux|X11")),
)
_BOT = re.compile(r"bot|crawler|spider|Lighthouse", re.I)


def classify(ua: str, viewport_width: float | None = None) -> Device:
    ua = ua or ""
    browser = next((name for name, rx in _BROWSERS if rx.search(ua)), "Other")
    os_name = next((name for name, rx in _OSES if rx.search(ua)), "Other")
    if _BOT.search(ua):
        device = "bot"
    elif "iPad" in ua or ("Android" in ua and "Mobile" not in ua) or "Tablet" in ua:
        device = "tablet"
    elif "Mobi" in ua or "iPhone" in ua or "iPod" in ua:
        device = "mobile"
    elif ua:
        device = "desktop"
    elif viewport_width:
        device = "mobile" if viewport_width < 600 else "tablet" if viewport_width < 1024 else "desktop"
    else:
        device = "unknown"
    return Device(device, browser, os_name)
