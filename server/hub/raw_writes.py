"""A room event written to a socket as bytes framed once for the whole room.

A server's websocket frame is not masked (RFC 6455 §5.1), so a text frame carrying the same
event is the same bytes on every socket. Through ASGI, each socket's send went through
Starlette, uvicorn's ``send`` and the websockets library, which built that frame again for
every socket: most of a broadcast's cost in a 1,000-player room (issue 19's broadcast p99).
Here the room's fan-out frames an event once (``frame_bytes``) and hands the bytes to each
socket's transport, as uvicorn's own ``send`` would after building them.

Only where that is the same thing: uvicorn's sans-I/O websockets protocol (Settings'
``ws_implementation``), the handshake done, no close sent or received, and no extension
negotiated (permessage-deflate would compress per socket). Anything else — another server,
another implementation, a closing socket — answers None and the event goes the ASGI way.
"""

from __future__ import annotations

import asyncio
from typing import Any

from websockets.frames import Frame, Opcode
from websockets.protocol import State


def server_protocol(ws: Any) -> Any | None:
    """The server's per-socket protocol object behind a Starlette WebSocket (the one whose
    ``writable`` event says whether its transport takes data), or None when it cannot be found.

    Starlette keeps the server's ASGI ``send``, wrapped in closures named ``send`` by the
    middleware; this follows them a few steps to the bound method of the protocol."""
    fn = getattr(ws, "_send", None)
    for _ in range(6):
        owner = getattr(fn, "__self__", None)
        if isinstance(getattr(owner, "writable", None), asyncio.Event):
            return owner
        code, cells = getattr(fn, "__code__", None), getattr(fn, "__closure__", None)
        if code is None or not cells:
            return None
        inner = dict(zip(code.co_freevars, (c.cell_contents for c in cells), strict=True))
        fn = inner.get("send")
    return None


def release_handshake(proto: Any | None) -> bool:
    """Let go of the opening handshake's request and response, which uvicorn's sans-I/O protocol
    keeps for the socket's whole life though it reads neither once the handshake is done: their
    header maps were ~1 KiB of every idle socket (tracemalloc, issue 19). The ASGI scope keeps
    its own copy of the request's headers. True when released."""
    if proto is None or type(proto).__name__ != "WebSocketsSansIOProtocol":
        return False
    if not getattr(proto, "handshake_complete", False) or proto.initial_response is not None:
        return False
    proto.request = proto.response = None
    return True


def frame_bytes(payload: str | bytes) -> bytes:
    """The whole server frame for one message: text for str, binary for bytes, unmasked."""
    if isinstance(payload, str):
        return Frame(Opcode.TEXT, payload.encode()).serialize(mask=False)
    return Frame(Opcode.BINARY, payload).serialize(mask=False)


class RawWriter:
    """Writes framed bytes straight to one socket's transport while that is what ASGI would do."""

    __slots__ = ("_proto",)

    def __init__(self, proto: Any) -> None:
        self._proto = proto

    @classmethod
    def of(cls, proto: Any | None) -> RawWriter | None:
        sansio = proto is not None and type(proto).__name__ == "WebSocketsSansIOProtocol"
        return cls(proto) if sansio and hasattr(proto, "conn") and hasattr(proto, "transport") else None

    def write(self, data: bytes) -> bool:
        """True when written; False when this socket must go the ASGI way (nothing written)."""
        p = self._proto
        conn = p.conn
        if (
            not p.handshake_complete
            or p.close_sent
            or p.disconnected
            or p.initial_response is not None
            or conn.state is not State.OPEN
            or conn.extensions
            or not p.writable.is_set()
            or p.transport.is_closing()
        ):
            return False
        p.transport.write(data)
        return True
