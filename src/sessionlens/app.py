"""Assemble the collector application from its parts."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from sessionlens import collector, contracts
from sessionlens.auth.login import LoginGate
from sessionlens.auth.middleware import RequireLogin, SecurityHeaders
from sessionlens.auth.users import Accounts
from sessionlens.compaction.queue import Compactor
from sessionlens.derivation.derivations import Context
from sessionlens.derivation.worker import Worker
from sessionlens.health import problems as health_problems
from sessionlens.heatmap.signals import Thresholds
from sessionlens.index import Index, open_index
from sessionlens.lifecycle.retention import RetentionJob
from sessionlens.recorder_asset import MEDIA_PATH, RecorderAsset, media_path, snippet_html
from sessionlens.replay.pageview import PageViewReader
from sessionlens.responses import JSON, error
from sessionlens.settings import Settings
from sessionlens.sites import SiteRegistry
from sessionlens.stores.base import BlobStore
from sessionlens.stores.factory import open_store
from sessionlens.surveys import public as survey_public
from sessionlens.viewer import api, funnels, heatmaps, lifecycle, notes, pages, replay_frame, segments
from sessionlens.viewer import forms as form_analytics
from sessionlens.viewer import surveys as survey_views


async def http_error(request: Request, exc: Exception) -> Response:
    """Unknown paths and wrong methods answer in JSON like every other error."""
    assert isinstance(exc, HTTPException)
    return error(exc.status_code, exc.detail, exc.headers)


async def health(request: Request) -> Response:
    """Storage (a put and a get) and the index writer (SELECT 1); 503 naming what failed."""
    state = request.app.state
    failed = await run_in_threadpool(health_problems, state.store, state.index)
    if failed:
        message = "; ".join(f"{part}: {why}" for part, why in failed.items())
        return JSON({"ok": False, "error": message, "failed": failed}, status_code=503)
    return JSON({"ok": True})


async def snippet(request: Request) -> Response:
    state = request.app.state
    site = state.sites.get(request.path_params["site"])
    if site is None:
        return error(404, "unknown site key")
    text = snippet_html(state.settings.collector_url, state.settings.recorder_path, site)
    return PlainTextResponse(text)


def create_app(
    settings: Settings,
    store: BlobStore | None = None,
    index: Index | None = None,
) -> Starlette:
    store = store or open_store(settings)
    index = index or open_index(settings)
    recorder = RecorderAsset()
    # The canvas chunk the recorder loads on pages with a canvas, next to it (recorder_asset.py).
    recorder_media = RecorderAsset(MEDIA_PATH)
    chunk_path = media_path(settings.recorder_path)
    # Compile the schema validators now, not on the first visitor's batch.
    contracts.warm_up()
    reader = PageViewReader(store)
    th = Thresholds.from_settings(settings)
    # Post-ingest derivation from the durable queue in the index; started
    # here so work left by a previous run (killed or not) is picked up.
    # ... and compaction of page views idle for compaction_idle_seconds, by the same worker.
    compactor = Compactor.from_settings(store, index, settings, reader.source)
    derivation = Worker(
        Context(store, index, reader, th, compactor=compactor),
        lease_seconds=settings.derivation_lease_seconds,
        max_attempts=settings.derivation_max_attempts,
    )
    if settings.retention_period_seconds > 0:  # sessions past their site's retention_days
        derivation.periodic.append(RetentionJob(store, index, settings.retention_period_seconds))
    if settings.derivation_worker:
        derivation.start()
    accounts = Accounts(store, cache_seconds=settings.auth_cache_seconds)
    login_gate = LoginGate(accounts, settings)
    public_paths = {
        "/healthz",
        settings.recorder_path,
        chunk_path,
        settings.survey_widget_path,
        "/login",
        "/favicon.ico",
    }
    # The replay frame is static and holds no data; it is loaded without a cookie (see replay_frame).
    public_prefixes = ("/ingest/", "/sites/", pages.ASSETS + "/", replay_frame.PREFIX)

    def is_public(path: str) -> bool:
        return path in public_paths or path.startswith(public_prefixes)

    def is_viewer(path: str) -> bool:
        # The replay frame sets its own sandboxing CSP instead of the viewer's.
        return not path.startswith(("/ingest/", replay_frame.PREFIX)) and path not in (
            settings.recorder_path,
            chunk_path,
            settings.survey_widget_path,
        )

    # `role` splits one deployment into processes: collectors answer only the recorder
    # (a small public surface behind the load balancer), viewers only logged-in people.
    ingest_routes = [
        Route(settings.recorder_path, recorder.respond, methods=["GET", "HEAD"]),
        Route(chunk_path, recorder_media.respond, methods=["GET", "HEAD"]),
        Route("/ingest/{site}", collector.ingest, methods=["POST"]),
        Route("/ingest/{site}", collector.preflight, methods=["OPTIONS"]),
        # On-page surveys (surveys/public.py): the widget's definitions and the widget itself.
        Route("/ingest/{site}/surveys", survey_public.public_surveys, methods=["GET"]),
        Route(settings.survey_widget_path, survey_public.WidgetAsset().respond, methods=["GET", "HEAD"]),
    ]
    viewer_routes = [
        Route("/sites/{site}/snippet", snippet),
        # The viewer: everything below needs a login (see RequireLogin).
        Route("/login", pages.login_page, methods=["GET"]),
        Route("/login", pages.login, methods=["POST"]),
        Route("/logout", pages.logout, methods=["POST"]),
        Route("/", pages.session_list),
        Route("/sessions/{sid}", pages.player),
        Route("/api/me", api.me),
        Route("/api/sites", api.sites),
        Route("/api/sessions", api.sessions),
        Route("/api/sessions/{sid}", api.session),
        Route("/api/sessions/{sid}/pages/{pid}/state", api.page_state),
        Route("/api/sessions/{sid}/pages/{pid}/events", api.page_events),
        Route("/api/sessions/{sid}/pages/{pid}/inspect", api.page_inspect),
        Route("/api/tokens", api.create_token, methods=["POST"]),
        Route("/api/erasure", lifecycle.erasure, methods=["POST"]),
        Route("/api/segments", segments.list_segments, methods=["GET"]),
        Route("/api/segments", segments.create_segment, methods=["POST"]),
        Route("/api/segments/{id}", segments.get_segment, methods=["GET"]),
        Route("/api/segments/{id}", segments.update_segment, methods=["PATCH"]),
        Route("/api/segments/{id}", segments.delete_segment, methods=["DELETE"]),
        Route("/api/access", lifecycle.access),
        Route("/api/heatmaps/image", heatmaps.image),
        Route("/api/heatmaps/elements", heatmaps.elements),
        Route("/api/heatmaps/sessions", heatmaps.spot_sessions),
        Route("/api/heatmaps/moments", heatmaps.moments),
        Route("/api/heatmaps/thumbnail", heatmaps.thumbnail),
        Route("/heatmaps", pages.heatmap_page),
        *notes.routes(),  # notes and collections (viewer/notes.py)
        *funnels.routes(),  # funnels (viewer/funnels.py)
        *form_analytics.routes(),  # form analytics (viewer/forms.py)
        *survey_views.routes(),  # on-page surveys (viewer/surveys.py)
        Mount(pages.ASSETS, StaticFiles(directory=pages.STATIC)),
        *replay_frame.routes(),
    ]
    routes = [Route("/healthz", health)]
    if settings.role in ("ingest", "all"):
        routes += ingest_routes
    if settings.role in ("viewer", "all"):
        routes += viewer_routes

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        login_gate.close()
        derivation.close()
        index.close()

    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={HTTPException: http_error},
        middleware=[
            Middleware(SecurityHeaders, applies=is_viewer),
            Middleware(RequireLogin, accounts=accounts, is_public=is_public),
        ],
    )
    app.state.settings = settings
    app.state.store = store
    app.state.index = index
    app.state.sites = SiteRegistry(store, settings.site_cache_seconds)
    app.state.surveys = survey_public.SurveyCache(store, index, settings.site_cache_seconds)
    app.state.reader = reader
    app.state.derivation = derivation
    app.state.accounts = accounts
    app.state.login_gate = login_gate
    return app
