"""Every session list filter, their combinations, sorting with keyset paging, and hostile values.

Sessions are written into the index as the aggregation and derivation
passes leave them (sessions row, page URLs and their keys, clicks,
session_attrs, custom events), so each filter is checked against known
values on both backends, through the real HTTP API behind login.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from starlette.testclient import TestClient

from sessionlens.auth.users import Accounts
from sessionlens.heatmap.signals import ClickFact
from sessionlens.index import Index
from sessionlens.index.url_keys import INSERT_URL_KEYS, url_key_rows
from sessionlens.session_search import COUNT_CAP
from sessionlens.stores.local import LocalStore
from tests.live import LiveCollector, chromium
from tests.viewer_live import add_viewer_user, log_in

T = 1_790_000_000_000
SITE = "s1"
ORIGIN = "https://shop.example"

# name -> session columns (others default), plus what the derivation pass writes.
SESSIONS: dict[str, dict[str, Any]] = {
    "ann": dict(
        start=T + 5_000, duration=10_000, active=5_000, pages=2, device="desktop", browser="Chrome",
        channel="paid_search", country="DE", language="de-DE", timezone="Europe/Berlin",
        referrer="https://www.Google.com/search?q=shoes", utm_source="google", utm_medium="cpc",
        utm_campaign="Spring_Sale", utm_term="red shoes", utm_content="ad-1", visitor="v1", visit=1, user="u-1",
        rage=2, frustration=5.5, lcp=3_000.0,
        urls=[f"{ORIGIN}/pricing?utm_source=google", f"{ORIGIN}/signup"],
        traits={"plan": "pro", "role": "admin"}, experiments={"checkout": "B"},
        events={"signup_completed": {"plan": "pro"}}, clicks=["Get my quote", "Pricing"],
    ),
    "bob": dict(
        start=T + 4_000, duration=60_000, active=40_000, pages=2, device="mobile", browser="Safari",
        channel="social", country="US", language="en-US", timezone="America/New_York",
        referrer="https://t.co/abc", utm_source="Twitter", visitor="v1", visit=2, user="u-2",
        dead=1, thrash=1, frustration=2.0, lcp=1_200.0,
        urls=[f"{ORIGIN}/pricing", f"{ORIGIN}/signup/done"],
        traits={"plan": "free"}, props={"ab:c": "x:y"}, experiments={"checkout": "A", "hero": "big"},
        events={"signup_started": {}, "checkout.started": {"plan": "free"}}, clicks=["Cancel"],
    ),
    "cai": dict(
        start=T + 3_000, duration=600_000, active=100_000, pages=5, device="tablet", browser="Firefox",
        channel="direct", country="unknown", language="fr", timezone="Europe/Paris", errors=2,
        quick_back=1, excessive_scroll=1, form_error=1, error_clicks=1, frustration=9.0,
        urls=[f"{ORIGIN}/", f"{ORIGIN}/blog/100%_off"], clicks=["100% off_sale", "ÜBER uns"],
        props={"tier": "gold"},
    ),
    "dot": dict(  # same start as ann: ties are broken by sid
        start=T + 5_000, duration=10_000, active=5_000, pages=1, device="desktop", browser="Edge",
        channel="organic_search", country="DE", language="de", timezone="Europe/Berlin",
        referrer="https://duckduckgo.com/", visitor="v9", visit=1, frustration=5.5, lcp=2_500.0,
        urls=[f"{ORIGIN}/pricing"], clicks=["über uns"],
    ),
    "bot": dict(
        start=T + 6_000, duration=1_000, active=0, pages=1, device="desktop", browser="Chrome",
        channel="direct", country="US", is_bot=1, bot_reason="webdriver", urls=[f"{ORIGIN}/pricing"],
    ),
    "other": dict(site="s2", start=T + 1_000, channel="direct", country="DE", urls=[f"{ORIGIN}/pricing"]),
}  # fmt: skip


def _write(index: Index, sites: dict[str, str] | None = None) -> dict[str, str]:
    """The sessions above in the index (`sites` renames site keys); returns name -> sid (sids sort as the names)."""
    sites = sites or {}
    sids = {name: f"sid-{name}" for name in SESSIONS}
    session_rows, url_rows, attr_rows, event_rows, prop_rows = [], [], [], [], []
    for name, s in SESSIONS.items():
        site, sid = sites.get(s.get("site", SITE), s.get("site", SITE)), sids[name]
        duration = s.get("duration", 1_000)
        urls = s.get("urls", [f"{ORIGIN}/"])
        session_rows.append(
            (site, sid, s["start"], s["start"] + duration, duration, s.get("active", 0), urls[0], urls[-1],
             s.get("pages", 1), s.get("device", "desktop"), s.get("browser", "Chrome"), "Linux",
             s.get("referrer"), s.get("utm_source"), s.get("utm_medium"), s.get("utm_campaign"),
             s.get("utm_term"), s.get("utm_content"), 3, 1, s.get("errors", 0), 0, 1, 100,
             s.get("visitor"), s.get("user"), s.get("channel"), s.get("country"), s.get("language"),
             s.get("timezone"), s.get("is_bot", 0), s.get("bot_reason"), s.get("visit"),
             s.get("rage", 0), s.get("dead", 0), s.get("error_clicks", 0), s.get("quick_back", 0),
             s.get("excessive_scroll", 0), s.get("thrash", 0), s.get("form_error", 0),
             s.get("frustration", 0.0), s.get("lcp"))
        )  # fmt: skip
        for i, url in enumerate(urls):
            url_rows.append((site, sid, f"p{i}", url))
        for scope, values in (("trait", "traits"), ("prop", "props"), ("experiment", "experiments")):
            for key, value in s.get(values, {}).items():
                attr_rows.append((site, sid, scope, key, value, "p0", s["start"]))
        for event, props in s.get("events", {}).items():
            event_rows.append((site, sid, "p0", 10, event))
            for key, value in props.items():
                prop_rows.append((site, sid, "p0", 10, event, key, value))
    columns = (
        "site, sid, start_time, end_time, duration_ms, active_ms, entry_url, exit_url, page_count, device,"
        " browser, os, referrer, utm_source, utm_medium, utm_campaign, utm_term, utm_content, clicks, inputs,"
        " errors, customs, batches, stored_bytes, visitor_id, user_id, channel, country, language, timezone,"
        " is_bot, bot_reason, visit_number, rage_clicks, dead_clicks, error_clicks, quick_backs,"
        " excessive_scrolls, thrashes, form_errors, frustration_score, lcp_ms"
    )

    def write(conn: Any) -> None:
        conn.executemany(
            f"INSERT INTO sessions ({columns}) VALUES ({', '.join('?' * (columns.count(',') + 1))})",
            session_rows,
        )
        conn.executemany("INSERT INTO page_urls (site, sid, pid, url) VALUES (?, ?, ?, ?)", url_rows)
        conn.executemany(INSERT_URL_KEYS, url_key_rows((r[0], r[3]) for r in url_rows))
        conn.executemany(
            "INSERT INTO session_attrs (site, sid, scope, key, value, pid, at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            attr_rows,
        )
        conn.executemany(
            "INSERT INTO custom_events (site, sid, pid, t, name) VALUES (?, ?, ?, ?, ?)", event_rows
        )
        conn.executemany(
            "INSERT INTO custom_event_props (site, sid, pid, t, name, key, value) VALUES (?, ?, ?, ?, ?, ?, ?)",
            prop_rows,
        )

    index.write(write)
    for name, s in SESSIONS.items():
        texts = s.get("clicks", [])
        if texts:
            url = s["urls"][0]
            facts = [
                ClickFact(t=100 * i, url=url, selector=f"#b{i}", fx=0.5, fy=0.5, px=1.0, py=1.0, vw=1280, pw=1280,
                          ph=900, tag="button", flags="", label=text, text=text)
                for i, text in enumerate(texts)
            ]  # fmt: skip
            site = s.get("site", SITE)
            index.replace_clicks(sites.get(site, site), sids[name], "p0", s["start"], facts)
    return sids


@pytest.fixture
def api(client: TestClient, store: LocalStore, index: Index) -> Iterator[Any]:
    accounts = Accounts(store)
    accounts.add_user("r", "password-123")
    auth = {"Authorization": f"Bearer {accounts.create_token('r', 'test')}"}
    sids = _write(index)
    names = {sid: name for name, sid in sids.items()}

    def get(query: str | list[tuple[str, str]], status: int = 200) -> dict[str, Any]:
        qs = query if isinstance(query, str) else urlencode(query)
        r = client.get(f"/api/sessions?{qs}", headers=auth)
        assert r.status_code == status, (qs, r.text)
        body = r.json()
        if status == 200:
            body["names"] = [names.get(s["sid"], s["sid"]) for s in body["sessions"]]
        return body

    yield get


def found(api: Any, query: str | list[tuple[str, str]]) -> set[str]:
    body = api(query)
    assert body["total"] == len(body["names"]) and body["total_capped"] is False
    return set(body["names"])


HUMANS_S1 = {"ann", "bob", "cai", "dot"}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", HUMANS_S1 | {"other"}),
        ("site=s1", HUMANS_S1),
        ("site=s1&bots=include", HUMANS_S1 | {"bot"}),
        ("bots=only", {"bot"}),
        ("bots=exclude&site=s2", {"other"}),
        # where they came from
        ("referrer=google.com", {"ann"}),  # ASCII case ignored (stored "Google.com")
        ("referrer=T.CO", {"bob"}),
        ("utm_source=google", {"ann"}),
        ("utm_source=twitter", {"bob"}),  # stored "Twitter"
        ("utm_source=google&utm_source=TWITTER", {"ann", "bob"}),  # repeated: any of
        ("utm_medium=cpc", {"ann"}),
        ("utm_campaign=spring_sale", {"ann"}),
        ("utm_campaign=spring%25", set()),  # LIKE characters are literal
        ("utm_term=red+shoes", {"ann"}),
        ("utm_content=ad-1", {"ann"}),
        ("channel=direct", {"cai", "other"}),
        ("channel=social&channel=organic_search", {"bob", "dot"}),
        ("landing=/pricing*", {"ann", "bob", "dot", "other"}),
        ("landing=/pricing", {"ann", "bob", "dot", "other"}),  # substring
        (
            "landing=https://shop.example/pricing",
            {"ann", "bob", "dot", "other"},
        ),  # substring of the whole URL
        ("landing=https://shop.example/pricing*", {"ann", "bob", "dot", "other"}),
        ("landing=https://shop.example/", {"ann", "bob", "cai", "dot", "other"}),
        ("landing=https://shop.example/", {"ann", "bob", "cai", "dot", "other"}),
        ("exit=/signup/done", {"bob"}),
        ("exit=/signup*", {"ann", "bob"}),
        ("exit=*/signup", {"ann"}),
        # who and where
        ("country=DE", {"ann", "dot", "other"}),
        ("country=de&country=US", {"ann", "dot", "other", "bob"}),
        ("country=unknown", {"cai"}),
        ("language=de", {"ann", "dot"}),  # de and de-*
        ("language=de-de", {"ann"}),
        ("language=en", {"bob"}),
        ("language=d", set()),  # a prefix of a tag is not its subtag
        ("timezone=Europe/Berlin", {"ann", "dot"}),
        ("timezone=Europe/Berlin&timezone=Europe/Paris", {"ann", "dot", "cai"}),
        ("visitor=new", {"ann", "dot"}),
        ("visitor=returning", {"bob"}),
        ("min_visits=2", {"bob"}),
        ("max_visits=1", {"ann", "dot"}),
        ("user=u-1", {"ann"}),
        ("user=u-1&user=u-2", {"ann", "bob"}),
        ("user=U-1", set()),  # ids are exact
        ("trait=plan:pro", {"ann"}),
        ("trait=plan", {"ann", "bob"}),
        ("trait=plan:pro&trait=role:admin", {"ann"}),
        ("trait=plan:free&trait=role", set()),  # repeated: each
        ("prop=ab:c:x:y", set()),  # split at the first colon: key "ab", value "c:x:y"
        ("prop=tier:gold", {"cai"}),
        ("experiment=checkout", {"ann", "bob"}),
        ("experiment=checkout:B", {"ann"}),
        ("experiment=hero:big&experiment=checkout:A", {"bob"}),
        # what they did
        ("event=signup_completed", {"ann"}),
        ("event=signup_started&event=signup_completed", set()),
        ("event=checkout.started", {"bob"}),
        ("event_prop=signup_completed.plan:pro", {"ann"}),
        ("event_prop=signup_completed.plan:free", set()),
        ("event_prop=checkout.started.plan", {"bob"}),  # event names may hold dots
        ("clicked=get+my+QUOTE", {"ann"}),
        ("clicked=quote&clicked=pricing", {"ann"}),
        ("clicked=quote&clicked=cancel", set()),
        ("clicked=100%25+off_", {"cai"}),  # % and _ are literal
        ("clicked=0%25_", set()),
        ("clicked=ÜBER", {"cai"}),  # A-Z folded; other letters as typed
        ("clicked=über", {"dot"}),
        ("visited=/pricing*", {"ann", "bob", "dot", "other"}),
        ("visited=/pricing*&not_visited=/signup/done*", {"ann", "dot", "other"}),
        ("visited=/signup*&visited=/pricing*", {"ann", "bob"}),
        ("url=/blog/100%25_off", {"cai"}),
        ("url=/blog/100%25*", {"cai"}),
        ("url=/blog/1000*", set()),
        ("not_visited=/pricing*&site=s1", {"cai"}),
        ("min_pages=2&max_pages=2", {"ann", "bob"}),
        ("min_active=40", {"bob", "cai"}),
        ("max_active=5&site=s1", {"ann", "dot"}),
        ("min_duration=60&max_duration=60", {"bob"}),
        # frustration and speed
        ("rage=1", {"ann"}),
        ("dead=true", {"bob"}),
        ("thrash=yes", {"bob"}),
        ("error_clicks=1", {"cai"}),
        ("quick_back=1", {"cai"}),
        ("excessive_scroll=1", {"cai"}),
        ("form_error=1", {"cai"}),
        ("rage=0", HUMANS_S1 | {"other"}),
        ("has_errors=1", {"cai"}),
        ("min_frustration=5.5", {"ann", "cai", "dot"}),
        ("lcp_over=2500", {"ann"}),
        ("lcp_over=2499", {"ann", "dot"}),
        ("device=mobile&device=tablet", {"bob", "cai"}),
        ("browser=CHROME&site=s1", {"ann"}),
        # combined (AND)
        ("country=DE&channel=paid_search&trait=plan:pro&event=signup_completed&clicked=quote", {"ann"}),
        ("country=DE&visitor=new&not_visited=/signup*&site=s1", {"dot"}),
        ("experiment=checkout&min_frustration=3", {"ann"}),
    ],
)
def test_each_filter_finds_exactly_its_sessions(api: Any, query: str, expected: set[str]) -> None:
    assert found(api, query) == expected


@pytest.mark.parametrize(
    ("sort", "order", "expected"),
    [
        ("start", "desc", ["dot", "ann", "bob", "cai"]),  # ties (ann, dot) by sid, in the sort's direction
        ("start", "asc", ["cai", "bob", "ann", "dot"]),
        ("duration", "desc", ["cai", "bob", "dot", "ann"]),
        ("active", "asc", ["ann", "dot", "bob", "cai"]),
        ("frustration", "desc", ["cai", "dot", "ann", "bob"]),
        ("frustration", "asc", ["bob", "ann", "dot", "cai"]),
    ],
)
def test_sorting_with_keyset_pages(api: Any, sort: str, order: str, expected: list[str]) -> None:
    base = f"site=s1&sort={sort}&order={order}"
    assert api(base)["names"] == expected
    seen, cursor = [], None
    while True:
        body = api(base + "&limit=1" + (f"&cursor={cursor}" if cursor else ""))
        assert body["total"] == (None if cursor else 4) and body["sort"] == sort and body["order"] == order
        seen += body["names"]
        cursor = body["next"]
        if cursor is None:
            break
    assert seen == expected
    # A cursor belongs to its sort and order.
    first = api(base + "&limit=1")["next"]
    other_order = "asc" if order == "desc" else "desc"
    assert "cursor" in api(f"site=s1&sort={sort}&order={other_order}&cursor={first}", 400)["error"]
    other_sort = "duration" if sort != "duration" else "start"
    assert "cursor" in api(f"site=s1&sort={other_sort}&order={order}&cursor={first}", 400)["error"]


def test_rows_carry_the_list_columns(api: Any) -> None:
    row = next(s for s in api("user=u-2")["sessions"])
    assert row["channel"] == "social" and row["country"] == "US" and row["visit_number"] == 2
    assert row["experiments"] == {"checkout": "A", "hero": "big"}
    assert row["dead_clicks"] == 1 and row["thrashes"] == 1 and row["frustration_score"] == 2.0


def test_legacy_before_cursor(api: Any) -> None:
    first = api("site=s1&limit=2")
    assert first["names"] == ["dot", "ann"]
    start, sid = SESSIONS["ann"]["start"], "sid-ann"
    assert api(f"site=s1&before={start}:{sid}")["names"] == ["bob", "cai"]
    assert "before" in api(f"site=s1&sort=duration&before={start}:{sid}", 400)["error"]


def test_count_is_capped(index: Index, api: Any) -> None:
    rows = [("cap", f"c{i:06d}", T + i, T + i + 1, 1, 0, 1, 3, 1, 0, 0, 1, 100) for i in range(COUNT_CAP + 5)]
    index.write(
        lambda conn: conn.executemany(
            "INSERT INTO sessions (site, sid, start_time, end_time, duration_ms, active_ms, page_count, clicks,"
            " inputs, errors, customs, batches, stored_bytes) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
    )
    body = api("site=cap&limit=3")
    assert body["total"] == COUNT_CAP and body["total_capped"] is True
    assert [s["sid"] for s in body["sessions"]] == ["c010004", "c010003", "c010002"]
    assert api("site=cap&min_duration=0&max_duration=0.001&limit=1")["total_capped"] is True
    exact = api("site=cap&from=" + str(T) + "&to=" + str(T + 100))
    assert exact["total"] == 100 and exact["total_capped"] is False


@pytest.mark.parametrize(
    ("query", "name"),
    [
        ("colour=red", "colour"),
        ("channel=tv", "channel"),
        ("channel=", "channel"),
        ("country=DEU", "country"),
        ("country=%27+OR+1%3D1--", "country"),
        ("language=de_DE", "language"),
        ("timezone=Europe/Berlin%3B+DROP+TABLE+sessions", "timezone"),
        ("visitor=old", "visitor"),
        ("bots=maybe", "bots"),
        ("sort=name", "sort"),
        ("order=up", "order"),
        ("rage=2", "rage"),
        ("has_errors=", "has_errors"),
        ("trait=:pro", "trait"),
        ("trait=plan:", "trait"),
        ("experiment=", "experiment"),
        ("event_prop=signup", "event_prop"),
        ("event_prop=.plan:pro", "event_prop"),
        ("clicked=" + "x" * 501, "clicked"),
        ("referrer=a%00b", "referrer"),
        ("min_visits=0", "min_visits"),
        ("min_visits=99999999999999999999", "min_visits"),
        ("lcp_over=1e9", "lcp_over"),
        ("lcp_over=-1", "lcp_over"),
        ("min_frustration=nan", "min_frustration"),
        ("min_pages=1.5", "min_pages"),
        ("min_active=inf", "min_active"),
        ("site=s1&site=s2", "site"),
        ("min_duration=1&min_duration=2", "min_duration"),
        ("referrer=a&referrer=b", "referrer"),
        ("cursor=nonsense", "cursor"),
        ("cursor=start:desc:1e400:sid-ann", "cursor"),
        ("cursor=frustration:desc:1e400:sid-ann&sort=frustration", "cursor"),
        ("cursor=start:desc:1:" + "a" * 65, "cursor"),
        ("cursor=start:desc:1:x&before=1:x", "cursor"),
        ("&".join(["user=u"] * 21), "user"),
    ],
)
def test_bad_values_are_refused_naming_the_parameter(api: Any, query: str, name: str) -> None:
    message = api(query, 400)["error"]
    assert name in message, message


def _reference(name: str, value: str) -> set[str]:
    """What a text filter should find among the site's humans (the documented semantics, in Python)."""
    from sessionlens.url_patterns import url_matches

    def url_test(url: str) -> bool:
        return url_matches(url, value) if "*" in value else value in url

    def lower(text: str | None) -> str:
        return "".join(chr(ord(c) + 32) if "A" <= c <= "Z" else c for c in text or "")

    out = set()
    for n in HUMANS_S1:
        s = SESSIONS[n]
        urls = s.get("urls", [])
        hit = {
            "url": any(url_test(u) for u in urls),
            "visited": any(url_test(u) for u in urls),
            "not_visited": not any(url_test(u) for u in urls),
            "landing": url_test(urls[0]),
            "exit": url_test(urls[-1]),
            "referrer": lower(value) in lower(s.get("referrer")) if s.get("referrer") else False,
            "clicked": any(lower(value) in lower(t) for t in s.get("clicks", [])),
            "user": s.get("user") == value,
            "event": value in s.get("events", {}),
            "utm_source": s.get("utm_source") is not None and lower(s["utm_source"]) == lower(value),
            "browser": lower(s.get("browser")) == lower(value),
        }[name]
        if hit:
            out.add(n)
    return out


