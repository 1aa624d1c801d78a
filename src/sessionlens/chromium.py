"""Debian's Chromium, driven by playwright: one place for its path and flags.

Never `playwright install`: browser downloads are not available where this
runs; the test setup installs Debian's package instead.
"""

from __future__ import annotations

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
