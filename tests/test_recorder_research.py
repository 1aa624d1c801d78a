"""What the recorder captures for research (issue 12), in Chromium against the
real collector: set/experiment/identify queued before load, console messages,
fetch/XHR/resource requests, form submit attempts and validation errors, bot
hints, the visitor id. Asserted on the stored chunks, and the page's own
console, fetch and XHR must behave exactly as without the recorder."""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from sessionlens import codec, keys
from sessionlens.contracts import event_as_dict, make_event
from sessionlens.replay.element_paths import enriched_events
from tests.helpers import batch, free_port, meta_event
from tests.live import LiveCollector, ThreadServer, chromium, demo_snippet, wait_until

SECRET_TYPED = "Acme Hidden Corp 4417"
EMAIL = "jane.doe@example.com"

PAGE = """<!doctype html><html><head><title>research</title>
<script>
  // The page's own console.error replacement, made before the recorder: it uses `this`.
  console.error = function () { this.seen = (this.seen || []).concat([].slice.call(arguments, 0, 1)); };
</script>
<!--SNIPPET-->
<script>
  sessionlens.set({plan: "pro", contact: "EMAIL", nested: {a: 1}, list: [1]});
  sessionlens.experiment("checkout", "B");
  sessionlens.identify("user-9", {tier: "gold"});
</script>
</head><body>
<img id="broken" src="/missing.png" alt="">
<form id="signup" action="/never">
  <label for="email">Email</label> <input id="email" name="email" type="email" required>
  <label>Full name <input name="fullname" required></label>
  <label for="company">Company</label> <input id="company" name="company">
  <button type="button" id="plain">Not a submit</button>
  <button id="go">Sign up</button>
</form>
<form name="spa" novalidate>
  <label for="zip">Postcode</label>
  <input id="zip" name="zip" aria-describedby="zip-err" value="">
  <span id="zip-err" aria-live="polite"></span>
  <input type="submit" id="spa-go" value="Continue">
</form>
<script>
  document.querySelector("form[name=spa]").addEventListener("submit", (e) => {
    e.preventDefault();
    const zip = document.getElementById("zip");
    zip.setAttribute("aria-invalid", "true");
    document.getElementById("zip-err").textContent = "Enter a valid postcode";
  });
</script>
</body></html>""".replace("EMAIL", EMAIL)


def app(snippets: dict[str, str], collector_url: str) -> Starlette:
    async def page(request: Request) -> Response:
        return HTMLResponse(PAGE.replace("<!--SNIPPET-->", snippets[request.path_params["name"]]))

    async def ok(request: Request) -> Response:
        return JSONResponse({"ok": True, "q": dict(request.query_params)})

    async def missing(request: Request) -> Response:
        return JSONResponse({"error": "nope"}, status_code=404)

    return Starlette(
        routes=[
            Route("/p/{name}", page),
            Route("/api/ok", ok, methods=["GET", "POST"]),
            Route("/api/missing", missing, methods=["GET", "POST"]),
        ]
    )


@pytest.fixture(scope="module")
def rig(
    tmp_path_factory: pytest.TempPathFactory, new_collector: Callable[..., LiveCollector]
) -> Iterator[dict[str, Any]]:
    collector = new_collector(Path(tmp_path_factory.mktemp("research")) / "data")
    collector.start()
    port = free_port()
    site = collector.add_site(f"http://127.0.0.1:{port}")
    consent_site = collector.add_site(f"http://127.0.0.1:{port}", consent_required=True)
    snippets = {
        "default": demo_snippet(collector, site, flush_ms=300),
        "consent": demo_snippet(collector, consent_site, flush_ms=300),
        "log": demo_snippet(collector, site, flush_ms=300, extra='data-record-console-log="true"'),
        "masked": demo_snippet(collector, site, flush_ms=300, extra='data-mask-all-text="true"'),
    }
    with ThreadServer(app(snippets, collector.url), port) as server, chromium() as browser:
        yield {
            "collector": collector,
            "server": server,
            "site": site,
            "consent_site": consent_site,
            "browser": browser,
        }
    collector.stop()


