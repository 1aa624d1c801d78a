"""Heatmap backdrops as a product feature: installed by the first command,
rendered through the installed `sessionlens` command with the configured
Chromium, sandboxed as an unprivileged user, and a clear error (not a
traceback) when Chromium is missing."""

from __future__ import annotations

import io
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PIL import Image
from starlette.testclient import TestClient

from sessionlens import chromium
from sessionlens.app import create_app
from sessionlens.auth.users import Accounts
from sessionlens.heatmap.isolated_page import render_page
from sessionlens.heatmap.resource_fetch import FetchPolicy
from sessionlens.settings import Settings
from sessionlens.sites import SiteRegistry, new_site
from tests.helpers import click_event, meta_event, new_id, settings_with
from tests.live import LiveCollector
from tests.viewer_live import post_batch

ROOT = Path(__file__).resolve().parent.parent
PAGE_COLOUR = (250, 120, 10)
ORIGIN = "https://shop.example"


def _page_batch(sid: str | None = None) -> dict:
    nodes = [
        [1, None, None, 9], [2, 1, None, 10, "html", "", ""], [3, 1, None, 1, "html", {}],
        [4, 3, None, 1, "body", {}],
        [5, 4, None, 1, "button", {"id": "buy", "style": "width:400px;height:200px;background:rgb({},{},{})".format(*PAGE_COLOUR)}],  # fmt: skip
        [6, 5, None, 3, "Buy"],
    ]  # fmt: skip
    events = [meta_event(0, f"{ORIGIN}/product", vw=1280), ["snapshot", 5, 0, True, nodes], click_event(100)]
    import time

    return {
        "v": 1,
        "sid": sid or new_id(),
        "pid": new_id(),
        "seq": 0,
        "t0": int(time.time() * 1000),
        "events": events,
    }


