"""docker/compose.yaml and docker/nginx.conf, checked without Docker.

The compose file is parsed and held to what sessionlens reads (every
SESSIONLENS_ variable is a setting, commands are real subcommands, health
checks reach storage and the index); nginx's own `nginx -t` checks the proxy
configuration, and nginx, when installed, runs it in front of real collector
and viewer processes (loopback ports in place of the compose service names).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml

from sessionlens.cli import build_parser
from sessionlens.settings import SETTINGS, load_settings
from sessionlens.sites import SiteRegistry, new_site
from sessionlens.stores.factory import open_store
from tests.cluster import ROOT, Cluster, new_database, s3_env
from tests.helpers import batch, free_port, new_id, wait_for_port

DOCKER = ROOT / "docker"
ENV_VARS = {s.env_var for s in SETTINGS}
SESSIONLENS_SERVICES = ("collector-1", "collector-2", "viewer", "worker")
ORIGIN = "https://shop.example"


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((DOCKER / "compose.yaml").read_text())


def _env(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment", {})
    assert isinstance(env, dict), "environment as a mapping"
    return {k: str(v) for k, v in env.items()}


def _health_command(service: dict[str, Any]) -> str:
    test = service["healthcheck"]["test"]
    assert test[0] in ("CMD", "CMD-SHELL")
    return " ".join(test[1:])


def test_compose_has_the_deployment_of_issue_11(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert {"postgres", "minio", "proxy", *SESSIONLENS_SERVICES} <= set(services)
    assert services["collector-1"]["command"] == services["collector-2"]["command"] == ["serve", "--role", "ingest"]
    assert services["viewer"]["command"] == ["serve", "--role", "viewer"]
    assert services["worker"]["command"] == ["worker"]
    for name in SESSIONLENS_SERVICES:
        args = build_parser().parse_args(services[name]["command"])  # real subcommands and options
        assert args.command in ("serve", "worker")
    # Only the proxy is published; collectors and viewer are reached through it.
    assert [s for s in services if services[s].get("ports")] == ["proxy"]
    for name, service in services.items():
        for needed in service.get("depends_on", {}):
            assert needed in services, f"{name} depends on unknown service {needed}"


def test_every_sessionlens_variable_is_a_setting_with_a_valid_value(compose: dict[str, Any]) -> None:
    for name in SESSIONLENS_SERVICES:
        env = _env(compose["services"][name])
        named = {k for k in env if k.startswith("SESSIONLENS_")}
        assert named <= ENV_VARS, f"{name}: not settings: {named - ENV_VARS}"
        # Compose's ${VAR:-default} resolved to its default, as `docker compose config` would.
        resolved = {k: re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", v) for k, v in env.items()}
        settings = load_settings(environ=resolved)  # raises on a bad value
        assert settings.store == "s3" and settings.s3_endpoint == "http://minio:9000"
        assert settings.index_url.startswith("postgresql://sessionlens:") and "@postgres:5432/" in settings.index_url
        assert settings.derivation_worker is False  # the worker service derives
        assert settings.public_url.endswith(":8080")  # the proxy's published port
        assert resolved["AWS_ACCESS_KEY_ID"] and resolved["AWS_SECRET_ACCESS_KEY"]  # MinIO's credentials


def test_health_checks_reach_storage_and_the_index(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name in ("collector-1", "collector-2", "viewer"):
        assert "http://127.0.0.1:8000/healthz" in _health_command(services[name])  # /healthz: storage + index
    worker = _health_command(services["worker"])
    assert worker == "sessionlens health"
    assert build_parser().parse_args(["health"]).func.__name__ == "cmd_health"
    assert "/healthz" in _health_command(services["proxy"])
    assert "pg_isready" in _health_command(services["postgres"])
    for name in SESSIONLENS_SERVICES:
        assert services[name]["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name in ("collector-1", "collector-2", "viewer"):
        assert services["proxy"]["depends_on"][name]["condition"] == "service_healthy"
    # The image listens where the checks and nginx look.
    assert "SESSIONLENS_PORT=8000" in (DOCKER / "Dockerfile").read_text()


def test_nginx_routes_the_recorder_and_ingest_to_the_collectors_and_the_rest_to_the_viewer(
    compose: dict[str, Any],
) -> None:
    conf = (DOCKER / "nginx.conf").read_text()
    assert "./nginx.conf:/etc/nginx/nginx.conf:ro" in compose["services"]["proxy"]["volumes"]
    upstreams = dict(re.findall(r"upstream (\w+) \{(.*?)\}", conf, re.S))
    assert re.findall(r"server ([\w-]+):8000", upstreams["collectors"]) == ["collector-1", "collector-2"]
    assert re.findall(r"server ([\w-]+):8000", upstreams["viewers"]) == ["viewer"]
    recorder_path = load_settings(environ={}).recorder_path
    locations = dict(re.findall(r"location ([^{]+?) \{(.*?)\n        \}", conf, re.S))
    assert "http://collectors" in locations[f"= {recorder_path}"]
    # The survey widget is served by collectors only (role=ingest), like the recorder.
    assert "http://collectors" in locations[f"= {load_settings(environ={}).survey_widget_path}"]
    assert "http://collectors" in locations["/ingest/"]
    assert "http://viewers" in locations["/"]


def _nginx_conf(tmp_path: Path, listen: int, collectors: list[int], viewer: int) -> Path:
    conf = (DOCKER / "nginx.conf").read_text()
    conf = conf.replace("collector-1:8000", f"127.0.0.1:{collectors[0]}")
    conf = conf.replace("collector-2:8000", f"127.0.0.1:{collectors[1]}")
    conf = conf.replace("viewer:8000", f"127.0.0.1:{viewer}").replace("listen 80;", f"listen 127.0.0.1:{listen};")
    conf = conf.replace("access_log /dev/stdout;", f"access_log {tmp_path}/access.log;")
    path = tmp_path / "nginx.conf"
    path.write_text(conf)
    return path


NGINX = shutil.which("nginx") or (Path("/usr/sbin/nginx").exists() and "/usr/sbin/nginx")
needs_nginx = pytest.mark.skipif(not NGINX, reason="nginx is not installed (apt-get install nginx-light)")


@needs_nginx
def test_nginx_accepts_the_configuration(tmp_path: Path) -> None:
    conf = _nginx_conf(tmp_path, free_port(), [free_port(), free_port()], free_port())
    done = subprocess.run([str(NGINX), "-t", "-p", str(tmp_path), "-e", "stderr", "-c", str(conf)],
                          capture_output=True, text=True, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr


@pytest.fixture
def proxied(tmp_path: Path, moto_server: str, postgres: Any, aws_env: None) -> Iterator[tuple[Cluster, str]]:
    env = s3_env(moto_server, f"px-{new_id().lower().replace('_', '-')[:12]}")
    env["SESSIONLENS_INDEX_URL"] = new_database(postgres.url, "px")
    cluster = Cluster(tmp_path, env)
    nginx: subprocess.Popen | None = None
    try:
        a, b, viewer = (cluster.serve(n, r) for n, r in (("c1", "ingest"), ("c2", "ingest"), ("viewer", "viewer")))
        port = free_port()
        conf = _nginx_conf(tmp_path, port, [a.port, b.port], viewer.port)  # type: ignore[list-item]
        nginx = subprocess.Popen([str(NGINX), "-p", str(tmp_path), "-e", "stderr", "-c", str(conf),
                                  "-g", f"daemon off; pid {tmp_path}/nginx.pid;"])  # fmt: skip
        wait_for_port(port)
        yield cluster, f"http://127.0.0.1:{port}"
    finally:
        if nginx is not None:
            nginx.terminate()
            nginx.wait(timeout=10)
        cluster.stop_all()


def _request(url: str, body: bytes | None = None) -> tuple[int, bytes, dict[str, str]]:
    req = urllib.request.Request(url, data=body, headers={"Origin": ORIGIN, "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=15) as r:
            return r.status, r.read(), dict(r.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(), dict(exc.headers)


@needs_nginx
def test_behind_nginx_a_killed_collector_loses_no_batch(proxied: tuple[Cluster, str]) -> None:
    cluster, url = proxied
    store = open_store(load_settings(environ=cluster._environ()))
    site = new_site("Shop", [ORIGIN])
    SiteRegistry(store).save(site)

    status, body, headers = _request(url + "/recorder.js")
    assert status == 200 and b"sessionlens" in body.lower() and "javascript" in headers["Content-Type"]
    assert _request(url + "/healthz")[0] == 200
    status, body, headers = _request(url + "/survey.js")  # the survey widget, from a collector too
    assert status == 200 and "javascript" in headers["Content-Type"], (status, body[:200])
    status, body, _ = _request(url + "/login")
    assert status == 200 and b"<form" in body  # the viewer, through the same address

    sid = new_id()
    sent = [batch(sid, new_id(), 0) for _ in range(6)]
    for b in sent[:3]:
        assert _request(f"{url}/ingest/{site.key}", orjson.dumps(b))[0] == 200
    cluster.kill("c1")  # nginx finds out on its next request to it and tries the other collector
    for b in sent[3:] + sent[:3]:  # new batches, then re-sends of the first three
        status, body, _ = _request(f"{url}/ingest/{site.key}", orjson.dumps(b))
        assert status == 200, body
    deadline = time.monotonic() + 10
    stored: list[str] = []
    while time.monotonic() < deadline and len(stored) < len(sent):
        stored = [k for k in store.list(f"v1/sites/{site.key}/sessions/{sid}/") if "/chunks/" in k]
        time.sleep(0.1)
    assert len(stored) == len(set(stored)) == len(sent)
