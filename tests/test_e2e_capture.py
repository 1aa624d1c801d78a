"""Issue 2 end to end: the real recorder in Chromium, the demo shop, the real
collector process, local disk and the index (SQLite, and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import jsonschema
import msgpack
import pytest

from sessionlens import codec, keys
from sessionlens.contracts import batch_schema
from sessionlens.sites import Site
from tests.live import LiveCollector, chromium, demo_site, wait_until

PASSWORD = "Tr0ub4dor&3-secret"
TYPED_EMAIL = "ada.lovelace@example.org"
MASKED_ADDRESS = "221B Baker Street, London"
BLOCKED_TEXT = "SECRET-PROMO-CODE-4821"
CARD = "4242 4242 4242 4242"


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with chromium() as b:
        yield b


@pytest.fixture
def collector(tmp_path: Path, new_collector: Callable[..., LiveCollector]) -> Iterator[LiveCollector]:
    c = new_collector(tmp_path / "data")
    c.start()
    yield c
    c.stop()


def all_stored_bytes(collector: LiveCollector, site: Site) -> bytes:
    """Every chunk decompressed to its msgpack bytes, plus the index's content."""
    store = collector.store
    out = []
    for key in store.list(keys.site_prefix(site.key)):
        out.append(msgpack.packb(codec.decode(store.get(key)), use_bin_type=True))
        out.append(store.get(key))
    out.append(collector.index_bytes())
    return b"".join(out)


def track_ingest_responses(page, statuses: list[int]) -> None:
    page.on("response", lambda r: statuses.append(r.status) if "/ingest/" in r.url else None)


def flush(page) -> None:
    page.evaluate("() => window.sessionlens.flush()")


def test_demo_journey_is_recorded_validated_and_indexed(browser, collector: LiveCollector) -> None:
    with demo_site(collector, collector.add_site) as (shop, site):
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        page = context.new_page()
        statuses: list[int] = []
        track_ingest_responses(page, statuses)
        page.goto(shop.url + "/")
        page.wait_for_function("() => window.sessionlens && window.sessionlens.sessionId")
        sid = page.evaluate("() => window.sessionlens.sessionId")
        page.click("#nav-products")
        page.wait_for_url("**/products.html")
        page.click("a[href*='product/1']")
        page.wait_for_url("**/product/1.html")
        page.click("#add-to-cart")
        page.goto(shop.url + "/signup.html")
        page.fill("#signup-name", "Ada")
        page.fill("#signup-email", TYPED_EMAIL)
        page.fill("#signup-password", PASSWORD)
        page.fill("[data-sl-mask] textarea, textarea[data-sl-mask]", MASKED_ADDRESS)
        page.click("#signup-submit")
        flush(page)
        page.goto(shop.url + "/article.html")
        page.mouse.wheel(0, 2500)
        page.wait_for_timeout(400)
        page.evaluate("() => document.getElementById('article-inner-scroll').scrollTop = 300")
        page.wait_for_timeout(400)
        flush(page)
        page.goto(shop.url + "/app.html")
        page.click("a[href='/app/inbox']")
        page.wait_for_url("**/app/inbox")
        page.click("a[href='/app/settings']")
        page.click("#app-track")
        page.click("#app-error")
        page.wait_for_timeout(300)
        flush(page)
        context.close()  # pagehide: the last batch leaves on a keepalive request

        def indexed() -> bool:
            rows = collector.index_rows("SELECT * FROM sessions WHERE sid = ?", (sid,))
            return (
                bool(rows)
                and rows[0]["page_count"] == 6
                and rows[0]["errors"] >= 1
                and rows[0]["customs"] >= 1
            )

        wait_until(indexed, message="the session with 6 page views in the index")
        assert statuses and all(s == 200 for s in statuses), statuses

        # Stored chunks decode into events that validate against the wire schema.
        validator = jsonschema.Draft7Validator(batch_schema())
        chunks = collector.chunks(site)
        assert chunks
        for chunk in chunks:
            envelope = {k: chunk[k] for k in ("v", "sid", "pid", "seq", "t0", "events")}
            errors = sorted(validator.iter_errors(envelope), key=str)
            assert not errors, f"chunk {chunk['pid']}/{chunk['seq']}: {errors[0].message}"
        # Every page view starts with meta + a complete snapshot; sequences have no gaps.
        by_pid: dict[str, list[dict]] = {}
        for chunk in chunks:
            by_pid.setdefault(chunk["pid"], []).append(chunk)
        assert len(by_pid) == 6
        for pid_chunks in by_pid.values():
            seqs = sorted(c["seq"] for c in pid_chunks)
            assert seqs == list(range(len(seqs)))
            events = [e for c in sorted(pid_chunks, key=lambda c: c["seq"]) for e in c["events"]]
            assert events[0][0] == "meta"
            assert any(e[0] == "snapshot" and e[3] is True for e in events)

        session = collector.index_rows("SELECT * FROM sessions WHERE sid = ?", (sid,))[0]
        views = collector.index_rows("SELECT * FROM page_views WHERE sid = ? ORDER BY t0", (sid,))
        paths = [v["url"].split(str(shop.port), 1)[1] for v in views]
        assert paths == [
            "/",
            "/products.html",
            "/product/1.html",
            "/signup.html",
            "/article.html",
            "/app.html",
        ]
        assert session["entry_url"] == shop.url + "/"
        assert session["clicks"] >= 7 and session["inputs"] >= 3 and session["errors"] >= 1
        assert session["device"] == "desktop" and session["browser"] == "Chrome" and session["vw"] == 1280
        app_urls = {
            r["url"]
            for r in collector.index_rows("SELECT url FROM page_urls WHERE pid = ?", (views[-1]["pid"],))
        }
        assert shop.url + "/app/inbox" in app_urls and shop.url + "/app/settings" in app_urls
        article = views[4]
        assert article["max_scroll_y"] >= 2000 and article["page_height"] >= 5000

        # Privacy: nothing typed into a password or masked field, nor blocked text, is stored anywhere.
        stored = all_stored_bytes(collector, site)
        for secret in (PASSWORD, TYPED_EMAIL, MASKED_ADDRESS, BLOCKED_TEXT, "Baker Street"):
            assert secret.encode() not in stored, f"{secret!r} reached storage"


