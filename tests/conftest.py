from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from starlette.testclient import TestClient

from sessionlens.app import create_app
from sessionlens.index import Index
from sessionlens.settings import Settings, load_settings
from sessionlens.sites import Site, SiteRegistry, new_site
from sessionlens.stores.local import LocalStore
from tests.helpers import free_port, wait_for_port
from tests.live import LiveCollector
from tests.postgres_server import PostgresServer

ROOT = Path(__file__).resolve().parent.parent
SITE_ORIGIN = "https://shop.example"


# -- the index backends --------------------------------------------------------
#
# Every test whose fixtures reach the index runs once per backend: the
# `index_backend` parameter is added to any test whose fixture closure holds
# it, and `settings`, `index_location`, `index`, `client`, `index_env`,
# `fresh_index_url` and `new_collector` all depend on it. Tests that never
# touch an index (only `store`, `site`, `tmp_path`...) run once.
# SESSIONLENS_TEST_BACKENDS=sqlite (or =postgresql) runs one backend only,
# e.g. where PostgreSQL cannot be installed.
BACKENDS = ("sqlite", "postgresql")


def wanted_backends() -> list[str]:
    raw = os.environ.get("SESSIONLENS_TEST_BACKENDS") or ",".join(BACKENDS)
    wanted = [b.strip() for b in raw.split(",") if b.strip()]
    unknown = sorted(set(wanted) - set(BACKENDS))
    if unknown or not wanted:
        raise pytest.UsageError(
            f"SESSIONLENS_TEST_BACKENDS: {raw!r}; use a comma-separated subset of {BACKENDS}"
        )
    return wanted


def pytest_configure(config: pytest.Config) -> None:
    wanted_backends()  # a misspelt SESSIONLENS_TEST_BACKENDS stops the run before collection


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "index_backend" in metafunc.fixturenames:
        # Module scope: pytest runs a module's tests backend by backend, so a
        # module-scoped rig (one collector for the module) is set up once per backend.
        metafunc.parametrize("index_backend", wanted_backends(), indirect=True, scope="module")


@pytest.fixture(scope="module")
def index_backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """One PostgreSQL server for the run (started on first use); each test gets a schema."""
    if "postgresql" not in wanted_backends():
        pytest.skip("SESSIONLENS_TEST_BACKENDS leaves PostgreSQL out")
    server = PostgresServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def fresh_index_url(index_backend: str, request: pytest.FixtureRequest) -> Iterator[Callable[[], str]]:
    """Makes the `index_url` setting of a new, empty index on this backend.

    SQLite: "" (the index is data_dir/index.sqlite3, fresh with each data
    directory). PostgreSQL: the server's URL with a new schema picked by
    ?options=-csearch_path%3D<schema>, as an operator would write it; the
    schema is created here (the index creates tables in it) and dropped
    when the module is done.
    """
    if index_backend != "postgresql":
        yield lambda: ""
        return
    server: PostgresServer = request.getfixturevalue("postgres")
    schemas: list[str] = []

    def make() -> str:
        schema = f"t_{uuid.uuid4().hex[:16]}"
        server.execute(f'CREATE SCHEMA "{schema}"')
        schemas.append(schema)
        return f"{server.url}?options=-csearch_path%3D{schema}"

    yield make
    for schema in schemas:
        server.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def schema_of(index_url: str) -> str:
    """The schema an index_url made by fresh_index_url picks."""
    options = parse_qs(urlsplit(index_url).query)["options"][0]
    return options.removeprefix("-csearch_path=")


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def settings(data_dir: Path, fresh_index_url: Callable[[], str]) -> Settings:
    """Settings of this test's data directory and index (SQLite under data_dir, or a fresh PostgreSQL schema)."""
    return load_settings(overrides={"data_dir": str(data_dir), "index_url": fresh_index_url()}, environ={})


@pytest.fixture
def store(data_dir: Path) -> LocalStore:
    return LocalStore(data_dir / "blobs")


@pytest.fixture
def index_location(settings: Settings, request: pytest.FixtureRequest) -> dict[str, Any]:
    """Index(**index_location) opens this test's index, the one `settings` names."""
    if settings.index_url:
        server: PostgresServer = request.getfixturevalue("postgres")
        return {"location": server.url, "schema": schema_of(settings.index_url)}
    return {"location": settings.resolved_index_path}


@pytest.fixture
def index(index_location: dict[str, Any]) -> Iterator[Index]:
    idx = Index(**index_location)
    yield idx
    idx.close()


@pytest.fixture
def index_env(settings: Settings) -> dict[str, str]:
    """Environment naming this test's index, for `sessionlens` processes and in-process main()
    (with monkeypatch); empty on SQLite, where --data-dir finds it."""
    return {"SESSIONLENS_INDEX_URL": settings.index_url} if settings.index_url else {}


@pytest.fixture
def index_in_environ(index_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """index_env set in os.environ for the test, for in-process `sessionlens.cli.main(...)`,
    which reads settings from the environment as the command does."""
    for name, value in index_env.items():
        monkeypatch.setenv(name, value)
    return index_env


@pytest.fixture(scope="module")
def new_collector(fresh_index_url: Callable[[], str]) -> Callable[..., LiveCollector]:
    """LiveCollector(data_dir, ...) on this test's backend, each with a fresh index."""

    def make(data_dir: Path, **kwargs: Any) -> LiveCollector:
        return LiveCollector(data_dir, index_url=fresh_index_url(), **kwargs)

    return make


@pytest.fixture
def site(store: LocalStore) -> Site:
    s = new_site("Shop", [SITE_ORIGIN])
    SiteRegistry(store).save(s)
    return s


@pytest.fixture
def client(settings: Settings, store: LocalStore, index: Index, site: Site) -> Iterator[TestClient]:
    app = create_app(settings, store=store, index=index)
    with TestClient(app, headers={"Origin": SITE_ORIGIN, "User-Agent": "pytest-browser/1.0"}) as c:
        yield c


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """A real S3-protocol HTTP server (moto standalone) on loopback."""
    port = free_port()
    env = dict(os.environ, AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test")
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, timeout=30)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
