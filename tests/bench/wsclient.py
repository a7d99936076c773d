"""A lean websocket client for the load generator (RFC 6455, client side, loopback ``ws://``).

Why not the websockets library: profiled (py-spy, issue 19), the generator's 1,000 clients
spent ~50 us of Python per received frame in the library's reader (frame parser generator,
assembler queue, a task wake-up per message). One broadcast is 1,000 frames on one core
shared with the servers, so the last client read its copy ~50 ms after the first: the
generator, not the server, set the broadcast p99 floor. Here a frame is parsed inside
``data_received`` and handed to the owner's ``on_message`` at once, with no task or queue.

What it checks, so that a broken server cannot pass: the handshake's status and
``Sec-WebSocket-Accept``; a masked or reserved-bit server frame, an unknown opcode or a
truncated close fails the connection. It answers pings and closes as a client must, masks
what it sends (random key per frame), and reassembles fragmented messages. No extensions
(the benches run with permessage-deflate off) and no TLS.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import struct
from collections.abc import Callable
from urllib.parse import urlsplit

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
CONTINUATION, TEXT, BINARY, CLOSE, PING, PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
MAX_HEAD = 16_384


class WsError(Exception):
    """The server broke the protocol (or refused the handshake)."""


def accept_key(key: str) -> str:
    return base64.b64encode(hashlib.sha1(key.encode() + GUID).digest()).decode()


def client_frame(opcode: int, payload: bytes) -> bytes:
    """One final, masked frame (a client must mask every frame, RFC 6455 §5.3)."""
    n = len(payload)
    if n < 126:
        head = struct.pack("!BB", 0x80 | opcode, 0x80 | n)
    elif n < 1 << 16:
        head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, n)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, n)
    mask = os.urandom(4)
    if not n:
        return head + mask
    repeated = (mask * (n // 4 + 1))[:n]
    masked = (int.from_bytes(payload, "big") ^ int.from_bytes(repeated, "big")).to_bytes(n, "big")
    return head + mask + masked


class WsClient(asyncio.Protocol):
    """One connection. ``on_message(payload, is_text)`` is called for each whole message, in
    order, inside the read callback; ``closed`` resolves when the connection is gone."""

    def __init__(self, on_message: Callable[[bytes, bool], None] | None = None) -> None:
        self.on_message = on_message
        self.transport: asyncio.Transport | None = None
        self.subprotocol: str | None = None
        self.close_code: int | None = None
        loop = asyncio.get_running_loop()
        self.opened: asyncio.Future[None] = loop.create_future()
        # Read here too: a connect given up on (its timeout) must not log "never retrieved".
        self.opened.add_done_callback(lambda f: f.cancelled() or f.exception())
        self.closed: asyncio.Future[None] = loop.create_future()
        self._key = base64.b64encode(os.urandom(16)).decode()
        self._buf = bytearray()
        self._handshaken = False
        self._open = False
        self._close_sent = False
        self._parts: list[bytes] = []  # a fragmented message so far
        self._parts_text = False
        self.early: list[tuple[bytes, bool]] = []  # messages before on_message was set

    # -- asyncio.Protocol --------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self._buf += data
        try:
            if not self._handshaken and not self._handshake():
                return
            if self._open:
                self._frames()
        except WsError as exc:
            self._fail(exc)

    def connection_lost(self, exc: Exception | None) -> None:
        self._open = False
        if not self.opened.done():
            self.opened.set_exception(exc or WsError("closed during the handshake"))
        if not self.closed.done():
            self.closed.set_result(None)

    # -- the opening handshake ---------------------------------------------------------------
    def request(self, host: str, path: str, subprotocols: list[str] | None) -> bytes:
        lines = [
            f"GET {path} HTTP/1.1",
            f"Host: {host}",
            "Upgrade: websocket",
            "Connection: Upgrade",
            f"Sec-WebSocket-Key: {self._key}",
            "Sec-WebSocket-Version: 13",
        ]
        if subprotocols:
            lines.append(f"Sec-WebSocket-Protocol: {', '.join(subprotocols)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode()

    def _handshake(self) -> bool:
        end = self._buf.find(b"\r\n\r\n")
        if end < 0:
            if len(self._buf) > MAX_HEAD:
                raise WsError("handshake response head too long")
            return False
        head = bytes(self._buf[:end]).decode("latin-1").split("\r\n")
        del self._buf[: end + 4]
        status = head[0].split(" ", 2)
        if len(status) < 2 or status[1] != "101":
            raise WsError(f"handshake refused: {head[0]}")
        headers = {}
        for line in head[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if headers.get("sec-websocket-accept") != accept_key(self._key):
            raise WsError("bad Sec-WebSocket-Accept")
        if headers.get("sec-websocket-extensions"):
            raise WsError("an extension was negotiated that this client did not offer")
        self.subprotocol = headers.get("sec-websocket-protocol")
        self._handshaken = self._open = True
        self.opened.set_result(None)
        return True

    # -- frames ------------------------------------------------------------------------------
    def _frames(self) -> None:
        buf = self._buf
        at = 0
        size = len(buf)
        while size - at >= 2:
            b0, b1 = buf[at], buf[at + 1]
            if b0 & 0x70:
                raise WsError("reserved bits set")
            if b1 & 0x80:
                raise WsError("a server frame must not be masked")
            n = b1 & 0x7F
            start = at + 2
            if n == 126:
                if size - start < 2:
                    break
                n = int.from_bytes(buf[start : start + 2], "big")
                start += 2
            elif n == 127:
                if size - start < 8:
                    break
                n = int.from_bytes(buf[start : start + 8], "big")
                start += 8
            if size - start < n:
                break
            payload = bytes(buf[start : start + n])
            at = start + n
            self._frame(b0 & 0x80 != 0, b0 & 0x0F, payload)
            if self.transport is None or not self._open:
                break
        del buf[:at]

    def _frame(self, fin: bool, opcode: int, payload: bytes) -> None:
        if opcode in (TEXT, BINARY):
            if self._parts:
                raise WsError("a new message inside a fragmented one")
            if fin:
                self._message(payload, opcode == TEXT)
            else:
                self._parts, self._parts_text = [payload], opcode == TEXT
        elif opcode == CONTINUATION:
            if not self._parts:
                raise WsError("a continuation without a message")
            self._parts.append(payload)
            if fin:
                whole, self._parts = b"".join(self._parts), []
                self._message(whole, self._parts_text)
        elif opcode == PING:
            self._write(client_frame(PONG, payload))
        elif opcode == PONG:
            pass
        elif opcode == CLOSE:
            if len(payload) == 1:
                raise WsError("a close frame with a 1-byte payload")
            self.close_code = int.from_bytes(payload[:2], "big") if payload else 1005
            self._open = False
            if not self._close_sent:
                self._close_sent = True
                self._write(client_frame(CLOSE, payload[:2]))
            if self.transport is not None:
                self.transport.close()
        else:
            raise WsError(f"unknown opcode {opcode}")

    def _message(self, payload: bytes, text: bool) -> None:
        if self.on_message is None:
            self.early.append((payload, text))
        else:
            self.on_message(payload, text)

    def _write(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def _fail(self, exc: WsError) -> None:
        self._open = False
        if not self.opened.done():
            self.opened.set_exception(exc)
        if self.transport is not None:
            self.transport.close()

    # -- the owner's side --------------------------------------------------------------------
    @property
    def open(self) -> bool:
        return self._open and self.transport is not None and not self.transport.is_closing()

    def send_text(self, text: str) -> bool:
        """False when the connection is closed (nothing sent)."""
        if not self.open:
            return False
        self._write(client_frame(TEXT, text.encode()))
        return True

    async def close(self, code: int = 1000) -> None:
        if self.open and not self._close_sent:
            self._close_sent = True
            self._write(client_frame(CLOSE, code.to_bytes(2, "big")))
        if self.transport is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self.closed), 2.0)
            except TimeoutError:
                self.transport.abort()


async def connect(url: str, subprotocols: list[str] | None = None, timeout_s: float = 60.0) -> WsClient:
    """Open ``url`` (ws://host:port/path?query); raises OSError or WsError when it cannot."""
    parts = urlsplit(url)
    if parts.scheme != "ws" or parts.hostname is None:
        raise ValueError(f"only ws:// URLs: {url!r}")
    port = parts.port or 80
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    loop = asyncio.get_running_loop()
    transport, client = await asyncio.wait_for(
        loop.create_connection(WsClient, parts.hostname, port), timeout_s
    )
    transport.write(client.request(f"{parts.hostname}:{port}", path, subprotocols))
    try:
        await asyncio.wait_for(asyncio.shield(client.opened), timeout_s)
    except BaseException:
        transport.abort()
        raise
    return client
