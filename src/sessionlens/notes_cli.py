"""`sessionlens notes list SESSION` and `sessionlens collections list`: researchers' saved documents
from the command line (read only; the viewer changes them)."""

from __future__ import annotations

import argparse
import datetime as dt
from collections.abc import Callable
from typing import Any

import orjson


def _open(args: argparse.Namespace, settings_of: Callable[[argparse.Namespace], Any]) -> tuple[Any, Any]:
    from sessionlens.index import open_index
    from sessionlens.stores.factory import open_store

    settings = settings_of(args)
    return open_store(settings), open_index(settings)


def _when(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).strftime("%Y-%m-%d %H:%M")


def add_parsers(
    sub: Any,
    common: Callable[[argparse.ArgumentParser], None],
    settings_of: Callable[[argparse.Namespace], Any],
) -> None:
    from sessionlens.saved_docs import SavedDocs

    def notes_list(args: argparse.Namespace) -> int:
        store, index = _open(args, settings_of)
        try:
            session = index.session(args.session, args.site)
            if session is None:
                print(f"no session {args.session}")
                return 1
            notes = SavedDocs(store, index).list("note", session["site"], sid=args.session, limit=10_000)
        finally:
            index.close()
        notes.sort(key=lambda d: (d.body.get("t") or 0, d.created))
        for d in notes:
            if args.json:
                print(orjson.dumps(d.as_json()).decode())
            else:
                t = int(d.body.get("t") or 0) // 1000
                # repr-like escaping: a note's newlines and control characters stay on one line
                text = d.name.encode("unicode_escape").decode("ascii")
                print(f"{t // 60}:{t % 60:02d}\t{d.author}\t{_when(d.updated)}\t{d.id}\t{text}")
        return 0

    def collections_list(args: argparse.Namespace) -> int:
        store, index = _open(args, settings_of)
        try:
            found = SavedDocs(store, index).list("collection", args.site, limit=10_000)
        finally:
            index.close()
        for d in found:
            if args.json:
                print(orjson.dumps(d.as_json()).decode())
            else:
                name = d.name.encode("unicode_escape").decode("ascii")
                print(f"{d.id}\t{d.site}\t{len(d.sessions)} sessions\t{d.author}\t{_when(d.updated)}\t{name}")
        return 0

    notes = sub.add_parser("notes", help="researchers' notes on sessions").add_subparsers(
        dest="notes_command", required=True
    )
    p = notes.add_parser("list", help="a session's notes in time order (moment, author, updated, id, text)")
    common(p)
    p.add_argument("session", help="session id")
    p.add_argument("--site", default=None, help="site key (when the id is on several sites)")
    p.add_argument("--json", action="store_true", help="one JSON document per line")
    p.set_defaults(func=notes_list)
    collections = sub.add_parser("collections", help="collections (starred sessions)").add_subparsers(
        dest="collections_command", required=True
    )
    p = collections.add_parser("list", help="every collection (id, site, size, author, updated, name)")
    common(p)
    p.add_argument("--site", default=None, help="only this site's collections")
    p.add_argument("--json", action="store_true", help="one JSON document per line, with the session ids")
    p.set_defaults(func=collections_list)
