"""Several sessionlens processes on loopback sharing one S3 server and one index.

Used by tests/test_multiprocess.py and bench/multi_collector.py: collectors
(`sessionlens serve --role ...`) and workers (`sessionlens worker`) started as
subprocesses with the same settings in their environment, killed with
SIGKILL and started again under the same name and port.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from tests.helpers import free_port

ROOT = Path(__file__).resolve().parent.parent


def s3_env(endpoint: str, bucket: str) -> dict[str, str]:
    """Settings (as environment) for the blob store in `bucket` at `endpoint`, creating the bucket."""
    import boto3

    boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    ).create_bucket(Bucket=bucket)
    return {
        "SESSIONLENS_STORE": "s3",
        "SESSIONLENS_S3_BUCKET": bucket,
        "SESSIONLENS_S3_ENDPOINT": endpoint,
        "SESSIONLENS_S3_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
    }


def new_database(server_url: str, prefix: str = "sl") -> str:
    """A new, empty database on the PostgreSQL server at `server_url`; returns its URL."""
    import psycopg

    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return server_url.rsplit("/", 1)[0] + "/" + name


@dataclass
class Proc:
    name: str
    args: list[str]
    port: int | None
    log: Path
    popen: subprocess.Popen | None = None
    starts: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@dataclass
class Cluster:
    root: Path
    env: dict[str, str]
    procs: dict[str, Proc] = field(default_factory=dict)

    def _environ(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SESSIONLENS_")}
        env.update(
            {
                "PYTHONPATH": str(ROOT / "src"),
                "SESSIONLENS_DATA_DIR": str(self.root / "data"),
                "SESSIONLENS_DERIVATION_WORKER": "false",  # dedicated workers below
                **self.env,
            }
        )
        return env

    def serve(self, name: str, role: str, *, wait: bool = True) -> Proc:
        port = free_port()
        args = ["serve", "--role", role, "--host", "127.0.0.1", "--port", str(port)]
        return self._start(Proc(name, args, port, self.root / f"{name}.log"), wait)

    def worker(self, name: str) -> Proc:
        return self._start(Proc(name, ["worker"], None, self.root / f"{name}.log"), wait=False)

    def run(
        self, *args: str, env: dict[str, str] | None = None, timeout: float = 120
    ) -> subprocess.CompletedProcess:
        """A one-off `sessionlens ...` command with the cluster's settings (and `env` on top)."""
        return subprocess.run(
            [sys.executable, "-m", "sessionlens.cli", *args], env={**self._environ(), **(env or {})},
            capture_output=True, text=True, timeout=timeout, check=False,
        )  # fmt: skip

    def _start(self, proc: Proc, wait: bool) -> Proc:
        self.procs[proc.name] = proc
        with open(proc.log, "ab") as log:
            proc.popen = subprocess.Popen(
                [sys.executable, "-m", "sessionlens.cli", *proc.args],
                env=self._environ(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        proc.starts += 1
        if wait:
            self.wait_healthy(proc)
        return proc

    def wait_healthy(self, proc: Proc, timeout: float = 45) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert proc.popen is not None
            if proc.popen.poll() is not None:
                raise RuntimeError(
                    f"{proc.name} exited with {proc.popen.returncode}:\n{proc.log.read_text()[-3000:]}"
                )
            try:
                with urllib.request.urlopen(proc.url + "/healthz", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.1)
        raise TimeoutError(f"{proc.name} not healthy after {timeout}s:\n{proc.log.read_text()[-3000:]}")

    def kill(self, name: str) -> None:
        """SIGKILL: no shutdown code runs (in-flight requests and claims are simply cut)."""
        popen = self.procs[name].popen
        assert popen is not None
        popen.send_signal(signal.SIGKILL)
        popen.wait(timeout=10)

    def restart(self, name: str, *, wait: bool = True) -> Proc:
        """Start `name` again with the same arguments (and port)."""
        proc = self.procs[name]
        return self._start(proc, wait=wait and proc.port is not None)

    def stop_all(self) -> None:
        for proc in self.procs.values():
            if proc.popen is not None and proc.popen.poll() is None:
                proc.popen.terminate()
        for proc in self.procs.values():
            if proc.popen is None:
                continue
            try:
                proc.popen.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.popen.kill()
                proc.popen.wait(timeout=5)
