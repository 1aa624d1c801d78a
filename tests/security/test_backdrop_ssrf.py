"""Heatmap backdrops: a recorded page is rendered by the server's Chromium, so
everything it references is a request the server would make on a visitor's
behalf. A canary HTTP server on loopback counts every connection and
request; a forged recording points every kind of resource at it under every
spelling of its address; the heatmap is rendered through the API and the
CLI; the canary must have seen nothing and no canary colour may reach the PNG.
"""

from __future__ import annotations

import http.server
import io
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from starlette.testclient import TestClient

from sessionlens.auth.users import Accounts
from sessionlens.heatmap import resource_fetch
from sessionlens.heatmap.resource_fetch import FetchPolicy, FetchRefused
from sessionlens.sites import Site
from sessionlens.stores.local import LocalStore
from tests.helpers import click_event, meta_event, new_id

CANARY = (204, 0, 187)  # no heatmap palette colour over a white page comes near it
PAGE_URL = "https://shop.example/ssrf"


def _png(colour: tuple[int, int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 64), colour).save(out, "PNG")
    return out.getvalue()


class _Canary(http.server.ThreadingHTTPServer):
    """Counts connections and requests; serves images and CSS of one colour (the canary's by default)."""

    daemon_threads = True

    def __init__(self, family: int, host: str, colour: tuple[int, int, int] = CANARY) -> None:
        self.address_family = family
        self.connections = 0
        self.requests: list[str] = []
        self.colour = colour
        self.png = _png(colour)
        self.css = "*,html,body{{background:rgb({},{},{}) !important}}".format(*colour).encode()
        self.redirect_to = ""
        super().__init__((host, 0), _CanaryHandler)

    def verify_request(self, request: Any, client_address: Any) -> bool:
        self.connections += 1  # a preconnect opens a socket without sending a request
        return True


class _CanaryHandler(http.server.BaseHTTPRequestHandler):
    server: _Canary

    def do_GET(self) -> None:
        self.server.requests.append(self.path)
        if "redirect" in self.path and self.server.redirect_to:
            self.send_response(302)
            self.send_header("Location", self.server.redirect_to)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if ".css" in self.path:
            body, kind = self.server.css, "text/css"
        elif "frame" in self.path or "refresh" in self.path or "link" in self.path:
            body, kind = b"<body style='background:rgb(%d,%d,%d)'>canary" % self.server.colour, "text/html"
        else:
            body, kind = self.server.png, "image/png"
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Access-Control-Allow-Origin", "*")
        self.end_headers()
        self.wfile.write(body)

    do_POST = do_GET

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def canaries() -> Iterator[tuple[_Canary, _Canary]]:
    v4 = _Canary(socket.AF_INET, "127.0.0.1")
    v6 = _Canary(socket.AF_INET6, "::1")
    threads = [threading.Thread(target=s.serve_forever, daemon=True) for s in (v4, v6)]
    for t in threads:
        t.start()
    try:
        yield v4, v6
    finally:
        for s in (v4, v6):
            s.shutdown()
            s.server_close()


def _spellings(v4: int, v6: int) -> list[str]:
    """Every way to write the canary's address that a browser or resolver accepts."""
    return [
        f"http://127.0.0.1:{v4}", f"http://2130706433:{v4}", f"http://127.1:{v4}", f"http://0x7f.0.0.1:{v4}",
        f"http://0177.0.0.1:{v4}", f"http://localhost:{v4}", f"http://LOCALHOST.:{v4}", f"http://0.0.0.0:{v4}",
        f"http://[::ffff:127.0.0.1]:{v4}", f"http://[::1]:{v6}", f"http://[0:0:0:0:0:0:0:1]:{v6}",
        f"http://localhost:{v6}",
    ]  # fmt: skip


Spec = tuple[str, dict[str, str], list[Any]]


