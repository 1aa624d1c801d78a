"""Session search latency on 1,000,000 sessions, on SQLite and on PostgreSQL.

Builds an index of 1,000,000 sessions of one site over 30 days (1.5 page
views each: page_urls over 5,000 distinct URLs, devices and browsers mixed,
1 in 20 sessions with clicks, some rage/dead/error; issue 12's attributes:
channel, country, language, time zone, visit number, user id, 2 % bots,
signal counts and frustration score, LCP, an experiment bucket on every
session, traits on 1 in 10, custom events on 1 in 20) plus 200,000 sessions
of another site, then runs the session list's typical filters
(src/sessionlens/session_search.py) through SessionFilter.from_query, each
with varied values, and prints p50 / p95 per filter and over all of them.

    .venv/bin/python bench/session_search.py [--sessions 1000000] [--backends sqlite,postgresql] [--runs 20]

PostgreSQL is started as the tests start it (tests/postgres_server.py) and removed at the end,
unless --postgres-url names a server: then the index is schema --schema there and stays, and
--reuse measures it again without generating or loading anything (a before/after pair on the
same rows; the code under test migrates it when opened, so measure the older code first).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np
from synthetic_index import DAY, DAYS, NOW, bench_index
from synthetic_index import fill as fill_tables

from sessionlens.index import Index  # noqa: E402
from sessionlens.index.database import CLICK_COLUMNS  # noqa: E402
from sessionlens.index.url_keys import url_key_rows  # noqa: E402
from sessionlens.session_search import SessionFilter, search_sessions  # noqa: E402

DEVICES = ["desktop"] * 6 + ["mobile"] * 3 + ["tablet", "bot"]
BROWSERS = ["Chrome"] * 6 + ["Firefox", "Safari", "Safari", "Edge"]
SESSION_COLUMNS = (
    "site", "sid", "start_time", "end_time", "duration_ms", "active_ms", "entry_url", "exit_url", "page_count",
    "device", "browser", "os", "vw", "vh", "clicks", "inputs", "errors", "customs", "batches", "stored_bytes",
    "referrer", "utm_source", "channel", "country", "language", "timezone", "is_bot", "visitor_id", "visit_number",
    "user_id", "rage_clicks", "dead_clicks", "error_clicks", "quick_backs", "excessive_scrolls", "thrashes",
    "form_errors", "frustration_score", "lcp_ms",
)  # fmt: skip
CHANNELS = ["direct"] * 4 + ["organic_search"] * 3 + ["social", "email", "paid_search", "referral"]
COUNTRIES = ["DE"] * 4 + ["US"] * 3 + ["FR", "GB", "unknown", "NZ"]
LANGUAGES = ["de-DE", "en-US", "en-GB", "fr-FR", "de-AT"]
ZONES = ["Europe/Berlin", "America/New_York", "Europe/London", "Europe/Paris"]
REFERRERS = [None, None, "https://www.google.com/", "https://t.co/x", "https://news.example/a"]


def url_of(i: int) -> str:
    kind = ("product", "blog", "category", "checkout", "account")[i % 5]
    return f"https://shop.example/{kind}/{i % 1000}"


def rows(n: int, seed: int = 3) -> dict[str, list[tuple]]:
    rng = np.random.default_rng(seed)
    out: dict[str, list[tuple]] = {"sessions": [], "page_urls": [], "clicks": [], "session_attrs": [],
                                   "custom_events": [], "custom_event_props": []}  # fmt: skip
    for site, count in (("s", n), ("other", n // 5)):
        start = NOW - rng.integers(0, DAYS * DAY, count)
        duration = rng.exponential(120_000, count).astype(np.int64)
        device = rng.integers(0, len(DEVICES), count)
        browser = rng.integers(0, len(BROWSERS), count)
        url = rng.integers(0, 5000, count)
        errors = (rng.random(count) < 0.03).astype(np.int64)
        pick = rng.integers(0, 1_000_000, (count, 8))
        score = np.round(rng.exponential(1.5, count), 2)
        for i in range(count):
            sid = f"{site}{i:07d}"
            first = url_of(int(url[i]))
            pages = 2 if i % 2 else 1
            p = pick[i]
            rage, dead = int(i % 60 == 0), int(i % 100 == 0)
            signals = (rage, dead, int(i % 140 == 0), int(p[0] % 50 == 0), int(p[1] % 200 == 0),
                       int(p[2] % 500 == 0), int(p[3] % 300 == 0))  # fmt: skip
            visitor = f"v{p[4] % (count // 2)}" if p[5] % 3 else None
            out["sessions"].append((site, sid, int(start[i]), int(start[i] + duration[i]), int(duration[i]),
                                    int(duration[i]) // 2, first, url_of(int(url[i]) + 7 * (pages - 1)), pages,
                                    DEVICES[device[i]], BROWSERS[browser[i]], "Linux", 1440.0, 900.0, 3, 1,
                                    int(errors[i]), 0, 2, 4000, REFERRERS[p[0] % 5],
                                    ("google", "newsletter", None, None)[p[1] % 4], CHANNELS[p[2] % 11],
                                    COUNTRIES[p[3] % 11], LANGUAGES[p[4] % 5], ZONES[p[5] % 4], int(p[6] % 50 == 0),
                                    visitor, (1 + int(p[7] % 4)) if visitor else None,
                                    f"user-{p[7] % 100_000}" if p[6] % 4 == 0 else None, *signals,
                                    float(score[i]) + 5 * sum(signals), float(500 + p[0] % 4000)))  # fmt: skip
            out["page_urls"].append((site, sid, "p0", first))
            if pages == 2:
                out["page_urls"].append((site, sid, "p1", url_of(int(url[i]) + 7)))
            out["session_attrs"].append((site, sid, "experiment", "checkout", "AB"[int(p[3] % 2)], "p0", 0))
            if p[2] % 10 == 0:
                out["session_attrs"].append(
                    (site, sid, "trait", "plan", ("free", "pro", "team")[p[4] % 3], "p0", 0)
                )
            if p[1] % 20 == 0:
                name = ("add_to_cart", "signup_started", "signup_completed", "search")[p[2] % 4]
                out["custom_events"].append((site, sid, "p0", 10, name))
                out["custom_event_props"].append(
                    (site, sid, "p0", 10, name, "plan", ("free", "pro")[p[3] % 2])
                )
            if i % 20 == 0:
                for k in range(3):
                    out["clicks"].append((site, sid, "p0", int(start[i]), k * 100, first, f"#e{k}", 0.5, 0.5, 10.0,
                                          10.0, 1440.0, 1440.0, 3000.0, "a", int(i % 60 == 0 and k == 0),
                                          int(i % 100 == 0 and k == 1), int(i % 140 == 0 and k == 2), "",
                                          ("Add to cart", "Get my quote", f"Item {i % 997}")[k], "", 0.0, 0.0))  # fmt: skip
    return out


def fill(index: Index, data: dict[str, list[tuple]], postgres_url: str | None) -> None:
    keys = url_key_rows((r[0], r[3]) for r in data["page_urls"])
    tables = {
        "sessions": SESSION_COLUMNS, "page_urls": ("site", "sid", "pid", "url"), "clicks": CLICK_COLUMNS,
        "url_keys": ("site", "url", "path", "norm_url", "norm_path"),
        "session_attrs": ("site", "sid", "scope", "key", "value", "pid", "at"),
        "custom_events": ("site", "sid", "pid", "t", "name"),
        "custom_event_props": ("site", "sid", "pid", "t", "name", "key", "value"),
    }  # fmt: skip
    # Measured without statistics on SQLite: the search's SQL pins its plans.
    fill_tables(index, tables, {**data, "url_keys": keys}, postgres_url, analyze=False)


def filters(rng: np.random.Generator) -> dict[str, dict[str, str]]:
    """One query string per typical filter, with varied values."""
    day = int(rng.integers(1, DAYS - 7))
    frm, to = NOW - (day + 7) * DAY, NOW - day * DAY
    return {
        "newest (site only)": {"site": "s"},
        "date range (7 days)": {"site": "s", "from": str(frm), "to": str(to)},
        "device": {"site": "s", "device": ("mobile", "tablet", "bot")[int(rng.integers(0, 3))]},
        "browser": {"site": "s", "browser": ("firefox", "EDGE", "safari")[int(rng.integers(0, 3))]},
        "URL pattern": {"site": "s", "url": f"/{('product', 'checkout', 'blog')[int(rng.integers(0, 3))]}/*"},
        "URL pattern, one page": {"site": "s", "url": f"/product/{int(rng.integers(0, 200)) * 5}"},
        "URL substring": {"site": "s", "url": "checkout/1"},
        "rage clicks": {"site": "s", "rage": "1"},
        "error clicks": {"site": "s", "error_clicks": "1"},
        "has errors": {"site": "s", "has_errors": "1"},
        "duration >= 5 min": {"site": "s", "min_duration": "300"},
        "combined (dates, device, duration)": {
            "site": "s",
            "from": str(frm),
            "to": str(to),
            "device": "mobile",
            "min_duration": "60",
        },  # fmt: skip
        # issue 12
        "referrer substring": {
            "site": "s",
            "referrer": ("google", "t.co", "news.example/a")[int(rng.integers(0, 3))],
        },
        "utm_source": {"site": "s", "utm_source": ("google", "newsletter")[int(rng.integers(0, 2))]},
        "channel": {"site": "s", "channel": ("email", "paid_search", "referral")[int(rng.integers(0, 3))]},
        "country (rare)": {"site": "s", "country": ("NZ", "GB")[int(rng.integers(0, 2))]},
        "language": {"site": "s", "language": ("de", "en-GB", "fr")[int(rng.integers(0, 3))]},
        "timezone": {"site": "s", "timezone": "Europe/Paris"},
        "returning visitors": {"site": "s", "visitor": "returning"},
        "visit count 3-4": {"site": "s", "min_visits": "3", "max_visits": "4"},
        "user id (one user)": {"site": "s", "user": f"user-{int(rng.integers(0, 100_000))}"},
        "trait plan:pro": {"site": "s", "trait": "plan:pro"},
        "experiment checkout:B": {"site": "s", "experiment": "checkout:B"},
        "custom event": {"site": "s", "event": "signup_completed"},
        "custom event property": {"site": "s", "event_prop": "signup_completed.plan:pro"},
        "clicked text (common)": {"site": "s", "clicked": "get my quote"},
        "clicked text (rare)": {"site": "s", "clicked": f"item {int(rng.integers(0, 997))}"},
        "visited A not B": {"site": "s", "visited": "/checkout/*", "not_visited": "/product/*"},
        "landing page pattern": {"site": "s", "landing": f"/blog/{int(rng.integers(0, 200)) * 5}*"},
        "exit page substring": {"site": "s", "exit": f"account/{int(rng.integers(0, 200)) * 5}"},
        "pages 2-2": {"site": "s", "min_pages": "2", "max_pages": "2"},
        "active >= 5 min": {"site": "s", "min_active": "300"},
        "quick back": {"site": "s", "quick_back": "1"},
        "thrashed cursor (rare)": {"site": "s", "thrash": "1"},
        "form errors": {"site": "s", "form_error": "1"},
        "frustration >= 10": {"site": "s", "min_frustration": "10"},
        "LCP over 4000 ms": {"site": "s", "lcp_over": "4000"},
        "bots only": {"site": "s", "bots": "only"},
        "sort by frustration": {"site": "s", "sort": "frustration"},
        "sort by duration, ascending": {"site": "s", "sort": "duration", "order": "asc"},
        "sort by active time": {"site": "s", "sort": "active"},
        "combined: DE, returning, signup event": {
            "site": "s",
            "country": "DE",
            "visitor": "returning",
            "event": "signup_started",
        },  # fmt: skip
        "combined: paid, pro, rage, by frustration": {
            "site": "s",
            "channel": "paid_search",
            "trait": "plan:pro",
            "min_frustration": "3",
            "sort": "frustration",
        },  # fmt: skip
        "combined: 7 days, mobile, visited, clicked": {
            "site": "s",
            "from": str(frm),
            "to": str(to),
            "device": "mobile",
            "visited": "/product/*",
            "clicked": "add to cart",
        },  # fmt: skip
    }


def measure(index: Index, runs: int, only: str = "") -> None:
    """Each filter's runs one after the other, its line printed as soon as they are done."""
    rng = np.random.default_rng(5)
    rounds = [filters(rng) for _ in range(runs)]  # the same values whichever filters are run
    everything: list[float] = []
    following: list[float] = []
    for name in rounds[0]:
        if only and not any(o.lower() in name.lower() for o in only.split("|")):
            continue
        times: list[float] = []
        # This process's CPU time: all of SQLite's work, only the client's on PostgreSQL.
        cpu: list[float] = []
        total = ""
        for queries in rounds:
            query = queries[name]
            f = SessionFilter.from_query(query)
            start, started_cpu = time.perf_counter(), time.process_time()
            page = search_sessions(index, f)
            times.append(time.perf_counter() - start)
            cpu.append(time.process_time() - started_cpu)
            total = f"{page['total']:,}{'+' if page['total_capped'] else ''}"
            # The next page (keyset pagination), as the list's "next page" link asks for it.
            if page["next"]:
                f = SessionFilter.from_query({**query, "cursor": page["next"]})
                start = time.perf_counter()
                search_sessions(index, f)
                following.append(time.perf_counter() - start)
        everything += times
        print(
            f"  {name:44s} p50 {_ms(times, 50):7.1f} ms  p95 {_ms(times, 95):7.1f} ms  CPU p95 {_ms(cpu, 95):7.1f} ms"
            f"  load {os.getloadavg()[0]:4.1f}  total {total}",
            flush=True,
        )
    if following:
        print(
            f"  {'next page (all filters)':44s} p50 {_ms(following, 50):7.1f} ms  p95 {_ms(following, 95):7.1f} ms"
        )
    everything += following
    print(f"  {'all queries':44s} p50 {_ms(everything, 50):7.1f} ms  p95 {_ms(everything, 95):7.1f} ms"
          f"  ({len(everything)} queries)", flush=True)  # fmt: skip


