"""Funnel latency: a 5-step funnel over 100,000 sessions, on SQLite and on PostgreSQL.

Writes the rows the ingest and derivation passes leave (sessions, page_views with
url_keys, SPA route_changes, clicks with text, form_submits, custom_events) for
100,000 sessions of one site over 30 days, plus 20,000 of another site, then runs

    url:/product/*  ->  click:text=Add to cart  ->  url:/cart*  ->  submit:checkout  ->  event:purchase

through sessionlens.funnels (per session; per visitor with a 1 h window; by channel with
its intervals) and prints median and p95 of the whole computation (SQL + matching), wall
time and this process's CPU time (on a shared machine the CPU time is the steadier figure;
with PostgreSQL the server's own time is in the wall time only).

    .venv/bin/python bench/funnel.py [--sessions 100000] [--backends sqlite,postgresql] [--runs 15]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np
from synthetic_index import DAY, DAYS, NOW, bench_index, fill, p95

from sessionlens.funnels import funnel_results, parse_funnel
from sessionlens.index.database import CLICK_COLUMNS
from sessionlens.index.url_keys import url_key_rows

ORIGIN = "https://shop.example"
CHANNELS = ["direct"] * 4 + ["organic_search"] * 3 + ["social", "email", "paid_search", "referral"]
TABLES: dict[str, tuple[str, ...]] = {
    "sessions": ("site", "sid", "start_time", "end_time", "duration_ms", "active_ms", "entry_url", "page_count",
                 "device", "clicks", "inputs", "errors", "customs", "batches", "stored_bytes", "channel",
                 "country", "is_bot", "visitor_id", "visit_number"),
    "page_views": ("site", "sid", "pid", "t0", "end_time", "duration_ms", "active_ms", "url", "chunks", "events",
                   "clicks", "inputs", "errors", "customs", "navs", "stored_bytes"),
    "route_changes": ("site", "sid", "pid", "t0", "t", "url"),
    "clicks": CLICK_COLUMNS,
    "form_submits": ("site", "sid", "pid", "t0", "t", "form", "invalid"),
    "custom_events": ("site", "sid", "pid", "t", "name"),
    "url_keys": ("site", "url", "path", "norm_url", "norm_path"),
}  # fmt: skip


def _click(site: str, sid: str, pid: str, t0: int, t: int, url: str, text: str) -> tuple:
    return (site, sid, pid, t0, t, url, "body>button", 0.5, 0.5, 10.0, 10.0, 1440.0, 1440.0, 3000.0, "button",
            0, 0, 0, "body>button", text, "", 0.0, 0.0)  # fmt: skip


def rows(n: int, seed: int = 5) -> dict[str, list[tuple]]:
    """Sessions: 70 % view a product, 40 % add to cart, 30 % open the cart (half as an SPA route),
    15 % submit checkout (a third with an invalid field), 10 % purchase; some do steps out of order."""
    rng = np.random.default_rng(seed)
    out: dict[str, list[tuple]] = {t: [] for t in TABLES}
    for site, count in (("s", n), ("other", n // 5)):
        start = NOW - rng.integers(0, DAYS * DAY, count)
        r = rng.random((count, 6))
        pick = rng.integers(0, 1_000_000, (count, 3))
        for i in range(count):
            sid, t = f"{site}{i:07d}", int(start[i])
            product = f"{ORIGIN}/product/{pick[i, 0] % 2000}"
            first = product if r[i, 0] < 0.7 else f"{ORIGIN}/blog/{pick[i, 0] % 300}"
            visitor = f"v{pick[i, 1] % (count // 2)}" if pick[i, 2] % 3 else None
            pages = [("p0", t, first)]
            out["clicks"].append(_click(site, sid, "p0", t, 800, first, ("Details", "Reviews")[i % 2]))
            if r[i, 1] < 0.57 and first == product:
                out["clicks"].append(
                    _click(site, sid, "p0", t, 2_000 + int(r[i, 5] * 5_000), first, "Add to cart")
                )
                if r[i, 2] < 0.75:
                    if i % 2:  # an SPA route to the cart
                        out["route_changes"].append((site, sid, "p0", t, 9_000, f"{ORIGIN}/cart"))
                        cart_pid, cart_t0, at = "p0", t, 9_500
                    else:
                        cart_pid, cart_t0, at = "p1", t + 10_000, 500
                        pages.append(("p1", cart_t0, f"{ORIGIN}/cart?step=1"))
                    if r[i, 3] < 0.5:
                        out["form_submits"].append((site, sid, cart_pid, cart_t0, at + 20_000, "checkout",
                                                    int(r[i, 4] < 0.33)))  # fmt: skip
                        if r[i, 4] < 0.66:
                            out["custom_events"].append((site, sid, cart_pid, at + 21_000, "purchase"))
            elif r[i, 1] > 0.95:  # purchase without the funnel before it (an order from a link)
                out["custom_events"].append((site, sid, "p0", 100, "purchase"))
            for pid, t0, url in pages:
                out["page_views"].append((site, sid, pid, t0, t0 + 60_000, 60_000, 30_000, url, 1, 10, 1, 0, 0, 0,
                                          0, 1000))  # fmt: skip
            out["sessions"].append((site, sid, t, t + 90_000, 90_000, 45_000, first, len(pages), "desktop",
                                    2, 0, 0, 0, 2, 4000, CHANNELS[pick[i, 2] % 11], "DE", int(i % 50 == 0),
                                    visitor, 1 + pick[i, 2] % 3 if visitor else None))  # fmt: skip
    urls = [(r[0], r[7]) for r in out["page_views"]] + [(r[0], r[5]) for r in out["route_changes"]]
    out["url_keys"] = url_key_rows(urls)
    return out


STEPS = [
    {"type": "url", "pattern": "/product/*"},
    {"type": "click", "text": "Add to cart"},
    {"type": "url", "pattern": "/cart*"},
    {"type": "submit", "form": "checkout"},
    {"type": "event", "name": "purchase"},
]
CASES = {
    "5 steps per session": {"site": "s", "steps": STEPS},
    "5 steps per visitor, 1 h window": {"site": "s", "steps": STEPS, "per": "visitor", "window": "1h"},
    "5 steps by channel (CI)": {"site": "s", "steps": STEPS, "by": "channel"},
}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sessions", type=int, default=100_000)
    ap.add_argument("--backends", default="sqlite,postgresql")
    ap.add_argument("--runs", type=int, default=15)
    args = ap.parse_args()
    t = time.perf_counter()
    data = rows(args.sessions)
    print(f"generated {sum(len(v) for v in data.values()):,} rows for {args.sessions:,} sessions "
          f"in {time.perf_counter() - t:.1f} s")  # fmt: skip
    for backend in args.backends.split(","):
        with bench_index(backend) as (index, url):
            t = time.perf_counter()
            fill(index, TABLES, data, url)
            print(f"\n{backend}: filled in {time.perf_counter() - t:.1f} s")
            for name, definition in CASES.items():
                funnel = parse_funnel(definition)
                result = funnel_results(index, funnel)  # warm caches once
                times, cpu = [], []
                for _ in range(args.runs):
                    t, c = time.perf_counter(), time.process_time()
                    funnel_results(index, funnel)
                    times.append(time.perf_counter() - t)
                    cpu.append(time.process_time() - c)
                counts = [s["entered"] for s in result["steps"]]
                # CPU: this process (SQLite runs in it; PostgreSQL's server time is not counted).
                print(f"  {name:34s} wall median {statistics.median(times) * 1000:7.1f} ms  p95 {p95(times) * 1000:7.1f}"
                      f"  cpu median {statistics.median(cpu) * 1000:7.1f} ms  p95 {p95(cpu) * 1000:7.1f}"
                      f"  entered {counts}")  # fmt: skip
            print(f"  load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