def _resources(base: str, n: int) -> tuple[list[Spec], list[Spec], str]:
    """Head elements, body elements and CSS referencing base in every way a page can."""
    u = lambda name: f"{base}/{name}{n}"  # noqa: E731
    head: list[Spec] = [
        ("link", {"rel": "stylesheet", "href": u("link.css")}, []),
        ("link", {"rel": "preload", "as": "image", "href": u("preload.png")}, []),
        ("link", {"rel": "prefetch", "href": u("prefetch.png")}, []),
        ("link", {"rel": "preconnect", "href": base}, []),
        ("link", {"rel": "dns-prefetch", "href": base}, []),
        ("link", {"rel": "icon", "href": u("icon.png")}, []),
        ("link", {"rel": "manifest", "href": u("manifest")}, []),
        ("meta", {"http-equiv": "refresh", "content": f"0; url={u('refresh')}"}, []),
    ]
    css = (
        f"@import url({u('import.css')});"
        f"@font-face{{font-family:canary{n};src:url({u('font.woff')})}}"
        f".bg{n}{{background:url({u('bg.png')});width:200px;height:100px}}"
        f".set{n}{{background-image:image-set(url({u('set.png')}) 1x);width:200px;height:100px}}"
        f".cur{n}{{cursor:url({u('cursor.png')}),auto;font-family:canary{n}}}"
        f".ls{n}{{list-style-image:url({u('list.png')})}}"
        f".bi{n}{{border:20px solid;border-image:url({u('border.png')}) 30 round}}"
        f".mask{n}{{mask-image:url({u('mask.png')});-webkit-mask-image:url({u('wmask.png')});"
        f"background:url({u('maskbg.png')});width:100px;height:100px}}"
        f".content{n}::before{{content:url({u('content.png')})}}"
    )
    head.append(("style", {}, [css]))
    img = {"width": "120", "height": "120"}
    body: list[Spec] = [
        ("img", {"src": u("img.png"), **img}, []),
        ("img", {"srcset": f"{u('srcset.png')} 1x, {u('srcset2.png')} 2x", **img}, []),
        ("picture", {}, [("source", {"srcset": u("source.png")}, []), ("img", {"src": u("pimg.png"), **img}, [])]),
        ("video", {"poster": u("poster.png"), "src": u("video.mp4"), "preload": "auto", **img}, []),
        ("audio", {"src": u("audio.mp3"), "preload": "auto"}, []),
        ("input", {"type": "image", "src": u("input.png"), **img}, []),
        ("svg", {"width": "120", "height": "120"}, [
            ("image", {"href": u("svgimage.png"), **img}, []),
            ("image", {"xlink:href": u("xlink.png"), **img}, []),
            ("use", {"href": f"{u('sprite.svg')}#a"}, []),
            ("feImage", {"href": u("feimage.png")}, []),
        ]),
        ("iframe", {"src": u("frame"), "width": "200", "height": "120"}, []),
        ("object", {"data": u("object.png"), **img}, []),
        ("embed", {"src": u("embed.png"), **img}, []),
        ("a", {"ping": u("ping"), "href": u("link")}, ["a link"]),
        ("div", {"style": f"background:url({u('inline.png')});width:120px;height:120px"}, []),
        ("table", {"background": u("table.png"), "width": "120", "height": "60"}, [("tbody", {}, [("tr", {}, [("td", {}, ["x"])])])]),
        ("div", {"class": f"bg{n}"}, []),
        ("div", {"class": f"set{n}"}, []),
        ("div", {"class": f"cur{n}"}, ["cursor text"]),
        ("ul", {"class": f"ls{n}"}, [("li", {}, ["item"])]),
        ("div", {"class": f"bi{n}"}, ["border"]),
        ("div", {"class": f"mask{n}"}, []),
        ("div", {"class": f"content{n}"}, []),
        ("link", {"rel": "stylesheet", "href": u("bodylink.css")}, []),
    ]  # fmt: skip
    return head, body, css


def _nodes(spec: Spec) -> list[list[Any]]:
    """Flat snapshot records (document, doctype, then the tree in document order)."""
    records: list[list[Any]] = [[1, None, None, 9], [2, 1, None, 10, "html", "", ""]]
    stack: list[tuple[Any, int]] = [(spec, 1)]
    next_id = 3
    while stack:
        item, parent = stack.pop()
        if isinstance(item, str):
            records.append([next_id, parent, None, 3, item])
            next_id += 1
            continue
        tag, attrs, children = item
        records.append([next_id, parent, None, 1, tag, attrs])
        me = next_id
        next_id += 1
        stack.extend((c, me) for c in reversed(children))
    return records


