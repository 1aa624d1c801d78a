"""A dependency-free progress bar for long CLI jobs (reindex, export)."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    def __init__(self, total: int, label: str, stream: TextIO | None = None) -> None:
        self.total = max(total, 0)
        self.label = label
        # sys.stderr as it is now, not as it was when this module was imported
        # (a caller may have replaced it since, as pytest's capture does).
        self.stream = stream or sys.stderr
        self.done = 0
        self._last_draw = 0.0
        self._started = time.monotonic()

    def advance(self, n: int = 1) -> None:
        self.done += n
        now = time.monotonic()
        if now - self._last_draw >= 0.1 or self.done >= self.total:
            self._draw()
            self._last_draw = now

    def _draw(self) -> None:
        width = 30
        share = self.done / self.total if self.total else 1.0
        filled = int(width * min(share, 1.0))
        elapsed = time.monotonic() - self._started
        self.stream.write(
            f"\r{self.label} [{'#' * filled}{'.' * (width - filled)}] "
            f"{self.done}/{self.total} {share:4.0%} {elapsed:5.1f}s"
        )
        self.stream.flush()

    def finish(self) -> None:
        self._draw()
        self.stream.write("\n")
        self.stream.flush()
