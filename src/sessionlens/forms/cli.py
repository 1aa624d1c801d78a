"""`sessionlens forms --site KEY [--form KEY] [--by FIELD] [--json]`: form analytics from the
command line (the same numbers as /api/forms; bots left out)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

import orjson


def _line(text: Any) -> str:
    # a recorded name's control characters stay on one line
    return str(text).encode("unicode_escape").decode("ascii")


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x * 100:.1f}%"


def add_parser(
    sub: Any,
    common: Callable[[argparse.ArgumentParser], None],
    settings_of: Callable[[argparse.Namespace], Any],
) -> None:
    def run(args: argparse.Namespace) -> int:
        from sessionlens.forms import report
        from sessionlens.forms.settings import FORM_KEY, FormSettings
        from sessionlens.index import open_index
        from sessionlens.saved_docs import SavedDocs
        from sessionlens.session_search import SessionFilter
        from sessionlens.stores.factory import open_store

        if args.form is not None and not FORM_KEY.match(args.form):
            print("error: --form must be f and 15 hex digits")
            return 2
        settings = settings_of(args)
        store, index = open_store(settings), open_index(settings)
        try:
            f = SessionFilter.from_query({"site": args.site})
            fs = FormSettings(SavedDocs(store, index), args.site)
            if args.form is None:
                out: Any = report.forms_list(index, fs, f)
            else:
                out = report.form_report(index, fs, f, args.form, args.by)
                if out is None:
                    print(f"no form {args.form} on site {args.site}")
                    return 1
        finally:
            index.close()
        if args.json:
            print(orjson.dumps(out).decode())
            return 0
        for form in out if args.form is None else [out]:
            print(
                f"{form['form']}  {_line(form['name'])}  views {form['views']}  starters {form['starters']}"
                f"  completions {form['completions']}  abandons {form['abandons']}"
                f"  view>start {_pct(form['view_to_start'])}  start>complete {_pct(form['start_to_completion'])}"
            )
            for fld in form.get("fields", []):
                print(
                    f"  {_line(fld['label'])}: used {fld['interactions']}  corrections {fld['corrections']}"
                    f"  returns {fld['returns']}  blank on submit {fld['blank_submit']}  errors {fld['errors']}"
                    f"  abandon share {_pct(fld['abandon_share'])}"
                )
        return 0

    p = sub.add_parser("forms", help="form analytics: forms, or one form's fields (docs/forms.md)")
    common(p)
    p.add_argument("--site", required=True, help="site key")
    p.add_argument("--form", help="form key (f + 15 hex digits): its fields")
    p.add_argument("--by", help="with --form: breakdown by a segment field (device, experiment:NAME, ...)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run)