@pytest.mark.parametrize(
    "value",
    ["' OR 1=1 --", '"; DROP TABLE sessions; --', "%", "_", "\\", "*", "**", "?", "[a]", "/blog/1*%_*",
     "😀" * 100, "x" * 500, "q=SHOES"],
)  # fmt: skip
def test_hostile_text_is_only_text(api: Any, value: str) -> None:
    for name in ("referrer", "clicked", "url", "visited", "not_visited", "landing", "exit", "user", "event",
                 "utm_source", "browser"):  # fmt: skip
        assert set(api([("site", "s1"), (name, value)])["names"]) == _reference(name, value), (name, value)
    value = value[:450]  # with its key, within the 500 characters of one value
    for name in ("trait", "prop", "experiment"):
        assert api([("site", "s1"), (name, f"plan:{value}")])["names"] == []
    assert api([("site", "s1"), ("event_prop", f"signup_completed.plan:{value}")])["names"] == []


def test_list_page_filters_counts_columns_and_segments_in_chromium(
    tmp_path: Path, new_collector: Callable[..., LiveCollector]
) -> None:
    """The list page in Chromium: a filter typed into the form finds its session, the count shows
    before the list, bots appear only when asked for, a saved segment is listed and applied."""
    collector = new_collector(tmp_path / "data")
    collector.start()
    try:
        add_viewer_user(collector)
        key = collector.add_site("https://shop.example").key
        _write(collector.index, {SITE: key, "s2": collector.add_site("https://other.example").key})
        with chromium() as browser:
            page = browser.new_page(viewport={"width": 1600, "height": 1000})
            log_in(page, collector)
            page.goto(f"{collector.url}/?site={key}")
            page.wait_for_selector("tr[data-sid]")
            assert page.inner_text("#count") == "4 sessions match"
            assert page.locator("tr[data-sid]").count() == 4
            ann = page.locator("tr[data-sid=sid-ann]").inner_text()
            for shown in ("paid search", "DE", "u-1", "new", "rage ×2", "checkout: B", "5.5"):
                assert shown in ann, (shown, ann)
            assert "returning (#2)" in page.locator("tr[data-sid=sid-bob]").inner_text()
            # A filter from "More filters", typed and submitted through the form.
            page.click("details.more-filters summary")
            page.fill("label[data-filter=clicked] input", "GET MY quote")
            page.click("form#filters button:text('Filter')")
            page.wait_for_url("**clicked=GET+MY+quote**")
            page.wait_for_selector("#count:text('1 session match')")
            assert [r.get_attribute("data-sid") for r in page.locator("tr[data-sid]").all()] == ["sid-ann"]
            # Bots: hidden by default, shown when asked for.
            page.goto(f"{collector.url}/?site={key}")
            page.wait_for_selector("tr[data-sid]")
            assert page.locator("tr[data-sid=sid-bot]").count() == 0
            page.select_option("select[name=bots]", "only")
            page.click("form#filters button:text('Filter')")
            page.wait_for_url("**bots=only**")
            page.wait_for_selector("tr[data-sid=sid-bot]")
            assert page.locator("tr[data-sid]").count() == 1
            # A saved segment, then applied from the segments menu.
            page.goto(
                f"{collector.url}/?site={key}&visited=/pricing*&not_visited=/signup/done*&sort=frustration"
            )
            page.wait_for_selector("tr[data-sid]")
            page.once("dialog", lambda d: d.accept("Pricing, no signup"))
            page.click("button:text('Save as segment')")
            page.wait_for_selector("#segments option:text('Pricing, no signup')", state="attached")
            page.goto(f"{collector.url}/")
            page.wait_for_selector("#segments option:text('Pricing, no signup')", state="attached")
            page.select_option("#segments", label=f"Pricing, no signup ({key})")
            page.wait_for_url("**not_visited=**")
            page.wait_for_selector("tr[data-sid]")
            assert [r.get_attribute("data-sid") for r in page.locator("tr[data-sid]").all()] == [
                "sid-dot",
                "sid-ann",
            ]
            assert page.input_value("select[name=sort]") == "frustration"
    finally:
        collector.stop()


def test_notes_and_collections(api: Any, index: Index, store: LocalStore) -> None:
    """`note=` finds sessions with a researcher's note containing the text; `collection=` the sessions
    starred into a collection (saved documents, sessionlens.saved_docs)."""
    from sessionlens.saved_docs import SavedDocs

    docs = SavedDocs(store, index)
    docs.create(
        "note", SITE, "r", name="Checkout button broken 100%", sid="sid-ann", body={"t": 5, "pid": "p0"}
    )
    docs.create("note", SITE, "r", name="calm", sid="sid-bob", body={"t": 5, "pid": "p0"})
    starred = docs.create("collection", SITE, "r", name="Look at", sessions=["sid-bob", "sid-cai"])
    assert found(api, "note=CHECKOUT") == {"ann"}
    assert found(api, "note=100%25") == {"ann"} and found(api, "note=0%25_") == set()
    assert found(api, f"collection={starred.id}") == {"bob", "cai"}
    assert found(api, f"collection={starred.id}&note=calm") == {"bob"}
    assert "collection" in api("collection=../x", 400)["error"]
