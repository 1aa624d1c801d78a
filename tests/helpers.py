"""Small builders shared by the tests."""

from __future__ import annotations

import secrets
import socket
import time
from pathlib import Path
from typing import Any

from sessionlens.contracts import make_event, make_node
from sessionlens.settings import Settings, load_settings


def new_id() -> str:
    # Never starting with "-": the CLI tests pass ids as arguments, and argparse reads "-x..." as an
    # option (a run failed on it once in 64 tries). Recorders' ids are base 36.
    return "i" + secrets.token_urlsafe(12)


def settings_with(settings: Settings, **changes: Any) -> Settings:
    """`settings` (e.g. the fixture's, which names the test's index) with some settings changed."""
    return load_settings(overrides={**settings.as_dict(), **changes}, environ={})


def lose_index(settings: Settings) -> None:
    """Delete the index `settings` names, as an operator who lost it would (storage is kept):
    SQLite's files, or PostgreSQL's schema emptied (dropped and created again)."""
    if not settings.index_url:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{settings.resolved_index_path}{suffix}").unlink(missing_ok=True)
        return
    import psycopg

    with psycopg.connect(settings.index_url, autocommit=True) as conn:
        schema = conn.execute("SELECT current_schema()").fetchone()[0]
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
        conn.execute(f'CREATE SCHEMA "{schema}"')


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
    return make_event(
        "meta",
        t=t,
        url=url,
        referrer="",
        title="Shop",
        vw=vw,
        vh=vh,
        sw=1920,
        sh=1080,
        dpr=1,
        ua="Mozilla/5.0 (X11; Linux x86_64) Chrome/120",
        lang="en",
        tz="UTC",
    )


def snapshot_event(t: int = 5, text: str = "Hello") -> list[Any]:
    nodes = [
        make_node("document", id=1),
        make_node("doctype", id=2, parent=1, name="html", publicId="", systemId=""),
        make_node("element", id=3, parent=1, tag="html", attrs={}),
        make_node("element", id=4, parent=3, tag="body", attrs={"class": "page"}),
        make_node("element", id=5, parent=4, tag="button", attrs={"id": "buy"}),
        make_node("text", id=6, parent=5, text=text),
    ]
    return make_event("snapshot", t=t, part=0, last=True, nodes=nodes)


def click_event(t: int, x: float = 100, y: float = 200) -> list[Any]:
    return make_event(
        "click",
        t=t,
        target=5,
        selector="#buy",
        fx=0.5,
        fy=0.5,
        px=x,
        py=y,
        cx=x,
        cy=y,
        button=0,
        pointer="mouse",
        pw=1280,
        ph=3000,
        tag="button",
        flags="",
    )


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
