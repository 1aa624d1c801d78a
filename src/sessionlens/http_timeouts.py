"""A deadline for request headers, which uvicorn does not have.

uvicorn closes idle keep-alive connections, but a client that opens a
connection and sends its request line and headers a byte at a time holds
that connection (and a slot of the connection cap) for as long as it likes.
The collector's own body timeout (collector._read_body) starts only once
the headers are in, so this closes the gap before it: a connection that has
not completed a request's headers within ``seconds`` of connecting (or of
its previous response) is closed.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.auto import AutoHTTPProtocol

from sessionlens.settings import Settings


def header_timeout_protocol(seconds: float) -> type[asyncio.Protocol]:
    """uvicorn's HTTP protocol class with a header deadline; pass as uvicorn.run(http=...)."""
    base: Any = AutoHTTPProtocol

    class HeaderDeadlineProtocol(base):  # type: ignore[misc, valid-type]
        _deadline: asyncio.TimerHandle | None = None
        _cycle_when_armed: object = None

        def _arm(self) -> None:
            self._disarm()
            # Headers are complete once uvicorn has started a new request cycle.
            self._cycle_when_armed = self.cycle
            self._deadline = self.loop.call_later(seconds, self._expire)

        def _disarm(self) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
                self._deadline = None

        def _expire(self) -> None:
            self._deadline = None
            if self.cycle is self._cycle_when_armed and not self.transport.is_closing():
                self.transport.close()

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing():
                self._arm()

    return HeaderDeadlineProtocol


def serve_options(settings: Settings) -> dict[str, Any]:
    """uvicorn options of `sessionlens serve` and `demo`: slow or excess clients are bounded (docs/operating.md)."""
    return {
        "host": settings.host,
        "port": settings.port,
        "log_level": "info",
        "limit_concurrency": settings.max_connections,
        "backlog": settings.backlog,
        "http": header_timeout_protocol(settings.header_timeout_seconds),
    }
