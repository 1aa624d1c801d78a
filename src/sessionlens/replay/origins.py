"""Where a recorded URL really points, parsed the way a browser parses it.

A recorded page may spell the viewer's own address in any form a browser
accepts: `http://127.1:8000`, `http://2130706433:8000`, `http://0x7f.1:8000`,
`http://127.0.0.1:08000`, `http://[::ffff:127.0.0.1]:8000`,
`HTTP://LOCALHOST.:8000`, `http:\\\\127.1:8000`, `http://u:p@127.1:8000`, a
percent-encoded or full-width host... Comparing strings misses them all, so
this module follows the WHATWG URL standard's host parser (IPv4 in decimal,
octal, hex and short forms; IPv6 including IPv4-mapped; case; trailing dot;
default and zero-padded ports; userinfo) and compares what is left.

A URL targets the viewer when it reaches the same host and port as one of
the viewer's origins (the scheme does not matter: http and https to the same
host and port reach the same server). When the viewer itself is on a
loopback address, every loopback spelling (127.0.0.0/8, ::1, 0.0.0.0,
localhost and *.localhost) on that port is the viewer too, because that is
where the browser would send it.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import unquote

DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443, "ftp": 21}
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):")
_C0_OR_SPACE = "".join(chr(c) for c in range(0x21))
_TAB_OR_NEWLINE = re.compile(r"[\t\n\r]")
# Dots UTS #46 maps to "." before a host is compared (full stops of other scripts).
_DOTS = str.maketrans({"\u3002": ".", "\uff0e": ".", "\uff61": "."})
_FORBIDDEN_HOST = re.compile(r"[\x00\t\n\r #/:<>?@\[\\\]^|%]")


@dataclass(frozen=True)
class Origin:
    """A parsed scheme, host and effective port.

    `host` is canonical: an IPv4 address in dotted decimal, an IPv6 address
    in compressed form without brackets (IPv4-mapped ones as their IPv4
    address), a domain lowercased without its trailing dot.
    """

    scheme: str
    host: str
    port: int | None

    @property
    def endpoint(self) -> tuple[str, int | None]:
        return (self.host, self.port)


def parse_origin(url: str) -> Origin | None:
    """The origin a browser would send `url` to, or None if it has no network host."""
    text = _TAB_OR_NEWLINE.sub("", url.strip(_C0_OR_SPACE))
    match = _SCHEME.match(text)
    if not match:
        return None
    scheme = match[1].lower()
    rest = text[match.end() :]
    if scheme in DEFAULT_PORTS:
        # Special schemes: any run of "/" and "\" starts the authority ("http:\\h", "http:h").
        rest = rest.lstrip("/\\")
        end = _first_of(rest, "/\\?#")
    else:
        if not rest.startswith("//"):
            return None
        rest = rest[2:]
        end = _first_of(rest, "/?#")
    authority = rest[:end]
    host_port = authority.rsplit("@", 1)[-1]
    host_text, port_text = _split_port(host_port)
    if port_text is None:
        return None
    if port_text == "":
        port = DEFAULT_PORTS.get(scheme)
    else:
        if not port_text.isascii() or not port_text.isdigit() or int(port_text) > 65535:
            return None
        port = int(port_text)
    host = parse_host(host_text)
    if host is None:
        return None
    return Origin(scheme, host, port)


def parse_host(text: str) -> str | None:
    """The canonical form of a URL host, or None when a browser would refuse it."""
    if text.startswith("["):
        if not text.endswith("]"):
            return None
        return _ipv6(text[1:-1])
    if not text:
        return None
    try:
        domain = unquote(text, errors="strict") if "%" in text else text
    except UnicodeDecodeError:
        return None
    domain = unicodedata.normalize("NFKC", domain.translate(_DOTS)).translate(_DOTS).lower()
    if _FORBIDDEN_HOST.search(domain) or not domain:
        return None
    if _ends_in_number(domain):
        return _ipv4(domain)
    if not domain.isascii():
        try:
            domain = domain.encode("idna").decode("ascii")
        except UnicodeError:
            return None
    return domain[:-1] if domain.endswith(".") else domain


def is_loopback(host: str) -> bool:
    """True for hosts every browser sends to the machine it runs on."""
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    if address.version == 6:
        return address.is_loopback or address.is_unspecified  # [::] connects to this machine too
    return address.is_loopback or address in _THIS_HOST


_THIS_HOST = ipaddress.ip_network("0.0.0.0/8")  # Linux routes "this network" to the local machine


class ViewerOrigins:
    """The viewer's origins; tells whether a recorded URL would reach them."""

    def __init__(self, origins: Iterable[str]) -> None:
        parsed = [o for o in (parse_origin(u) for u in origins if u) if o is not None]
        self.endpoints = {o.endpoint for o in parsed}
        self.loopback_ports = {o.port for o in parsed if is_loopback(o.host)}

    def targets(self, url: str) -> bool:
        """True when a browser would send a request for `url` to the viewer."""
        origin = parse_origin(url)
        if origin is None:
            return False
        if origin.endpoint in self.endpoints:
            return True
        return origin.port in self.loopback_ports and is_loopback(origin.host)


def _first_of(text: str, chars: str) -> int:
    hits = [i for i in (text.find(c) for c in chars) if i >= 0]
    return min(hits) if hits else len(text)


def _split_port(host_port: str) -> tuple[str, str | None]:
    """(host, port text); port "" when absent, None when the authority is malformed."""
    if host_port.startswith("["):
        close = host_port.find("]")
        if close < 0:
            return host_port, None
        after = host_port[close + 1 :]
        if after and not after.startswith(":"):
            return host_port, None
        return host_port[: close + 1], after[1:]
    host, sep, port = host_port.rpartition(":")
    return (host, port) if sep else (host_port, "")


def _ends_in_number(domain: str) -> bool:
    parts = domain.split(".")
    if parts[-1] == "" and len(parts) > 1:
        parts.pop()
    last = parts[-1]
    if last.isascii() and last.isdigit():
        return True
    return re.fullmatch(r"0[xX][0-9A-Fa-f]*", last) is not None


def _ipv4(domain: str) -> str | None:
    parts = domain.split(".")
    if parts[-1] == "" and len(parts) > 1:
        parts.pop()
    if len(parts) > 4:
        return None
    numbers = []
    for part in parts:
        n = _ipv4_number(part)
        if n is None:
            return None
        numbers.append(n)
    if any(n > 255 for n in numbers[:-1]) or numbers[-1] >= 256 ** (5 - len(numbers)):
        return None
    value = numbers[-1]
    for i, n in enumerate(numbers[:-1]):
        value += n * 256 ** (3 - i)
    return str(ipaddress.IPv4Address(value))


def _ipv4_number(part: str) -> int | None:
    if part == "" or not part.isascii():
        return None
    base = 10
    if part[:2] in ("0x", "0X"):
        part, base = part[2:], 16
    elif len(part) > 1 and part[0] == "0":
        part, base = part[1:], 8
    if part == "":
        return 0
    try:
        return int(part, base)
    except ValueError:
        return None


def _ipv6(text: str) -> str | None:
    if "%" in text or not text.isascii():
        return None  # no zone identifiers in URLs
    try:
        address = ipaddress.IPv6Address(text)
    except ValueError:
        return None
    if address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(address)
