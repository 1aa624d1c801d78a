from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from sessionlens.app import create_app
from sessionlens.index import Index
from sessionlens.settings import Settings, load_settings
from sessionlens.sites import Site, SiteRegistry, new_site
from sessionlens.stores.local import LocalStore
from tests.helpers import free_port, wait_for_port

ROOT = Path(__file__).resolve().parent.parent
SITE_ORIGIN = "https://shop.example"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(overrides={"data_dir": str(tmp_path / "data")}, environ={})


@pytest.fixture
def store(settings: Settings) -> LocalStore:
    return LocalStore(Path(settings.data_dir) / "blobs")


@pytest.fixture
def index(settings: Settings) -> Iterator[Index]:
    idx = Index(settings.resolved_index_path)
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
