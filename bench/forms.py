"""Form analytics latency: every per-form and per-field metric over 100,000 form views, on SQLite
and on PostgreSQL.

Writes the rows the derivation pass leaves (sessions, page_views, form_views, form_fields with
6 fields per form) for 100,000 views of a checkout form (one site, 30 days; 60 % start it, half
of those submit, a third of the attempts are invalid first, most finish on a next page), 20,000
views of a newsletter form on the same site and 20,000 of another site, then runs through
sessionlens.forms.report:

    the forms list (form metrics of every form)
    the checkout form's report (form + all field metrics)
    the same by device (a breakdown: metrics per segment value too)
    the sessions behind one field number (errors of the email field)

and prints median and p95 of each (SQL + Python; wall and this process's CPU time), the numbers
it found and the load average.

    .venv/bin/python bench/forms.py [--views 100000] [--backends sqlite,postgresql] [--runs 15]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from synthetic_index import DAY, DAYS, NOW, bench_index, fill, p95

from sessionlens.forms.report import form_report, forms_list, metric_sessions
from sessionlens.forms.settings import FormSettings
from sessionlens.forms.track import form_key
from sessionlens.index import Index
from sessionlens.saved_docs import SavedDocs
from sessionlens.session_search import SessionFilter
from sessionlens.stores.local import LocalStore

ORIGIN = "https://shop.example"
DEVICES = ["desktop"] * 5 + ["mobile"] * 4 + ["tablet"]
CHECKOUT = form_key("#checkout", "/checkout")
NEWSLETTER = form_key("group:html>body>div", "/blog")
CHECKOUT_FIELDS = [("name", "Full name", "input"), ("email", "Email", "input"), ("phone", "Phone", "input"),
                   ("street", "Street", "input"), ("zip", "Postcode", "input"), ("terms", "terms", "input")]  # fmt: skip
TABLES: dict[str, tuple[str, ...]] = {
    "sessions": ("site", "sid", "start_time", "end_time", "duration_ms", "active_ms", "entry_url", "page_count",
                 "device", "clicks", "inputs", "errors", "customs", "batches", "stored_bytes", "channel",
                 "country", "is_bot", "visitor_id", "visit_number"),
    "page_views": ("site", "sid", "pid", "t0", "end_time", "duration_ms", "active_ms", "url", "chunks", "events",
                   "clicks", "inputs", "errors", "customs", "navs", "stored_bytes"),
    "form_views": ("site", "sid", "pid", "form_key", "ident", "name", "path", "spa", "viewed_at", "started_at",
                   "attempts", "first_submit_at", "clean_at", "nav_at", "next_url", "last_field", "last_at",
                   "appeared"),
    "form_fields": ("site", "sid", "pid", "form_key", "field_key", "label", "tag", "position", "touched",
                    "first_at", "time_ms", "hesitation_ms", "corrections", "returns", "blank_submit", "errors"),
}  # fmt: skip


def _checkout(out: dict[str, list[tuple]], site: str, sid: str, t: int, r: np.ndarray) -> int:
    """One checkout form view at t (page p0); returns the page views of the session."""
    started = r[0] < 0.6
    reached = 1 + int(r[1] * 6) if started else 0  # fields touched, in order
    attempts = (1 + int(r[2] < 0.33)) if started and r[3] < 0.5 else 0
    first_submit = t + 30_000 if attempts else None
    clean = (first_submit + 20_000 if attempts == 2 else first_submit) if attempts and r[4] < 0.9 else None
    pages = 2 if clean is not None and r[5] < 0.85 else 1
    last = CHECKOUT_FIELDS[reached - 1][0] if reached else None
    out["form_views"].append((site, sid, "p0", CHECKOUT, "#checkout", "Checkout", "/checkout", 0, t,
                              t + 1_500 if started else None, attempts, first_submit, clean, None, "", last,
                              t + 1_500 + reached * 4_000 if started else None, ""))  # fmt: skip
    for pos, (key, label, tag) in enumerate(CHECKOUT_FIELDS):
        touched = pos < reached
        out["form_fields"].append((
            site, sid, "p0", CHECKOUT, key, label, tag, pos, int(touched),
            t + 1_500 + pos * 4_000 if touched else None, 3_500 if touched else 0,
            int(200 + r[6] * 2_000) if touched else None, int(r[7] * 3) if touched and pos == 1 else 0,
            int(r[8] < 0.1) if touched else 0, int(attempts > 0 and not touched), int(attempts == 2 and pos == 1),
        ))  # fmt: skip
    return pages


def rows(n: int, seed: int = 7) -> dict[str, list[tuple]]:
    rng = np.random.default_rng(seed)
    out: dict[str, list[tuple]] = {t: [] for t in TABLES}
    for site, count in (("s", n), ("other", n // 5)):
        start = NOW - rng.integers(0, DAYS * DAY, count)
        r = rng.random((count, 10))
        for i in range(count):
            sid, t = f"{site}{i:07d}", int(start[i])
            pages = _checkout(out, site, sid, t, r[i])
            if i % 5 == 0 and site == "s":  # a newsletter box (an SPA form) on the blog
                out["form_views"].append(
                    (
                        site,
                        sid,
                        "p0",
                        NEWSLETTER,
                        "group:html>body>div",
                        "Newsletter",
                        "/blog",
                        1,
                        t,
                        None,
                        0,
                        None,
                        None,
                        None,
                        "",
                        None,
                        None,
                        "",
                    )
                )
                out["form_fields"].append((site, sid, "p0", NEWSLETTER, "address", "Your email", "input", 0, 0,
                                           None, 0, None, 0, 0, 0, 0))  # fmt: skip
            for p in range(pages):
                url = f"{ORIGIN}/checkout" if p == 0 else f"{ORIGIN}/thanks"
                out["page_views"].append((site, sid, f"p{p}", t + p * 60_000, t + (p + 1) * 60_000, 60_000, 30_000,
                                          url, 1, 10, 1, 0, 0, 0, 0, 1000))  # fmt: skip
            out["sessions"].append((site, sid, t, t + pages * 60_000, pages * 60_000, 30_000, f"{ORIGIN}/checkout",
                                    pages, DEVICES[i % 10], 2, 6, 0, 0, 2, 4000, "direct", "DE", int(i % 50 == 0),
                                    None, None))  # fmt: skip
    return out


def measured(index: Index, settings: FormSettings, f: SessionFilter) -> dict[str, Any]:
    return {
        "forms list": lambda: forms_list(index, settings, f),
        "checkout report (all fields)": lambda: form_report(index, settings, f, CHECKOUT),
        "checkout report by device": lambda: form_report(index, settings, f, CHECKOUT, "device"),
        "sessions behind email errors": lambda: metric_sessions(
            index, settings, f, CHECKOUT, "email", "errors"
        ),
    }


def timed(fn: Any, runs: int) -> tuple[list[float], list[float], Any]:
    """(wall times, CPU times of this process, the result): SQLite runs in this process, so its
    CPU time is the steadier figure on a shared machine; PostgreSQL's server time is in the wall."""
    result = fn()  # warm caches once
    times, cpu = [], []
    for _ in range(runs):
        t, c = time.perf_counter(), time.process_time()
        fn()
        times.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    return times, cpu, result


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--views", type=int, default=100_000, help="checkout form views on the measured site")
    ap.add_argument("--backends", default="sqlite,postgresql")
    ap.add_argument("--runs", type=int, default=15)
    args = ap.parse_args()
    t = time.perf_counter()
    data = rows(args.views)
    print(f"generated {sum(len(v) for v in data.values()):,} rows ({len(data['form_views']):,} form views, "
          f"{len(data['form_fields']):,} field rows) in {time.perf_counter() - t:.1f} s")  # fmt: skip
    f = SessionFilter.from_query(
        {"site": ["s"], "from": [str(NOW - DAYS * DAY - DAY)], "to": [str(NOW + DAY)]}
    )
    for backend in args.backends.split(","):
        with bench_index(backend) as (index, url), tempfile.TemporaryDirectory() as tmp:
            t = time.perf_counter()
            fill(index, TABLES, data, url)
            print(f"\n{backend}: filled in {time.perf_counter() - t:.1f} s")
            settings = FormSettings(SavedDocs(LocalStore(Path(tmp)), index), "s")
            cases = measured(index, settings, f)
            for name, fn in cases.items():
                times, cpu, result = timed(fn, args.runs)
                if name == "forms list":
                    found = {x["name"]: (x["views"], x["starters"], x["completions"]) for x in result}
                elif name == "sessions behind email errors":
                    found = f"{len(result)} listed"
                else:
                    found = (result["views"], result["starters"], result["completions"], result["abandons"])
                print(f"  {name:30s} wall median {statistics.median(times) * 1000:7.1f} ms  p95 {p95(times) * 1000:7.1f}"
                      f"  cpu median {statistics.median(cpu) * 1000:7.1f} ms  {found}", flush=True)  # fmt: skip
            print(f"  load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
