"""The recorder's side of on-page surveys (issue 13, surveys-interface.md), in Chromium:
`sessionlens.survey(...)` calls, queued before load like track(), reach the real collector
as `survey` events trimmed to what ingest accepts; and the survey widget is loaded once per
page load, only when an ingest ack names it (X-Sessionlens-Surveys), only from the
collector's own origin. The acks come from a real HTTP server on another origin, so the
browser's CORS rules (the exposed header) are part of what is tested."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from sessionlens.contracts import event_as_dict
from tests.helpers import free_port
from tests.live import LiveCollector, ThreadServer, chromium, demo_snippet, wait_until

PAGE = """<!doctype html><html><head><title>survey</title>
<!--SNIPPET-->
<script>sessionlens.survey("nps-1", "shown", "ignored", "ignored"); sessionlens.track("early");</script>
</head><body><p>hello</p></body></html>"""

# What the fake collector's ack says, per endpoint path.
ACK_HEADER = {
    "widget": "/survey.js",
    "absolute-same": "{origin}/survey.js?v=2",
    "elsewhere": "http://127.0.0.2:{port}/survey.js",
    "none": None,
}


def ack_app(port: int) -> Starlette:
    """Ingest acks (204) as the collector sends them, and a widget that counts its loads."""
    origin = f"http://127.0.0.1:{port}"

    async def ingest(request: Request) -> Response:
        headers = {
            "Access-Control-Allow-Origin": "*",
            "Access-Control-Expose-Headers": "X-Sessionlens-Surveys",
        }
        value = ACK_HEADER[request.path_params["mode"]]
        if value is not None:
            headers["X-Sessionlens-Surveys"] = value.format(origin=origin, port=port)
        if request.method == "OPTIONS":
            headers["Access-Control-Allow-Methods"] = "POST"
            headers["Access-Control-Allow-Headers"] = "Content-Type"
            return Response(status_code=204, headers=headers)
        await request.body()
        return Response(status_code=204, headers=headers)

    async def widget(request: Request) -> Response:
        body = (
            "window.__widget = (window.__widget || []).concat([{src: document.currentScript.src,"
            " async: document.currentScript.async, site: document.currentScript.dataset.site,"
            " endpoint: document.currentScript.dataset.endpoint}]);"
        )
        return Response(body, media_type="text/javascript", headers={"Access-Control-Allow-Origin": "*"})

    return Starlette(
        routes=[
            Route("/ingest/{mode}", ingest, methods=["POST", "OPTIONS"]),
            Route("/survey.js", widget),
        ]
    )


@pytest.fixture(scope="module")
def rig(
    tmp_path_factory: pytest.TempPathFactory, new_collector: Callable[..., LiveCollector]
) -> Iterator[dict[str, Any]]:
    collector = new_collector(Path(tmp_path_factory.mktemp("survey")) / "data")
    collector.start()
    port, ack_port = free_port(), free_port()
    site = collector.add_site(f"http://127.0.0.1:{port}")
    snippets = {"real": demo_snippet(collector, site, flush_ms=300)}
    for mode in ACK_HEADER:
        extra = f'data-endpoint="http://127.0.0.1:{ack_port}/ingest/{mode}"'
        snippets[mode] = demo_snippet(collector, site, flush_ms=200, extra=extra)

    async def page(request: Request) -> Response:
        return HTMLResponse(PAGE.replace("<!--SNIPPET-->", snippets[request.path_params["name"]]))

    site_app = Starlette(routes=[Route("/p/{name}", page)])
    with (
        ThreadServer(site_app, port) as server,
        ThreadServer(ack_app(ack_port), ack_port) as acks,
        chromium() as browser,
    ):
        yield {"collector": collector, "server": server, "acks": acks, "site": site, "browser": browser}
    collector.stop()


def open_page(rig: dict[str, Any], name: str) -> Any:
    """A recorded page whose recorder.js arrives late, so the page's own survey() call is queued."""
    page = rig["browser"].new_page()
    collector = rig["collector"]
    page.route(f"{collector.url}/recorder.js", lambda route: (page.wait_for_timeout(300), route.continue_()))
    page.acks = []
    page.on(
        "requestfinished", lambda r: "/ingest/" in r.url and r.method == "POST" and page.acks.append(r.url)
    )
    page.goto(f"{rig['server'].url}/p/{name}")
    page.wait_for_function("() => window.sessionlens && window.sessionlens.pageViewId")
    return page