def hostile_page(v4: int, v6: int, file_url: str) -> list[list[Any]]:
    head: list[Spec] = []
    body: list[Spec] = [("button", {"id": "buy", "style": "width:200px;height:60px"}, ["Buy"])]
    for n, base in enumerate(_spellings(v4, v6)):
        h, b, _ = _resources(base, n)
        head += h
        body += b
    body.append(("img", {"src": file_url, "width": "120", "height": "120"}, []))
    body.append(("iframe", {"src": file_url, "width": "120", "height": "120"}, []))
    page: Spec = (
        "html",
        {},
        [("head", {}, head), ("body", {"background": f"http://127.0.0.1:{v4}/body.png"}, body)],
    )
    return _nodes(page)


def _ingest(client: TestClient, site: Site, nodes: list[list[Any]], url: str = PAGE_URL) -> tuple[str, str]:
    sid, pid = new_id(), new_id()
    events = [meta_event(0, url, vw=1280), ["snapshot", 5, 0, True, nodes], click_event(100)]
    body = {"v": 1, "sid": sid, "pid": pid, "seq": 0, "t0": _now_ms(), "events": events}
    r = client.post(f"/ingest/{site.key}", json=body)
    assert r.status_code == 200, r.text
    return sid, pid


def _now_ms() -> int:
    import time

    return int(time.time() * 1000)


def _token(store: LocalStore) -> dict[str, str]:
    accounts = Accounts(store)
    user = accounts.add_user("researcher", "a long passphrase", replace=True)
    return {"Authorization": f"Bearer {accounts.create_token(user.name, 'ssrf test')}"}


def canary_pixels(png: bytes, tolerance: int = 24, colour: tuple[int, int, int] = CANARY) -> int:
    image = Image.open(io.BytesIO(png)).convert("RGB")
    r0, g0, b0 = colour
    return sum(
        count
        for count, (r, g, b) in image.getcolors(maxcolors=1 << 24) or []
        if abs(r - r0) <= tolerance and abs(g - g0) <= tolerance and abs(b - b0) <= tolerance
    )


def _backdrop_pngs(data_dir: Path) -> list[Path]:
    return [p for p in (data_dir / "blobs").rglob("*.png") if "backdrops" in p.parts]