def open_page(rig: dict[str, Any], name: str = "default", context: Any = None) -> Any:
    """A recorded page whose recorder.js arrives late, so the stub's calls are queued."""
    collector, server = rig["collector"], rig["server"]
    page = (context or rig["browser"]).new_page()
    # What the browser sends, before the server's scrub: the recorder's own reductions are checked here.
    page.sent_bodies = []
    page.on("request", lambda r: "/ingest/" in r.url and page.sent_bodies.append(r.post_data_buffer or b""))
    page.route(f"{collector.url}/recorder.js", lambda route: (page.wait_for_timeout(300), route.continue_()))
    page.goto(f"{server.url}/p/{name}")
    page.wait_for_function("() => window.sessionlens && window.sessionlens.pageViewId")
    # Modules start once the snapshot is taken.
    page.wait_for_function("() => window.sessionlens.debug().snapshot")
    return page


def stored(rig: dict[str, Any], pid: str) -> list[dict]:
    return sorted(
        (c for c in rig["collector"].chunks(rig["site"]) if c["pid"] == pid), key=lambda c: c["seq"]
    )


def events_of(rig: dict[str, Any], page: Any, until: Callable[[list], bool]) -> list[list]:
    """The page view's stored events once `until` holds for them, as the product reads them: forms
    and fields named and fields shown invalid by aria-invalid or error text found by the server
    from the recorded DOM (replay/element_paths.py, replay/form_errors.py)."""
    pid = page.evaluate("() => window.sessionlens.pageViewId")
    found: list[list] = []

    def ready() -> bool:
        page.evaluate("() => window.sessionlens.flush()")
        events = ((c["seq"], e) for c in stored(rig, pid) for e in c["events"])
        found[:] = [e for _, e in enriched_events(events)]
        return until(found)

    wait_until(ready, message="the expected events stored")
    return found


def raw_bytes(rig: dict[str, Any], pid: str) -> str:
    """Every stored chunk of the page view, decoded, as one JSON text (for never-stored checks)."""
    store, site = rig["collector"].store, rig["site"]
    texts = []
    for key in store.list(keys.site_prefix(site.key)):
        chunk = codec.decode(store.get(key)) if keys.parse_chunk_key(key) else None
        if chunk and chunk["pid"] == pid:
            texts.append(json.dumps(chunk))
    return "\n".join(texts)


def sent_and_stored(rig: dict[str, Any], page: Any) -> str:
    """The batches the page sent (gunzipped) and the page view's stored chunks, as text."""
    sent = [gzip.decompress(b) if b[:2] == b"\x1f\x8b" else b for b in page.sent_bodies]
    assert sent, "no batch seen leaving the page"
    return b"\n".join(sent).decode() + raw_bytes(rig, pid_of(page))


def of_kind(events: list[list], kind: str) -> list[dict]:
    return [event_as_dict(e) for e in events if e[0] == kind]


def test_set_experiment_and_identify_before_and_after_load(rig: dict[str, Any]) -> None:
    page = open_page(rig)
    page.evaluate(
        "() => { sessionlens.set({cohort: 'spring', n: 3, ok: true, gone: null}); sessionlens.experiment('hero', 'blue');"
        " sessionlens.set({}); sessionlens.experiment('', 'x'); }"
    )
    events = events_of(rig, page, lambda ev: len(of_kind(ev, "experiment")) == 2)
    sets = [s["props"] for s in of_kind(events, "set")]
    # Queued before load, flattened: nested and list values are left out; the e-mail is scrubbed by the server.
    assert sets == [
        {"plan": "pro", "contact": "*" * len(EMAIL)},
        {"cohort": "spring", "n": 3, "ok": True, "gone": None},
    ]
    assert [(x["name"], x["variant"]) for x in of_kind(events, "experiment")] == [
        ("checkout", "B"),
        ("hero", "blue"),
    ]
    assert [(x["user"], x["traits"]) for x in of_kind(events, "identify")] == [("user-9", {"tier": "gold"})]
    # Queued calls keep the time they were made at: before the (late) recorder started.
    first_set, meta = of_kind(events, "set")[0], of_kind(events, "meta")[0]
    assert first_set["t"] == 0 and meta["t"] == 0
    # Bot hints: playwright's Chromium says it is automated.
    assert meta["webdriver"] == 1
    assert "Chromium" in meta["brands"]
    page.close()


