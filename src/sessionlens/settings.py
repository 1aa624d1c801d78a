"""Settings as plain data: each has a name, a default and help text.

The same table feeds the CLI (`sessionlens settings`), docs/settings.md and
a test that keeps the two in step. Values come from, in order of priority:
environment variables (SESSIONLENS_<NAME in upper case>), then an optional
TOML file (`--config` or SESSIONLENS_CONFIG), then the default.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True, slots=True)
class Setting:
    name: str
    default: Any
    help: str

    @property
    def env_var(self) -> str:
        return "SESSIONLENS_" + self.name.upper()


SETTINGS: tuple[Setting, ...] = (
    Setting("host", "127.0.0.1", "Address the collector listens on."),
    Setting("port", 8000, "Port the collector listens on."),
    Setting("public_url", "", "URL the recorder uses to reach the collector; default http://host:port."),
    Setting("data_dir", "./data", "Directory for the local blob store and the SQLite index."),
    Setting("store", "local", "Blob store: 'local' (data_dir/blobs) or 's3'."),
    Setting("s3_bucket", "", "S3 bucket when store = 's3'."),
    Setting("s3_prefix", "", "Key prefix inside the S3 bucket."),
    Setting("s3_endpoint", "", "S3 endpoint URL (for MinIO, moto or other S3-protocol servers)."),
    Setting("s3_region", "", "S3 region."),
    Setting("index_path", "", "SQLite index file; default data_dir/index.sqlite3."),
    Setting(
        "index_url",
        "",
        "PostgreSQL index, as postgresql://user:password@host:port/database (libpq URL; "
        "?options=-csearch_path%3Dschema picks a schema). Empty: SQLite at index_path. "
        "Several collectors and workers share one.",
    ),
    Setting(
        "recorder_path",
        "/recorder.js",
        "Path the collector serves the recorder script at. Its canvas chunk (loaded only by pages "
        "with a canvas or a blob: image) is served next to it, with `-media` before `.js` (/recorder-media.js).",
    ),
    Setting(
        "survey_widget_path",
        "/survey.js",
        "Path the collector serves the on-page survey widget at (loaded by the recorder only when the "
        "site has an active survey; docs/surveys.md).",
    ),
    Setting("max_body_bytes", 1_000_000, "Largest accepted request body, as sent (compressed)."),
    Setting("max_decoded_bytes", 8_000_000, "Largest accepted batch after gzip decoding."),
    Setting("max_events_per_batch", 20_000, "Most events accepted in one batch."),
    Setting("max_batches_per_page_view", 20_000, "Highest batch sequence number accepted."),
    Setting("max_batches_per_session", 50_000, "Most batches stored for one session."),
    Setting("retry_after_seconds", 5, "Retry-After sent with 503 when storage fails."),
    Setting(
        "max_json_depth",
        64,
        "Deepest nesting of arrays/objects accepted in a batch (recorder batches use 8 at most; "
        "the rest is for custom event properties). Deeper batches get 422.",
    ),
    Setting(
        "max_dom_depth",
        1000,
        "Deepest node tree a batch's snapshot and mutation records may build (browsers' HTML "
        "parsers stop nesting at 512). Deeper batches get 422.",
    ),
    Setting(
        "t0_window_days",
        30,
        "A batch's page-view start (t0) must be within this many days of the server clock; "
        "otherwise 422.",
    ),
    Setting(
        "body_timeout_seconds",
        20,
        "Longest time to receive one ingest request body; slower clients get 408 and are disconnected.",
    ),
    Setting(
        "header_timeout_seconds",
        10,
        "Longest time a connection may take to send its request line and headers before it is closed.",
    ),
    Setting(
        "max_connections",
        1000,
        "Most connections and requests served at once by `sessionlens serve`; past it requests "
        "get 503 (uvicorn's limit_concurrency).",
    ),
    Setting("backlog", 2048, "Connections the operating system queues before `sessionlens serve` accepts them."),
    Setting("scrub_pii", True, "Mask e-mail addresses and card-like numbers in stored events."),
    Setting("site_cache_seconds", 10, "How long a collector caches a site's settings."),
    Setting("rage_click_count", 3, "Clicks in a row that make a rage click."),
    Setting("rage_click_radius_px", 30, "Largest distance in px from one rage click to the next."),
    Setting("rage_click_interval_ms", 1000, "Longest time from one rage click to the next."),
    Setting(
        "dead_click_ms",
        2500,
        "A click with no DOM change, scroll, navigation or focus change this long after is dead.",
    ),
    Setting("error_click_ms", 1000, "A click followed by a JS error within this time is an error click."),
    Setting(
        "quick_back_ms",
        7000,
        "A page left for another and come back to within this time (ms) is a quick back (docs/signals.md).",
    ),
    Setting(
        "excessive_scroll_reversals",
        4,
        "Window scroll direction reversals, without a click or input between them, that make excessive scrolling.",
    ),
    Setting("excessive_scroll_window_ms", 10000, "Longest time (ms) the excessive scrolling reversals span."),
    Setting(
        "scroll_reversal_min_px",
        150,
        "Scrolling this far (CSS px) the other way counts as a reversal; less is jitter, not a reversal.",
    ),
    Setting("thrash_direction_changes", 6, "Sharp pointer turns at speed that make a thrashed cursor."),
    Setting("thrash_window_ms", 1500, "Longest time (ms) the thrashed cursor's direction changes span."),
    Setting(
        "thrash_min_speed_px_s",
        1000,
        "Pointer speed (CSS px per second) both sides of a direction change need for it to count as thrash.",
    ),
    Setting(
        "form_error_ms",
        3000,
        "Fields shown invalid within this time (ms) after a submit attempt make a form error signal.",
    ),
    Setting(
        "chromium_path",
        "/usr/bin/chromium",
        "Chromium executable that renders heatmap backdrops (Debian's chromium package; scripts/setup "
        "and the Docker image install it).",
    ),
    Setting(
        "chromium_user",
        "nobody",
        "When the service runs as root, Chromium runs as this user so that its sandbox can start "
        "(empty: as root, without the sandbox).",
    ),
    Setting(
        "backdrop_fetch_origins",
        "",
        "Origins (comma-separated, e.g. https://shop.example,https://cdn.example) whose images, fonts "
        "and stylesheets a heatmap backdrop may show, fetched by the service (never by Chromium) "
        "within the limits below. Empty: nothing is fetched; backdrops show what the recording holds.",
    ),
    Setting("backdrop_fetch_max_bytes", 5_000_000, "Largest backdrop resource fetched from an allowed origin."),
    Setting("backdrop_fetch_timeout_seconds", 5, "Time limit for fetching one backdrop resource."),
    Setting("backdrop_fetch_max_resources", 200, "Most resources fetched for one backdrop."),
    Setting(
        "backdrop_max_height",
        150_000,
        "Tallest page (CSS px) a heatmap backdrop shows; taller pages are cut there. Backdrops are "
        "captured in tiles and heatmaps encoded in strips, so memory stays at one tile (at least 1000).",
    ),
    Setting(
        "backdrop_fetch_private_addresses",
        False,
        "Let backdrop fetches reach loopback, private and link-local addresses. For tests only; "
        "never on a server (cloud metadata addresses stay refused).",
    ),
    Setting(
        "derivation_worker",
        True,
        "Run the derivation worker (keyframes, click and move facts) inside `sessionlens serve`; "
        "turn off when `sessionlens worker` runs apart.",
    ),
    Setting(
        "role",
        "all",
        "What `sessionlens serve` answers: 'ingest' (recorder script, /ingest, /healthz), 'viewer' "
        "(login, viewer, API, replay frame, heatmaps, /healthz) or 'all' (both).",
    ),
    Setting(
        "compaction_idle_seconds",
        1800,
        "A page view without a new chunk for this long (seconds) is compacted: its chunks packed into "
        "one object, stylesheets, images and canvas frames stored once per site. 0 turns it off.",
    ),
    Setting(
        "retention_period_seconds",
        3600,
        "How often (seconds) the retention job runs: any worker (or serve process deriving) may take its "
        "lease in the index, one runs it per period, removing sessions older than their site's "
        "retention_days (`sessionlens sites set KEY --retention-days N`). 0: only `sessionlens retention run`.",
    ),
    Setting(
        "compaction_level",
        19,
        "zstd level of compacted page views and assets (ingest stays at level 3).",
    ),
    Setting(
        "derivation_lease_seconds",
        30,
        "How long a worker's claim on a page view's derivation lasts; a crashed worker's claim is "
        "taken again after it.",
    ),
    Setting(
        "derivation_max_attempts",
        5,
        "Failed derivations of a page view before the worker gives up on it until a new chunk arrives.",
    ),
    Setting("login_max_failures", 5, "Failed logins for one user name before it is locked (per collector)."),
    Setting(
        "login_max_failures_per_address",
        30,
        "Failed logins from one client address (IPv6: its /64) before it is locked (per collector).",
    ),
    Setting(
        "login_lockout_seconds",
        60,
        "First login lockout; each further failure doubles it, up to an hour.",
    ),
    Setting(
        "login_client_address_header",
        "",
        "Header naming the client address, set by your reverse proxy (e.g. X-Forwarded-For; its last "
        "entry is used). Empty: the socket peer. Name one only behind a proxy that sets it.",
    ),
    Setting(
        "country_header",
        "",
        "Header naming the visitor's country as an ISO 3166 alpha-2 code, set by your reverse proxy or CDN "
        "(e.g. CF-IPCountry, CloudFront-Viewer-Country); kept with each stored batch. Other values are "
        "'unknown'. Empty: no country is recorded (a header the visitor sends is never trusted).",
    ),
    Setting("login_hash_workers", 1, "Threads that check passwords (scrypt), apart from ingest."),
    Setting("login_hash_queue", 8, "Logins waiting for a password check before more get 503."),
    Setting(
        "auth_cache_seconds",
        5,
        "How long a collector trusts a session or API token it checked; the longest delay before "
        "a logout, revocation or removal made elsewhere takes effect.",
    ),
)

_BY_NAME = {s.name: s for s in SETTINGS}
SERVE_ROLES = ("all", "ingest", "viewer")


class SettingsError(ValueError):
    pass


class Settings:
    """Resolved values; attribute access by setting name."""

    def __init__(self, values: dict[str, Any]) -> None:
        self._values = values

    def __getattr__(self, name: str) -> Any:
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(name) from None

    def as_dict(self) -> dict[str, Any]:
        return dict(self._values)

    @property
    def collector_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def resolved_index_path(self) -> Path:
        return Path(self.index_path) if self.index_path else Path(self.data_dir) / "index.sqlite3"


def _coerce(setting: Setting, raw: Any, source: str) -> Any:
    kind = type(setting.default)
    if isinstance(raw, kind) and not (kind is int and isinstance(raw, bool)):
        return raw
    if isinstance(raw, str):
        text = raw.strip()
        if kind is bool:
            if text.lower() in ("1", "true", "yes", "on"):
                return True
            if text.lower() in ("0", "false", "no", "off"):
                return False
        elif kind is int:
            try:
                return int(text)
            except ValueError:
                pass
        elif kind is str:
            return text
    raise SettingsError(f"{source}: {setting.name} must be a {kind.__name__}, got {raw!r}")


def load_settings(
    config_file: str | os.PathLike[str] | None = None,
    overrides: dict[str, Any] | None = None,
    environ: dict[str, str] | None = None,
) -> Settings:
    environ = os.environ if environ is None else environ
    values = {s.name: s.default for s in SETTINGS}
    config_file = config_file or environ.get("SESSIONLENS_CONFIG")
    if config_file:
        path = Path(config_file)
        try:
            data = tomllib.loads(path.read_text())
        except FileNotFoundError:
            raise SettingsError(f"config file not found: {path}") from None
        except tomllib.TOMLDecodeError as exc:
            raise SettingsError(f"config file {path} is not valid TOML: {exc}") from None
        for name, raw in data.items():
            if name not in _BY_NAME:
                raise SettingsError(f"{path}: unknown setting {name!r}")
            values[name] = _coerce(_BY_NAME[name], raw, str(path))
    for setting in SETTINGS:
        if setting.env_var in environ:
            values[setting.name] = _coerce(setting, environ[setting.env_var], setting.env_var)
    for name, raw in (overrides or {}).items():
        if raw is not None:
            values[name] = _coerce(_BY_NAME[name], raw, f"--{name.replace('_', '-')}")
    if values["store"] not in ("local", "s3"):
        raise SettingsError(f"store must be 'local' or 's3', got {values['store']!r}")
    if values["store"] == "s3" and not values["s3_bucket"]:
        raise SettingsError("store = 's3' needs s3_bucket")
    if values["role"] not in SERVE_ROLES:
        raise SettingsError(f"role must be one of {', '.join(SERVE_ROLES)}, got {values['role']!r}")
    return Settings(values)


def settings_markdown() -> str:
    """The settings table for docs/settings.md."""
    lines = [
        "| setting | environment variable | default | meaning |",
        "|---|---|---|---|",
    ]
    for s in SETTINGS:
        lines.append(f"| `{s.name}` | `{s.env_var}` | `{s.default!r}` | {s.help} |")
    return "\n".join(lines) + "\n"


def settings_doc() -> str:
    """The whole of docs/settings.md; a test keeps the file equal to this."""
    return (
        "# Settings\n\n"
        "Each setting comes from, in order of priority: the environment variable,\n"
        "then the TOML file given by `--config` (or `SESSIONLENS_CONFIG`), then the\n"
        "default. `sessionlens settings` prints the values in effect.\n"
        "This page is generated by `sessionlens settings --markdown`.\n\n"
        + settings_markdown()
        + "\nExample `sessionlens.toml`:\n\n```toml\n"
        'data_dir = "/var/lib/sessionlens"\n'
        'store = "s3"\n'
        's3_bucket = "replays"\n'
        'public_url = "https://collector.example"\n'
        "```\n"
    )
