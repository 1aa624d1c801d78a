"""Assemble the collector application from its parts."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from sessionlens import collector, contracts
from sessionlens.index import Index
from sessionlens.recorder_asset import RecorderAsset, snippet_html
from sessionlens.settings import Settings
from sessionlens.sites import SiteRegistry
from sessionlens.stores.base import BlobStore
from sessionlens.stores.factory import open_store


async def http_error(request: Request, exc: Exception) -> Response:
    """Unknown paths and wrong methods answer in JSON like every other error."""
    assert isinstance(exc, HTTPException)
    return JSONResponse({"error": exc.detail}, status_code=exc.status_code, headers=exc.headers)


async def health(request: Request) -> Response:
    return JSONResponse({"ok": True})


async def snippet(request: Request) -> Response:
    state = request.app.state
    site = state.sites.get(request.path_params["site"])
    if site is None:
        return collector.error(404, "unknown site key")
    text = snippet_html(state.settings.collector_url, state.settings.recorder_path, site)
    return PlainTextResponse(text)


def create_app(
    settings: Settings,
    store: BlobStore | None = None,
    index: Index | None = None,
) -> Starlette:
    store = store or open_store(settings)
    index = index or Index(settings.resolved_index_path)
    recorder = RecorderAsset()
    # Compile the schema validators now, not on the first visitor's batch.
    contracts.warm_up()
    routes = [
        Route("/healthz", health),
        Route(settings.recorder_path, recorder.respond, methods=["GET", "HEAD"]),
        Route("/ingest/{site}", collector.ingest, methods=["POST"]),
        Route("/ingest/{site}", collector.preflight, methods=["OPTIONS"]),
        Route("/sites/{site}/snippet", snippet),
    ]

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        index.close()

    app = Starlette(routes=routes, lifespan=lifespan, exception_handlers={HTTPException: http_error})
    app.state.settings = settings
    app.state.store = store
    app.state.index = index
    app.state.sites = SiteRegistry(store, settings.site_cache_seconds)
    return app
