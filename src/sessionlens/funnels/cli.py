"""`sessionlens funnel`: a funnel's numbers from the command line (docs/funnels.md).

sessionlens funnel --site KEY --step 'url:/cart*' --step 'click:text=Checkout' --step 'event:purchase'
    [--by channel] [--window 1h] [--per visitor] [--filter 'device=mobile'] [--baseline VALUE]
    [--saved ID] [--sessions STEP:dropped|converted] [--json]
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

import orjson

from sessionlens.text_cells import one_line as _one_line


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:.1f}%"


def _ms(x: int | None) -> str:
    if x is None:
        return "—"
    return f"{x / 1000:.1f}s" if x < 120_000 else f"{x / 60_000:.1f}m"


def print_results(r: dict[str, Any]) -> None:
    print(f"{r['units']} {r['per']}s entered; {r['completed']} completed ({_pct(r['conversion'])})")
    print("step\tentered\tconverted\tdropped\tfrom prev\tfrom first\tmedian next\tp90 next\tstep")
    for s in r["steps"]:
        print(
            f"{s['step']}\t{s['entered']}\t{s['converted']}\t{s['dropped']}\t{_pct(s['conversion_from_previous'])}"
            f"\t{_pct(s['conversion_from_first'])}\t{_ms(s['median_ms_to_next'])}\t{_ms(s['p90_ms_to_next'])}"
            f"\t{_one_line(s['title'])}"
        )
    b = r.get("breakdown")
    if b:
        print(
            f"\nby {b['by']} (baseline {_one_line(str(b['baseline']))}; {b['method']} interval of the difference)"
        )
        print("value\tentered\tcompleted\tconversion\tdifference [95% CI]")
        for seg in b["segments"]:
            d = seg["difference"]
            diff = (
                "baseline"
                if d is None
                else f"{100 * d['value']:+.1f} pp [{100 * d['low']:+.1f}, {100 * d['high']:+.1f}]"
            )
            print(
                f"{_one_line(seg['value'])}\t{seg['units']}\t{seg['completed']}\t{_pct(seg['conversion'])}\t{diff}"
            )


def add_parsers(
    sub: Any,
    common: Callable[[argparse.ArgumentParser], None],
    settings_of: Callable[[argparse.Namespace], Any],
) -> None:
    def funnel(args: argparse.Namespace) -> int:
        from sessionlens.funnels import (
            DefinitionError,
            funnel_results,
            funnel_sessions,
            parse_funnel,
            step_from_text,
        )
        from sessionlens.index import open_index
        from sessionlens.saved_docs import DocNotFound, SavedDocs
        from sessionlens.stores.factory import open_store

        settings = settings_of(args)
        index = open_index(settings)
        try:
            if args.saved:
                try:
                    doc = SavedDocs(open_store(settings), index).get("funnel", args.site, args.saved)
                except DocNotFound as exc:
                    print(f"error: {exc}", file=sys.stderr)
                    return 1
                definition: dict[str, Any] = {**doc.body, "name": doc.name, "site": doc.site}
            else:
                definition = {
                    "site": args.site,
                    "steps": [step_from_text(s, i + 1) for i, s in enumerate(args.step or [])],
                    "per": args.per,
                    "window": args.window,
                    "by": args.by,
                    "filters": "&".join(args.filter or []),
                    "baseline": args.baseline,
                }
            found = parse_funnel(definition)
            if args.sessions:
                step, _, outcome = args.sessions.partition(":")
                if not step.isdigit():
                    raise DefinitionError("--sessions must be STEP:dropped or STEP:converted")
                page = funnel_sessions(index, found, int(step), outcome, args.limit, 0)
                for row in page["sessions"]:
                    print(
                        orjson.dumps(row).decode()
                        if args.json
                        else f"{row['sid']}\t{row['reached']}\t{row['link']}"
                    )
                return 0
            result = funnel_results(index, found)
        except DefinitionError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        finally:
            index.close()
        if args.json:
            print(orjson.dumps(result).decode())
        else:
            print_results(result)
        return 0

    p = sub.add_parser("funnel", help="count a funnel of steps over recorded sessions (docs/funnels.md)")
    common(p)
    p.add_argument("--site", required=True, help="site key")
    p.add_argument("--step", action="append", help="url:PATTERN, click:text=TEXT, click:selector=PATH, "
                   "event:NAME[?key=value], submit[:FORM][?valid=1]; repeat in order")  # fmt: skip
    p.add_argument(
        "--by", help="breakdown: device, channel, country, visitor, experiment:NAME, trait:KEY, ..."
    )
    p.add_argument("--window", help="conversion window: 30m, 1h, 7d (every step within it after the first)")
    p.add_argument("--per", choices=["session", "visitor"], default="session")
    p.add_argument("--filter", action="append", help="a session list filter, e.g. device=mobile (repeatable)")
    p.add_argument("--baseline", help="the breakdown value the others are compared with")
    p.add_argument("--saved", help="run a saved funnel (its id) instead of --step")
    p.add_argument("--sessions", help="list the sessions of STEP:dropped or STEP:converted with replay links")
    p.add_argument("--limit", type=int, default=50, help="sessions listed with --sessions")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=funnel)
