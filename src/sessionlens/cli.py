"""The `sessionlens` command line."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

import orjson

from sessionlens.settings import SETTINGS, Settings, SettingsError, load_settings


def _settings(args: argparse.Namespace) -> Settings:
    overrides: dict[str, Any] = {}
    for name in ("host", "port", "data_dir", "role"):
        overrides[name] = getattr(args, name, None)
    return load_settings(args.config, overrides)


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from sessionlens.app import create_app
    from sessionlens.http_timeouts import serve_options

    settings = _settings(args)
    app = create_app(settings)
    print(f"sessionlens collector ({settings.role}) on {settings.collector_url}  (data in {settings.data_dir})")
    uvicorn.run(app, **serve_options(settings))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from sessionlens.demo import run_demo

    return run_demo(_settings(args), demo_port=args.demo_port)


def cmd_sites_add(args: argparse.Namespace) -> int:
    from sessionlens.sites import SiteError, SiteRegistry, new_site
    from sessionlens.stores.factory import open_store

    settings = _settings(args)
    try:
        site = new_site(
            args.name,
            args.origin or [],
            key=args.key,
            mask_all_text=args.mask_all_text,
            consent_required=args.consent_required,
            respect_dnt=args.respect_dnt,
            sample_rate=args.sample_rate,
            record_canvas=not args.no_canvas,
        )
    except SiteError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    registry = SiteRegistry(open_store(settings))
    if registry.get(site.key) is not None:
        print(f"error: a site with key {site.key} already exists", file=sys.stderr)
        return 2
    registry.save(site)
    from sessionlens.recorder_asset import snippet_html

    print(f"site key: {site.key}")
    print(f"allowed origins: {', '.join(site.allowed_origins) or '(none: nothing will be accepted)'}")
    print("paste into <head>:")
    print(snippet_html(settings.collector_url, settings.recorder_path, site))
    return 0


def cmd_sites_list(args: argparse.Namespace) -> int:
    from sessionlens.sites import SiteRegistry
    from sessionlens.stores.factory import open_store

    sites = SiteRegistry(open_store(_settings(args))).all()
    if args.json:
        print(orjson.dumps([orjson.loads(s.to_json()) for s in sites]).decode())
        return 0
    if not sites:
        print("no sites yet; add one with: sessionlens sites add NAME --origin https://example.com")
    for s in sites:
        flags = [
            name
            for name, on in (
                ("mask-all-text", s.mask_all_text),
                ("consent", s.consent_required),
                ("respect-dnt", s.respect_dnt),
            )
            if on
        ]
        print(
            f"{s.key}  {s.name}  origins={','.join(s.allowed_origins)}  "
            f"sample={s.sample_rate:g}  {' '.join(flags)}".rstrip()
        )
    return 0


def cmd_reindex(args: argparse.Namespace) -> int:
    from sessionlens.heatmap.signals import Thresholds
    from sessionlens.index import open_index
    from sessionlens.progress import Progress
    from sessionlens.reindex import chunk_keys, reindex
    from sessionlens.stores.factory import open_store

    settings = _settings(args)
    store = open_store(settings)
    index = open_index(settings)
    try:
        all_keys = chunk_keys(store)
        progress = Progress(len(all_keys), "reindex")
        result = reindex(
            store, index, all_keys, on_chunk=progress.advance, thresholds=Thresholds.from_settings(settings),
            keyframes=not args.no_keyframes,
        )  # fmt: skip
        progress.finish()
    finally:
        index.close()
    print(f"indexed {result.chunks} chunks in {result.sessions} sessions")
    print(f"re-synced {result.documents.get('documents', 0)} saved documents (notes, collections, segments)")
    # The rebuilt index is in place either way; exit 1 so scripts notice
    # the skipped chunks (they stay in storage, untouched).
    for skipped in result.skipped:
        print(f"skipped {skipped.key}: {skipped.reason}", file=sys.stderr)
    if result.skipped:
        print(f"warning: {len(result.skipped)} chunk(s) skipped; the rest is rebuilt", file=sys.stderr)
    return 1 if result.skipped else 0


def cmd_worker(args: argparse.Namespace) -> int:
    import signal
    import threading

    from sessionlens.compaction.queue import Compactor
    from sessionlens.derivation.derivations import Context
    from sessionlens.derivation.worker import Worker
    from sessionlens.heatmap.signals import Thresholds
    from sessionlens.index import open_index
    from sessionlens.replay.pageview import PageViewReader
    from sessionlens.stores.factory import open_store

    settings = _settings(args)
    store = open_store(settings)
    index = open_index(settings)
    reader = PageViewReader(store)
    compactor = Compactor.from_settings(store, index, settings, reader.source)
    worker = Worker(
        Context(store, index, reader, Thresholds.from_settings(settings), compactor=compactor),
        lease_seconds=settings.derivation_lease_seconds,
        max_attempts=settings.derivation_max_attempts,
    )
    if settings.retention_period_seconds > 0:  # sessions past their site's retention_days
        from sessionlens.lifecycle.retention import RetentionJob

        worker.periodic.append(RetentionJob(store, index, settings.retention_period_seconds))
    try:
        if args.once:
            done = worker.drain()
            backlog = index.work_backlog(settings.derivation_max_attempts)
            print(f"derived {done} page view(s); {backlog['pending']} pending, {backlog['failed']} failed")
            return 0
        stopped = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stopped.set())
        worker.start()
        print(f"sessionlens worker {worker.name} deriving from {index.location}")
        stopped.wait()
        worker.close()
    finally:
        index.close()
    return 0


def cmd_health(args: argparse.Namespace) -> int:
    """What /healthz checks (a storage write and read, the index), for processes without HTTP (workers)."""
    from sessionlens.health import problems
    from sessionlens.index import open_index
    from sessionlens.stores.factory import open_store

    settings = _settings(args)
    # A store or index that cannot even be opened (down, refused, schema too new) is unhealthy.
    try:
        store = open_store(settings)
    except Exception as exc:
        print(f"unhealthy: storage: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    try:
        index = open_index(settings)
    except Exception as exc:
        print(f"unhealthy: index: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    try:
        failed = problems(store, index)
    finally:
        index.close()
    if failed:
        print("unhealthy: " + "; ".join(f"{part}: {why}" for part, why in failed.items()), file=sys.stderr)
        return 1
    print("ok")
    return 0


def cmd_compact(args: argparse.Namespace) -> int:
    from sessionlens.compaction.dictionary import DictionaryError, train
    from sessionlens.compaction.source import ChunkSource
    from sessionlens.index import open_index
    from sessionlens.stores.factory import open_store

    settings = _settings(args)
    store = open_store(settings)
    source = ChunkSource(store)
    if not args.train_dictionary:
        index = open_index(settings)
        try:
            return _compact_views(args, settings, store, source, index)
        finally:
            index.close()
    try:
        dict_id = train(store, args.train_dictionary, source=source)
    except (DictionaryError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"trained dictionary {dict_id} for site {args.train_dictionary}")
    return 0


def _compact_views(args: argparse.Namespace, settings: Settings, store: Any, source: Any, index: Any) -> int:
    import time

    from sessionlens.compaction.compact import compact_page_view
    from sessionlens.compaction.sweep import is_due, stored_page_views
    from sessionlens.lifecycle.holds import assets_held
    from sessionlens.progress import Progress

    level = args.level or settings.compaction_level
    idle_ms = 0 if args.all else int(settings.compaction_idle_seconds * 1000)
    now = int(time.time() * 1000)
    views = list(stored_page_views(source, args.site))
    progress = Progress(len(views), "compact")
    done = failed = 0
    dictionaries: dict[str, tuple[int, bytes] | None] = {}
    for view in views:
        site = view[0]
        if site not in dictionaries:
            dictionaries[site] = source.objects.latest_dictionary(site)
        dictionary = dictionaries[site]
        dict_id = dictionary[0] if dictionary else 0
        try:
            if is_due(source, view, now_ms=now, idle_ms=idle_ms, level=level, dict_id=dict_id,
                      recompress=args.recompress):  # fmt: skip
                with assets_held(index, site):  # no erasure deletes an asset this pack references
                    compact_page_view(store, *view, level=level, dictionary=dictionary, source=source)
                done += 1
        except Exception as exc:  # one page view's trouble does not stop the others; it is left as it was
            failed += 1
            print(f"\nnot compacted {'/'.join(view)}: {type(exc).__name__}: {exc}", file=sys.stderr)
        progress.advance()
    progress.finish()
    print(f"compacted {done} of {len(views)} page view(s); {failed} failed")
    return 1 if failed else 0


def cmd_export(args: argparse.Namespace) -> int:
    from sessionlens.export import SessionNotFound, find_site, iter_session_events
    from sessionlens.index import open_index
    from sessionlens.stores.factory import open_store

    settings = _settings(args)
    store = open_store(settings)
    index = open_index(settings)
    try:
        site = find_site(args.session, store, index, args.site)
        if args.html:
            return _export_html(args, store, index, site)
        out = open(args.output, "wb") if args.output else sys.stdout.buffer
        try:
            for record in iter_session_events(store, site, args.session):
                out.write(orjson.dumps(record) + b"\n")
        finally:
            if args.output:
                out.close()
    except SessionNotFound as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        index.close()
    return 0


def _accounts(args: argparse.Namespace):
    from sessionlens.auth.users import Accounts
    from sessionlens.stores.factory import open_store

    return Accounts(open_store(_settings(args)))


def cmd_users_add(args: argparse.Namespace) -> int:
    import getpass

    from sessionlens.auth.users import UserError

    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass(f"password for {args.name}: ")
        if getpass.getpass("again: ") != password:
            print("error: the passwords differ", file=sys.stderr)
            return 2
    accounts = _accounts(args)
    try:
        sessions = accounts.sessions.count(args.name) if args.replace else 0
        accounts.add_user(args.name, password, replace=args.replace)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"user {args.name} can now log in to the viewer")
    if args.replace:
        tokens = len(accounts.tokens(user=args.name))
        print(f"ended {sessions} login session(s); {tokens} API token(s) still work (sessionlens tokens list)")
    return 0


def cmd_users_remove(args: argparse.Namespace) -> int:
    from sessionlens.auth.users import UserError

    try:
        removed = _accounts(args).remove_user(args.name)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"removed user {args.name}: ended {removed.sessions} session(s), revoked {removed.tokens} token(s)")
    return 0


def cmd_users_list(args: argparse.Namespace) -> int:
    names = _accounts(args).users()
    print("\n".join(names) if names else "no users yet; add one with: sessionlens users add NAME")
    return 0


def cmd_tokens_create(args: argparse.Namespace) -> int:
    from sessionlens.auth.users import UserError

    try:
        token = _accounts(args).create_token(args.user, args.label, args.scope)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(token)
    print("send it as: Authorization: Bearer <token>  (shown once; it is stored hashed)", file=sys.stderr)
    return 0


def cmd_tokens_list(args: argparse.Namespace) -> int:
    import time

    found = _accounts(args).tokens(user=args.user)
    if args.json:
        print(orjson.dumps([{"id": t.id, "user": t.user, "scope": t.scope, "label": t.label,
                             "created": t.created} for t in found]).decode())  # fmt: skip
        return 0
    if not found:
        print("no API tokens" + (f" for {args.user}" if args.user else ""))
    for t in found:
        created = time.strftime("%Y-%m-%d %H:%M", time.gmtime(t.created / 1000))
        print(f"{t.id}  {t.user}  {t.scope:<5}  {created} UTC  {t.label}")
    return 0


def cmd_tokens_revoke(args: argparse.Namespace) -> int:
    from sessionlens.auth.users import UserError

    try:
        info = _accounts(args).revoke_token(args.token)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"revoked token {info.id} of {info.user} ({info.label})")
    return 0


def _export_html(args: argparse.Namespace, store, index, site: str) -> int:
    from sessionlens.export import page_views_in_store
    from sessionlens.replay.html_export import export_html, page_at
    from sessionlens.replay.pageview import PageViewReader

    session = index.session(args.session, site)
    pages = index.page_views(site, args.session) if session else []
    if not pages:  # storage is the truth: the index may not have caught up yet
        pages = page_views_in_store(store, site, args.session)
        session = {"start_time": pages[0]["t0"]} if pages else None
    if session is None or not pages:
        print(f"error: session {args.session} has no stored page views", file=sys.stderr)
        return 2
    if args.at is None:
        print(
            "error: --html needs --at MS (time on the session's timeline, as in the viewer's ?t=)",
            file=sys.stderr,
        )
        return 2
    pv, t = page_at(pages, session["start_time"], args.at)
    state = PageViewReader(store).dom_at(site, args.session, pv["pid"], t)
    text = export_html(state)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as f:
            f.write(text)
        print(f"wrote {args.output}: {pv['url']} at {t} ms into the page view", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def cmd_heatmap(args: argparse.Namespace) -> int:
    from sessionlens.heatmap.backdrop import BackdropConfig, BackdropUnavailable
    from sessionlens.heatmap.render import Selection, build_heatmap, elements_csv
    from sessionlens.index import open_index
    from sessionlens.progress import Progress
    from sessionlens.replay.pageview import PageViewReader
    from sessionlens.responses import ParamError
    from sessionlens.stores.factory import open_store

    settings = _settings(args)
    store = open_store(settings)
    index = open_index(settings)
    from urllib.parse import parse_qsl

    from sessionlens.heatmap.render import NoData, compare_pairs, resolve_device
    from sessionlens.saved_docs import DocNotFound, SavedDocs

    query: dict[str, list[str]] = {"site": [args.site], "url": [args.url], "device": [args.device or ""]}
    # The same selection as the API's: dates, the visitors' viewport width range, session filters.
    chosen = (("from", args.date_from), ("to", args.date_to), ("min_width", args.min_width), ("max_width", args.max_width),
              ("segment", args.segment), ("bots", args.bots), ("compare_from", args.compare_from),
              ("compare_to", args.compare_to), ("compare_experiment", args.compare_experiment),
              ("compare_segment", args.compare_segment), ("compare_device", args.compare_device))  # fmt: skip
    query.update({k: [str(v)] for k, v in chosen if v is not None})
    for variant in args.experiment or []:
        query.setdefault("experiment", []).append(variant)
    for raw in args.filter or []:  # session-list filters as a query string: "channel=email&country=DE"
        for k, v in parse_qsl(raw, keep_blank_values=True):
            query.setdefault(k, []).append(v)
    docs = SavedDocs(store, index)

    def segments(site: str, doc_id: str) -> list[tuple[str, str]]:
        try:
            return [(str(k), str(v)) for k, v in docs.get("segment", site, doc_id).body.get("filters", [])]
        except DocNotFound:
            raise LookupError(doc_id) from None

    steps = ["selecting", "rendering backdrop", "rasterising"]
    progress = Progress(len(steps) + 1, "heatmap")
    try:
        a_query = {k: v for k, v in query.items() if not k.startswith("compare_")}
        sel = Selection.from_query(a_query, segments)
        b_pairs = compare_pairs(query)
        compare = Selection.from_query(_grouped(b_pairs), segments) if b_pairs is not None else None
        result = build_heatmap(
            index, store, PageViewReader(store), sel, args.type, args.width, args.radius,
            args.pid, args.at, compare, step=lambda _: progress.advance(),
            backdrops=BackdropConfig.from_settings(settings),
        )  # fmt: skip
        with open(args.output, "wb") as f:
            f.write(result.png)
        progress.advance()
        progress.finish()
        if args.csv:
            kind = args.type if args.type not in ("scroll", "move") else "click"
            chosen_sel = resolve_device(index, sel, args.width, args.pid)
            with open(args.csv, "w", encoding="utf-8") as f:
                f.write(elements_csv(chosen_sel.elements(index, kind), {**chosen_sel.describe(), "type": kind}))  # fmt: skip
    except NoData as exc:
        print(f"no data: {exc}; filter: {exc.filter}", file=sys.stderr)
        return 4
    except (ParamError, LookupError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except BackdropUnavailable as exc:
        print(f"error: cannot render the backdrop: {exc}", file=sys.stderr)
        return 3
    finally:
        index.close()
    print(
        f"wrote {args.output}: {result.counted} {args.type} counted, {result.drawn} drawn, {result.hidden} hidden"
    )
    return 0


def _grouped(pairs: list[tuple[str, str]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for k, v in pairs:
        out.setdefault(k, []).append(v)
    return out


def cmd_settings(args: argparse.Namespace) -> int:
    if args.markdown:
        from sessionlens.settings import settings_doc

        print(settings_doc(), end="")
        return 0
    settings = _settings(args)
    for s in SETTINGS:
        print(f"{s.name} = {getattr(settings, s.name)!r}    # {s.env_var}: {s.help}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    from sessionlens.params import (  # numeric options share the API's bounds
        CLI_EXPORT,
        HEATMAP_AT,
        MAX_WIDTH,
        MIN_WIDTH,
        RADIUS,
        WIDTH,
    )

    parser = argparse.ArgumentParser(prog="sessionlens", description="Session replay and heatmaps.")
    parser.add_argument("--config", help="TOML settings file (see docs/settings.md)")
    sub = parser.add_subparsers(dest="command", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--data-dir", dest="data_dir", help="where blobs and the index live")

    p = sub.add_parser("serve", help="run the collector")
    common(p)
    p.add_argument("--host")
    p.add_argument("--port", type=int)
    p.add_argument("--role", choices=["all", "ingest", "viewer"],
                   help="ingest: recorder and /ingest only; viewer: viewer and API only; all (default): both")  # fmt: skip
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("demo", help="run the collector and a demo site with the recorder embedded")
    common(p)
    p.add_argument("--host")
    p.add_argument("--port", type=int)
    p.add_argument("--demo-port", type=int, default=8001)
    p.set_defaults(func=cmd_demo)

    sites = sub.add_parser("sites", help="manage recorded sites").add_subparsers(
        dest="sites_command", required=True
    )
    p = sites.add_parser("add", help="add a site and print its snippet")
    common(p)
    p.add_argument("name")
    p.add_argument("--origin", action="append", help="allowed origin, e.g. https://shop.example (repeatable)")
    p.add_argument("--key", help="choose the site key (default: random)")
    p.add_argument("--mask-all-text", action="store_true", help="mask every text node, not only inputs")
    p.add_argument(
        "--consent-required", action="store_true", help="record only after sessionlens.consent(true)"
    )
    p.add_argument(
        "--respect-dnt", action="store_true", help="do not record visitors with GPC or Do-Not-Track"
    )
    p.add_argument("--sample-rate", type=float, default=1.0, help="share of sessions recorded, 0..1")
    p.add_argument("--no-canvas", action="store_true", help="do not capture canvas content")
    p.set_defaults(func=cmd_sites_add)
    p = sites.add_parser("list", help="list sites")
    common(p)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_sites_list)
    from sessionlens.lifecycle.commands import add_parsers as add_lifecycle_parsers

    add_lifecycle_parsers(sub, sites, common, _settings)  # sites set, retention run, erase, access
    from sessionlens.notes_cli import add_parsers as add_notes_parsers

    add_notes_parsers(sub, common, _settings)  # notes list, collections list
    from sessionlens.funnels.cli import add_parsers as add_funnel_parsers

    add_funnel_parsers(sub, common, _settings)  # funnel
    from sessionlens.forms.cli import add_parser as add_forms_parser

    add_forms_parser(sub, common, _settings)  # forms (form analytics)
    from sessionlens.surveys.cli import add_parsers as add_survey_parsers

    add_survey_parsers(sub, common, _settings)  # surveys list/results/csv

    users = sub.add_parser("users", help="manage viewer users").add_subparsers(
        dest="users_command", required=True
    )
    p = users.add_parser("add", help="add a user (asks for the password)")
    common(p)
    p.add_argument("name")
    p.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    p.add_argument("--replace", action="store_true", help="change the password of an existing user")
    p.set_defaults(func=cmd_users_add)
    p = users.add_parser("list", help="list users")
    common(p)
    p.set_defaults(func=cmd_users_list)
    p = users.add_parser("remove", help="remove a user, end their sessions and revoke their tokens")
    common(p)
    p.add_argument("name")
    p.set_defaults(func=cmd_users_remove)

    tokens = sub.add_parser("tokens", help="API tokens for scripts").add_subparsers(
        dest="tokens_command", required=True
    )
    p = tokens.add_parser("create", help="create an API token for a user and print it")
    common(p)
    p.add_argument("user")
    p.add_argument("--label", default="", help="what the token is for")
    p.add_argument(
        "--scope", choices=["read", "admin"], default="read", help="read: read APIs only (default); admin: also changes"
    )
    p.set_defaults(func=cmd_tokens_create)
    p = tokens.add_parser("list", help="list API tokens (id, user, scope, created, label)")
    common(p)
    p.add_argument("--user", help="only this user's tokens")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_tokens_list)
    p = tokens.add_parser("revoke", help="revoke an API token")
    common(p)
    p.add_argument("token", metavar="ID|PREFIX|TOKEN", help="id from `tokens list` (or 6+ of its first digits)")
    p.set_defaults(func=cmd_tokens_revoke)

    p = sub.add_parser("reindex", help="rebuild the index and derived data from stored chunks")
    common(p)
    p.add_argument("--no-keyframes", action="store_true", help="keep stored keyframes (faster)")
    p.set_defaults(func=cmd_reindex)

    p = sub.add_parser("worker", help="run the derivation worker (keyframes, click facts) on its own")
    common(p)
    p.add_argument("--once", action="store_true", help="derive what is due, then exit")
    p.set_defaults(func=cmd_worker)

    p = sub.add_parser("health", help="check storage and the index as /healthz does (exit 1 when unhealthy)")
    common(p)
    p.set_defaults(func=cmd_health)

    p = sub.add_parser("compact", help="pack idle page views' chunks, store shared assets once")
    common(p)
    p.add_argument("--site", help="only this site")
    p.add_argument("--all", action="store_true", help="compact every page view now, idle or not")
    p.add_argument("--level", type=int, choices=range(1, 23), metavar="1-22", help="zstd level (default: setting)")
    p.add_argument("--recompress", action="store_true",
                   help="also re-pack page views packed at a lower level or with an older dictionary")  # fmt: skip
    p.add_argument("--train-dictionary", metavar="SITE", help="train a new zstd dictionary for SITE and exit")
    p.set_defaults(func=cmd_compact)

    p = sub.add_parser("export", help="write a session's events as JSON lines")
    common(p)
    p.add_argument("session")
    p.add_argument("--site", help="site key (default: looked up)")
    p.add_argument("-o", "--output", help="file to write (default: stdout)")
    p.add_argument("--html", action="store_true", help="write the page at --at as static, script-free HTML")
    p.add_argument("--at", type=CLI_EXPORT.bound("at").cli_type(), help="with --html: ms on the session's timeline")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("heatmap", help="draw a heatmap PNG (and a CSV of top elements)")
    common(p)
    p.add_argument("--site", required=True, help="site key")
    p.add_argument("--url", required=True, help="exact URL, /path, or a pattern such as /product/*")
    # heatmap/render.KINDS (not imported here: the CLI starts without numpy); tests check they agree.
    heatmap_kinds = ["click", "rage", "dead", "error", "move", "scroll"]
    heatmap_kinds += ["thrash", "form_error", "excessive_scroll"]
    p.add_argument("--type", default="click", choices=heatmap_kinds)
    p.add_argument("--width", type=WIDTH.cli_type(), default=WIDTH.default, help="backdrop width in CSS px")
    p.add_argument("--radius", type=RADIUS.cli_type(), default=RADIUS.default, help="blur radius in px")
    p.add_argument("--device", choices=["desktop", "tablet", "mobile", "unknown", "any"],
                   help="device class (default: the backdrop page view's class; any: all, scaled by width)")  # fmt: skip
    p.add_argument("--experiment", action="append", help="name:variant (repeatable): only sessions in that variant")  # fmt: skip
    p.add_argument("--segment", help="a saved segment's id (/api/segments): only its sessions")
    p.add_argument("--filter", action="append", help="session-list filters as a query string, e.g. 'channel=email&country=DE'")  # fmt: skip
    p.add_argument("--bots", choices=["exclude", "include", "only"], help="bots' sessions (default exclude)")
    p.add_argument("--compare-from", dest="compare_from", help="difference map against this period: first day")  # fmt: skip
    p.add_argument("--compare-to", dest="compare_to", help="... last day")
    p.add_argument("--compare-experiment", dest="compare_experiment", help="difference map against name:variant")  # fmt: skip
    p.add_argument("--compare-segment", dest="compare_segment", help="difference map against this saved segment")  # fmt: skip
    p.add_argument("--compare-device", dest="compare_device", choices=["desktop", "tablet", "mobile", "any"])
    p.add_argument("--min-width", "--min_width", dest="min_width", type=MIN_WIDTH.cli_type(), help="narrowest visitor viewport counted, CSS px")  # fmt: skip
    p.add_argument("--max-width", "--max_width", dest="max_width", type=MAX_WIDTH.cli_type(), help="widest visitor viewport counted, CSS px")  # fmt: skip
    p.add_argument("--from", dest="date_from", help="first day (2026-11-01)")
    p.add_argument("--to", dest="date_to", help="last day")
    p.add_argument("--pid", help="page view to draw over (default: newest at the closest width)")
    p.add_argument("--at", type=HEATMAP_AT.cli_type(), help="moment of that page view, ms (default: its first keyframe)")
    p.add_argument("-o", "--output", default="heatmap.png")
    p.add_argument("--csv", help="also write the top elements as CSV here")
    p.set_defaults(func=cmd_heatmap)

    p = sub.add_parser("settings", help="show resolved settings")
    common(p)
    p.add_argument("--markdown", action="store_true", help="print docs/settings.md instead")
    p.set_defaults(func=cmd_settings)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
