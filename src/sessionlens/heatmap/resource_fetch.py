"""Fetching a backdrop's images, fonts and stylesheets from origins the operator allows.

Chromium never touches the network while it renders a backdrop; when the
operator lists origins (`backdrop_fetch_origins`), the renderer hands the
requests for those origins to this module and fulfils the browser's
request with what it returns. Everything a recorded page references is
attacker-chosen, so a fetch is refused unless:

- its origin (scheme, host, port, compared after parsing) is on the list;
- every address its host resolves to is public: loopback, private,
  link-local, multicast, reserved, shared and unspecified addresses are
  refused (unless `allow_private`, which only tests set), and cloud
  metadata addresses are refused always;
- the connection goes to the very address that was checked (no second DNS
  lookup an attacker's DNS could answer differently);
- each redirect passes the same checks;
- the body arrives within the time limit and is not larger than the size limit.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import time
import urllib.parse
from collections.abc import Iterable
from dataclasses import dataclass

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Instance metadata endpoints: never fetched, whatever the settings say.
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a) for a in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200")
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_DEFAULT_PORTS = {"http": 80, "https": 443}


class FetchRefused(Exception):
    """The resource was not fetched; the message says why."""


@dataclass(frozen=True, slots=True)
class Fetched:
    body: bytes
    content_type: str


@dataclass(frozen=True, slots=True)
class FetchPolicy:
    origins: frozenset[str] = frozenset()
    max_bytes: int = 5_000_000
    timeout: float = 5.0
    max_resources: int = 200
    allow_private: bool = False
    max_redirects: int = 3

    @classmethod
    def from_list(cls, text: str, **limits: object) -> FetchPolicy:
        """Origins from a comma- or space-separated setting; a malformed entry is an error."""
        origins = set()
        for entry in text.replace(",", " ").split():
            origin = origin_of(entry)
            rest = urllib.parse.urlsplit(entry)
            if origin is None or rest.path not in ("", "/") or rest.query or rest.fragment:
                raise ValueError(f"backdrop_fetch_origins: {entry!r} is not an http(s) origin")
            origins.add(origin)
        return cls(origins=frozenset(origins), **limits)  # type: ignore[arg-type]

    @property
    def enabled(self) -> bool:
        return bool(self.origins)

    def allows_origin(self, url: str) -> bool:
        return origin_of(url) in self.origins


def origin_of(url: str) -> str | None:
    """scheme://host[:port] of an http(s) URL, normalised; None for anything else."""
    try:
        parts = urllib.parse.urlsplit(url.strip())
        scheme = parts.scheme.lower()
        host = parts.hostname
        port = parts.port
    except ValueError:
        return None
    if scheme not in _DEFAULT_PORTS or not host or parts.username is not None or parts.password is not None:
        return None
    try:
        host = host.encode("idna").decode("ascii").lower()
    except UnicodeError:
        return None
    if ":" in host:
        host = f"[{ipaddress.ip_address(host).compressed}]" if _is_ip(host) else host
    port_text = "" if port in (None, _DEFAULT_PORTS[scheme]) else f":{port}"
    return f"{scheme}://{host}{port_text}"


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
        return True
    except ValueError:
        return False


def refusal(address: IPAddress, allow_private: bool = False) -> str | None:
    """Why a connection to this address is refused, or None when it is allowed."""
    embedded = _embedded_ipv4(address)
    if embedded is not None:
        return refusal(embedded, allow_private)
    if address in METADATA_ADDRESSES:
        return f"{address} is a cloud metadata address"
    if allow_private:
        return None
    for flag in (
        "is_loopback",
        "is_private",
        "is_link_local",
        "is_multicast",
        "is_reserved",
        "is_unspecified",
    ):
        if getattr(address, flag):
            return f"{address} is not a public address ({flag[3:].replace('_', '-')})"
    if not address.is_global:
        return f"{address} is not a public address"
    return None


def _embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for (mapped, 6to4, Teredo, NAT64), if any."""
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def checked_addresses(host: str, port: int, allow_private: bool = False) -> list[IPAddress]:
    """Resolve host; refuse the whole host if any of its addresses is refused."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise FetchRefused(f"{host} does not resolve: {exc}") from None
    found: list[IPAddress] = []
    for info in infos:
        address = ipaddress.ip_address(info[4][0].split("%", 1)[0])
        reason = refusal(address, allow_private)
        if reason:
            raise FetchRefused(f"{host} resolves to {reason}")
        if address not in found:
            found.append(address)
    if not found:
        raise FetchRefused(f"{host} has no address")
    return found


