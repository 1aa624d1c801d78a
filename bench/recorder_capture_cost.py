"""Main-thread cost of console + network capture, sessionlens beside rrweb's console plugin.

One Chromium run, one fresh page per (run, recorder). The page, once the
recorder has started and its snapshot is done, makes 1,000 console messages
(console.error and console.warn alternately, each with a string, a number and a
small object: both recorders capture these levels by default) and then 1,000
fetch() calls to a loopback endpoint (issued 50 at a time, each batch awaited).
Measured per page:

- console loop: performance.now() around the 1,000 synchronous console calls;
- fetch issue: performance.now() summed over the synchronous fetch() calls
  (what a wrapper adds before the request leaves);
- fetch wall: the whole fetch phase (dominated by the loopback round trips);
- script / task: CDP Performance.getMetrics ScriptDuration and TaskDuration
  deltas (main-thread CPU time, timeDomain threadTicks) over the whole workload
  plus 1 s of settling afterwards (resource timing entries and response
  handlers run after the loop). The performance.now() figures are wall time
  and move with machine load; the CPU-time ones are the steadier comparison.

Recorders: none, sessionlens (console error/warn + fetch/xhr + resource
timing; its per-page-view caps apply: 100 console events, 200 fetch/xhr and
200 resource entries), sessionlens with data-record-network="false", and
rrweb record + @rrweb/rrweb-plugin-console-record (rrweb has no network
capture of its own). Medians over --runs, the order rotated per run.
Also prints both recorders' size, minified + gzip -9.

    .venv/bin/python bench/recorder_capture_cost.py [--runs 7]
(rrweb comes from bench/node_modules: `cd bench && npm ci`.)
"""

from __future__ import annotations

import argparse
import gzip
import json
import socket
import statistics
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))

from browser_bench import CHROMIUM, CHROMIUM_ARGS, RRWEB_JS, SESSIONLENS_JS  # noqa: E402

RRWEB_CONSOLE_JS = (
    Path(__file__).resolve().parent
    / "node_modules"
    / "@rrweb"
    / "rrweb-plugin-console-record"
    / "dist"
    / "rrweb-plugin-console-record.umd.min.cjs"
)
MESSAGES = 1000
FETCHES = 1000
BATCH = 50
SETTLE_MS = 1000

