"""Issue 13 item 5: funnels, form analytics, heatmaps and the event list honour the privacy
options and stay right when a page's layout changes between visits. Real Chromium visitors
run the real recorder against `sessionlens serve` (module-scoped rig per index backend).

Two sites:
- "masked" (default options): a page with a `data-sl-mask` section (text, a button, a whole form
  with its heading, label and submit button), and unmasked controls around it; visited twice,
  the second time with another layout (a banner pushes everything down, the public button moves
  to another parent);
- "all" (`maskAllText`): every text of the page is masked.

Every word ending in SECRET is masked text: it must appear in no answer (session entries,
inspect, forms list and report, the forms command, heatmap top elements JSON/CSV, hot-spot
session lists, funnel results and drop-off lists, session search), and nowhere in the stored
bytes or the index. A funnel click step by that text matches nothing.

An unmasked control or label that CONTAINS a masked or blocked element (`<button>Pay <span
data-sl-mask>…</span></button>`) is named by its text as recorded (masked parts masked, blocked
parts left out), never by its live textContent (the server names it from the recorded DOM, replay/element_paths.py):
those words are NESTED_SECRETS, checked separately.
"""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import orjson
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from sessionlens import codec
from sessionlens.auth.users import Accounts
from tests.heatmap_visitors import Visitors, human_chromium, recorder_ready
from tests.helpers import free_port
from tests.live import LiveCollector, ThreadServer, demo_snippet, wait_until
from tests.viewer_live import VIEWER_USER, add_viewer_user

# Masked by data-sl-mask on an ancestor of the text's own element, or by maskAllText.
SECRETS = ("ZEBRASECRET", "QUOKKASECRET", "KIWISECRET", "WOMBATSECRET", "OCELOTSECRET",
           "PLATYPUSSECRET", "NARWHALSECRET", "MARMOTSECRET")  # fmt: skip
# Masked or blocked elements inside an unmasked control or label (the recorder leak above).
NESTED_SECRETS = ("LEMURSECRET", "TAPIRSECRET", "IBEXSECRET")

