"""The recorder's visitor id and identify() in Chromium against the real collector."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.helpers import free_port
from tests.live import LiveCollector, ThreadServer, chromium, demo_snippet, wait_until
from tests.recording import fixture_app


@pytest.fixture(scope="module")
def rig(
    tmp_path_factory: pytest.TempPathFactory, new_collector: Callable[..., LiveCollector]
) -> Iterator[dict]:
    collector = new_collector(Path(tmp_path_factory.mktemp("vid")) / "data")
    collector.start()
    servers, out = [], {"collector": collector}
    for name, options in (("open", {}), ("consent", {"consent_required": True})):
        port = free_port()
        site = collector.add_site(f"http://127.0.0.1:{port}", **options)
        app = fixture_app({"<!--SESSIONLENS-->": demo_snippet(collector, site, flush_ms=300),
                           "%RECORDER%": f"{collector.url}/recorder.js"})  # fmt: skip
        server = ThreadServer(app, port).__enter__()
        servers.append(server)
        out[name] = (server, site)
    with chromium() as browser:
        out["browser"] = browser
        yield out
    for server in servers:
        server.__exit__(None, None, None)
    collector.stop()


def _chunks(collector: LiveCollector, site, sid: str) -> list[dict]:
    return [c for c in collector.chunks(site) if c["sid"] == sid]


def test_visitor_id_is_kept_across_page_views_and_identify_is_queued(rig: dict) -> None:
    collector, (server, site) = rig["collector"], rig["open"]
    context = rig["browser"].new_context()
    page = context.new_page()
    page.add_init_script(
        "document.addEventListener('DOMContentLoaded', () => window.sessionlens.identify("
        "'user-7', {plan: 'pro', nested: {a: 1}, n: 3, list: [1]}))"
    )
    page.goto(server.url + "/dom.html")
    page.wait_for_function("() => window.sessionlens && window.sessionlens.pageViewId")
    sid = page.evaluate("() => window.sessionlens.sessionId")
    page.evaluate("() => window.sessionlens.flush()")
    page.goto(server.url + "/dom.html")  # a second page view of the same visit
    page.wait_for_function("() => window.sessionlens && window.sessionlens.pageViewId")
    page.evaluate("() => window.sessionlens.flush()")
    wait_until(lambda: len({c["pid"] for c in _chunks(collector, site, sid)}) == 2, message="two page views")
    chunks = _chunks(collector, site, sid)
    vids = {c.get("vid") for c in chunks}
    assert len(vids) == 1 and None not in vids
    assert page.evaluate("() => localStorage.getItem('sl_vid')") in vids
    identify = [e for c in chunks for e in c["events"] if e[0] == "identify"]
    assert identify and identify[0][2:] == ["user-7", {"plan": "pro", "n": 3}]
    wait_until(lambda: collector.index_rows("SELECT user_id FROM sessions WHERE sid = ?", (sid,)),
               message="the session indexed")  # fmt: skip
    row = collector.index_rows("SELECT visitor_id, user_id FROM sessions WHERE sid = ?", (sid,))[0]
    assert row["visitor_id"] in vids and row["user_id"] == "user-7"
    context.close()


def test_no_visitor_id_before_consent(rig: dict) -> None:
    collector, (server, site) = rig["collector"], rig["consent"]
    context = rig["browser"].new_context()
    page = context.new_page()
    page.goto(server.url + "/dom.html")
    page.wait_for_function("() => window.sessionlens && window.sessionlens.consent")
    page.wait_for_timeout(500)
    assert page.evaluate("() => localStorage.getItem('sl_vid')") is None
    page.evaluate("() => window.sessionlens.consent(true)")
    page.wait_for_function("() => window.sessionlens.pageViewId")
    vid = page.evaluate("() => localStorage.getItem('sl_vid')")
    assert vid
    page.evaluate("() => window.sessionlens.flush()")
    sid = page.evaluate("() => window.sessionlens.sessionId")
    wait_until(lambda: _chunks(collector, site, sid), message="a chunk")
    assert {c.get("vid") for c in _chunks(collector, site, sid)} == {vid}
    page.evaluate("() => window.sessionlens.consent(false)")  # withdrawn: the visitor id is forgotten
    assert page.evaluate("() => localStorage.getItem('sl_vid')") is None
    context.close()
