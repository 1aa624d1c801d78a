"""Login throttling: failures counted per key (a user name, a client
address), with a lockout that doubles with each further failure.

An attempt counts as a failure from the moment it starts (begin), so many
attempts sent at once cannot all slip in before the first one fails; a
success then takes it back (forgive) or clears the key (clear). State is
per process: with several collectors an attacker gets the limit once per
collector, which the doubling lockout still keeps small.
"""

from __future__ import annotations

import ipaddress
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

MAX_LOCKOUT_SECONDS = 3600.0
MAX_KEYS = 100_000


@dataclass(slots=True)
class _Failures:
    count: int = 0
    locked_until: float = 0.0
    last: float = 0.0


class FailureThrottle:
    def __init__(
        self,
        max_failures: int,
        lockout_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_failures = max(1, max_failures)
        self.lockout_seconds = max(0.0, lockout_seconds)
        self.max_lockout = max(MAX_LOCKOUT_SECONDS, self.lockout_seconds)
        self.clock = clock
        self._keys: OrderedDict[str, _Failures] = OrderedDict()

    def _record(self, key: str, now: float) -> _Failures | None:
        record = self._keys.get(key)
        # A key quiet for longer than the longest lockout starts afresh.
        if record is not None and now - record.last > self.max_lockout and now >= record.locked_until:
            del self._keys[key]
            return None
        return record

    def retry_after(self, key: str) -> float:
        """Seconds until key may try again; 0 when it may now."""
        now = self.clock()
        record = self._record(key, now)
        return max(0.0, record.locked_until - now) if record else 0.0

    def begin(self, key: str) -> None:
        now = self.clock()
        record = self._record(key, now) or _Failures()
        record.count += 1
        record.last = now
        over = record.count - self.max_failures
        if over >= 0:
            record.locked_until = now + min(self.lockout_seconds * 2 ** min(over, 32), self.max_lockout)
        self._keys[key] = record
        self._keys.move_to_end(key)
        while len(self._keys) > MAX_KEYS:
            self._keys.popitem(last=False)

    def forgive(self, key: str) -> None:
        """Take back the failure begin() counted, for an attempt that succeeded."""
        record = self._keys.get(key)
        if record is None:
            return
        record.count = max(0, record.count - 1)
        if record.count < self.max_failures:
            record.locked_until = 0.0

    def clear(self, key: str) -> None:
        self._keys.pop(key, None)


def address_key(address: str) -> str:
    """One throttling key per client: an IPv4 address, or an IPv6 /64
    (anyone with one IPv6 address usually has the whole /64)."""
    try:
        ip = ipaddress.ip_address(address.strip().strip("[]"))
    except ValueError:
        return "other:" + address[:64]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


def client_address(peer: str | None, headers: dict[bytes, bytes], header_name: str) -> str:
    """The client's address: the socket peer, or, when the operator named a
    header their reverse proxy sets, the last entry of that header (the one
    the nearest proxy wrote; entries before it are whatever the client sent)."""
    if header_name:
        raw = headers.get(header_name.lower().encode("latin-1"), b"").decode("latin-1")
        last = raw.rsplit(",", 1)[-1].strip()
        if last:
            try:
                ipaddress.ip_address(last.strip("[]"))
                return last
            except ValueError:
                pass  # a garbled header: throttle by the proxy's address instead
    return peer or "unknown"
