"""Session search latency on 1,000,000 sessions, on SQLite and on PostgreSQL.

Builds an index of 1,000,000 sessions of one site over 30 days (1.5 page
views each: page_urls over 5,000 distinct URLs, devices and browsers mixed,
1 in 20 sessions with clicks, some rage/dead/error) plus 200,000 sessions
of another site, then runs the session list's typical filters
(src/sessionlens/session_search.py) through SessionFilter.from_query, each
with varied values, and prints p50 / p95 per filter and over all of them.

    .venv/bin/python bench/session_search.py [--sessions 1000000] [--backends sqlite,postgresql] [--runs 20]

PostgreSQL is started as the tests start it (tests/postgres_server.py).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

from index_backend import bench_index  # noqa: E402

from sessionlens.index import Index  # noqa: E402
from sessionlens.index.database import CLICK_COLUMNS  # noqa: E402
from sessionlens.index.url_keys import url_key_rows  # noqa: E402
from sessionlens.session_search import SessionFilter, search_sessions  # noqa: E402

DAY = 86_400_000
NOW = 1_790_000_000_000
DAYS = 30
DEVICES = ["desktop"] * 6 + ["mobile"] * 3 + ["tablet", "bot"]
BROWSERS = ["Chrome"] * 6 + ["Firefox", "Safari", "Safari", "Edge"]
SESSION_COLUMNS = (
    "site", "sid", "start_time", "end_time", "duration_ms", "active_ms", "entry_url", "exit_url", "page_count",
    "device", "browser", "os", "vw", "vh", "clicks", "inputs", "errors", "customs", "batches", "stored_bytes",
)  # fmt: skip


def url_of(i: int) -> str:
    kind = ("product", "blog", "category", "checkout", "account")[i % 5]
    return f"https://shop.example/{kind}/{i % 1000}"


def rows(n: int, seed: int = 3) -> dict[str, list[tuple]]:
    rng = np.random.default_rng(seed)
    out: dict[str, list[tuple]] = {"sessions": [], "page_urls": [], "clicks": []}
    for site, count in (("s", n), ("other", n // 5)):
        start = NOW - rng.integers(0, DAYS * DAY, count)
        duration = rng.exponential(120_000, count).astype(np.int64)
        device = rng.integers(0, len(DEVICES), count)
        browser = rng.integers(0, len(BROWSERS), count)
        url = rng.integers(0, 5000, count)
        errors = (rng.random(count) < 0.03).astype(np.int64)
        for i in range(count):
            sid = f"{site}{i:07d}"
            first = url_of(int(url[i]))
            pages = 2 if i % 2 else 1
            out["sessions"].append((site, sid, int(start[i]), int(start[i] + duration[i]), int(duration[i]),
                                    int(duration[i]) // 2, first, first, pages, DEVICES[device[i]],
                                    BROWSERS[browser[i]], "Linux", 1440.0, 900.0, 3, 1, int(errors[i]), 0, 2, 4000))  # fmt: skip
            out["page_urls"].append((site, sid, "p0", first))
            if pages == 2:
                out["page_urls"].append((site, sid, "p1", url_of(int(url[i]) + 7)))
            if i % 20 == 0:
                for k in range(3):
                    out["clicks"].append((site, sid, "p0", int(start[i]), k * 100, first, f"#e{k}", 0.5, 0.5, 10.0,
                                          10.0, 1440.0, 1440.0, 3000.0, "a", int(i % 60 == 0 and k == 0),
                                          int(i % 100 == 0 and k == 1), int(i % 140 == 0 and k == 2), "", "", "",
                                          0.0, 0.0))  # fmt: skip
    return out


def fill(index: Index, data: dict[str, list[tuple]], postgres_url: str | None) -> None:
    keys = url_key_rows((r[0], r[3]) for r in data["page_urls"])
    tables = {
        "sessions": SESSION_COLUMNS, "page_urls": ("site", "sid", "pid", "url"), "clicks": CLICK_COLUMNS,
        "url_keys": ("site", "url", "path", "norm_url", "norm_path"),
    }  # fmt: skip
    data = {**data, "url_keys": keys}
    if postgres_url is None:

        def write(conn: Any) -> None:
            for table, columns in tables.items():
                conn.executemany(
                    f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({','.join('?' * len(columns))})",
                    data[table],
                )

        index.write(write)
        return
    import psycopg

    for t0 in sorted({r[3] // DAY * DAY for r in data["clicks"]}):
        index._ensure_partitions(t0)
    with psycopg.connect(postgres_url, options=f"-csearch_path={index.schema}") as conn:
        for table, columns in tables.items():
            with conn.cursor().copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in data[table]:
                    copy.write_row(row)
        conn.commit()
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE")


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
    }


def measure(index: Index, runs: int) -> None:
    rng = np.random.default_rng(5)
    times: dict[str, list[float]] = {}
    for _ in range(runs):
        for name, query in filters(rng).items():
            f = SessionFilter.from_query(query)
            start = time.perf_counter()
            page = search_sessions(index, f)
            times.setdefault(name, []).append(time.perf_counter() - start)
            # The next page (keyset pagination), as the list's "more" link asks for it.
            if page["next"]:
                f = SessionFilter.from_query({**query, "before": page["next"]})
                start = time.perf_counter()
                search_sessions(index, f)
                times.setdefault("next page", []).append(time.perf_counter() - start)
    everything = [t for ts in times.values() for t in ts]
    for name, ts in times.items():
        print(f"  {name:38s} p50 {_ms(ts, 50):7.1f} ms  p95 {_ms(ts, 95):7.1f} ms")
    print(f"  {'all queries':38s} p50 {_ms(everything, 50):7.1f} ms  p95 {_ms(everything, 95):7.1f} ms"
          f"  ({len(everything)} queries)")  # fmt: skip


def _ms(values: list[float], q: int) -> float:
    return float(np.percentile(values, q)) * 1000


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sessions", type=int, default=1_000_000)
    ap.add_argument("--backends", default="sqlite,postgresql")
    ap.add_argument("--runs", type=int, default=20)
    args = ap.parse_args()
    started = time.perf_counter()
    data = rows(args.sessions)
    print(f"{len(data['sessions']):,} sessions, {len(data['page_urls']):,} page URLs, {len(data['clicks']):,} clicks"
          f" made in {time.perf_counter() - started:.0f} s; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")  # fmt: skip
    for backend in args.backends.split(","):
        with bench_index(backend) as (index, url):
            started = time.perf_counter()
            fill(index, data, url)
            print(
                f"{backend}: filled in {time.perf_counter() - started:.0f} s; {args.runs} runs of each filter:"
            )
            measure(index, args.runs)
    print(f"load average after: {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
