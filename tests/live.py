"""Real processes for end-to-end tests: a collector run as `sessionlens serve`
in a subprocess (so it can be killed), a demo site served by uvicorn in a
thread, and Chromium driven by playwright."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import uvicorn

from sessionlens import codec, keys
from sessionlens.chromium import CHROMIUM, CHROMIUM_ARGS
from sessionlens.demo import create_demo_site_app
from sessionlens.recorder_asset import snippet_html
from sessionlens.sites import Site, SiteRegistry, new_site
from sessionlens.stores.local import LocalStore
from tests.helpers import free_port, wait_for_port


class LiveCollector:
    """`sessionlens serve` in a subprocess; kill() and start() keep port and data."""

    def __init__(self, data_dir: Path, port: int | None = None, env: dict[str, str] | None = None) -> None:
        self.data_dir = data_dir
        self.env = env or {}  # extra SESSIONLENS_* settings for the process
        self.port = port or free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = data_dir / "collector.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SESSIONLENS_")}
        env["SESSIONLENS_SITE_CACHE_SECONDS"] = "0"
        env.update(self.env)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")  # noqa: SIM115 - owned by the process
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "sessionlens.cli",
                "serve",
                "--port",
                str(self.port),
                "--host",
                "127.0.0.1",
                "--data-dir",
                str(self.data_dir),
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        wait_for_port(self.port, timeout=30)

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)
        self.proc = None

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()
        self.proc = None

    @property
    def store(self) -> LocalStore:
        return LocalStore(self.data_dir / "blobs")

    def add_site(self, origin: str, **options: object) -> Site:
        site = new_site("E2E site", [origin], **options)  # type: ignore[arg-type]
        SiteRegistry(self.store).save(site)
        return site

    def index_rows(self, sql: str, params: tuple = ()) -> list[dict]:
        """Rows of the collector's SQLite index, read through a connection of our own."""
        conn = sqlite3.connect(self.data_dir / "index.sqlite3")
        conn.row_factory = sqlite3.Row
        try:
            return [dict(r) for r in conn.execute(sql, params)]
        finally:
            conn.close()

    def chunks(self, site: Site) -> list[dict]:
        store = self.store
        return [
            codec.decode(store.get(k))
            for k in store.list(keys.site_prefix(site.key))
            if keys.parse_chunk_key(k)
        ]


class ThreadServer:
    """An ASGI app on uvicorn in a background thread."""

    def __init__(self, app, port: int | None = None) -> None:
        self.port = port or free_port()
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> ThreadServer:
        self.thread.start()
        wait_for_port(self.port)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def demo_snippet(collector: LiveCollector, site: Site, flush_ms: int = 400, extra: str = "") -> str:
    snippet = snippet_html(collector.url, "/recorder.js", site)
    return snippet.replace(
        f'data-site="{site.key}"', f'data-site="{site.key}" data-flush-ms="{flush_ms}" {extra}'.rstrip()
    )


@contextmanager
def demo_site(
    collector: LiveCollector, site_factory, flush_ms: int = 400, extra: str = ""
) -> Iterator[tuple[ThreadServer, Site]]:
    """Serve the demo shop with the recorder embedded; site_factory(origin) makes the site."""
    port = free_port()
    origin = f"http://127.0.0.1:{port}"
    site = site_factory(origin)
    app = create_demo_site_app(demo_snippet(collector, site, flush_ms, extra))
    with ThreadServer(app, port) as server:
        yield server, site


@contextmanager
def chromium() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def wait_until(predicate, timeout: float = 15.0, interval: float = 0.2, message: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {message}")
