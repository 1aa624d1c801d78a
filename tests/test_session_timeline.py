"""The player's first request: page views from the index alone, markers later.

A 60-minute session's markers need all of its chunks read (seconds); the
player asks with markers=0 first so its first frame does not wait for that.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from starlette.testclient import TestClient

from sessionlens.app import create_app
from sessionlens.auth.users import Accounts
from sessionlens.index import Index
from sessionlens.settings import load_settings
from sessionlens.sites import SiteRegistry, new_site
from sessionlens.stores.local import LocalStore
from tests.helpers import batch, click_event, meta_event, new_id, snapshot_event

ORIGIN = "https://shop.example"


@pytest.fixture()
def viewer(tmp_path: Path) -> Iterator[dict[str, Any]]:
    settings = load_settings(overrides={"data_dir": str(tmp_path / "data")}, environ={})
    store = LocalStore(tmp_path / "data" / "blobs")
    index = Index(settings.resolved_index_path)
    site = new_site("Shop", [ORIGIN])
    SiteRegistry(store).save(site)
    accounts = Accounts(store)
    accounts.add_user("timeline", "timeline-password-1")
    token = accounts.create_token("timeline", "timeline test")
    app = create_app(settings, store=store, index=index)
    with TestClient(app, headers={"Origin": ORIGIN, "User-Agent": "pytest-browser/1.0"}) as client:
        sid, pid = new_id(), new_id()
        events = [meta_event(0, f"{ORIGIN}/"), snapshot_event(), click_event(100)]
        assert client.post(f"/ingest/{site.key}", content=orjson.dumps(batch(sid, pid, 0, events))).status_code == 200
        client.headers["Authorization"] = f"Bearer {token}"
        yield {"client": client, "sid": sid, "app": app}
    index.close()


def test_markers_0_answers_from_the_index_without_reading_chunks(viewer: dict[str, Any]) -> None:
    client, sid = viewer["client"], viewer["sid"]
    full = client.get(f"/api/sessions/{sid}").json()
    assert "click" in {m["kind"] for m in full["markers"]}

    def no_chunk_reads(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("markers=0 must not read chunks")

    viewer["app"].state.reader.events = no_chunk_reads
    quick = client.get(f"/api/sessions/{sid}?markers=0").json()
    assert quick["page_views"] == full["page_views"] and quick["session"] == full["session"]
    assert [m["kind"] for m in quick["markers"]] == ["pageview"]
    with pytest.raises(AssertionError):
        client.get(f"/api/sessions/{sid}")  # the default still reads them


def test_markers_must_be_0_or_1(viewer: dict[str, Any]) -> None:
    r = viewer["client"].get(f"/api/sessions/{viewer['sid']}?markers=2")
    assert r.status_code == 400 and "markers" in r.json()["error"]