def test_a_recorded_page_cannot_make_the_server_fetch_anything(
    canaries: tuple[_Canary, _Canary], client: TestClient, site: Site, store: LocalStore, settings, tmp_path: Path,
    index_env: dict[str, str],
) -> None:  # fmt: skip
    v4, v6 = canaries
    local_file = tmp_path / "local.png"
    local_file.write_bytes(_png(CANARY))
    _ingest(client, site, hostile_page(v4.server_address[1], v6.server_address[1], local_file.as_uri()))

    # Through the API, as a logged-in researcher opening the heatmap of that URL.
    r = client.get(
        "/api/heatmaps/image",
        params={"site": site.key, "url": "/ssrf", "type": "click", "width": "1280"},
        headers=_token(store),
    )
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "image/png"
    assert canary_pixels(r.content) == 0

    # Through the CLI, at another width (so it renders anew, not from the cache).
    out = tmp_path / "map.png"
    done = subprocess.run(
        [sys.executable, "-m", "sessionlens.cli", "heatmap", "--data-dir", settings.data_dir, "--site", site.key,
         "--url", "/ssrf", "--width", "1024", "-o", str(out)],
        capture_output=True, text=True, timeout=180, env={**os.environ, **index_env},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert canary_pixels(out.read_bytes()) == 0

    backdrops = _backdrop_pngs(Path(settings.data_dir))
    assert {Image.open(p).width for p in backdrops} == {1280, 1024}, "both backdrops were really rendered"
    assert all(canary_pixels(p.read_bytes()) == 0 for p in backdrops)
    assert (v4.requests, v6.requests) == ([], []), "the canary was asked for something"
    assert (v4.connections, v6.connections) == (0, 0), "something connected to the canary"


def test_the_canary_sees_a_browser_that_is_not_isolated(canaries: tuple[_Canary, _Canary]) -> None:
    """The check above is only worth something if an ordinary Chromium does hit the canary."""
    from playwright.sync_api import sync_playwright

    from sessionlens.chromium import CHROMIUM, CHROMIUM_ARGS

    v4, _ = canaries
    page_url = f"http://127.0.0.1:{v4.server_address[1]}/frame"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.set_content(f"<img src='{page_url}-img.png'><link rel=stylesheet href='{page_url}.css'>")
            page.wait_for_load_state("load")
        finally:
            browser.close()
    assert v4.requests, "an ordinary browser should have fetched from the canary"


# --- the Python fetcher for allow-listed origins -------------------------------------------------


def _policy(origins: str, **kw: Any) -> FetchPolicy:
    return FetchPolicy.from_list(origins, **kw)


def test_the_fetcher_refuses_loopback_even_when_the_name_is_allowed(
    canaries: tuple[_Canary, _Canary],
) -> None:
    v4, v6 = canaries
    port4, port6 = v4.server_address[1], v6.server_address[1]
    for base in (f"http://localhost:{port4}", f"http://127.0.0.1:{port4}", f"http://2130706433:{port4}",
                 f"http://127.1:{port4}", f"http://[::1]:{port6}", f"http://[::ffff:127.0.0.1]:{port4}"):  # fmt: skip
        with pytest.raises(FetchRefused, match="not a public address"):
            resource_fetch.fetch(f"{base}/img.png", _policy(base))
    with pytest.raises(FetchRefused, match="not in backdrop_fetch_origins"):
        resource_fetch.fetch(f"http://127.0.0.1:{port4}/img.png", _policy("https://shop.example"))
    assert v4.requests == [] and v6.requests == [] and v4.connections == 0

    # Only the separate, test-only setting lets a private address through.
    got = resource_fetch.fetch(
        f"http://localhost:{port4}/img.png", _policy(f"http://localhost:{port4}", allow_private=True)
    )
    assert got.body == v4.png and got.content_type == "image/png"


@pytest.mark.parametrize(
    "address",
    ["127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1", "0.0.0.0",
     "224.0.0.1", "240.0.0.1", "255.255.255.255", "::1", "::", "fe80::1", "fc00::1", "fd00:ec2::254",
     "ff02::1", "::ffff:10.0.0.1", "64:ff9b::7f00:1", "2002:7f00:1::", "2001:db8::1"],
)  # fmt: skip
def test_non_public_addresses_are_refused(address: str) -> None:
    import ipaddress

    assert resource_fetch.refusal(ipaddress.ip_address(address)) is not None
    assert resource_fetch.refusal(ipaddress.ip_address("93.184.215.14")) is None


def test_metadata_addresses_stay_refused_when_private_addresses_are_allowed() -> None:
    import ipaddress

    for address in ("169.254.169.254", "fd00:ec2::254", "::ffff:169.254.169.254"):
        assert "metadata" in (resource_fetch.refusal(ipaddress.ip_address(address), allow_private=True) or "")


def test_redirects_are_checked_again(canaries: tuple[_Canary, _Canary]) -> None:
    """An allowed origin that redirects to one not allowed gets nothing more."""
    v4, _ = canaries
    port = v4.server_address[1]

    class Redirect(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(302)
            self.send_header("Location", f"http://127.0.0.1:{port}/img.png")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Redirect)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        allowed = f"http://localhost:{server.server_address[1]}"
        with pytest.raises(FetchRefused, match="not in backdrop_fetch_origins"):
            resource_fetch.fetch(f"{allowed}/start.png", _policy(allowed, allow_private=True))
    finally:
        server.shutdown()
        server.server_close()
    assert v4.requests == []


def test_size_limit(canaries: tuple[_Canary, _Canary]) -> None:
    v4, _ = canaries
    base = f"http://localhost:{v4.server_address[1]}"
    with pytest.raises(FetchRefused, match="limit"):
        resource_fetch.fetch(f"{base}/img.png", _policy(base, allow_private=True, max_bytes=10))


def test_malformed_origins_are_refused() -> None:
    for bad in ("shop.example", "ftp://shop.example", "https://shop.example/path", "https://u:p@shop.example",
                "javascript:alert(1)", "file:///etc"):  # fmt: skip
        with pytest.raises(ValueError, match="not an http"):
            FetchPolicy.from_list(bad)
    policy = FetchPolicy.from_list("https://Shop.Example:443/, http://cdn.example:8080")
    assert policy.origins == {"https://shop.example", "http://cdn.example:8080"}
    assert policy.allows_origin("https://SHOP.example/a.png") and not policy.allows_origin(
        "http://shop.example/"
    )


# --- the allow-list, end to end ------------------------------------------------------------------

ALLOWED = (0, 160, 90)


def test_allowed_origins_are_fetched_by_the_service_and_nothing_else(
    canaries: tuple[_Canary, _Canary], tmp_path: Path, settings: Any
) -> None:
    from sessionlens.app import create_app
    from sessionlens.sites import SiteRegistry, new_site
    from tests.helpers import settings_with

    v4, _ = canaries
    allowed = _Canary(socket.AF_INET, "127.0.0.1", colour=ALLOWED)
    threading.Thread(target=allowed.serve_forever, daemon=True).start()
    origin = f"http://localhost:{allowed.server_address[1]}"
    canary = f"http://127.0.0.1:{v4.server_address[1]}"
    allowed.redirect_to = f"{canary}/redirected.png"
    settings = settings_with(settings, backdrop_fetch_origins=origin, backdrop_fetch_private_addresses=True)
    page: Spec = ("html", {}, [
        ("head", {}, [("link", {"rel": "stylesheet", "href": f"{origin}/sheet.css"}, [])]),
        ("body", {}, [
            ("img", {"src": f"{origin}/ok.png", "width": "300", "height": "300"}, []),
            ("img", {"src": f"{origin}/redirect.png", "width": "300", "height": "300"}, []),
            ("img", {"src": f"{canary}/not-allowed.png", "width": "300", "height": "300"}, []),
            ("iframe", {"src": f"{origin}/frame"}, []),  # a document, not an image/font/stylesheet
        ]),
    ])  # fmt: skip
    try:
        app = create_app(settings)
        with TestClient(app, headers={"Origin": "https://shop.example"}) as client:
            store = app.state.store
            site = new_site("Shop", ["https://shop.example"])
            SiteRegistry(store).save(site)
            _ingest(client, site, _nodes(page))
            r = client.get(
                "/api/heatmaps/image",
                params={"site": site.key, "url": "/ssrf", "width": "800"},
                headers=_token(store),
            )
    finally:
        allowed.shutdown()
        allowed.server_close()
    assert r.status_code == 200, r.text
    assert sorted(allowed.requests) == ["/ok.png", "/redirect.png", "/sheet.css"]
    assert v4.requests == [] and v4.connections == 0
    backdrop = next(iter(_backdrop_pngs(Path(settings.data_dir)))).read_bytes()
    assert canary_pixels(backdrop, colour=ALLOWED) > 300 * 300, "the allowed image and sheet are drawn"
    assert canary_pixels(backdrop) == 0


# --- a deep DOM as the backdrop ------------------------------------------------------------------

DEEP_COLOUR = (0, 96, 255)


def test_a_3000_level_deep_page_is_still_a_backdrop(
    client: TestClient, site: Site, store: LocalStore, index
) -> None:
    """Stored as it would have been before ingest had depth limits; the heatmap answers 200 for everyone."""
    from sessionlens import codec, keys
    from sessionlens.reindex import reindex

    nodes: list[list[Any]] = [[1, None, None, 9], [2, 1, None, 10, "html", "", ""], [3, 1, None, 1, "html", {}],
                              [4, 3, None, 1, "body", {}]]  # fmt: skip
    parent = 4
    for depth in range(3000):
        nodes.append([5 + depth, parent, None, 1, "div", {"class": f"d{depth}"}])
        parent = 5 + depth
    nodes.append([9000, parent, None, 1, "div", {"style": "background:rgb({},{},{});width:300px;height:300px".format(*DEEP_COLOUR)}])  # fmt: skip
    sid, pid = new_id(), new_id()
    events = [
        meta_event(0, "https://shop.example/deep", vw=1280),
        ["snapshot", 5, 0, True, nodes],
        click_event(100),
    ]
    chunk = {"v": 1, "site": site.key, "sid": sid, "pid": pid, "seq": 0, "t0": _now_ms(), "received": _now_ms(),
             "ua": "pytest", "events": events}  # fmt: skip
    store.put(keys.chunk_key(keys.ChunkAddress(site.key, sid, pid, 0)), codec.encode(chunk))
    reindex(store, index)

    r = client.get("/api/heatmaps/image", params={"site": site.key, "url": "/deep"}, headers=_token(store))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "image/png"
    assert canary_pixels(r.content, colour=DEEP_COLOUR, tolerance=40) > 200 * 200, (
        "the deepest element is drawn"
    )