def test_calls_made_before_consent_wait_for_it(rig: dict[str, Any]) -> None:
    collector, server, site = rig["collector"], rig["server"], rig["consent_site"]
    page = rig["browser"].new_page()
    page.goto(f"{server.url}/p/consent")
    page.wait_for_function(
        "() => window.sessionlens && window.sessionlens.consent && window.sessionlens.debug"
    )
    page.evaluate("() => sessionlens.experiment('pricing', 'annual')")
    page.wait_for_timeout(500)
    # Nothing stored in the browser, nothing sent before consent.
    assert page.evaluate("() => [localStorage.getItem('sl_vid'), sessionlens.pageViewId]") == [None, None]
    assert not collector.chunks(site)
    page.evaluate("() => sessionlens.consent(true)")
    page.wait_for_function("() => window.sessionlens.pageViewId")
    pid = page.evaluate("() => sessionlens.pageViewId")

    def kinds() -> list:
        page.evaluate("() => sessionlens.flush()")
        return [e for c in collector.chunks(site) if c["pid"] == pid for e in c["events"]]

    wait_until(
        lambda: len(of_kind(kinds(), "experiment")) == 2, message="the queued calls sent after consent"
    )
    events = kinds()
    assert [(x["name"], x["variant"]) for x in of_kind(events, "experiment")] == [
        ("checkout", "B"),
        ("pricing", "annual"),
    ]
    assert [s["props"]["plan"] for s in of_kind(events, "set")] == ["pro"]
    page.close()


def test_console_errors_and_warnings_are_recorded_and_the_console_still_works(rig: dict[str, Any]) -> None:
    page = open_page(rig)
    seen_by_browser: list[tuple[str, str]] = []
    page.on("console", lambda m: seen_by_browser.append((m.type, m.text)))
    result = page.evaluate(
        """() => {
          const err = new Error('payment failed for EMAIL');
          const r = console.error('checkout broke:', err, {card: 'none', n: 2});
          console.warn('slow response', 1234);
          console.log('a log line');
          console.info('an info line');
          // A toJSON that logs: the recorder must not recurse into itself.
          console.warn({toJSON() { console.warn('inner warn'); return 'outer'; }});
          return [r === undefined, console.seen.length, console.seen[0]];
        }""".replace("EMAIL", EMAIL)
    )
    # The page's own console.error replacement ran with its `this`, and returns what it returns.
    assert result == [True, 1, "checkout broke:"]
    events = events_of(rig, page, lambda ev: len(of_kind(ev, "console")) >= 3)
    entries = of_kind(events, "console")
    assert [e["level"] for e in entries] == ["error", "warn", "warn"]
    error = entries[0]
    assert error["message"].startswith("checkout broke: Error: payment failed for ")
    assert EMAIL not in error["message"] and "*" * len(EMAIL) in error["message"]
    assert '{"card":"none","n":2}' in error["message"]
    assert "Error: payment failed" in error["stack"] and EMAIL not in error["stack"]
    assert entries[1]["message"] == "slow response 1234" and entries[1]["stack"] == ""
    assert entries[2]["message"] == '"outer"'
    # console.log/info are opt-in: the browser still printed them, the recorder did not keep them.
    assert ("log", "a log line") in seen_by_browser and ("info", "an info line") in seen_by_browser
    assert ("warning", "inner warn") in seen_by_browser
    assert "a log line" not in sent_and_stored(rig, page)
    page.close()


def pid_of(page: Any) -> str:
    return page.evaluate("() => window.sessionlens.pageViewId")


