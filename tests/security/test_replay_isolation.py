"""Issue 8, item 4: replayed content can never make a credentialed request to the viewer.

Two lines, each tested on its own:
- the sanitisers compare URLs after parsing them the way a browser does, so
  no spelling of the viewer's address survives (127.1, 2130706433,
  0x7f.1, zero-padded ports, [::ffff:127.0.0.1], LOCALHOST., userinfo,
  percent-encoded and full-width hosts, backslashes);
- the player rebuilds recordings in /replay/frame, sandboxed without
  allow-same-origin: even content that got past every sanitiser runs in an
  opaque origin, so its requests are cross-site and carry no cookie.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from starlette.testclient import TestClient
from starlette.types import ASGIApp, Receive, Scope, Send

from sessionlens.app import create_app
from sessionlens.auth.cookies import COOKIE
from sessionlens.auth.users import Accounts
from sessionlens.replay.origins import ViewerOrigins, parse_origin
from sessionlens.replay.sanitize import INVALID_URL, Sanitizer
from sessionlens.settings import load_settings
from sessionlens.sites import SiteRegistry, new_site
from sessionlens.stores.local import LocalStore
from sessionlens.viewer.replay_frame import FRAME_PATH
from tests.helpers import batch, free_port, meta_event, new_id
from tests.live import ThreadServer, chromium
from tests.viewer_live import VIEWER_PASSWORD, VIEWER_USER, log_in, open_player, post_batch, replay_frame

PORT = 8123
VIEWER = f"http://127.0.0.1:{PORT}"
# Every way to write the viewer's host and port that a browser sends to it.
SPELLINGS = [
    "http://127.0.0.1:{p}",
    "http://127.1:{p}",
    "http://2130706433:{p}",
    "http://127.0.0.1:0{p}",
    "http://0x7f.1:{p}",
    "http://0x7f000001:{p}",
    "http://0177.0.0.1:{p}",
    "http://127.0.0.1.:{p}",
    "http://[::ffff:127.0.0.1]:{p}",
    "http://[::ffff:7f00:1]:{p}",
    "HTTP://LOCALHOST.:{p}",
    "http://localhost:{p}",
    "http://user:pw@127.1:{p}",
    "http://%31%32%37.0.0.1:{p}",
    "http://\uff11\uff12\uff17\uff0e\uff10\uff0e\uff10\uff0e\uff11:{p}",
    "http:\\\\127.1:{p}",
    "http:/127.1:{p}",
    "https://127.0.0.1:{p}",
    " http://127.1:{p}",
    "http://127.1\t:{p}",
]
# In the browser test: spellings Chromium actually connects with to a server on 127.0.0.1.
BROWSER_SPELLINGS = [s for s in SPELLINGS if "localhost" not in s.lower() and not s.startswith("https")]


# -- the normaliser ---------------------------------------------------------


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_every_spelling_of_the_viewer_is_recognised(spelling: str) -> None:
    url = spelling.format(p=PORT) + "/api/me"
    assert ViewerOrigins([VIEWER]).targets(url), url
    assert Sanitizer([VIEWER]).url(url) == INVALID_URL


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/api/me",  # another port
        "https://shop.example/a.png",
        "http://127.0.0.1:8123@shop.example/a.png",  # the viewer as userinfo only
        "https://shop.example/?next=http://127.0.0.1:8123/api/me",
        "http://[::ffff:7f00:1]:9/",
    ],
)
def test_other_hosts_are_not_the_viewer(url: str) -> None:
    assert not ViewerOrigins([VIEWER]).targets(url)


def test_hosts_are_parsed_like_a_browser() -> None:
    cases = {
        "http://127.1": ("127.0.0.1", 80),
        "http://0x7f.0.0.0x1:080": ("127.0.0.1", 80),
        "http://2130706433": ("127.0.0.1", 80),
        "http://0x7F000001.": ("127.0.0.1", 80),
        "http://017700000001": ("127.0.0.1", 80),
        "http://10.1.257": ("10.1.1.1", 80),
        "https://[0:0:0:0:0:ffff:127.0.0.1]": ("127.0.0.1", 443),
        "https://[::1]:08443": ("::1", 8443),
        "HTTPS://Shop.Example.:443/x": ("shop.example", 443),
        "http://a@b@shop.example:81": ("shop.example", 81),
        "http:\\\\shop.example\\x": ("shop.example", 80),
        "ws://127.1": ("127.0.0.1", 80),
    }
    for url, endpoint in cases.items():
        origin = parse_origin(url)
        assert origin is not None and origin.endpoint == endpoint, (url, origin)
    for bad in ("http://256.0.0.1", "http://1.2.3.4.5", "http://0x100000000", "http://[::1%eth0]",
                "http://127.0.0.1:65536", "http://127.0.0.1:8x", "http://", "http://a b", "/api/me",
                "javascript:alert(1)"):  # fmt: skip
        assert parse_origin(bad) is None, bad


def test_a_loopback_viewer_is_every_loopback_host_on_its_port() -> None:
    viewer = ViewerOrigins([VIEWER])
    for host in ("127.0.0.2", "[::1]", "0.0.0.0", "0", "app.localhost", "[::]"):
        assert viewer.targets(f"http://{host}:{PORT}/"), host
    public = ViewerOrigins(["https://replay.example.com"])
    assert public.targets("https://REPLAY.example.com.:0443/api/me")
    assert not public.targets("https://127.0.0.1/api/me")


# -- the frame's own response -----------------------------------------------


def test_the_replay_frame_is_public_static_and_sandboxed(tmp_path: Path) -> None:
    settings = load_settings(overrides={"data_dir": str(tmp_path / "data")}, environ={})
    with TestClient(create_app(settings)) as client:
        page = client.get(FRAME_PATH)  # no cookie: the frame never needs one
        assert page.status_code == 200
        csp = page.headers["content-security-policy"]
        directives = {d.split()[0]: d.split()[1:] for d in csp.split(";") if d.strip()}
        assert directives["sandbox"] == ["allow-scripts"]  # opaque origin even when opened directly
        assert directives["script-src"] == ["'self'"]
        for name in ("connect-src", "object-src", "form-action", "base-uri", "frame-src"):
            assert directives[name] == ["'none'"], name
        assert "unsafe-inline" not in " ".join(directives["script-src"])
        assert "x-frame-options" not in page.headers or page.headers["x-frame-options"] != "DENY"
        script = client.get("/replay/frame.js")
        assert script.status_code == 200 and script.headers["access-control-allow-origin"] == "*"
        assert client.get("/replay/recorder.js").status_code == 404
        assert client.get("/replay/../api/me").status_code == 401


# -- in the real player, logged in ------------------------------------------


class RequestLog:
    """ASGI wrapper remembering every /api request: path, cookie or not, Fetch Metadata."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.seen: list[dict] = []
        self.lock = threading.Lock()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/api/"):
            headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
            with self.lock:
                self.seen.append(
                    {
                        "path": scope["path"],
                        "query": scope["query_string"].decode("latin-1"),
                        "cookie": f"{COOKIE}=" in headers.get("cookie", ""),
                        "dest": headers.get("sec-fetch-dest", ""),
                    }
                )
        await self.app(scope, receive, send)

    def credentialed(self, marker: str = "") -> list[dict]:
        with self.lock:
            return [r for r in self.seen if r["cookie"] and marker in r["query"]]

    def matching(self, marker: str) -> list[dict]:
        with self.lock:
            return [r for r in self.seen if marker in r["query"]]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, fresh_index_url: Callable[[], str]) -> Iterator[dict]:
    data = Path(tmp_path_factory.mktemp("isolation")) / "data"
    port = free_port()
    settings = load_settings(overrides={"data_dir": str(data), "index_url": fresh_index_url()}, environ={})
    store = LocalStore(data / "blobs")
    Accounts(store).add_user(VIEWER_USER, VIEWER_PASSWORD, replace=True)
    site = new_site("Forged", ["https://forged.example"])
    SiteRegistry(store).save(site)
    log = RequestLog(create_app(settings, store=store))
    with ThreadServer(log, port) as server, chromium() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        log_in(page, server)
        yield {"server": server, "page": page, "log": log, "site": site, "port": port}