ACCOUNT = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Account</title>
<style>body { margin: 0; font: 16px sans-serif; } main { padding: 16px; } .banner { height: 420px; background: #eee; }</style>
<!--SNIPPET--></head><body><main>
<h1>Your account</h1>
<!--BANNER-->
<div id="top"><!--PUBLIC-A--></div>
<section data-sl-mask>
  <p>Balance of ZEBRASECRET</p>
  <p><button id="reveal" type="button">Reveal QUOKKASECRET</button></p>
  <form id="private-form" aria-label="Private KIWISECRET">
    <h2>Recovery KIWISECRET</h2>
    <label for="maiden">Maiden WOMBATSECRET</label> <input id="maiden" name="maiden" required>
    <button id="save-private" type="submit">Save OCELOTSECRET</button>
  </form>
</section>
<form id="city-form">
  <h2>Your city</h2>
  <p><label for="city">City <span data-sl-mask>LEMURSECRET</span></label> <input id="city" name="city" required></p>
  <p><label for="zip">Zip</label> <input id="zip" name="zip"></p>
  <button id="save-city" type="submit">Save city <span data-sl-mask>TAPIRSECRET</span></button>
</form>
<p><button id="pay" type="button">Pay <span data-sl-block>IBEXSECRET</span></button></p>
<div id="bottom"><!--PUBLIC-B--></div>
</main>
<script>
  for (const f of document.forms) f.addEventListener("submit", (e) => { e.preventDefault(); f.dataset.sent = "1"; });
</script>
</body></html>"""
PUBLIC = '<p><button id="public" type="button">Public button</button></p>'
SHOP = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Shop PLATYPUSSECRET</title>
<style>body { margin: 0; font: 16px sans-serif; } main { padding: 16px; }</style>
<!--SNIPPET--></head><body><main>
<h1>Shop PLATYPUSSECRET</h1>
<p><button id="buy" type="button">Buy NARWHALSECRET</button></p>
<form id="nick-form">
  <label for="nick">Nickname MARMOTSECRET</label> <input id="nick" name="nick" required>
  <button id="send" type="submit">Send</button>
</form>
</main>
<script>
  document.forms[0].addEventListener("submit", (e) => { e.preventDefault(); e.target.dataset.sent = "1"; });
</script>
</body></html>"""


def account_html(layout: str) -> str:
    if layout == "b":  # a banner pushes the page down; the public button moves below the forms
        parts = {"BANNER": '<div class="banner">Spring offers</div>', "PUBLIC-A": "", "PUBLIC-B": PUBLIC}
    else:
        parts = {"BANNER": "", "PUBLIC-A": PUBLIC, "PUBLIC-B": ""}
    html = ACCOUNT
    for name, part in parts.items():
        html = html.replace(f"<!--{name}-->", part)
    return html


def site_app(snippet: str, pages: dict[str, Callable[[Request], str]]) -> Starlette:
    def route(render: Callable[[Request], str]) -> Callable[[Request], Any]:
        async def serve(request: Request) -> Response:
            return HTMLResponse(render(request).replace("<!--SNIPPET-->", snippet))

        return serve

    return Starlette(routes=[Route(path, route(render)) for path, render in pages.items()])


ready = recorder_ready


def visit_account(v: Visitors, base: str, layout: str) -> str:
    ctx = v.context()
    page = ctx.new_page()
    page.goto(f"{base}/account?layout={layout}")
    ready(page)
    for selector in ("#public", "#reveal", "#pay"):
        page.click(selector)
        page.wait_for_timeout(150)
    page.click("#save-private")  # the required field is empty: refused, shown invalid
    page.wait_for_timeout(200)
    page.click("#save-city")  # the city is empty: refused, shown invalid (named by its label)
    page.wait_for_timeout(200)
    page.fill("#city", "Paris")
    page.fill("#zip", "75001")
    page.click("#save-city")
    page.wait_for_function("() => document.getElementById('city-form').dataset.sent === '1'")
    page.wait_for_timeout(300)
    sid = v.finish(page)
    ctx.close()
    return sid


def visit_shop(v: Visitors, base: str) -> str:
    ctx = v.context()
    page = ctx.new_page()
    page.goto(f"{base}/shop")
    ready(page)
    page.click("#buy")
    page.wait_for_timeout(150)
    page.click("#send")  # empty: refused
    page.wait_for_timeout(200)
    page.fill("#nick", "nicky")
    page.click("#send")
    page.wait_for_function("() => document.forms[0].dataset.sent === '1'")
    page.wait_for_timeout(300)
    sid = v.finish(page)
    ctx.close()
    return sid


@pytest.fixture(scope="module")
def rig(
    tmp_path_factory: pytest.TempPathFactory, new_collector: Callable[..., LiveCollector]
) -> Iterator[dict[str, Any]]:
    collector = new_collector(Path(tmp_path_factory.mktemp("research-privacy")) / "data")
    collector.start()
    add_viewer_user(collector)
    token = Accounts(collector.store).create_token(VIEWER_USER, "privacy", scope="admin")
    masked_port, all_port = free_port(), free_port()
    masked = collector.add_site(f"http://127.0.0.1:{masked_port}")
    everything = collector.add_site(f"http://127.0.0.1:{all_port}", mask_all_text=True)
    masked_app = site_app(
        demo_snippet(collector, masked, flush_ms=300),
        {"/account": lambda r: account_html(r.query_params.get("layout", "a"))},
    )
    all_app = site_app(demo_snippet(collector, everything, flush_ms=300), {"/shop": lambda r: SHOP})
    try:
        with (
            ThreadServer(masked_app, masked_port) as masked_server,
            ThreadServer(all_app, all_port) as all_server,
            human_chromium() as browser,
        ):
            v = Visitors(browser)
            sids = {
                "a": visit_account(v, masked_server.url, "a"),
                "b": visit_account(v, masked_server.url, "b"),
                "all": visit_shop(v, all_server.url),
            }
            rig = {"collector": collector, "token": token, "masked": masked, "all": everything,
                   "sids": sids, "sent": v.sent}  # fmt: skip
            wait_for_derivation(rig)
            yield rig
    finally:
        collector.stop()


def wait_for_derivation(rig: dict[str, Any]) -> None:
    collector = rig["collector"]

    def derived() -> bool:
        sessions = collector.index_rows("SELECT sid FROM sessions")
        views = collector.index_rows("SELECT sid FROM form_views")
        submits = collector.index_rows("SELECT sid FROM form_submits")
        return (
            len(sessions) == 3
            and collector.index.work_backlog(10**6)["pending"] == 0
            and {r["sid"] for r in views} == set(rig["sids"].values())
            and len(submits) == 2 * 3 + 2
        )

    wait_until(derived, timeout=90, interval=0.5, message="sessions indexed and derived")


def get(rig: dict[str, Any], path: str, body: Any = None) -> bytes:
    request = urllib.request.Request(
        f"{rig['collector'].url}{path}",
        data=None if body is None else orjson.dumps(body),
        headers={"Authorization": f"Bearer {rig['token']}", "Content-Type": "application/json"},
        method="GET" if body is None else "POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.read()
    except urllib.error.HTTPError as exc:
        raise AssertionError(f"{path}: {exc.code} {exc.read()[:300]!r}") from None


def api(rig: dict[str, Any], path: str, body: Any = None) -> Any:
    return orjson.loads(get(rig, path, body))


def heatmap_query(site: Any, url: str, **extra: str) -> str:
    return urlencode({"site": site.key, "url": url, "type": "click", "device": "any", **extra})


def answers(rig: dict[str, Any]) -> dict[str, bytes]:
    """Every answer a researcher reads about these visits, by what it is."""
    out: dict[str, bytes] = {}
    for name, sid in rig["sids"].items():
        out[f"session {name}"] = raw = get(rig, f"/api/sessions/{sid}")
        for view in orjson.loads(raw)["page_views"]:
            out[f"inspect {name}"] = get(rig, f"/api/sessions/{sid}/pages/{view['pid']}/inspect")
    for kind, url in (("masked", "/account*"), ("all", "/shop*")):
        site = rig[kind]
        out[f"forms {kind}"] = raw = get(rig, f"/api/forms?site={site.key}")
        for form in orjson.loads(raw)["forms"]:
            key = quote(form["form"], safe="")
            out[f"form {kind} {form['ident']}"] = get(rig, f"/api/forms/{key}?site={site.key}")
            out[f"form sessions {kind} {form['ident']}"] = get(
                rig, f"/api/forms/{key}/sessions?site={site.key}&metric=views"
            )
        query = heatmap_query(site, url)
        out[f"elements {kind}"] = raw = get(rig, f"/api/heatmaps/elements?{query}")
        out[f"elements csv {kind}"] = get(rig, f"/api/heatmaps/elements?{query}&format=csv")
        for row in orjson.loads(raw)["elements"]:
            spot = heatmap_query(site, url, selector=row["selector"])
            out[f"spot {kind} {row['selector']}"] = get(rig, f"/api/heatmaps/sessions?{spot}")
        funnel = {"site": site.key, "steps": [{"type": "url", "pattern": url}, {"type": "submit"}]}
        out[f"funnel {kind}"] = get(rig, "/api/funnels/query", funnel)
        out[f"funnel sessions {kind}"] = get(
            rig, "/api/funnels/query/sessions", {"definition": funnel, "step": 2, "outcome": "converted"}
        )
        out[f"session list {kind}"] = get(rig, f"/api/sessions?site={site.key}&limit=50")
        collector = rig["collector"]
        cli = [sys.executable, "-m", "sessionlens.cli", "forms", "--data-dir", str(collector.data_dir),
               "--site", site.key, "--json"]  # fmt: skip
        done = subprocess.run(cli, capture_output=True, timeout=120, env=collector.cli_env())
        assert done.returncode == 0, done.stderr
        out[f"forms command {kind}"] = done.stdout
    return out


def stored(rig: dict[str, Any]) -> bytes:
    """What the browsers sent, every stored object (raw and decoded) and the index."""
    collector = rig["collector"]
    parts = [gzip.decompress(b) if b[:2] == b"\x1f\x8b" else b for b in rig["sent"]]
    for key in collector.store.list(""):
        raw = collector.store.get(key)
        parts.append(raw)
        try:
            parts.append(json.dumps(codec.decode(raw), default=str).encode())
        except Exception:  # noqa: BLE001 - not every object is a codec object
            pass
    return b"\n".join([*parts, collector.index_bytes()])


@pytest.fixture(scope="module")
def outputs(rig: dict[str, Any]) -> dict[str, bytes]:
    return answers(rig)


# -- masked text appears nowhere -------------------------------------------------------------------


def test_the_answers_were_read(rig: dict[str, Any], outputs: dict[str, bytes]) -> None:
    """The answers hold the visits (so the absence of masked text below means something)."""
    masked_forms = orjson.loads(outputs["forms masked"])["forms"]
    assert {f["ident"] for f in masked_forms} == {"#city-form", "#private-form"}, masked_forms
    all_forms = orjson.loads(outputs["forms all"])["forms"]
    assert [f["ident"] for f in all_forms] == ["#nick-form"]
    assert (
        b"Public button" in outputs["elements masked"] and b"Public button" in outputs["elements csv masked"]
    )
    entries = orjson.loads(outputs["session a"])["entries"]
    assert "Clicked 'Public button'" in [e["label"] for e in entries]
    assert orjson.loads(outputs["funnel masked"])["steps"][1]["entered"] == 2


@pytest.mark.parametrize("secret", SECRETS)
def test_no_masked_text_in_any_answer(outputs: dict[str, bytes], secret: str) -> None:
    leaked = sorted(name for name, body in outputs.items() if secret.encode() in body)
    assert not leaked, (secret, leaked)


@pytest.mark.parametrize("secret", SECRETS)
def test_no_masked_text_sent_or_stored(rig: dict[str, Any], secret: str) -> None:
    assert secret.encode() not in stored(rig)


@pytest.mark.parametrize("secret", NESTED_SECRETS)
def test_no_text_masked_inside_a_control_or_label(
    rig: dict[str, Any], outputs: dict[str, bytes], secret: str
) -> None:
    leaked = sorted(name for name, body in outputs.items() if secret.encode() in body)
    assert not leaked and secret.encode() not in stored(rig), (secret, leaked)


def test_masked_labels_are_not_names(outputs: dict[str, bytes]) -> None:
    """A form or field whose visible name is masked is named by its id/name attribute, never by
    a row of '*' or its text."""
    private = orjson.loads(outputs["form masked #private-form"])
    assert private["name"] == "private-form"
    assert [f["label"] for f in private["fields"]] and all("*" not in f["label"] for f in private["fields"])
    nick = orjson.loads(outputs["form all #nick-form"])
    assert nick["name"] == "nick-form" and [f["label"] for f in nick["fields"]] == ["nick"]


@pytest.mark.parametrize("text", ["QUOKKASECRET", "Reveal", "NARWHALSECRET", "Buy"])
def test_a_click_step_on_masked_text_matches_nothing(rig: dict[str, Any], text: str) -> None:
    site = rig["all"] if text in ("NARWHALSECRET", "Buy") else rig["masked"]
    funnel = {"site": site.key, "steps": [{"type": "url", "pattern": "/*"}, {"type": "click", "text": text}]}
    steps = api(rig, "/api/funnels/query", funnel)["steps"]
    assert [s["entered"] for s in steps] == [2 if site is rig["masked"] else 1, 0]
    found = api(rig, f"/api/sessions?site={site.key}&{urlencode({'clicked': text})}")
    assert found["total"] == 0


# -- the same element after the layout changed -------------------------------------------------------


def test_a_moved_element_keeps_its_clicks_in_the_heatmap(
    rig: dict[str, Any], outputs: dict[str, bytes]
) -> None:
    rows = orjson.loads(outputs["elements masked"])["elements"]
    public = [r for r in rows if r["text"] == "Public button"]
    assert len(public) == 1 and public[0]["clicks"] == 2, rows
    spot = orjson.loads(outputs[f"spot masked {public[0]['selector']}"])
    assert {s["sid"] for s in spot["sessions"]} == {rig["sids"]["a"], rig["sids"]["b"]}
    # Each visit's click is placed on the element as that visit laid it out: the element moved
    # 420 px (banner) plus the forms' height down, its place in the page changed, not its element.
    clicks = rig["collector"].index_rows(
        "SELECT sid, py FROM clicks WHERE site = ? AND text = ?", (rig["masked"].key, "Public button")
    )
    by_sid = {c["sid"]: c["py"] for c in clicks}
    assert by_sid[rig["sids"]["b"]] > by_sid[rig["sids"]["a"]] + 420, by_sid


def test_a_moved_form_keeps_its_fields(rig: dict[str, Any], outputs: dict[str, bytes]) -> None:
    city = orjson.loads(outputs["form masked #city-form"])
    assert (city["views"], city["starters"]) == (2, 2), city
    fields = {f["field"]: f for f in city["fields"]}
    assert fields["city"]["interactions"] == 2 and fields["zip"]["interactions"] == 2, fields
    private = orjson.loads(outputs["form masked #private-form"])
    assert private["views"] == 2


def test_a_funnel_click_step_by_element_counts_both_layouts(
    rig: dict[str, Any], outputs: dict[str, bytes]
) -> None:
    public = next(
        r for r in orjson.loads(outputs["elements masked"])["elements"] if r["text"] == "Public button"
    )
    site = rig["masked"]
    funnel = {"site": site.key, "steps": [
        {"type": "url", "pattern": "/account*"},
        {"type": "click", "selector": public["selector"]},
        {"type": "submit", "form": "city-form"},
    ]}  # fmt: skip
    result = api(rig, "/api/funnels/query", funnel)
    assert [s["entered"] for s in result["steps"]] == [2, 2, 2]
