"""`sessionlens demo`: the collector plus a small shop with the recorder in it.

The demo site is served from a second port, so it is a different origin
from the collector exactly as a real site would be.
"""

from __future__ import annotations

import asyncio
import secrets
from pathlib import Path

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, Response
from starlette.routing import Route

from sessionlens.app import create_app
from sessionlens.http_timeouts import serve_options
from sessionlens.recorder_asset import snippet_html
from sessionlens.settings import Settings
from sessionlens.sites import Site, SiteRegistry, new_site

DEMO_DIR = Path(__file__).resolve().parent / "demo_site"
DEMO_SITE_NAME = "Demo shop"
MARKER = "<!--SESSIONLENS-->"
DEMO_USER = "demo"


def create_demo_site_app(snippet: str, root: Path = DEMO_DIR) -> Starlette:
    root = root.resolve()

    async def page(request: Request) -> Response:
        rel = request.path_params.get("path", "") or "index.html"
        if rel.startswith("app/") or rel == "app":
            rel = "app.html"  # SPA routes all load the same shell
        path = (root / rel).resolve()
        if path.is_dir():
            path = path / "index.html"
        if root not in path.parents or not path.is_file():
            return HTMLResponse("<h1>Not found</h1>", status_code=404)
        if path.suffix == ".html":
            return HTMLResponse(path.read_text().replace(MARKER, snippet))
        return FileResponse(path)

    return Starlette(routes=[Route("/", page), Route("/{path:path}", page)])


def ensure_demo_site(registry: SiteRegistry, origins: list[str]) -> Site:
    for site in registry.all():
        if site.name == DEMO_SITE_NAME:
            missing = [o for o in origins if o not in site.allowed_origins]
            if missing:
                site.allowed_origins.extend(missing)
                registry.save(site)
            return site
    site = new_site(DEMO_SITE_NAME, origins)
    registry.save(site)
    return site


def run_demo(settings: Settings, demo_port: int = 8001) -> int:
    collector = create_app(settings)
    host = settings.host
    origins = [f"http://{h}:{demo_port}" for h in {host, "127.0.0.1", "localhost"}]
    site = ensure_demo_site(collector.state.sites, origins)
    snippet = snippet_html(settings.collector_url, settings.recorder_path, site)
    # A fresh password every run, so the one printed always works.
    password = secrets.token_urlsafe(9)
    collector.state.accounts.add_user(DEMO_USER, password, replace=True)
    demo = create_demo_site_app(snippet)
    demo_url = f"http://{host}:{demo_port}"

    print("sessionlens demo is running")
    print(f"  demo site (recorded):  {demo_url}/")
    print(f"  collector:             {settings.collector_url}/")
    print(f"  recorder script:       {settings.collector_url}{settings.recorder_path}")
    print(f"  viewer:                {settings.collector_url}/")
    print(f"  viewer login:          {DEMO_USER} / {password}")
    print(f"  site key:              {site.key}")
    print(f"  data directory:        {Path(settings.data_dir).resolve()}")
    print("  export a session:      sessionlens export SESSION_ID")
    print(f"  heatmaps:              {settings.collector_url}/heatmaps, or after a few clicks:")
    print(f"                         sessionlens heatmap --site {site.key} --url / -o heatmap.png")
    print("Press Ctrl+C to stop.", flush=True)

    async def serve_both() -> None:
        servers = [
            uvicorn.Server(uvicorn.Config(collector, **{**serve_options(settings), "host": host, "log_level": "warning"})),
            uvicorn.Server(uvicorn.Config(demo, host=host, port=demo_port, log_level="warning")),
        ]
        await asyncio.gather(*(s.serve() for s in servers))

    asyncio.run(serve_both())
    return 0