def hostile_nodes(port: int, site_key: str) -> list:
    """A page whose every resource kind points at /api/me and a heatmap, in every spelling."""
    nodes: list = [
        [1, None, None, 9],
        [2, 1, None, 10, "html", "", ""],
        [3, 1, None, 1, "html", {}],
        [4, 3, None, 1, "head", {}],
        [5, 3, None, 1, "body", {}],
        [6, 5, None, 1, "h1", {"id": "marker"}],
        [7, 6, None, 3, "still rendered"],
    ]
    css = []
    next_id = 100
    heatmap = f"/api/heatmaps/image?site={site_key}&url=https://forged.example/&radius=400&width=4000"

    def add(parent: int, tag: str, attrs: dict, props: dict | None = None) -> int:
        nonlocal next_id
        next_id += 1
        nodes.append(
            [next_id, parent, None, 1, tag, attrs, props] if props else [next_id, parent, None, 1, tag, attrs]
        )
        return next_id

    for i, spelling in enumerate(BROWSER_SPELLINGS):
        base = spelling.format(p=port)

        def me(kind: str, base: str = base, i: int = i) -> str:
            return f"{base}/api/me?leak=1&k={kind}-{i}"

        add(5, "img", {"src": me("img")})
        add(5, "img", {"src": f"{base}{heatmap}&leak=1&k=heatmap-{i}"})
        add(5, "img", {"srcset": f"{me('srcset')} 1x, {me('srcset2')} 2x"})
        add(5, "div", {"style": f"width:20px;height:20px;background:url('{me('bg')}')"})
        css.append(f"@font-face{{font-family:f{i};src:url({me('font')})}} .f{i}{{font-family:f{i}}}")
        css.append(f".b{i}{{width:20px;height:20px;background-image:url({me('style-bg')})}}")
        add(5, "span", {"class": f"f{i} b{i}"})
        add(4, "link", {"rel": "stylesheet", "href": me("link-css")})
        add(5, "video", {"poster": me("poster"), "width": "20", "height": "20"})
        add(5, "input", {"type": "image", "src": me("input")})
        svg = add(5, "svg", {"width": "20", "height": "20"}, {"ns": "svg"})
        add(svg, "image", {"href": me("svg-href"), "width": "20", "height": "20"}, {"ns": "svg"})
        add(svg, "image", {"xlink:href": me("svg-xlink"), "width": "20", "height": "20"}, {"ns": "svg"})
        link = add(5, "a", {"href": me("link"), "class": "leak-link"})
        next_id += 1
        nodes.append([next_id, link, None, 3, f"link {i}"])
    style = add(4, "style", {})
    next_id += 1
    nodes.append([next_id, style, None, 3, "\n".join(css)])
    return nodes


