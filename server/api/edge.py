"""What every HTTP response and request body passes through: security headers and a body limit.

Two plain ASGI middlewares (no buffering of their own):

- ``SecurityHeaders`` adds CSP, X-Content-Type-Options: nosniff, Referrer-Policy and
  frame-ancestors / X-Frame-Options to every HTTP answer. Header values come from the ``secure``
  package. The stream overlay (``overlay.html``) is meant to be embedded in OBS and streaming
  pages, so it alone may be framed by anyone.
- ``BodyLimit`` refuses a request body past Settings.max_body_bytes with 413 while it is read:
  at once when Content-Length says so, else as soon as the chunks read so far pass the limit.
  A 150 MB POST no longer reaches a handler's ``await request.body()``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import orjson
from secure import ContentSecurityPolicy, ReferrerPolicy, Secure, XContentTypeOptions, XFrameOptions

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

EMBEDDABLE_SUFFIXES = ("/overlay.html", "/overlay")


def _policy(*, embeddable: bool) -> list[tuple[bytes, bytes]]:
    csp = (
        ContentSecurityPolicy()
        .default_src("'self'")
        .script_src("'self'")
        .style_src("'self'")
        # The client sets CSS custom properties in style attributes (bar heights, shades).
        .style_src_attr("'unsafe-inline'")
        .img_src("'self'", "data:")
        .connect_src("'self'")
        .object_src("'none'")
        .base_uri("'self'")
        .form_action("'self'")
        .frame_ancestors("*" if embeddable else "'none'")
    )
    secure = Secure(
        csp=csp,
        xcto=XContentTypeOptions(),
        referrer=ReferrerPolicy().set("same-origin"),
        xfo=None if embeddable else XFrameOptions().deny(),
    )
    return [(name.lower().encode(), value.encode()) for name, value in secure.header_items()]


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.framed, self.embeddable = _policy(embeddable=False), _policy(embeddable=True)

    def __call__(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
        # Not a coroutine for a websocket: the app's own awaitable is handed back, so an open
        # socket holds no frame of this middleware for its lifetime (memory per socket, issue 19).
        if scope["type"] != "http":
            return self.app(scope, receive, send)
        return self._http(scope, receive, send)

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        extra = self.embeddable if str(scope.get("path", "")).endswith(EMBEDDABLE_SUFFIXES) else self.framed

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                message["headers"] = [*message.get("headers", []), *(h for h in extra if h[0] not in present)]
            await send(message)

        await self.app(scope, receive, send_with_headers)


class _TooLarge(Exception):
    pass


class BodyLimit:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def _refuse(self, send: Send) -> None:
        body = orjson.dumps(
            {"error": "too_large", "message": f"a request body is at most {self.max_bytes} bytes"}
        )
        headers = [(b"content-type", b"application/json"), (b"connection", b"close")]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    def __call__(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
        if scope["type"] != "http":  # as SecurityHeaders: no frame held per websocket
            return self.app(scope, receive, send)
        return self._http(scope, receive, send)

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = self.max_bytes + 1
                if declared > self.max_bytes:
                    await self._refuse(send)
                    return
        seen = 0
        started = False

        async def counted_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise _TooLarge
            return message

        async def tracked_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted_receive, tracked_send)
        except _TooLarge:
            if started:
                raise
            await self._refuse(send)


# token=... in a query string; nq.token.... in a Sec-WebSocket-Protocol header (logged at DEBUG).
_TOKEN_IN_URL = re.compile(r"((?:^|[?&])token=|nq\.token\.)[^&\s\"',]+")


class RedactTokens(logging.Filter):
    """Removes session tokens from log lines: uvicorn logs every request's path and query (a client
    that still puts its token in a URL is refused, and its token is not written down), and at
    DEBUG the handshake's headers (Sec-WebSocket-Protocol carries the token)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                _TOKEN_IN_URL.sub(r"\1[redacted]", a) if isinstance(a, str) else a for a in record.args
            )
        if isinstance(record.msg, str):
            record.msg = _TOKEN_IN_URL.sub(r"\1[redacted]", record.msg)
        return True


def redact_tokens_in_logs() -> None:
    """Install RedactTokens on uvicorn's loggers (idempotent)."""
    for name in ("uvicorn.access", "uvicorn.error"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactTokens) for f in logger.filters):
            logger.addFilter(RedactTokens())
