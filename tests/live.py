"""Real processes for end-to-end tests: a collector run as `sessionlens serve`
in a subprocess (so it can be killed), a demo site served by uvicorn in a
thread, and Chromium driven by playwright."""

from __future__ import annotations

import os
import signal
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
from sessionlens.index import Index
from sessionlens.recorder_asset import snippet_html
from sessionlens.sites import Site, SiteRegistry, new_site
from sessionlens.stores.local import LocalStore
from tests.helpers import free_port, wait_for_port


class LiveCollector:
    """`sessionlens serve` in a subprocess; kill() and start() keep port, data and index.

    `index_url` is the process's index_url setting: "" for SQLite under
    data_dir, or a PostgreSQL URL (tests get one per backend from the
    `new_collector` fixture in conftest.py). It has no default so that a
    test cannot forget its backend.
    """

    def __init__(
        self, data_dir: Path, port: int | None = None, env: dict[str, str] | None = None, *, index_url: str
    ) -> None:
        self.data_dir = data_dir
        self.index_url = index_url
        self.env = env or {}  # extra SESSIONLENS_* settings for the process
        self.port = port or free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = data_dir / "collector.log"
        self._index: Index | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cli_env(self) -> dict[str, str]:
        """Environment for a `sessionlens` command on this collector's index (with --data-dir)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("SESSIONLENS_")}
        if self.index_url:
            env["SESSIONLENS_INDEX_URL"] = self.index_url
        return env

    def start(self) -> None:
        env = self.cli_env()
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
        if self._index is not None:
            self._index.close()
            self._index = None

    @property
    def store(self) -> LocalStore:
        return LocalStore(self.data_dir / "blobs")

    def add_site(self, origin: str, **options: object) -> Site:
        site = new_site("E2E site", [origin], **options)  # type: ignore[arg-type]
        SiteRegistry(self.store).save(site)
        return site

    @property
    def index(self) -> Index:
        """The collector's index (either backend), opened by the test as another process would;
        closed by stop()."""
        if self._index is None:
            self._index = Index(self.index_url or self.data_dir / "index.sqlite3")
        return self._index

    def index_rows(self, sql: str, params: tuple = ()) -> list[dict]:
        """Rows of a read-only query (`?` marks, SQL both backends accept) on the collector's index."""
        return self.index.query(sql, params)

    def index_bytes(self) -> bytes:
        """Everything the index holds, for byte searches: SQLite's files as they are on disk
        (free pages included), PostgreSQL's rows of every table in the schema as text."""
        if not self.index_url:
            paths = [self.data_dir / f"index.sqlite3{suffix}" for suffix in ("", "-wal")]
            return b"".join(p.read_bytes() for p in paths if p.exists())
        tables = self.index_rows(
            "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = current_schema()"
        )
        return "\n".join(
            str(r["row"])
            for t in tables
            for r in self.index_rows(f'SELECT t::text AS row FROM "{t["name"]}" t')
        ).encode()

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
