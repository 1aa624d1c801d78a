"""Small builders shared by the tests."""

from __future__ import annotations

import secrets
import socket
import time
from typing import Any


def new_id() -> str:
    return secrets.token_urlsafe(12)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port} after {timeout}s")


def meta_event(t: int = 0, url: str = "https://shop.example/", vw: int = 1280, vh: int = 800) -> list[Any]:
    return [
        "meta",
        t,
        url,
        "",
        "Shop",
        vw,
        vh,
        1920,
        1080,
        1,
        "Mozilla/5.0 (X11; Linux x86_64) Chrome/120",
        "en",
        "UTC",
    ]


def snapshot_event(t: int = 5, text: str = "Hello") -> list[Any]:
    return [
        "snapshot",
        t,
        0,
        True,
        [
            [1, None, None, 9],
            [2, 1, None, 10, "html", "", ""],
            [3, 1, None, 1, "html", {}],
            [4, 3, None, 1, "body", {"class": "page"}],
            [5, 4, None, 1, "button", {"id": "buy"}],
            [6, 5, None, 3, text],
        ],
    ]


def click_event(t: int, x: float = 100, y: float = 200) -> list[Any]:
    return ["click", t, 5, "#buy", 0.5, 0.5, x, y, x, y, 0, "mouse", 1280, 3000, "button", ""]


def batch(
    sid: str | None = None,
    pid: str | None = None,
    seq: int = 0,
    events: list[list[Any]] | None = None,
    t0: int | None = None,
) -> dict[str, Any]:
    if events is None:
        events = [meta_event(), snapshot_event(), click_event(100)] if seq == 0 else [click_event(100 + seq)]
    return {
        "v": 1,
        "sid": sid or new_id(),
        "pid": pid or new_id(),
        "seq": seq,
        "t0": t0 if t0 is not None else int(time.time() * 1000),
        "events": events,
    }
