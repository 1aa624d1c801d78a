"""CLI commands of the data lifecycle: sites set --retention-days, retention run, erase, access."""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Callable
from typing import Any

import orjson


def _open(args: argparse.Namespace, settings_of: Callable[[argparse.Namespace], Any]) -> tuple[Any, Any]:
    from sessionlens.index import open_index
    from sessionlens.stores.factory import open_store

    settings = settings_of(args)
    return open_store(settings), open_index(settings)


def _subject(args: argparse.Namespace) -> Any:
    from sessionlens.lifecycle.erasure import Subject

    return Subject(visitor=args.visitor, user=args.user, session=getattr(args, "session", None), site=args.site)


def add_parsers(sub: Any, sites: Any, common: Callable[[argparse.ArgumentParser], None],
                settings_of: Callable[[argparse.Namespace], Any]) -> None:  # fmt: skip
    def sites_set(args: argparse.Namespace) -> int:
        from sessionlens.sites import SiteError, SiteRegistry, check_retention_days
        from sessionlens.stores.factory import open_store

        registry = SiteRegistry(open_store(settings_of(args)), cache_seconds=0)
        site = registry.get(args.key)
        if site is None:
            print(f"error: no site with key {args.key}", file=sys.stderr)
            return 2
        if args.retention_days is not None:
            try:
                site.retention_days = check_retention_days(args.retention_days)
            except SiteError as exc:
                print(f"error: {exc}", file=sys.stderr)
                return 2
        registry.save(site)
        print(f"site {site.key}: retention_days={site.retention_days} ({'keep forever' if not site.retention_days else 'days'})")
        return 0

    def retention_run(args: argparse.Namespace) -> int:
        from sessionlens.lifecycle.holds import holder_name
        from sessionlens.lifecycle.retention import RetentionJob

        store, index = _open(args, settings_of)
        try:
            report = RetentionJob(store, index, 0).run_due(holder_name("cli"), force=True)
        finally:
            index.close()
        if report is None:
            print("error: another process is running retention now; try again later", file=sys.stderr)
            return 1
        for site, done in report["sites"].items():
            print(f"site {site}: removed {len(done['sessions'])} session(s) older than {done['retention_days']} days")
        if not report["sites"]:
            print("nothing to remove (no site has sessions older than its retention_days)")
        return 0

    def erase(args: argparse.Namespace) -> int:
        from sessionlens.lifecycle.erasure import ErasureError, erase

        try:
            subject = _subject(args)
        except ErasureError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        store, index = _open(args, settings_of)
        try:
            removal, audit = erase(store, index, subject, args.by or f"cli:{getpass.getuser()}")
        finally:
            index.close()
        print(f"erased {len(removal.sessions)} session(s): {len(removal.objects)} object(s), "
              f"{sum(removal.index_rows.values())} index row(s), {len(removal.assets_removed)} shared asset(s) "
              f"({len(removal.assets_kept)} still used by other sessions kept); audit record {audit}")  # fmt: skip
        if removal.assets_pending:
            print(f"warning: {len(removal.assets_pending)} shared asset(s) not checked (the site's assets were "
                  "locked by compaction); run the same erase again", file=sys.stderr)  # fmt: skip
            return 1
        return 0

    def access(args: argparse.Namespace) -> int:
        from sessionlens.lifecycle.access import write_access_zip
        from sessionlens.lifecycle.erasure import ErasureError

        try:
            subject = _subject(args)
        except ErasureError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        store, index = _open(args, settings_of)
        try:
            with open(args.output, "wb") as out:
                count = write_access_zip(store, index, subject, out)
        finally:
            index.close()
        print(orjson.dumps({"sessions": count, "zip": args.output}).decode())
        return 0

    p = sites.add_parser("set", help="change a site's settings")
    common(p)
    p.add_argument("key", help="the site key")
    p.add_argument("--retention-days", type=int, help="remove sessions older than N days (0: keep forever)")
    p.set_defaults(func=sites_set)

    retention = sub.add_parser("retention", help="remove sessions past their site's retention_days").add_subparsers(
        dest="retention_command", required=True
    )
    p = retention.add_parser("run", help="run the retention job now (workers run it every retention_period_seconds)")
    common(p)
    p.set_defaults(func=retention_run)

    def who(p: argparse.ArgumentParser, with_session: bool) -> None:
        group = p.add_mutually_exclusive_group(required=True)
        group.add_argument("--visitor", help="the recorder's visitor id")
        group.add_argument("--user", help="the user id the site gave sessionlens.identify()")
        if with_session:
            group.add_argument("--session", help="one session id")
        p.add_argument("--site", help="only this site")

    p = sub.add_parser("erase", help="erase everything recorded for a visitor, a user or a session (audited)")
    common(p)
    who(p, True)
    p.add_argument("--by", help="who asked (kept in the audit record; default: cli:<login name>)")
    p.set_defaults(func=erase)

    p = sub.add_parser("access", help="export everything held about a visitor or user as a zip of JSON lines")
    common(p)
    who(p, False)
    p.add_argument("-o", "--output", required=True, help="the zip file to write")
    p.set_defaults(func=access)