def _colour_pixels(png: bytes, colour: tuple[int, int, int], tolerance: int = 30) -> int:
    image = Image.open(io.BytesIO(png)).convert("RGB")
    return sum(
        n
        for n, px in image.getcolors(1 << 24) or []
        if all(abs(a - b) <= tolerance for a, b in zip(px, colour, strict=True))
    )


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A directory the unprivileged Chromium user can read (pytest's tmp_path is root-only)."""
    folder = Path(tempfile.mkdtemp(prefix="sessionlens-test-"))
    folder.chmod(0o755)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _chromium_that_logs(folder: Path, refuse_sandbox: bool = False) -> tuple[Path, Path]:
    """An executable standing in for chromium_path: notes that it ran, then runs the real Chromium."""
    marks = folder / "marks"
    marks.mkdir(mode=0o777)
    marks.chmod(0o777)
    script = folder / "my-chromium"
    refuse = (
        'case " $* " in *" --no-sandbox "*) ;; *) echo "sandbox refused by test" >&2; exit 1;; esac\n'
        if refuse_sandbox
        else ""
    )
    script.write_text(f'#!/bin/sh\n{refuse}touch "{marks}/ran"\nexec {chromium.DEFAULT_PATH} "$@"\n')
    script.chmod(0o755)
    return script, marks / "ran"


def test_backdrop_dependencies_are_installed_by_the_product_not_only_the_tests() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert any(re.match(r"playwright\b", d) for d in project["dependencies"])
    setup = (ROOT / "scripts" / "setup").read_text()
    # Called at the top level of setup, not inside the --test branch.
    assert re.search(r"^scripts/install-chromium\b", setup, re.M), "scripts/setup must install Chromium"
    dockerfile = (ROOT / "docker" / "Dockerfile").read_text()
    assert re.search(r"apt-get install[^\n]*\bchromium\b", dockerfile)


def test_install_chromium_installs_debians_package_only_when_missing(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "calls"
    for name in ("apt-get", "sudo"):
        stub = bin_dir / name
        stub.write_text(
            f'#!/bin/sh\necho "{name} $*" >> "{calls}"\n[ "{name}" = sudo ] && exec "$@"\nexit 0\n'
        )
        stub.chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    missing = subprocess.run(
        [str(ROOT / "scripts" / "install-chromium")],
        env={**env, "SESSIONLENS_CHROMIUM_PATH": str(tmp_path / "no-chromium")},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert missing.returncode == 0, missing.stderr
    assert re.search(r"apt-get install .*\bchromium\b", calls.read_text())
    calls.unlink()
    present = subprocess.run(
        [str(ROOT / "scripts" / "install-chromium")],
        env={**env, "SESSIONLENS_CHROMIUM_PATH": chromium.DEFAULT_PATH},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert present.returncode == 0 and not calls.exists()


def test_the_installed_command_renders_a_heatmap_with_the_configured_chromium(
    tmp_path: Path, shared_dir: Path, new_collector: Callable[..., LiveCollector]
) -> None:
    """The product's own path: `sessionlens serve` takes a batch, `sessionlens heatmap` draws it."""
    collector = new_collector(tmp_path / "data")
    collector.start()
    try:
        site = collector.add_site(ORIGIN)
        post_batch(collector, site, ORIGIN, _page_batch())
    finally:
        collector.stop()
    command = Path(sys.executable).parent / "sessionlens"
    assert command.exists(), "the console script is installed"
    my_chromium, ran = _chromium_that_logs(shared_dir)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SESSIONLENS_")}
    if collector.index_url:
        env["SESSIONLENS_INDEX_URL"] = collector.index_url
    out = tmp_path / "out.png"
    base = [
        str(command),
        "heatmap",
        "--data-dir",
        str(tmp_path / "data"),
        "--site",
        site.key,
        "--url",
        "/product",
    ]
    done = subprocess.run(
        [*base, "-o", str(out)], env={**env, "SESSIONLENS_CHROMIUM_PATH": str(my_chromium)},
        capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert ran.exists(), "the configured chromium_path was used"
    png = out.read_bytes()
    assert Image.open(io.BytesIO(png)).format == "PNG"
    assert _colour_pixels(png, PAGE_COLOUR) > 300 * 150, "the recorded page is the backdrop"

    # A chromium_path that does not exist: a sentence saying what to do, no traceback, nothing written.
    bad = subprocess.run(
        [*base, "--width", "1000", "-o", str(tmp_path / "bad.png")],
        env={**env, "SESSIONLENS_CHROMIUM_PATH": "/nonexistent/chromium"},
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert bad.returncode == 3
    assert "Chromium was not found at '/nonexistent/chromium'" in bad.stderr and "chromium_path" in bad.stderr
    assert "Traceback" not in bad.stderr
    assert not (tmp_path / "bad.png").exists()


def test_a_missing_chromium_is_a_json_503(settings: Settings) -> None:
    app = create_app(settings_with(settings, chromium_path="/nonexistent/chromium"))
    with TestClient(app, headers={"Origin": ORIGIN}) as client:
        store = app.state.store
        site = new_site("Shop", [ORIGIN])
        SiteRegistry(store).save(site)
        assert client.post(f"/ingest/{site.key}", json=_page_batch()).status_code == 200
        accounts = Accounts(store)
        token = accounts.create_token(accounts.add_user("r", "a long passphrase").name, "t")
        r = client.get(
            "/api/heatmaps/image",
            params={"site": site.key, "url": "/product"},
            headers={"Authorization": f"Bearer {token}"},
        )
    assert r.status_code == 503
    assert r.headers["content-type"].startswith("application/json")
    assert "Chromium was not found" in r.json()["error"] and "chromium_path" in r.json()["error"]


@pytest.mark.skipif(os.geteuid() != 0, reason="checks the drop from root to chromium_user")
def test_backdrop_chromium_runs_sandboxed_as_an_unprivileged_user() -> None:
    from playwright.sync_api import sync_playwright

    marker = f"--proxy-server=http://127.0.0.1:{chromium._dead_port()}"
    with sync_playwright() as p:
        browser = chromium.launch_isolated(p, chromium.DEFAULT_PATH, "nobody")
        try:
            page = browser.new_page()
            page.goto("chrome://sandbox")
            status = page.inner_text("body")
            uids = set()
            for proc in Path("/proc").iterdir():
                try:
                    if proc.name.isdigit() and marker.encode() in (proc / "cmdline").read_bytes():
                        uids.add(proc.stat().st_uid)
                except OSError:
                    continue
        finally:
            browser.close()
    assert "You are adequately sandboxed" in status
    assert uids == {65534}, f"Chromium processes ran as {uids}"


def test_without_a_usable_sandbox_it_falls_back_with_a_warning(
    shared_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    no_sandbox_chromium, ran = _chromium_that_logs(shared_dir, refuse_sandbox=True)
    with caplog.at_level(logging.WARNING, logger="sessionlens.chromium"):
        page = render_page(
            "<p id=a style='height:50px'>hello</p>", 400, 300, ["#a"], chromium_path=str(no_sandbox_chromium),
            chromium_user="nobody", policy=FetchPolicy(), max_height=1000,
        )  # fmt: skip
    assert ran.exists() and page.boxes["#a"][3] == 50
    assert chromium.sandbox_state(str(no_sandbox_chromium), "nobody") is False
    assert any("sandbox" in r.getMessage() for r in caplog.records)
