"""`sessionlens serve --role`: collectors answer the recorder only, viewers people only."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from starlette.testclient import TestClient

from sessionlens.app import create_app
from sessionlens.cli import build_parser
from sessionlens.index import Index
from sessionlens.settings import SettingsError, load_settings
from sessionlens.sites import Site
from sessionlens.stores.local import LocalStore
from tests.conftest import SITE_ORIGIN
from tests.helpers import batch

INGEST_ONLY = ("/recorder.js", "/ingest/{site}")
VIEWER_ONLY = ("/login", "/api/sessions", "/sessions/x", "/heatmaps", "/sites/{site}/snippet", "/replay/frame")


def _client(tmp_path: Path, store: LocalStore, index: Index, role: str) -> TestClient:
    settings = load_settings(overrides={"data_dir": str(tmp_path), "role": role, "derivation_worker": False})
    app = create_app(settings, store=store, index=index)
    return TestClient(app, headers={"Origin": SITE_ORIGIN})


def _post(c: TestClient, site: Site) -> int:
    return c.post(f"/ingest/{site.key}", content=orjson.dumps(batch())).status_code


def _routes(c: TestClient) -> set[str]:
    return {getattr(r, "path", "") for r in c.app.routes}  # type: ignore[attr-defined]


def test_ingest_role_serves_the_recorder_and_ingest_only(
    tmp_path: Path, store: LocalStore, index: Index, site: Site
) -> None:
    with _client(tmp_path, store, index, "ingest") as c:
        assert c.get("/healthz").json() == {"ok": True}
        assert c.get("/recorder.js").status_code == 200
        assert _post(c, site) == 200
        for path in ("/login", "/api/sessions", "/heatmaps", f"/sites/{site.key}/snippet", "/replay/frame"):
            r = c.get(path)
            assert r.status_code in (401, 404), path  # no viewer route exists here
            assert "error" in r.json()
        assert not _routes(c) & {"/login", "/api/sessions", "/heatmaps", "/sites/{site}/snippet"}


def test_viewer_role_refuses_batches_and_serves_no_recorder(
    tmp_path: Path, store: LocalStore, index: Index, site: Site
) -> None:
    with _client(tmp_path, store, index, "viewer") as c:
        assert c.get("/healthz").json() == {"ok": True}
        assert c.get("/login").status_code == 200
        assert c.get("/recorder.js").status_code in (401, 404)
        assert _post(c, site) in (401, 404, 405)
        assert not _routes(c) & set(INGEST_ONLY)
        assert index.query("SELECT COUNT(*) AS n FROM chunks")[0]["n"] == 0


def test_all_role_is_the_default_and_serves_both(tmp_path: Path, store: LocalStore, index: Index, site: Site) -> None:
    assert load_settings(overrides={"data_dir": str(tmp_path)}).role == "all"
    with _client(tmp_path, store, index, "all") as c:
        assert _post(c, site) == 200
        assert c.get("/login").status_code == 200
        assert set(INGEST_ONLY) <= _routes(c)


def test_role_is_checked_on_the_command_line_and_in_settings(tmp_path: Path) -> None:
    assert build_parser().parse_args(["serve", "--role", "ingest"]).role == "ingest"
    with pytest.raises(SystemExit):
        build_parser().parse_args(["serve", "--role", "Ingest"])
    with pytest.raises(SettingsError, match="role must be one of"):
        load_settings(environ={"SESSIONLENS_ROLE": "collector"})


def test_health_command_checks_storage_and_index_like_healthz(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], index_in_environ: dict[str, str]
) -> None:
    from sessionlens.cli import main

    assert main(["health", "--data-dir", str(tmp_path / "ok")]) == 0
    assert capsys.readouterr().out.strip() == "ok"
    # Blobs under a path that is a file: the storage write fails, the index (elsewhere) is fine.
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "blobs").write_text("not a directory")
    index_path = tmp_path / "index.sqlite3"
    assert main(["--config", _toml(tmp_path, index_path), "health", "--data-dir", str(tmp_path / "broken")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("unhealthy: storage:") and "index:" not in err


def _toml(tmp_path: Path, index_path: Path) -> str:
    path = tmp_path / "sessionlens.toml"
    path.write_text(f'index_path = "{index_path}"\n')
    return str(path)