def test_consent_mode_sends_and_stores_nothing_before_consent(browser, collector: LiveCollector) -> None:
    with demo_site(collector, lambda origin: collector.add_site(origin, consent_required=True)) as (
        shop,
        site,
    ):
        context = browser.new_context()
        page = context.new_page()
        requests: list[str] = []
        page.on("request", lambda r: requests.append(r.url) if "/ingest/" in r.url else None)
        page.goto(shop.url + "/signup.html")
        page.fill("#signup-name", "Grace")
        page.click("#signup-submit")
        page.mouse.wheel(0, 500)
        page.wait_for_timeout(1500)
        assert requests == []
        storage = page.evaluate(
            "() => ({local: Object.keys(localStorage), session: Object.keys(sessionStorage), cookie: document.cookie})"
        )
        assert storage == {"local": [], "session": [], "cookie": ""}
        assert context.cookies() == []
        assert collector.chunks(site) == []

        page.evaluate("() => window.sessionlens.consent(true)")
        page.click("#signup-thanks")
        flush(page)
        wait_until(lambda: len(collector.chunks(site)) > 0, message="batches after consent")
        assert requests
        context.close()


def test_killing_the_collector_between_batches_loses_nothing_and_stores_nothing_twice(
    browser, tmp_path: Path, new_collector: Callable[..., LiveCollector]
) -> None:
    collector = new_collector(tmp_path / "data")
    collector.start()
    try:
        with demo_site(collector, collector.add_site, flush_ms=300) as (shop, site):
            page = browser.new_context().new_page()
            page.goto(shop.url + "/app.html")
            page.wait_for_function("() => window.sessionlens && window.sessionlens.sessionId")

            def track(n: int) -> None:
                page.evaluate("(n) => window.sessionlens.track('step', {n})", n)
                page.wait_for_timeout(120)

            for n in range(5):
                track(n)
            page.wait_for_timeout(800)
            collector.kill()
            for n in range(5, 15):
                track(n)
            page.wait_for_timeout(600)
            # Navigate while the collector is down: unsent batches travel with the session.
            page.goto(shop.url + "/products.html")
            page.wait_for_function("() => window.sessionlens && window.sessionlens.sessionId")
            for n in range(15, 20):
                track(n)
            page.wait_for_timeout(500)
            collector.start()

            def steps() -> list[int]:
                found = []
                for chunk in collector.chunks(site):
                    found += [e[3]["n"] for e in chunk["events"] if e[0] == "custom" and e[2] == "step"]
                return found

            wait_until(
                lambda: sorted(set(steps())) == list(range(20)), timeout=60, message="all 20 steps stored"
            )
            page.wait_for_timeout(1000)
            assert sorted(steps()) == list(range(20)), "a step was stored twice"
            by_pid: dict[str, list[int]] = {}
            for chunk in collector.chunks(site):
                by_pid.setdefault(chunk["pid"], []).append(chunk["seq"])
            assert len(by_pid) == 2
            for seqs in by_pid.values():
                assert sorted(seqs) == list(range(len(seqs)))
            page.context.close()
    finally:
        collector.stop()