def _ms(values: list[float], q: int) -> float:
    return float(np.percentile(values, q)) * 1000


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sessions", type=int, default=1_000_000)
    ap.add_argument("--backends", default="sqlite,postgresql")
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--only", default="", help="run only the filters whose name contains this (a|b: either)")
    ap.add_argument("--postgres-url", default="", help="a running PostgreSQL server to keep the index in")
    ap.add_argument("--schema", default="bench", help="the index's schema on --postgres-url")
    ap.add_argument(
        "--reuse", action="store_true", help="with --postgres-url: the schema is filled, measure only"
    )
    args = ap.parse_args()
    if args.postgres_url:
        index = Index(args.postgres_url, schema=args.schema)
        try:
            if not args.reuse:
                fill(index, rows(args.sessions), args.postgres_url)
            print(
                f"postgresql ({args.schema}): {args.runs} runs of each filter (load average {os.getloadavg()[0]:.1f}):"
            )
            measure(index, args.runs, args.only)
        finally:
            index.close()
        print(f"load average after: {os.getloadavg()[0]:.1f}")
        return 0
    started = time.perf_counter()
    data = rows(args.sessions)
    print(f"{len(data['sessions']):,} sessions, {len(data['page_urls']):,} page URLs, {len(data['clicks']):,} clicks"
          f" made in {time.perf_counter() - started:.0f} s; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")  # fmt: skip
    for backend in args.backends.split(","):
        with bench_index(backend) as (index, url):
            started = time.perf_counter()
            fill(index, data, url)
            print(
                f"{backend}: filled in {time.perf_counter() - started:.0f} s; {args.runs} runs of each filter"
                f" (load average {os.getloadavg()[0]:.1f}):",
                flush=True,
            )
            measure(index, args.runs, args.only)
    print(f"load average after: {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
