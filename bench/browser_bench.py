"""Shared pieces for recorder benchmarks: a loopback HTTP server that serves
test pages, both recorders and a batch sink, plus Chromium trace parsing."""

from __future__ import annotations

import gzip
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from sessionlens.chromium import CHROMIUM, CHROMIUM_ARGS  # noqa: E402, F401 - re-exported for the benches

SESSIONLENS_JS = ROOT / "src" / "sessionlens" / "static" / "recorder.js"
RRWEB_JS = (
    Path(__file__).resolve().parent / "node_modules" / "@rrweb" / "record" / "dist" / "record.umd.min.cjs"
)

# A page of n element nodes (plus a text node each), nested a few levels the
# way real pages are: sections > cards > rows > spans.
PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>bench</title>
<style>.card{border:1px solid #ccc;margin:2px;padding:2px}.row span{color:#333}</style></head>
<body><main id="root"></main><script>
function build(n){const root=document.getElementById('root');let made=0;
 while(made<n){const sec=document.createElement('section');sec.className='card';made++;
  for(let r=0;r<10&&made<n;r++){const row=document.createElement('div');row.className='row';made++;
   for(let s=0;s<9&&made<n;s++){const sp=document.createElement('span');sp.className='c'+(s%3);
    sp.textContent='item '+made;row.appendChild(sp);made++;}
   sec.appendChild(row);}
  root.appendChild(sec);}}
function insertBlocks(k,per){const root=document.getElementById('root');
 for(let i=0;i<k;i++){const d=document.createElement('div');d.className='ins';
  for(let j=0;j<per;j++){const s=document.createElement('span');s.textContent='new '+i+'.'+j;d.appendChild(s);}
  root.appendChild(d);}}
build(%N%);window.built=true;
</script></body></html>"""


class BenchServer:
    def __init__(self) -> None:
        self.bodies: list[bytes] = []
        bench = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _send(self, code: int, body: bytes, ctype: str) -> None:
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Access-Control-Allow-Origin", "*")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                url = urlsplit(self.path)
                if url.path == "/page":
                    n = int(parse_qs(url.query).get("n", ["1000"])[0])
                    self._send(200, PAGE.replace("%N%", str(n)).encode(), "text/html")
                elif url.path == "/sessionlens.js":
                    self._send(200, SESSIONLENS_JS.read_bytes(), "text/javascript")
                elif url.path == "/rrweb.js":
                    self._send(200, RRWEB_JS.read_bytes(), "text/javascript")
                else:
                    self._send(404, b"", "text/plain")

            def do_OPTIONS(self) -> None:
                self.send_response(204)
                self.send_header("Access-Control-Allow-Origin", "*")
                self.send_header("Access-Control-Allow-Headers", "*")
                self.end_headers()

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if body[:2] == b"\x1f\x8b":
                    body = gzip.decompress(body)
                bench.bodies.append(body)
                self._send(200, b'{"ok":true}', "application/json")

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        self.httpd.shutdown()


START_RECORDER = {
    "none": "() => true",
    "sessionlens": """(base) => new Promise(res => { const s = document.createElement('script');
        s.src = base + '/sessionlens.js'; s.dataset.site = 'benchsite'; s.dataset.endpoint = base + '/ingest/benchsite';
        s.dataset.flushMs = '600000'; s.onload = () => res(true); document.head.appendChild(s); })""",
    "rrweb": """(base) => new Promise(res => { const s = document.createElement('script');
        s.src = base + '/rrweb.js'; s.onload = () => { window.__rr = [];
        rrwebRecord.record({ emit: e => window.__rr.push(e) }); res(true); }; document.head.appendChild(s); })""",
}


def main_thread_tasks(trace: bytes) -> list[float]:
    """Durations (ms) of top-level tasks on the busiest renderer main thread."""
    events = json.loads(trace)
    events = events["traceEvents"] if isinstance(events, dict) else events
    mains = {
        (e["pid"], e["tid"])
        for e in events
        if e.get("ph") == "M"
        and e.get("name") == "thread_name"
        and e.get("args", {}).get("name") == "CrRendererMain"
    }
    per_thread: dict[tuple[int, int], list[float]] = {}
    for e in events:
        if e.get("name") == "RunTask" and e.get("ph") == "X" and (e.get("pid"), e.get("tid")) in mains:
            per_thread.setdefault((e["pid"], e["tid"]), []).append(e.get("dur", 0) / 1000.0)
    if not per_thread:
        return []
    return max(per_thread.values(), key=sum)


TRACE_CATEGORIES = ["devtools.timeline", "disabled-by-default-devtools.timeline"]
