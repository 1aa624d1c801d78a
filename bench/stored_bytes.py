"""Stored bytes per minute of a scripted session, beside rrweb's events gzipped.

Both recorders run in the same Chromium pages at the same time, through the
same scripted visit of the demo shop (pages, scrolling, pointer moves,
clicks, typing, an SPA route change), so they see identical activity.
sessionlens: bytes of the chunks the real collector stored (msgpack+zstd).
rrweb: its emitted events as JSON, gzip -6 (what a typical rrweb backend
receives or stores).

    .venv/bin/python bench/stored_bytes.py [--minutes 1]
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from browser_bench import CHROMIUM, CHROMIUM_ARGS, RRWEB_JS  # noqa: E402

from sessionlens import keys  # noqa: E402
from tests.live import LiveCollector, demo_site  # noqa: E402

RRWEB_INIT = (
    RRWEB_JS.read_text()
    + "\nwindow.__rr=[];document.addEventListener('DOMContentLoaded',()=>rrwebRecord.record({emit:e=>window.__rr.push(e)}));"
)


def scripted_visit(page, base: str, deadline: float, drain) -> None:
    """Loop over a realistic path through the shop until the deadline."""
    while time.monotonic() < deadline:
        for path in ["/", "/products.html", "/product/1.html", "/signup.html", "/article.html", "/app.html"]:
            if time.monotonic() >= deadline:
                return
            drain()
            page.goto(base + path)
            page.wait_for_load_state("load")
            for i in range(12):
                page.mouse.move(100 + i * 40, 150 + (i % 5) * 60, steps=4)
            page.mouse.wheel(0, 900)
            page.wait_for_timeout(300)
            page.mouse.wheel(0, -400)
            if path == "/signup.html":
                page.fill("#signup-name", "Ada Lovelace")
                page.fill("#signup-email", "ada@example.com")
            if path == "/app.html":
                for link in page.locator("a[href^='/app/']").all()[:3]:
                    link.click()
                    page.wait_for_timeout(200)
            buttons = page.locator("button:visible").all()[:2]
            for b in buttons:
                try:
                    b.click(timeout=1000)
                except Exception:  # a button may navigate or be covered; the session goes on
                    pass
            page.wait_for_timeout(800)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=float, default=1.0)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    rr_events: list = []
    with tempfile.TemporaryDirectory() as tmp:
        collector = LiveCollector(Path(tmp) / "data")
        collector.start()
        try:
            with (
                demo_site(collector, collector.add_site, flush_ms=2000) as (server, site),
                sync_playwright() as p,
            ):
                browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                context = browser.new_context(viewport={"width": 1280, "height": 800})
                context.add_init_script(RRWEB_INIT)
                page = context.new_page()

                def drain() -> None:
                    try:
                        rr_events.extend(
                            page.evaluate(
                                "() => { const e = window.__rr || []; window.__rr = []; return e; }"
                            )
                        )
                        page.evaluate(
                            "() => window.sessionlens && window.sessionlens.flush && window.sessionlens.flush()"
                        )
                    except Exception:  # no page yet
                        pass

                started = time.monotonic()
                scripted_visit(page, server.url, started + args.minutes * 60, drain)
                drain()
                page.wait_for_timeout(1500)
                minutes = (time.monotonic() - started) / 60
                browser.close()
            time.sleep(0.5)
            store = collector.store
            chunk_keys = [k for k in store.list(keys.site_prefix(site.key)) if keys.parse_chunk_key(k)]
            stored = sum(len(store.get(k)) for k in chunk_keys)
        finally:
            collector.stop()
    rr_json = json.dumps(rr_events).encode()
    rr_gz = len(gzip.compress(rr_json, 6))
    print(
        f"scripted session: {minutes:.2f} min, {len(chunk_keys)} sessionlens chunks, {len(rr_events)} rrweb events"
    )
    print(f"sessionlens stored (msgpack+zstd): {stored / 1024 / minutes:8.1f} KB/min")
    print(
        f"rrweb events JSON gzip -6:         {rr_gz / 1024 / minutes:8.1f} KB/min  (raw JSON {len(rr_json) / 1024 / minutes:.1f} KB/min)"
    )
    print(f"ratio sessionlens/rrweb: {stored / rr_gz:.2f}")


if __name__ == "__main__":
    main()