def _connect(addresses: list[IPAddress], port: int, timeout: float | None) -> socket.socket:
    """A connection to the first of the checked addresses that answers (never a fresh lookup)."""
    error: OSError = OSError("no address to connect to")
    for address in addresses:
        try:
            return socket.create_connection((str(address), port), timeout)
        except OSError as exc:
            error = exc
    raise error


class _PinnedHTTP(http.client.HTTPConnection):
    """Connects to checked addresses only, whatever the Host header says."""

    def __init__(self, host: str, port: int, addresses: list[IPAddress], timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._addresses = addresses

    def connect(self) -> None:
        self.sock = _connect(self._addresses, self.port, self.timeout)


class _PinnedHTTPS(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int, addresses: list[IPAddress], timeout: float) -> None:
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._addresses = addresses

    def connect(self) -> None:
        raw = _connect(self._addresses, self.port, self.timeout)
        # Certificate checked against the host name, connection pinned to the checked address.
        self.sock = self._context.wrap_socket(raw, server_hostname=self.host)  # type: ignore[attr-defined]


def fetch(url: str, policy: FetchPolicy, accept: str = "*/*") -> Fetched:
    """GET url under the policy (see the module docstring); raises FetchRefused."""
    deadline = time.monotonic() + policy.timeout
    for _ in range(policy.max_redirects + 1):
        status, location, fetched = _fetch_once(url, policy, accept, deadline)
        if status in _REDIRECTS:
            if not location:
                raise FetchRefused(f"{url}: redirect without a Location")
            url = urllib.parse.urljoin(url, location)
            continue
        if status != 200:
            raise FetchRefused(f"{url}: answered {status}")
        return fetched
    raise FetchRefused(f"{url}: more than {policy.max_redirects} redirects")


def _fetch_once(url: str, policy: FetchPolicy, accept: str, deadline: float) -> tuple[int, str, Fetched]:
    if not policy.allows_origin(url):
        raise FetchRefused(f"{url}: origin is not in backdrop_fetch_origins")
    parts = urllib.parse.urlsplit(url)
    scheme, host = parts.scheme.lower(), parts.hostname or ""
    port = parts.port or _DEFAULT_PORTS[scheme]
    addresses = checked_addresses(host, port, policy.allow_private)
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise FetchRefused(f"{url}: time limit reached")
    kind = _PinnedHTTPS if scheme == "https" else _PinnedHTTP
    conn = kind(host, port, addresses, timeout=remaining)
    try:
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        conn.request("GET", path, headers={"Accept": accept, "User-Agent": "sessionlens-backdrop"})
        response = conn.getresponse()
        if response.status in _REDIRECTS:
            return response.status, response.getheader("Location", ""), Fetched(b"", "")
        length = response.getheader("Content-Length")
        if length and length.isdigit() and int(length) > policy.max_bytes:
            raise FetchRefused(f"{url}: {length} bytes is over the {policy.max_bytes}-byte limit")
        body = _read_limited(response, policy.max_bytes, deadline, url)
        content_type = response.getheader("Content-Type", "application/octet-stream")
        return response.status, "", Fetched(body, content_type)
    except (OSError, http.client.HTTPException) as exc:
        raise FetchRefused(f"{url}: {exc}") from None
    finally:
        conn.close()


def _read_limited(response: http.client.HTTPResponse, max_bytes: int, deadline: float, url: str) -> bytes:
    parts: list[bytes] = []
    total = 0
    while True:
        if time.monotonic() > deadline:
            raise FetchRefused(f"{url}: time limit reached")
        piece = response.read1(65536)
        if not piece:
            return b"".join(parts)
        total += len(piece)
        if total > max_bytes:
            raise FetchRefused(f"{url}: body is over the {max_bytes}-byte limit")
        parts.append(piece)


def origins_csp(origins: Iterable[str]) -> str:
    """The origins as CSP source expressions (they are normalised, so safe to join)."""
    return " ".join(sorted(origins))