def _wait_for(page, predicate, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        page.wait_for_timeout(100)  # lets playwright take in the browser's events (frames attached...)
    return predicate()


def test_recorded_viewer_urls_never_reach_the_api_with_the_cookie(served: dict) -> None:
    server, page, log, site = served["server"], served["page"], served["log"], served["site"]
    sid = new_id()
    events = [
        meta_event(0, "https://forged.example/"),
        ["snapshot", 10, 0, True, hostile_nodes(served["port"], site.key)],
    ]
    post_batch(server, site, "https://forged.example", batch(sid, new_id(), 0, events))

    open_player(page, server, sid, 500)
    frame = replay_frame(page)
    assert frame.locator("#marker").inner_text() == "still rendered"  # the replay itself works
    for link in frame.locator("a.leak-link").all():
        link.dispatch_event("click")  # a click activates the link as a researcher's would
    page.wait_for_timeout(1500)  # images, fonts, stylesheets and any navigation go out

    assert log.credentialed("leak=1") == []
    # The sanitisers refused every spelling, so nothing was even attempted;
    # the frame's opaque origin is what the next test checks.
    assert log.matching("leak=1") == []
    # The player's own API calls (fetch, same origin) are the only cookie-carrying ones.
    assert {r["dest"] for r in log.credentialed()} <= {"empty"}
    assert urlsplit(replay_frame(page).url).path == FRAME_PATH  # no link navigated the frame


def test_content_past_every_sanitiser_still_sends_no_cookie(served: dict) -> None:
    # Simulates a sanitiser bug: URLs to the viewer put into the replayed
    # document directly. The frame's opaque origin makes them cross-site.
    server, page, log, site = served["server"], served["page"], served["log"], served["site"]
    sid = new_id()
    nodes = hostile_nodes(served["port"], site.key)[:7]
    post_batch(server, site, "https://forged.example", batch(sid, new_id(), 0, [meta_event(0), ["snapshot", 10, 0, True, nodes]]))  # fmt: skip
    open_player(page, server, sid, 500)
    frame = replay_frame(page)
    assert frame.evaluate("window.origin") == "null"
    frame.evaluate(
        """(base) => {
          for (const [i, url] of [base, base.replace('127.0.0.1', '127.1'), base.replace('127.0.0.1', '2130706433')].entries()) {
            const img = document.createElement('img');
            img.src = url + '/api/me?bypass=1&k=img-' + i;
            document.body.append(img);
            const link = document.createElement('link');
            link.rel = 'stylesheet';
            link.href = url + '/api/me?bypass=1&k=css-' + i;
            document.head.append(link);
          }
        }""",
        server.url,
    )
    assert _wait_for(page, lambda: len(log.matching("bypass=1")) >= 6), log.matching("bypass=1")
    assert log.credentialed("bypass=1") == []
    # Nor can the frame read the cookie or fetch at all.
    assert frame.evaluate("() => { try { return document.cookie; } catch (e) { return 'refused'; } }") in (
        "",
        "refused",
    )
    fetched = frame.evaluate(
        "(u) => fetch(u + '/api/me?bypass=2', {credentials: 'include'}).then(() => 'fetched', () => 'blocked')",
        server.url,
    )
    assert fetched == "blocked" and log.matching("bypass=2") == []


def test_a_navigated_frame_is_replaced_and_gets_nothing(served: dict) -> None:
    # If anything ever navigated the replay frame, the player must not keep
    # posting the recording to whatever loaded instead: it throws the frame
    # away, connects a fresh one and rebuilds the page there.
    server, page, site = served["server"], served["page"], served["site"]
    sid = new_id()
    nodes = hostile_nodes(served["port"], site.key)[:7]
    post_batch(server, site, "https://forged.example", batch(sid, new_id(), 0, [meta_event(0), ["snapshot", 10, 0, True, nodes]]))  # fmt: skip
    open_player(page, server, sid, 500)
    old = replay_frame(page)
    # (The player page's frame-src keeps it to the viewer's origin, whose
    # pages all refuse to be framed; whatever loads instead, it is dropped.)
    old.evaluate("location.href = '/healthz'")
    assert _wait_for(page, lambda: _rebuilt_elsewhere(page, old))
    assert len(page.query_selector_all("iframe")) == 1


def _rebuilt_elsewhere(page, old) -> bool:
    try:
        frame = replay_frame(page)
        return frame is not old and frame.locator("#marker").count() == 1
    except AssertionError:  # between the old frame and the new one
        return False
