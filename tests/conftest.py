from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from sessionlens.app import create_app
from sessionlens.index import Index
from sessionlens.settings import Settings, load_settings
from sessionlens.sites import Site, SiteRegistry, new_site
from sessionlens.stores.local import LocalStore
from tests.helpers import free_port, wait_for_port
from tests.postgres_server import PostgresServer

ROOT = Path(__file__).resolve().parent.parent
SITE_ORIGIN = "https://shop.example"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(overrides={"data_dir": str(tmp_path / "data")}, environ={})


@pytest.fixture
def store(settings: Settings) -> LocalStore:
    return LocalStore(Path(settings.data_dir) / "blobs")


# Test modules whose `index` (and `client`) run against both backends; the
# rest (Chromium-heavy ones) use SQLite. SESSIONLENS_TEST_BACKENDS=sqlite
# runs SQLite only (e.g. where PostgreSQL cannot be installed).
BOTH_BACKENDS = {
    "test_ingest_api", "test_session_search", "test_reindex", "test_index_backends",
    "test_viewer_auth", "test_derivation_crash", "test_reindex_poison", "test_ingest_hostile",
    "test_param_bounds", "test_lifecycle", "test_columnar_facts", "test_session_timeline",
}  # fmt: skip


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "index_backend" not in metafunc.fixturenames:
        return
    wanted = os.environ.get("SESSIONLENS_TEST_BACKENDS", "sqlite,postgresql").split(",")
    module = metafunc.module.__name__.rsplit(".", 1)[-1]
    backends = [b for b in wanted if b == "sqlite" or module in BOTH_BACKENDS]
    metafunc.parametrize("index_backend", backends, indirect=True)


@pytest.fixture
def index_backend(request: pytest.FixtureRequest) -> str:
    return getattr(request, "param", "sqlite")


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """One PostgreSQL server for the run (started on first use); each test gets a schema."""
    server = PostgresServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def index_location(index_backend: str, settings: Settings, request: pytest.FixtureRequest) -> dict[str, Any]:
    """Index(**index_location) opens this test's index: a SQLite file, or a fresh PostgreSQL schema."""
    if index_backend == "postgresql":
        server = request.getfixturevalue("postgres")
        return {"location": server.url, "schema": f"t_{uuid.uuid4().hex[:16]}"}
    return {"location": settings.resolved_index_path}


@pytest.fixture
def index(index_location: dict[str, Any]) -> Iterator[Index]:
    idx = Index(**index_location)
    yield idx
    idx.close()


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
