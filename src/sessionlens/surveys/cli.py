"""`sessionlens surveys`: saved surveys and their results from the command line (docs/surveys.md).

sessionlens surveys list [--site KEY] [--json]
sessionlens surveys results ID [--json]
sessionlens surveys csv ID [--output FILE]
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


def print_results(r: dict[str, Any]) -> None:
    print(
        f"{_one_line(r['name'])} ({'active' if r['active'] else 'inactive'}): shown to {r['shown']} sessions,"
        f" answered by {r['answered']} ({_pct(r['response_rate'])}), completed {r['completed']},"
        f" dismissed {r['dismissed']}"
    )
    for q in r["questions"]:
        print(f"\n{q['id']} ({q['type']}, {q['responses']} responses): {_one_line(q['prompt'])}")
        if q["type"] == "text":
            for a in q["answers"]:
                print(f"  {_one_line(a['value'])}\t{a['link']}")
            continue
        for c in q["counts"]:
            print(f"  {_one_line(c['label'])}\t{c['count']}\t{_pct(c['share'])}")
        if q.get("other"):
            print(f"  (other)\t{q['other']}")
        if "mean" in q:
            print(f"  mean {q['mean'] if q['mean'] is not None else '—'}")
        if "nps" in q:
            n = q["nps"]
            score = "—" if n["score"] is None else f"{n['score']:+.1f}"
            print(
                f"  NPS {score} (promoters {n['promoters']}, passives {n['passives']}, detractors {n['detractors']})"
            )


def add_parsers(
    sub: Any,
    common: Callable[[argparse.ArgumentParser], None],
    settings_of: Callable[[argparse.Namespace], Any],
) -> None:
    def run(args: argparse.Namespace) -> int:
        from sessionlens.index import open_index
        from sessionlens.saved_docs import DocNotFound, SavedDocs
        from sessionlens.stores.factory import open_store
        from sessionlens.surveys.definition import SurveyError
        from sessionlens.surveys.results import survey_csv, survey_results
        from sessionlens.surveys.store import KIND, from_doc, survey_json

        settings = settings_of(args)
        index = open_index(settings)
        try:
            docs = SavedDocs(open_store(settings), index)
            if args.surveys_command == "list":
                found = sorted(docs.list(KIND, args.site), key=lambda d: d.name.lower())
                for doc in found:
                    if args.json:
                        print(orjson.dumps(survey_json(doc)).decode())
                    else:
                        state = "active" if doc.body.get("active") else "inactive"
                        print(f"{doc.id}\t{doc.site}\t{state}\t{_one_line(doc.name)}")
                return 0
            try:
                doc = docs.get(KIND, None, args.id)
                survey = from_doc(doc)
            except (DocNotFound, SurveyError) as exc:
                print(f"error: {exc}", file=sys.stderr)
                return 1
            if args.surveys_command == "csv":
                text = survey_csv(index, doc.id, survey)
                if args.output:
                    with open(args.output, "w", encoding="utf-8", newline="") as out:
                        out.write(text)
                else:
                    sys.stdout.write(text)
                return 0
            result = survey_results(index, doc.id, survey)
        finally:
            index.close()
        if args.json:
            print(orjson.dumps(result).decode())
        else:
            print_results(result)
        return 0

    surveys = sub.add_parser("surveys", help="on-page surveys: list, results, CSV (docs/surveys.md)")
    commands = surveys.add_subparsers(dest="surveys_command", required=True)
    p = commands.add_parser("list", help="saved surveys")
    common(p)
    p.add_argument("--site", help="only this site's")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run)
    p = commands.add_parser("results", help="a survey's results per question")
    common(p)
    p.add_argument("id", help="survey id")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run)
    p = commands.add_parser("csv", help="one row per answer")
    common(p)
    p.add_argument("id", help="survey id")
    p.add_argument("--output", help="write to this file instead of standard output")
    p.set_defaults(func=run)
