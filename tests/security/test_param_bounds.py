"""Numeric parameters: every endpoint × parameter × hostile value, generated from the bounds table.

The cases come from sessionlens.params, so a parameter added to the table is
attacked here without touching this file. Each hostile value must get a 400
whose JSON error starts with the parameter's name and states its range (never
a 500, never a slow answer computed from a huge number); values inside the
bounds must still work.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from starlette.routing import Route
from starlette.testclient import TestClient

from sessionlens import params
from sessionlens.app import create_app
from sessionlens.auth.users import Accounts
from sessionlens.cli import main
from sessionlens.index import open_index
from sessionlens.params import Bound, Endpoint
from sessionlens.settings import load_settings
from sessionlens.sites import SiteRegistry, new_site
from sessionlens.stores.local import LocalStore
from tests.helpers import batch, click_event, meta_event, new_id, snapshot_event

ORIGIN = "https://shop.example"
CLICK_SELECTOR = "#buy"


def _day(ms: int, days: int = 0) -> str:
    return (dt.datetime.fromtimestamp(ms / 1000, dt.UTC).date() + dt.timedelta(days=days)).isoformat()


def hostile_values(b: Bound) -> list[str]:
    """Values every parameter must refuse: outside its bounds, or not plainly a number of its kind."""
    if b.kind == "date":
        outside = [_day(b.min, -2), _day(b.max, 2), str(b.max + 1), f"{_day(b.min, -2)}T00:00:00Z"]
        outside += ["3.5", "2026-02-30", "2026-13-01", "yesterday", "-1"]
    else:
        outside = [str(b.min - 1), str(b.max + 1)]
        if b.kind == "int":
            outside += ["3.5", f"{b.min}.0", "1e3"]
        else:
            outside += [f"{b.max}.5", "1e3"]
    return outside + [
        "abc", "inf", "-inf", "Infinity", "nan", "NaN", "1e400", "9" * 20, "-" + "9" * 20,
        "", " 5", "5 ", "0x10", "1_000", "١٢", "+5", "5\n",
    ]  # fmt: skip


def good_values(b: Bound) -> list[str]:
    """Values inside the bounds, the edges included."""
    if b.kind == "date":
        return [str(b.min), str(b.max), "2026-11-23", "2026-11-23T10:00:00Z", "2026-11-23T10:00:00+02:00"]
    values = {str(b.min), str(b.max), str((b.min + b.max) // 2)}
    if b.default is not None:
        values.add(str(b.default))
    if b.kind == "float":
        values.add(f"{b.min}.5")
    return sorted(values)


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory, fresh_index_url: Callable[[], str]) -> Iterator[dict[str, Any]]:
    """One viewer with one recorded page view (a click on #buy) and a read token."""
    data = Path(tmp_path_factory.mktemp("bounds")) / "data"
    settings = load_settings(overrides={"data_dir": str(data), "index_url": fresh_index_url()}, environ={})
    store = LocalStore(data / "blobs")
    index = open_index(settings)
    site = new_site("Shop", [ORIGIN])
    SiteRegistry(store).save(site)
    accounts = Accounts(store)
    accounts.add_user("bounds", "bounds-password-1")
    token = accounts.create_token("bounds", "param bounds test")
    app = create_app(settings, store=store, index=index)
    with TestClient(app, headers={"Origin": ORIGIN, "User-Agent": "pytest-browser/1.0"}) as client:
        sid, pid = new_id(), new_id()
        events = [meta_event(0, f"{ORIGIN}/"), snapshot_event(), click_event(100)]
        r = client.post(f"/ingest/{site.key}", content=orjson.dumps(batch(sid, pid, 0, events)))
        assert r.status_code == 200, r.text
        client.headers["Authorization"] = f"Bearer {token}"
        yield {"client": client, "site": site.key, "sid": sid, "pid": pid, "app": app, "data": data}
    index.close()


def _request(rig: dict[str, Any], endpoint: Endpoint) -> tuple[str, dict[str, str], int]:
    """The path, the non-numeric parameters it needs, and the answer for good values."""
    path = endpoint.path.format(sid=rig["sid"], pid=rig["pid"])
    if endpoint is params.HEATMAP_IMAGE:
        # No page view matches, so a good request ends in 404 before Chromium draws anything.
        return path, {"site": rig["site"], "url": "/nothing-recorded-here"}, 404
    if endpoint is params.HEATMAP_SESSIONS:
        return path, {"site": rig["site"], "url": "/", "selector": CLICK_SELECTOR}, 200
    if endpoint is params.HEATMAP_ELEMENTS:
        return path, {"site": rig["site"], "url": "/"}, 200
    if endpoint is params.HEATMAP_MOMENTS:
        return path, {"site": rig["site"], "url": "/nothing-recorded-here"}, 404
    if endpoint is params.HEATMAP_THUMBNAIL:
        # A page view that is not recorded: 404 before Chromium renders anything.
        return path, {"site": rig["site"], "sid": rig["sid"], "pid": "not-recorded-pid", "at": "0"}, 404
    return path, {}, 200


CASES = [(ep, b) for ep in params.API_ENDPOINTS for b in ep.bounds]
IDS = [f"{ep.path}?{b.name}" for ep, b in CASES]


@pytest.mark.parametrize(("endpoint", "bound"), CASES, ids=IDS)
def test_out_of_bounds_and_malformed_values_get_400_naming_the_parameter(
    rig: dict[str, Any], endpoint: Endpoint, bound: Bound
) -> None:
    path, base, _ = _request(rig, endpoint)
    for raw in hostile_values(bound):
        r = rig["client"].get(path, params={**base, bound.name: raw})
        assert r.status_code == 400, (raw, r.status_code, r.text[:300])
        assert r.headers["content-type"].startswith("application/json")
        message = r.json()["error"]
        assert message.startswith(f"{bound.name} must be "), (raw, message)
        assert bound.range_text() in message, (raw, message)


@pytest.mark.parametrize(("endpoint", "bound"), CASES, ids=IDS)
def test_values_inside_the_bounds_still_work(rig: dict[str, Any], endpoint: Endpoint, bound: Bound) -> None:
    path, base, expected = _request(rig, endpoint)
    for raw in good_values(bound):
        r = rig["client"].get(path, params={**base, bound.name: raw})
        assert r.status_code == expected, (raw, r.status_code, r.text[:300])
        if expected == 404:
            assert "no recorded page view" in r.json()["error"]


def test_the_reported_cases_are_refused(rig: dict[str, Any]) -> None:
    """The examples from the issue (radius=3000000 once took 85 s and 4.4 GB)."""
    client, site, sid, pid = rig["client"], rig["site"], rig["sid"], rig["pid"]
    heatmap = f"/api/heatmaps/image?site={site}&url=/"
    for url, name in [
        (f"{heatmap}&radius=3000000", "radius"),
        (f"{heatmap}&width=inf", "width"),
        (f"{heatmap}&from={'1' * 20}", "from"),
        ("/api/sessions?min_duration=inf", "min_duration"),
        ("/api/sessions?limit=-1", "limit"),
        (f"/api/sessions/{sid}/pages/{pid}/state?at=1e400", "at"),
        (f"/api/sessions/{sid}/pages/{pid}/events?limit=-1", "limit"),
    ]:
        r = client.get(url)
        assert r.status_code == 400 and r.json()["error"].startswith(f"{name} must be "), (url, r.text)


def test_page_state_needs_at(rig: dict[str, Any]) -> None:
    r = rig["client"].get(f"/api/sessions/{rig['sid']}/pages/{rig['pid']}/state")
    assert r.status_code == 400 and r.json()["error"].startswith("at is required")


def test_heatmap_pid_must_be_a_page_view_id(rig: dict[str, Any]) -> None:
    for pid in ("", "x", "a" * 65, "../../etc", "١٢٣٤٥٦٧٨"):
        r = rig["client"].get("/api/heatmaps/image", params={"site": rig["site"], "url": "/", "pid": pid})
        assert r.status_code == 400 and r.json()["error"].startswith("pid must be"), (pid, r.text)


def test_every_endpoint_in_the_table_is_a_route(rig: dict[str, Any]) -> None:
    paths = {route.path for route in rig["app"].routes if isinstance(route, Route)}
    for endpoint in params.API_ENDPOINTS:
        assert endpoint.path in paths


def test_api_docs_hold_the_current_table() -> None:
    text = params.DOC_PATH.read_text(encoding="utf-8")
    assert params.docs_with_table(text) == text, "run: python -m sessionlens.params"
    for endpoint in params.API_ENDPOINTS:
        for bound in endpoint.bounds:
            assert f"| `{endpoint.path}` | `{bound.name}` |" in text


CLI_CASES = [(cmd, b) for cmd in params.CLI_COMMANDS for b in cmd.bounds]


def _cli_argv(command: Endpoint, data: Path, option: str) -> list[str]:
    if command is params.CLI_HEATMAP:
        return ["heatmap", "--data-dir", str(data), "--site", "nosuchsite", "--url", "/", option,
                "-o", str(data / "never-written.png")]  # fmt: skip
    return ["export", "--data-dir", str(data), "no-such-session", "--html", option]


@pytest.mark.parametrize(("command", "bound"), CLI_CASES, ids=[f"{c.path} --{b.name}" for c, b in CLI_CASES])
def test_cli_numeric_options_are_refused_with_a_clear_message(
    command: Endpoint, bound: Bound, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for raw in hostile_values(bound):
        try:
            status = main(_cli_argv(command, tmp_path, f"--{bound.name}={raw}"))
        except SystemExit as exc:  # argparse refuses before the command runs
            status = exc.code
        err = capsys.readouterr().err
        assert status == 2, (raw, err)
        assert f"{bound.name} must be " in err and bound.range_text() in err, (raw, err)
        assert "Traceback" not in err
    assert not (tmp_path / "never-written.png").exists()
