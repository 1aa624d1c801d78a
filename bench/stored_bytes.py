"""Stored bytes per minute of a scripted session, beside rrweb's events gzipped.

Both recorders run in the same Chromium pages at the same time, through the
same scripted visit of the demo shop (pages, scrolling, pointer moves,
clicks, typing, an SPA route change), so they see identical activity.
rrweb: its emitted events as JSON, gzip -6 (what a typical rrweb backend
receives or stores). sessionlens, for the measured session:
- as ingested: the chunks the real collector stored (msgpack + zstd 3);
- compacted, first session of a site: the session's packs plus every asset
  they reference, no dictionary (nothing shared with earlier sessions);
- compacted, steady state: an earlier visit of the same site (another
  browser context, --warmup-minutes) was recorded and compacted first and
  the site's dictionary trained from its chunks (not the measured ones);
  counted are the measured session's packs and the assets it added.
The dictionary (stored once per site) and keyframes (derived data, rebuilt
by reindex, not part of the recording) are printed apart.

    .venv/bin/python bench/stored_bytes.py [--minutes 1] [--warmup-minutes 0.5]
"""

from __future__ import annotations

import argparse
import gzip
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from browser_bench import CHROMIUM, CHROMIUM_ARGS, RRWEB_JS  # noqa: E402

from sessionlens import keys  # noqa: E402
from sessionlens.compaction.compact import compact_page_view  # noqa: E402
from sessionlens.compaction.dictionary import train  # noqa: E402
from sessionlens.compaction.source import ChunkSource  # noqa: E402
from sessionlens.compaction.sweep import stored_page_views  # noqa: E402
from sessionlens.stores.local import LocalStore  # noqa: E402
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


def record(page, base: str, minutes: float, rr_events: list | None) -> float:
    """Run the scripted visit in `page`; returns the minutes it took."""

    def drain() -> None:
        try:
            got = page.evaluate("() => { const e = window.__rr || []; window.__rr = []; return e; }")
            if rr_events is not None:
                rr_events.extend(got)
            page.evaluate(
                "() => window.sessionlens && window.sessionlens.flush && window.sessionlens.flush()"
            )
        except Exception:  # no page yet
            pass

    started = time.monotonic()
    scripted_visit(page, base, started + minutes * 60, drain)
    drain()
    page.wait_for_timeout(1500)
    return (time.monotonic() - started) / 60


def session_ids(store: LocalStore, site: str) -> set[str]:
    return {a.sid for k in store.list(keys.site_prefix(site)) if (a := keys.parse_chunk_key(k))}


def size_of(store: LocalStore, prefix: str, parse) -> int:
    return sum(len(store.get(k)) for k in store.list(prefix) if parse(k))


def is_pack(k: str) -> bool:
    return keys.parse_pack_key(k) is not None


def is_chunk(k: str) -> bool:
    return keys.parse_chunk_key(k) is not None


def is_keyframe(k: str) -> bool:
    return keys.keyframe_time(k) is not None


def compact_session(store: LocalStore, site: str, sid: str, dictionary) -> None:
    source = ChunkSource(store)
    for view in stored_page_views(source, site):
        if view[1] == sid:
            compact_page_view(store, *view, dictionary=dictionary, source=source)


def copy_session(src: LocalStore, dst: LocalStore, site: str, sid: str) -> None:
    for k in src.list(keys.session_prefix(site, sid)):
        if is_chunk(k):
            dst.put(k, src.get(k))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=float, default=1.0)
    parser.add_argument("--warmup-minutes", type=float, default=0.5)
    parser.add_argument("--keep", type=Path, help="copy the stored data here before it is removed")
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
                warm = browser.new_context(viewport={"width": 1280, "height": 800})
                warm.add_init_script(RRWEB_INIT)
                record(warm.new_page(), server.url, args.warmup_minutes, None)
                warm.close()
                time.sleep(1.0)
                warm_sids = session_ids(collector.store, site.key)
                context = browser.new_context(viewport={"width": 1280, "height": 800})
                context.add_init_script(RRWEB_INIT)
                minutes = record(context.new_page(), server.url, args.minutes, rr_events)
                browser.close()
            time.sleep(1.0)
        finally:
            collector.stop()
        store = collector.store
        (sid,) = session_ids(store, site.key) - warm_sids
        session = keys.session_prefix(site.key, sid)
        chunk_count = sum(1 for k in store.list(session) if is_chunk(k))
        ingested = size_of(store, session, is_chunk)
        keyframes_ingested = size_of(store, session, is_keyframe)

        # First session of a site: the measured chunks alone in a fresh store, no dictionary.
        cold = LocalStore(Path(tmp) / "cold")
        copy_session(store, cold, site.key, sid)
        compact_session(cold, site.key, sid, None)
        cold_packs = size_of(cold, session, is_pack)
        cold_assets = size_of(cold, keys.asset_prefix(site.key), bool)
        cold_bytes = cold_packs + cold_assets

        # Steady state: earlier sessions compacted and the dictionary trained from them first.
        for warm_sid in sorted(warm_sids):
            compact_session(store, site.key, warm_sid, None)
        dict_id = train(store, site.key, sessions=warm_sids)
        dictionary = (dict_id, store.get(keys.dictionary_key(site.key, dict_id)))
        for warm_sid in sorted(warm_sids):
            compact_session(store, site.key, warm_sid, dictionary)
        assets_before = size_of(store, keys.asset_prefix(site.key), bool)
        compact_session(store, site.key, sid, dictionary)
        steady_packs = size_of(store, session, is_pack)
        steady_assets = size_of(store, keys.asset_prefix(site.key), bool) - assets_before
        steady = steady_packs + steady_assets
        keyframes_compacted = size_of(store, session, is_keyframe)
        if args.keep:
            shutil.copytree(Path(tmp), args.keep, dirs_exist_ok=True)
            print(f"data kept in {args.keep} (measured session {sid}, site {site.key})")
    rr_json = json.dumps(rr_events).encode()
    rr_gz = len(gzip.compress(rr_json, 6))

    def per_min(n: int) -> str:
        return f"{n / 1024 / minutes:8.1f} KB/min"

    print(
        f"scripted session: {minutes:.2f} min, {chunk_count} sessionlens chunks, {len(rr_events)} rrweb events "
        f"(warm-up visit before it: {args.warmup_minutes:.2f} min)"
    )
    print(
        f"rrweb events JSON gzip -6:                 {per_min(rr_gz)}  (raw JSON {per_min(len(rr_json)).strip()})"
    )
    print(f"sessionlens as ingested (msgpack+zstd 3):  {per_min(ingested)}  ratio {ingested / rr_gz:.2f}")
    print(
        f"sessionlens compacted, first session:      {per_min(cold_bytes)}  ratio {cold_bytes / rr_gz:.2f}"
        f"  (packs {per_min(cold_packs).strip()}, assets {per_min(cold_assets).strip()})"
    )
    print(
        f"sessionlens compacted, steady state:       {per_min(steady)}  ratio {steady / rr_gz:.2f}"
        f"  (packs {per_min(steady_packs).strip()}, new assets {per_min(steady_assets).strip()})"
    )
    print(
        f"  site dictionary {dict_id}: {len(dictionary[1]) / 1024:.1f} KB once per site (not counted above)"
    )
    print(
        f"  keyframes (derived, not counted): {keyframes_ingested / 1024:.1f} KB as written, "
        f"{keyframes_compacted / 1024:.1f} KB compacted"
    )


if __name__ == "__main__":
    main()