def test_console_log_when_opted_in_and_floods_are_bounded(rig: dict[str, Any]) -> None:
    page = open_page(rig, "log")
    span_ms = page.evaluate(
        """() => {
          const start = performance.now();
          console.log('visible log', 7); console.info('visible info');
          for (let i = 0; i < 5000; i++) console.warn('flood', i);
          return performance.now() - start;
        }"""
    )
    events = events_of(rig, page, lambda ev: len(of_kind(ev, "console")) >= 2)
    entries = of_kind(events, "console")
    assert [(e["level"], e["message"]) for e in entries[:10]] == [
        ("log", "visible log 7"),
        ("info", "visible info"),
        *(("warn", f"flood {i}") for i in range(8)),
    ]
    # At most 10 per second: however long the flood took, it left a few per second of it.
    assert len(entries) <= 10 * (int(span_ms // 1000) + 1) and len(entries) < 5000 / 10
    page.close()


def test_fetch_and_xhr_are_recorded_without_changing_what_the_page_gets(rig: dict[str, Any]) -> None:
    page = open_page(rig)
    outcome = page.evaluate(
        """async () => {
          const out = {};
          document.cookie = 'sid=cookie-secret-1';
          const r0 = await fetch('/api/ok', {headers: {'X-Token': 'header-secret-1'}, credentials: 'include'});
          out.headers = r0.status;
          const r1 = await fetch('/api/ok?email=query.person@example.org&token=secret-token-1&flag#frag-secret');
          out.ok = [r1.status, (await r1.json()).q.token];
          const r2 = await fetch(new Request('/api/missing?id=77', {method: 'POST', body: 'body-secret-1'}));
          out.missing = [r2.status, (await r2.json()).error];
          const r3 = await fetch(new URL('/api/ok?via=url-object', location.href), {method: 'put'});
          out.put = r3.status;
          try { await fetch('http://127.0.0.1:1/down?k=secret-down'); out.down = 'resolved'; }
          catch (e) { out.down = e.name; }
          const xhr = (method, url) => new Promise((resolve) => {
            const x = new XMLHttpRequest();
            x.open(method, url);
            x.onloadend = () => resolve([x.status, x.responseText.length > 0]);
            x.send(method === 'POST' ? 'xhr-body-secret' : null);
          });
          out.xhrOk = await xhr('GET', '/api/ok?session=secret-xhr-1');
          out.xhr404 = await xhr('POST', '/api/missing');
          out.xhrDown = await xhr('GET', 'http://127.0.0.1:1/x?k=v');
          return out;
        }"""
    )
    assert outcome == {
        "headers": 200,
        "ok": [200, "secret-token-1"],
        "missing": [404, "nope"],
        "put": 405,
        "down": "TypeError",
        "xhrOk": [200, True],
        "xhr404": [404, True],
        "xhrDown": [0, False],
    }
    events = events_of(
        rig, page, lambda ev: len([r for r in of_kind(ev, "request") if r["how"] != "resource"]) >= 8
    )
    requests = [r for r in of_kind(events, "request") if r["how"] != "resource"]
    base = rig["server"].url
    got = [(r["how"], r["method"], r["url"].removeprefix(base), r["status"], r["failed"]) for r in requests]
    assert got == [
        ("fetch", "GET", "/api/ok", 200, 0),
        ("fetch", "GET", "/api/ok?email=*&token=*&flag", 200, 0),
        ("fetch", "POST", "/api/missing?id=*", 404, 1),
        ("fetch", "PUT", "/api/ok?via=*", 405, 1),
        ("fetch", "GET", "http://127.0.0.1:1/down?k=*", 0, 1),
        ("xhr", "GET", "/api/ok?session=*", 200, 0),
        ("xhr", "POST", "/api/missing", 404, 1),
        ("xhr", "GET", "http://127.0.0.1:1/x?k=*", 0, 1),
    ]
    assert all(r["duration"] >= 0 for r in requests)
    # The recorder leaves to the server what the stream says (replay/stream_fields.py): the method
    # in capitals, failed for a status >= 400 or an xhr without a response; it sends failed only
    # for the fetch that rejected.
    raw = [e for c in stored(rig, pid_of(page)) for e in c["events"]]
    sent = [(r["how"], r["method"], r["failed"]) for r in of_kind(raw, "request") if r["how"] != "resource"]
    assert sent == [("fetch", "", 0), ("fetch", "", 0), ("fetch", "POST", 0), ("fetch", "put", 0),
                    ("fetch", "", 1), ("xhr", "GET", 0), ("xhr", "POST", 0), ("xhr", "GET", 0)]  # fmt: skip
    assert requests[1]["size"] > 0  # Content-Length of the JSON answer
    # The recorder's own ingest requests are not the page's.
    assert not any("/ingest/" in r["url"] for r in of_kind(events, "request"))
    text = sent_and_stored(rig, page)
    for secret in (
        "secret-token-1",
        "cookie-secret-1",
        "header-secret-1",
        "body-secret-1",
        "secret-down",
        "secret-xhr-1",
        "xhr-body-secret",
        "frag-secret",
        "query.person",
    ):
        assert secret not in text, secret
    page.close()


def test_resources_are_recorded_with_failed_loads(rig: dict[str, Any]) -> None:
    page = open_page(rig)
    page.evaluate(
        "() => { const i = new Image(); i.src = 'http://127.0.0.1:1/pixel.png?u=secret-img'; document.body.append(i); }"
    )
    events = events_of(
        rig, page, lambda ev: sum(r["how"] == "resource" and r["failed"] for r in of_kind(ev, "request")) >= 2
    )
    resources = {
        r["url"].removeprefix(rig["server"].url): r
        for r in of_kind(events, "request")
        if r["how"] == "resource"
    }
    assert resources["/missing.png"]["status"] == 404 and resources["/missing.png"]["failed"] == 1
    down = resources["http://127.0.0.1:1/pixel.png?u=*"]
    assert down["status"] == 0 and down["failed"] == 1
    assert resources[f"{rig['collector'].url}/recorder.js"]["failed"] == 0
    page.close()


def test_submit_attempts_and_validation_errors_never_values(rig: dict[str, Any]) -> None:
    page = open_page(rig)
    page.fill("#company", SECRET_TYPED)
    page.click("#plain")  # a plain button is no submit attempt
    page.click("#go")  # required fields empty: the browser blocks the submit
    page.click("#spa-go")  # SPA form: submit prevented, aria-invalid and error text shown
    events = events_of(rig, page, lambda ev: len(of_kind(ev, "invalid")) >= 4)
    submits = of_kind(events, "submit")
    assert [(s["form"], [name for _, name in s["invalid"]]) for s in submits] == [
        ("signup", ["Email", "Full name"]),
        ("spa", []),
    ]
    assert all(target for s in submits for target, _ in s["invalid"])
    # The recorder sends only the browser's own validation; aria-invalid and the error text are the
    # server's, found in the recorded mutations (its meta says so: gen 1 or more).
    raw = [e for c in stored(rig, pid_of(page)) for e in c["events"]]
    assert {e["reason"] for e in of_kind(raw, "invalid")} == {"invalid"}
    assert of_kind(raw, "meta")[0]["gen"] >= 1
    invalid = [(e["field"], e["reason"]) for e in of_kind(events, "invalid")]
    assert invalid == [
        ("Email", "invalid"),
        ("Full name", "invalid"),
        ("Postcode", "aria-invalid"),
        ("Postcode", "error-text"),
    ]
    # A second attempt records again; the same field is not repeated inside one attempt.
    page.click("#go")
    events = events_of(rig, page, lambda ev: len(of_kind(ev, "invalid")) >= 6)
    assert len(of_kind(events, "submit")) == 3 and len(of_kind(events, "invalid")) == 6
    # Enter in a field submits through the form's button: one attempt, not two.
    page.press("#company", "Enter")
    events = events_of(rig, page, lambda ev: len(of_kind(ev, "invalid")) >= 8)
    assert [s["form"] for s in of_kind(events, "submit")] == ["signup", "spa", "signup", "signup"]
    # Submitted again while the page shows the postcode aria-invalid: it is in the attempt's list.
    # The recorder lists only the browser's own validation; the server adds it from the recorded
    # DOM (replay/form_errors.py submit_invalid), as form analytics does.
    page.click("#spa-go")
    events = events_of(rig, page, lambda ev: len(of_kind(ev, "submit")) >= 5)
    assert [name for _, name in of_kind(events, "submit")[-1]["invalid"]] == ["Postcode"]
    raw = [e for c in stored(rig, pid_of(page)) for e in c["events"]]
    assert [s["invalid"] for s in of_kind(raw, "submit")][-1] == []
    assert SECRET_TYPED not in sent_and_stored(rig, page)
    page.close()


def test_fields_shown_invalid_are_found_on_a_page_with_all_text_masked(rig: dict[str, Any]) -> None:
    """aria-invalid and the ids a field's aria-describedby / aria-errormessage name carry no
    visitor text: recorded as they are under maskAllText, so the server still finds the fields
    shown invalid; the error text itself and the field's label stay masked."""
    page = open_page(rig, "masked")
    page.click("#spa-go")
    events = events_of(rig, page, lambda ev: len(of_kind(ev, "invalid")) >= 2)
    assert [e["reason"] for e in of_kind(events, "invalid")] == ["aria-invalid", "error-text"]
    # Its label's text is masked, so the field goes by its id, which is kept (as for paths).
    assert {e["field"] for e in of_kind(events, "invalid")} == {"zip"}
    stored_bytes = b"".join(orjson.dumps(c["events"]) for c in stored(rig, pid_of(page)))
    assert b"Enter a valid postcode" not in stored_bytes and b"Postcode" not in stored_bytes
    assert b'"aria-invalid","true"' in stored_bytes and b'"zip-err"' in stored_bytes
    page.close()


def test_visitor_id_tells_new_from_returning(rig: dict[str, Any]) -> None:
    first = rig["browser"].new_context()
    page = open_page(rig, context=first)
    sid1 = page.evaluate("() => sessionlens.sessionId")
    page.evaluate("() => sessionlens.flush()")
    # A later visit of the same browser: a new session (the old one expired), the same visitor id.
    page.evaluate("() => localStorage.removeItem('sl_session')")
    page.reload()
    page.wait_for_function("() => window.sessionlens && window.sessionlens.pageViewId")
    sid2 = page.evaluate("() => sessionlens.sessionId")
    page.evaluate("() => sessionlens.flush()")
    other = rig["browser"].new_context()
    page3 = open_page(rig, context=other)
    sid3 = page3.evaluate("() => sessionlens.sessionId")
    page3.evaluate("() => sessionlens.flush()")
    assert len({sid1, sid2, sid3}) == 3

    def vids(sid: str) -> set:
        return {c.get("vid") for c in rig["collector"].chunks(rig["site"]) if c["sid"] == sid}

    wait_until(lambda: all(vids(s) for s in (sid1, sid2, sid3)), message="chunks of the three sessions")
    assert vids(sid1) == vids(sid2) and None not in vids(sid1)
    assert vids(sid3).isdisjoint(vids(sid1))
    # The index numbers the visitor's sessions from it: new (1), returning (2), another browser new (1).
    query = "SELECT sid, visit_number FROM sessions WHERE sid IN (?, ?, ?)"

    def numbers() -> dict:
        return {r["sid"]: r["visit_number"] for r in rig["collector"].index_rows(query, (sid1, sid2, sid3))}

    wait_until(lambda: len(numbers()) == 3, message="the three sessions indexed")
    assert numbers() == {sid1: 1, sid2: 2, sid3: 1}
    first.close()
    other.close()


# -- ingest: the new kinds through the real app (both index backends) ---------------------------

CARD = "4111 1111 1111 1111"
# The fields of a meta event up to the bot hints (named, so no position is restated).
META = {k: v for k, v in event_as_dict(meta_event()).items() if k != "kind"} | {
    "lw": 1,
    "lh": 1,
    "vs": 1,
    "touch": 0,
}


def research_events() -> list[list[Any]]:
    return [
        make_event("meta", **{**META, "webdriver": 1, "brands": "HeadlessChrome;Chromium"}),
        make_event("set", t=1, props={"plan": "pro", "contact": EMAIL, "n": 2, "ok": False, "gone": None}),
        make_event("experiment", t=2, name="checkout", variant=f"B {EMAIL}"),
        make_event(
            "console", t=3, level="error", message=f"card {CARD} declined", stack=f"Error: {EMAIL}\n at x"
        ),
        make_event(
            "request",
            t=4,
            how="fetch",
            method="POST",
            url="https://u:pw@api.example/v1/pay?card=4111&token=abc#frag",
            status=402,
            duration=120,
            size=0,
            failed=1,
        ),  # fmt: skip
        make_event("submit", t=5, target=5, form="signup", invalid=[[5, "Email"], [None, "Name"]]),
        make_event("invalid", t=6, target=None, field="Email", reason="error-text"),
    ]


def test_ingest_accepts_the_research_kinds_and_scrubs_them(client, site, store) -> None:
    b = batch(events=research_events())
    r = client.post(f"/ingest/{site.key}", content=orjson.dumps(b), headers={"Content-Type": "text/plain"})
    assert r.status_code == 200, r.text
    chunk = codec.decode(store.get(keys.chunk_key(keys.ChunkAddress(site.key, b["sid"], b["pid"], 0))))
    by_kind = {e[0]: event_as_dict(e) for e in chunk["events"]}
    assert by_kind["set"]["props"] == {
        "plan": "pro",
        "contact": "*" * len(EMAIL),
        "n": 2,
        "ok": False,
        "gone": None,
    }
    assert by_kind["experiment"]["variant"] == "B " + "*" * len(EMAIL)
    assert by_kind["console"]["message"] == "card **** **** **** **** declined"
    assert EMAIL not in by_kind["console"]["stack"]
    # Query values, fragment and credentials never stored, even from a recorder that sent them.
    assert by_kind["request"]["url"] == "https://api.example/v1/pay?card=*&token=*"
    assert by_kind["submit"]["invalid"] == [[5, "Email"], [None, "Name"]]


HOSTILE = [
    ("set", {"props": {"deep": {"a": 1}}}, "props"),
    ("set", {"props": {f"k{i}": i for i in range(51)}}, "props"),
    ("set", {"props": {"k" * 65: 1}}, "props"),
    ("set", {"props": {"v": "x" * 257}}, "props"),
    ("experiment", {"name": "", "variant": "A"}, "name"),
    ("experiment", {"name": "n", "variant": "v" * 101}, "variant"),
    ("console", {"level": "debug"}, "level"),
    ("console", {"message": "m" * 4097}, "message"),
    ("console", {"stack": 7}, "stack"),
    ("request", {"how": "beacon"}, "how"),
    ("request", {"method": "GET /x HTTP/1.1"}, "method"),
    ("request", {"url": "u" * 2049}, "url"),
    ("request", {"status": "200"}, "status"),
    ("request", {"status": 1000}, "status"),
    ("request", {"duration": -1}, "duration"),
    ("request", {"failed": 2}, "failed"),
    ("request", {"size": 1.5}, "size"),
    ("submit", {"invalid": [[5, "a"]] * 51}, "invalid"),
    ("submit", {"invalid": [["5", "a"]]}, "invalid"),
    ("submit", {"form": "f" * 257}, "form"),
    ("invalid", {"reason": "typo"}, "reason"),
    ("invalid", {"field": "f" * 101}, "field"),
    ("meta", {"webdriver": 2}, "webdriver"),
    ("meta", {"brands": "b" * 257}, "brands"),
]
GOOD = {
    "set": {"t": 1, "props": {}},
    "experiment": {"t": 1, "name": "n", "variant": "v"},
    "console": {"t": 1, "level": "warn", "message": "m", "stack": ""},
    "request": {
        "t": 1,
        "how": "xhr",
        "method": "GET",
        "url": "/",
        "status": 200,
        "duration": 1,
        "size": 0,
        "failed": 0,
    },
    "submit": {"t": 1, "target": None, "form": "f", "invalid": []},
    "invalid": {"t": 1, "target": None, "field": "f", "reason": "invalid"},
    "meta": {**META, "webdriver": 0, "brands": ""},
}


@pytest.mark.parametrize(
    ("kind", "bad", "named"), HOSTILE, ids=[f"{k}-{n}-{i}" for i, (k, _, n) in enumerate(HOSTILE)]
)
def test_ingest_refuses_malformed_research_events_naming_the_field(
    client, site, store, kind, bad, named
) -> None:
    fields = {k: v for k, v in {**GOOD[kind], **bad}.items() if k != "kind"}
    b = batch(events=[meta_event(), make_event(kind, **fields)])
    r = client.post(f"/ingest/{site.key}", content=orjson.dumps(b), headers={"Content-Type": "text/plain"})
    assert r.status_code == 422, r.text
    assert f"({kind}) {named}" in r.json()["error"], r.json()
    assert not [k for k in store.list(keys.CHUNK_ROOT) if keys.parse_chunk_key(k)]
