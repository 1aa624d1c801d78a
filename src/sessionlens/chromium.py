"""Debian's Chromium, driven by playwright: one place for its path and flags.

Never `playwright install`: browser downloads are not available where this
runs; `scripts/setup` and the Docker image install Debian's package, and
the `chromium_path` setting names the executable.

Two kinds of browser start here:

- `CHROMIUM` / `CHROMIUM_ARGS`: the browsers the tests and benchmarks drive
  to visit test sites on loopback (they need the network and run as root
  in CI, hence --no-sandbox).
- `launch_isolated()`: the service's own browser, which renders recorded
  (so attacker-written) pages for heatmap backdrops. It gets no network at
  all: every hostname resolves to nothing, every connection goes to a
  proxy address where nothing listens (loopback included), on top of the
  request interception in `heatmap/isolated_page.py`. When the service
  runs as root, Chromium runs as an unprivileged user (`chromium_user`) so
  that its own sandbox can start; only when the sandbox cannot start on
  this host does it fall back to --no-sandbox, with a warning.
"""

from __future__ import annotations

import atexit
import logging
import os
import pwd
import shlex
import shutil
import socket
import tempfile
import threading
from typing import Any

log = logging.getLogger(__name__)

DEFAULT_PATH = "/usr/bin/chromium"


def configured_path() -> str:
    """chromium_path as the settings resolve it (environment, config file, default)."""
    from sessionlens.settings import SettingsError, load_settings

    try:
        return str(load_settings().chromium_path) or DEFAULT_PATH
    except (SettingsError, OSError):
        return DEFAULT_PATH


CHROMIUM = configured_path()
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

# The service's renderer: no background traffic of any kind.
_QUIET_ARGS = [
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-domain-reliability",
    "--disable-breakpad",
    "--disable-client-side-phishing-detection",
    "--dns-prefetch-disable",
    "--no-pings",
    "--no-first-run",
    "--no-default-browser-check",
    "--metrics-recording-only",
]


class ChromiumUnavailable(RuntimeError):
    """Chromium is missing or will not start here; the message says what to do."""


def require(path: str) -> None:
    """Raise ChromiumUnavailable unless playwright is importable and path is an executable."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        raise ChromiumUnavailable(
            "heatmap backdrops need the playwright package: reinstall sessionlens (./scripts/setup or pip install .)"
        ) from None
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        raise ChromiumUnavailable(
            f"Chromium was not found at {path!r}: install Debian's chromium package "
            "(./scripts/setup does) or set chromium_path (SESSIONLENS_CHROMIUM_PATH) to its executable"
        )


_lock = threading.Lock()
_dead_socket: socket.socket | None = None
_wrappers: dict[tuple[str, int, int], str] = {}
_sandbox_works: dict[tuple[str, str], bool] = {}


def _dead_port() -> int:
    """A loopback port held bound but never listening: connecting to it is refused at once."""
    global _dead_socket
    with _lock:
        if _dead_socket is None:
            _dead_socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            _dead_socket.bind(("127.0.0.1", 0))
        return int(_dead_socket.getsockname()[1])


def isolation_args() -> list[str]:
    """Flags that leave Chromium no way to reach any host, even if interception missed a request."""
    return [
        *_QUIET_ARGS,
        "--host-resolver-rules=MAP * ~NOTFOUND",
        f"--proxy-server=http://127.0.0.1:{_dead_port()}",
        # Chromium sends loopback directly unless told otherwise; "<-loopback>" removes that bypass.
        "--proxy-bypass-list=<-loopback>",
    ]


def _unprivileged_ids(user: str) -> tuple[int, int] | None:
    if not user or os.geteuid() != 0:
        return None
    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        log.warning("chromium_user %r does not exist; Chromium runs as root without its sandbox", user)
        return None
    if entry.pw_uid == 0:
        return None
    return entry.pw_uid, entry.pw_gid


def _wrapper(path: str, uid: int, gid: int) -> str:
    """An executable that drops to uid:gid and execs Chromium.

    playwright talks to Chromium over a pipe on file descriptors 3 and 4,
    which survive the exec. The profile directory playwright creates (as
    root, mode 0700) is handed to the user first.
    """
    key = (path, uid, gid)
    with _lock:
        if key in _wrappers and os.path.exists(_wrappers[key]):
            return _wrappers[key]
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            raise FileNotFoundError("setpriv (util-linux) is needed to run Chromium as an unprivileged user")
        folder = tempfile.mkdtemp(prefix="sessionlens-chromium-")
        atexit.register(shutil.rmtree, folder, True)
        script = os.path.join(folder, "chromium-as-user")
        ids = f"{uid}:{gid}"
        text = f"""#!/bin/sh
# Written by sessionlens.chromium: run Chromium as {ids}, not root, so its sandbox can start.
for arg do
  case "$arg" in
    --user-data-dir=*)
      profile="${{arg#--user-data-dir=}}"
      chown -R {ids} "$profile"
      export HOME="$profile" XDG_CONFIG_HOME="$profile" XDG_CACHE_HOME="$profile"
      ;;
  esac
done
exec {shlex.quote(setpriv)} --reuid={uid} --regid={gid} --clear-groups --inh-caps=-all -- {shlex.quote(path)} "$@"
"""
        with open(script, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(script, 0o700)
        _wrappers[key] = script
        return script


def launch_isolated(playwright: Any, path: str, user: str = "nobody", timeout_ms: int = 30_000) -> Any:
    """A browser for untrusted pages: no network, sandboxed when this host allows it.

    Raises ChromiumUnavailable when Chromium is missing or will not start at all.
    """
    require(path)
    ids = _unprivileged_ids(user)
    executable = path
    if ids is not None:
        try:
            executable = _wrapper(path, *ids)
        except OSError as exc:
            log.warning("cannot run Chromium as %s (%s); it runs as root without its sandbox", user, exc)
    # As root, Chromium refuses to start sandboxed; as anyone else it may.
    can_sandbox = executable != path or os.geteuid() != 0
    key = (executable, user)
    args = isolation_args()
    sandbox_failure = ""
    if can_sandbox and _sandbox_works.get(key, True):
        try:
            browser = playwright.chromium.launch(
                executable_path=executable, args=args, chromium_sandbox=True, timeout=timeout_ms
            )
            _sandbox_works[key] = True
            return browser
        except Exception as exc:
            sandbox_failure = _first_line(exc)
    elif not can_sandbox:
        log.warning("Chromium runs as root without its sandbox; set chromium_user to an unprivileged user")
    try:
        browser = playwright.chromium.launch(
            executable_path=executable, args=args, chromium_sandbox=False, timeout=timeout_ms
        )
    except Exception as exc:
        raise ChromiumUnavailable(f"Chromium at {path!r} did not start: {_first_line(exc)}") from None
    if sandbox_failure:
        # Only now is it clear the sandbox, not Chromium, was the problem; remember it.
        _sandbox_works[key] = False
        log.warning(
            "Chromium's sandbox cannot start on this host (%s); backdrops render with --no-sandbox "
            "(network isolation and request interception still apply)",
            sandbox_failure,
        )
    return browser


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def sandbox_state(path: str, user: str = "nobody") -> bool | None:
    """Whether the last isolated launch for this path and user ran sandboxed (None: not tried)."""
    ids = _unprivileged_ids(user)
    executable = _wrappers.get((path, *ids), path) if ids else path
    return _sandbox_works.get((executable, user))
