"""How uvicorn is told to treat what arrives before the app sees it (issue 16, "The edge").

- Forwarded headers (X-Forwarded-For, -Proto) are believed only from the proxies named in
  Settings.forwarded_allow_ips; by default from nobody. uvicorn's own default trusts loopback,
  so any local process could claim any address and slip past per-address limits.
- A request head (request line and headers) must be complete within
  Settings.request_head_timeout_s of the connection opening (or of the previous response on a
  kept-alive connection), else the connection is closed: uvicorn has no such timer (its
  keep-alive timer stops at the first byte), so 200 sockets trickling a header byte at a time
  stayed open for good. Heads over Settings.max_request_head_bytes are refused with 400.
"""

from __future__ import annotations

import asyncio
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from config.settings import Settings


def head_timeout_protocol(timeout_s: float, max_head_bytes: int) -> type[H11Protocol]:
    """uvicorn's h11 protocol with a deadline on each request head, and a size limit on the head
    of a websocket upgrade (h11's limit only applies to heads still incomplete; the websocket
    layer fails on lines over 8 KiB without answering, which left such sockets open for good)."""

    class HeadTimeoutH11Protocol(H11Protocol):
        _head_timer: asyncio.TimerHandle | None = None

        def _arm(self) -> None:
            self._disarm()
            self._head_timer = self.loop.call_later(timeout_s, self._head_too_slow)

        def _disarm(self) -> None:
            if self._head_timer is not None:
                self._head_timer.cancel()
                self._head_timer = None

        def _head_too_slow(self) -> None:
            self._head_timer = None
            if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
                self.transport.close()  # the head never came: nothing to answer

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm()

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            if self.conn.their_state is not h11.IDLE:  # a whole head arrived (or an upgrade)
                self._disarm()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing() and self.conn.their_state is h11.IDLE:
                self._arm()  # the next request's head on this kept-alive connection

        def handle_websocket_upgrade(self, event: h11.Request) -> None:
            size = len(event.target) + sum(len(k) + len(v) + 4 for k, v in event.headers)
            if size > max_head_bytes:
                self.send_400_response(f"Request head over {max_head_bytes} bytes.")
                return
            super().handle_websocket_upgrade(event)

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

    return HeadTimeoutH11Protocol


def uvicorn_limits(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for uvicorn.run / uvicorn.Config."""
    trusted = settings.forwarded_allow_ips.strip()
    return {
        "proxy_headers": bool(trusted),
        "forwarded_allow_ips": trusted or None,
        "http": head_timeout_protocol(settings.request_head_timeout_s, settings.max_request_head_bytes),
        "h11_max_incomplete_event_size": settings.max_request_head_bytes,
    }