# A small shop-like page (a few hundred nodes) so the snapshot is quick and the
# workload, not the page, is what is measured.
PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>capture bench</title></head>
<body><main>%ROWS%</main><script>
async function workload(messages, fetches, batch) {
  const t0 = performance.now();
  for (let i = 0; i < messages; i++) {
    (i % 2 ? console.warn : console.error)('bench message', i, {id: i, sku: 'A-' + i, qty: i % 7});
  }
  const consoleMs = performance.now() - t0;
  let issueMs = 0;
  const f0 = performance.now();
  for (let i = 0; i < fetches; i += batch) {
    const ps = [];
    for (let j = i; j < Math.min(fetches, i + batch); j++) {
      const s = performance.now();
      ps.push(fetch('/api/item?id=' + j + '&q=shoes').then(r => r.text()));
      issueMs += performance.now() - s;
    }
    await Promise.all(ps);
  }
  return {consoleMs, issueMs, fetchWallMs: performance.now() - f0};
}
window.ready = true;
</script></body></html>"""
ROWS = "".join(
    f'<div class="row"><a href="/p/{i}">Product {i}</a><span class="price">{i}.99</span>'
    f"<button>Add</button></div>"
    for i in range(100)
)

START = {
    "none": "() => true",
    "sessionlens": """(base) => new Promise(res => { const s = document.createElement('script');
        s.src = base + '/sessionlens.js'; s.dataset.site = 'benchsite'; s.dataset.endpoint = base + '/ingest/benchsite';
        s.dataset.flushMs = '600000'; s.onload = () => res(true); document.head.appendChild(s); })""",
    "sessionlens no-net": """(base) => new Promise(res => { const s = document.createElement('script');
        s.src = base + '/sessionlens.js'; s.dataset.site = 'benchsite'; s.dataset.endpoint = base + '/ingest/benchsite';
        s.dataset.flushMs = '600000'; s.dataset.recordNetwork = 'false'; s.onload = () => res(true);
        document.head.appendChild(s); })""",
    "rrweb+console": """(base) => new Promise(res => { const a = document.createElement('script');
        a.src = base + '/rrweb.js'; a.onload = () => { const b = document.createElement('script');
        b.src = base + '/rrweb-console.js'; b.onload = () => { window.__rr = [];
          rrwebRecord.record({ emit: e => window.__rr.push(e),
            plugins: [rrwebPluginConsoleRecord.getRecordConsolePlugin()] }); res(true); };
        document.head.appendChild(b); }; document.head.appendChild(a); })""",
}
# Wait until the recorder's first snapshot is in (so its cost is not billed to the workload).
READY = {
    "none": "() => true",
    "sessionlens": "() => !!(window.sessionlens.debug() && window.sessionlens.debug().snapshot)",
    "sessionlens no-net": "() => !!(window.sessionlens.debug() && window.sessionlens.debug().snapshot)",
    "rrweb+console": "() => window.__rr.length >= 2",
}
# How many captured console / request events each recorder holds afterwards.
CAPTURED = {
    "none": "() => [0, 0]",
    "sessionlens": "() => window.sessionlens.flush().then(() => [0, 0])",
    "sessionlens no-net": "() => window.sessionlens.flush().then(() => [0, 0])",
    "rrweb+console": """() => [window.__rr.filter(e => e.type === 6 && e.data.plugin === 'rrweb/console@1').length, 0]""",
}


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        # A page closed with its unload beacon in flight resets the connection: expected.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class Server:
    def __init__(self) -> None:
        self.bodies: list[bytes] = []
        server = self
        files = {
            "/sessionlens.js": SESSIONLENS_JS,
            "/rrweb.js": RRWEB_JS,
            "/rrweb-console.js": RRWEB_CONSOLE_JS,
        }

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def setup(self) -> None:
                super().setup()
                # Headers and body are separate writes: without this, delayed ACKs
                # add ~40 ms per keep-alive response and the fetch phase drags.
                self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def _send(self, code: int, body: bytes, ctype: str) -> None:
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                path = urlsplit(self.path).path
                if path == "/page":
                    self._send(200, PAGE.replace("%ROWS%", ROWS).encode(), "text/html")
                elif path in files:
                    self._send(200, files[path].read_bytes(), "text/javascript")
                elif path == "/api/item":
                    self._send(200, b'{"ok":true,"price":9.99}', "application/json")
                else:
                    self._send(404, b"", "text/plain")

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if body[:2] == b"\x1f\x8b":
                    body = gzip.decompress(body)
                server.bodies.append(body)
                self._send(200, b'{"ok":true}', "application/json")

        self.httpd = QuietServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def sessionlens_counts(self) -> tuple[int, int]:
        """Console and request events in the batches received so far (then forgets them)."""
        consoles = requests = 0
        for body in self.bodies:
            for event in json.loads(body)["events"]:
                consoles += event[0] == "console"
                requests += event[0] == "request"
        self.bodies.clear()
        return consoles, requests


def metrics(cdp) -> dict[str, float]:
    return {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}


def measure(browser, server: Server, recorder: str) -> dict[str, float]:
    context = browser.new_context()
    page = context.new_page()
    try:
        cdp = context.new_cdp_session(page)
        # Thread CPU time, not wall time: steadier on a shared machine.
        cdp.send("Performance.enable", {"timeDomain": "threadTicks"})
        page.goto(f"{server.url}/page")
        page.wait_for_function("window.ready === true")
        page.evaluate(START[recorder], server.url)
        page.wait_for_function(READY[recorder], polling=50)
        page.wait_for_timeout(300)
        server.bodies.clear()
        before = metrics(cdp)
        # Started from a page timer, not from the evaluate call itself: script run
        # inside a DevTools command is not counted in ScriptDuration.
        page.evaluate(
            f"() => {{ setTimeout(() => workload({MESSAGES}, {FETCHES}, {BATCH}).then(r => {{ window.result = r; }})); }}"
        )
        page.wait_for_function("() => !!window.result", polling=100, timeout=120_000)
        timing = page.evaluate("() => window.result")
        page.wait_for_timeout(SETTLE_MS)
        after = metrics(cdp)
        captured = page.evaluate(CAPTURED[recorder])
        if recorder.startswith("sessionlens"):
            captured = list(server.sessionlens_counts())
    finally:
        context.close()
    return {
        "console ms": timing["consoleMs"],
        "fetch issue ms": timing["issueMs"],
        "fetch wall ms": timing["fetchWallMs"],
        "script ms": (after["ScriptDuration"] - before["ScriptDuration"]) * 1000,
        "task ms": (after["TaskDuration"] - before["TaskDuration"]) * 1000,
        "console events": captured[0],
        "request events": captured[1],
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    sl = len(gzip.compress(SESSIONLENS_JS.read_bytes(), 9))
    rr = len(gzip.compress(RRWEB_JS.read_bytes(), 9))
    rc = len(gzip.compress(RRWEB_CONSOLE_JS.read_bytes(), 9))
    print("recorder size, minified + gzip -9:")
    print(f"  sessionlens (all capture)          {sl:7,d} B  {sl / 1024:5.1f} KB")
    print(
        f"  rrweb record + console plugin      {rr + rc:7,d} B  {(rr + rc) / 1024:5.1f} KB"
        f"  (record {rr:,d} + console {rc:,d})"
    )
    print(f"  ratio rrweb/sessionlens             {(rr + rc) / sl:5.1f}x")

    recorders = list(START)
    results: dict[str, list[dict[str, float]]] = {r: [] for r in recorders}
    server = Server()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            measure(browser, server, "none")  # warm-up: caches, JIT of the page's own code
            for run in range(args.runs):
                order = recorders[run % len(recorders) :] + recorders[: run % len(recorders)]
                for recorder in order:
                    results[recorder].append(measure(browser, server, recorder))
        finally:
            browser.close()
    server.httpd.shutdown()

    keys = list(results["none"][0])
    print(f"\n{MESSAGES:,d} console messages + {FETCHES:,d} fetches, medians over {args.runs} runs:")
    print(f"  {'':20s}" + "".join(f"{k:>16s}" for k in keys))
    med = {r: {k: statistics.median(x[k] for x in results[r]) for k in keys} for r in recorders}
    for r in recorders:
        print(f"  {r:20s}" + "".join(f"{med[r][k]:16.1f}" for k in keys))
    print("\nextra over no recorder (median):")
    for k in ("console ms", "fetch issue ms", "script ms", "task ms"):
        extra = {r: med[r][k] - med["none"][k] for r in recorders if r != "none"}
        line = "  ".join(f"{r} {v:+7.1f}" for r, v in extra.items())
        ratio = extra["sessionlens"] / extra["rrweb+console"] if extra["rrweb+console"] > 0 else float("nan")
        print(f"  {k:16s} {line}   sessionlens/rrweb {ratio:.2f}")


if __name__ == "__main__":
    main()