def test_survey_calls_reach_the_collector_trimmed(rig: dict[str, Any]) -> None:
    collector, site = rig["collector"], rig["site"]
    page = open_page(rig, "real")
    page.evaluate(
        """() => {
        sessionlens.survey("nps-1", "answer", "q1", 9);
        sessionlens.survey("nps-1", "answer", "q2", "x".repeat(1500));
        sessionlens.survey("nps-1", "dismiss", "q3", "should be blank");
        sessionlens.survey("nps-1", "hack", "q1", "1");
        sessionlens.survey("", "shown", "", "");
        sessionlens.survey("s".repeat(80), "complete");
    }"""
    )
    pid = page.evaluate("() => sessionlens.pageViewId")

    def surveys() -> list[dict]:
        page.evaluate("() => sessionlens.flush()")
        events = [e for c in collector.chunks(site) if c["pid"] == pid for e in c["events"]]
        return [event_as_dict(e) for e in events if e[0] == "survey"]

    wait_until(lambda: len(surveys()) == 5, message="five survey events stored")
    got = [(s["survey"], s["action"], s["question"], s["value"]) for s in surveys()]
    assert got == [
        # Made before the recorder loaded (the stub queued it): question and value blank unless "answer".
        ("nps-1", "shown", "", ""),
        ("nps-1", "answer", "q1", "9"),
        ("nps-1", "answer", "q2", "x" * 1000),
        ("nps-1", "dismiss", "", ""),
        ("s" * 64, "complete", "", ""),
    ]
    # The queued call keeps the time it was made at: before the (late) recorder started.
    assert surveys()[0]["t"] == 0 < surveys()[1]["t"]
    page.close()


def widgets(page: Any) -> list[dict]:
    return page.evaluate("() => window.__widget || []")


def scripts_from(page: Any, origin: str) -> int:
    return page.evaluate(f"() => [...document.scripts].filter((s) => s.src.startsWith({origin!r})).length")


def acked(page: Any) -> int:
    """POSTs to the ingest endpoint that got their answer (page.evaluate lets playwright deliver events)."""
    page.evaluate("0")
    return len(page.acks)


def flush_twice(page: Any) -> None:
    """Two more acked batches after the first (the widget must still be loaded once). flush()
    resolves once the batch's answer was handled, so the recorder has seen both acks."""
    for n in (acked(page) + 1, acked(page) + 2):
        page.evaluate("() => { sessionlens.track('more'); return sessionlens.flush(); }")
        wait_until(lambda n=n: acked(page) >= n, message="another acked batch")


@pytest.mark.parametrize(("mode", "src"), [("widget", "/survey.js"), ("absolute-same", "/survey.js?v=2")])
def test_widget_is_loaded_once_when_the_ack_names_it(rig: dict[str, Any], mode: str, src: str) -> None:
    acks, site = rig["acks"], rig["site"]
    page = open_page(rig, mode)
    wait_until(lambda: widgets(page), message="the widget loaded")
    flush_twice(page)
    assert widgets(page) == [
        {"src": acks.url + src, "async": True, "site": site.key, "endpoint": f"{acks.url}/ingest/{mode}"}
    ]
    assert scripts_from(page, acks.url) == 1
    page.close()


@pytest.mark.parametrize("mode", ["elsewhere", "none"])
def test_widget_is_never_loaded_from_elsewhere_or_without_the_header(rig: dict[str, Any], mode: str) -> None:
    page = open_page(rig, mode)
    wait_until(lambda: acked(page), message="a first acked batch")
    flush_twice(page)
    assert widgets(page) == []
    assert scripts_from(page, "http://127.0.0.2") == 0
    assert scripts_from(page, rig["acks"].url) == 0
    page.close()


def test_tracked_names_are_kept_for_the_widget(rig: dict[str, Any]) -> None:
    """The widget loads after the first ack: sessionlens.tracked tells it what was tracked before
    (its event triggers), the last 20 names, including calls queued before the recorder loaded."""
    page = open_page(rig, "real")
    assert page.evaluate("() => sessionlens.tracked") == ["early"]
    page.evaluate("() => { for (let i = 0; i < 25; i++) sessionlens.track('e' + i, {i}); }")
    assert page.evaluate("() => sessionlens.tracked") == [f"e{i}" for i in range(5, 25)]
    page.close()
