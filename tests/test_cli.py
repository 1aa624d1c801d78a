"""The command line, run as a user runs it: a subprocess of the installed script."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson
from starlette.testclient import TestClient

from sessionlens.app import create_app
from sessionlens.index import open_index
from sessionlens.settings import Settings
from sessionlens.sites import SiteRegistry
from sessionlens.stores.local import LocalStore
from tests.helpers import batch, click_event, lose_index


def run(
    data_dir: Path, *args: str, check: bool = True, index_env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`sessionlens ARGS --data-dir DATA_DIR`, with the test's index named by `index_env` (empty: SQLite)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SESSIONLENS_")}
    env.update(index_env or {})
    proc = subprocess.run(
        [sys.executable, "-m", "sessionlens.cli", *args, "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"{args} failed: {proc.stderr}")
    return proc


def test_sites_add_list_and_a_full_round_trip(settings: Settings, index_env: dict[str, str]) -> None:
    data = Path(settings.data_dir)
    out = run(data, "sites", "add", "Shop", "--origin", "https://shop.example", "--consent-required").stdout
    key = out.split("site key: ")[1].split()[0]
    assert 'data-consent="required"' in out
    listed = orjson.loads(run(data, "sites", "list", "--json").stdout)
    assert listed[0]["key"] == key and listed[0]["allowed_origins"] == ["https://shop.example"]

    store = LocalStore(data / "blobs")
    index = open_index(settings)
    app = create_app(settings, store=store, index=index)
    b0, b1 = batch(), None
    b1 = batch(b0["sid"], b0["pid"], 1, [click_event(900)], b0["t0"])
    with TestClient(app, headers={"Origin": "https://shop.example"}) as client:
        for b in (b0, b1):
            assert client.post(f"/ingest/{key}", content=orjson.dumps(b)).status_code == 200
    index.close()

    lines = [
        orjson.loads(line) for line in run(data, "export", b0["sid"], index_env=index_env).stdout.splitlines()
    ]
    assert [e["kind"] for e in lines] == ["meta", "snapshot", "click", "click"]
    assert lines[2]["selector"] == "#buy" and lines[3]["seq"] == 1
    assert lines[3]["time"] == b0["t0"] + 900

    lose_index(settings)
    proc = run(data, "reindex", index_env=index_env)
    assert "indexed 2 chunks in 1 sessions" in proc.stdout
    assert "reindex [" in proc.stderr  # the progress bar
    # Export finds the session through the rebuilt index, and through storage alone too.
    assert len(run(data, "export", b0["sid"], index_env=index_env).stdout.splitlines()) == 4


def test_cli_errors_are_messages_not_tracebacks(settings: Settings, index_env: dict[str, str]) -> None:
    data = Path(settings.data_dir)
    bad = run(data, "sites", "add", "Shop", "--origin", "not a url", check=False)
    assert bad.returncode == 2 and "allowed origin" in bad.stderr and "Traceback" not in bad.stderr
    missing = run(data, "export", "no-such-session", check=False, index_env=index_env)
    assert missing.returncode == 2 and "no session" in missing.stderr
    env = dict(os.environ, SESSIONLENS_PORT="eighty")
    proc = subprocess.run(
        [sys.executable, "-m", "sessionlens.cli", "settings"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert proc.returncode == 2 and "SESSIONLENS_PORT: port must be a int" in proc.stderr


def test_sites_are_kept_in_the_blob_store(tmp_path: Path) -> None:
    data = tmp_path / "data"
    run(data, "sites", "add", "A", "--origin", "https://a.example", "--key", "site-key-aaaa")
    assert SiteRegistry(LocalStore(data / "blobs")).get("site-key-aaaa").name == "A"
    dup = run(data, "sites", "add", "B", "--key", "site-key-aaaa", check=False)
    assert dup.returncode == 2 and "already exists" in dup.stderr
