"""The load generator's lean websocket client (tests/bench/wsclient.py) against a real server.

The benches' figures are only as honest as this client: it must read every frame whole, in
order, answer pings, mask what it sends, and refuse a server that breaks the protocol.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib

import pytest
from websockets.asyncio.server import ServerConnection, serve

from tests.bench import wsclient

pytestmark = pytest.mark.asyncio


async def _echo_server(handler: object) -> tuple[object, str]:
    server = await serve(handler, "127.0.0.1", 0, compression=None, ping_interval=None)  # type: ignore[arg-type]
    port = next(iter(server.sockets)).getsockname()[1]
    return server, f"ws://127.0.0.1:{port}/path?x=1"


async def test_reads_every_size_and_fragments_in_order_and_masks_its_sends() -> None:
    got_by_server: list[str] = []

    async def handler(ws: ServerConnection) -> None:
        assert ws.request is not None and ws.request.path == "/path?x=1"
        got_by_server.append(str(await ws.recv()))
        for size in (5, 125, 126, 65_535, 65_536, 200_000):  # 7-bit, 16-bit and 64-bit lengths
            await ws.send("a" * size)
        await ws.send(iter(["frag", "ment", "ed"]))  # one message in three frames
        await ws.send(b"\x00\x01binary")
        await ws.ping(b"are you there")
        await ws.send("last")
        await ws.wait_closed()

    server, url = await _echo_server(handler)
    try:
        messages: list[tuple[bytes, bool]] = []
        client = await wsclient.connect(url, ["nq.v1"])
        client.on_message = lambda payload, text: messages.append((payload, text))
        for early in client.early:
            messages.append(early)
        assert client.send_text("hello from the client")  # the server's library unmasks it
        for _ in range(200):
            if messages and messages[-1][0] == b"last":
                break
            await asyncio.sleep(0.02)
        assert got_by_server == ["hello from the client"]
        sizes = [len(p) for p, text in messages[:6]]
        assert sizes == [5, 125, 126, 65_535, 65_536, 200_000]
        assert messages[6] == (b"fragmented", True)
        assert messages[7] == (b"\x00\x01binary", False)
        assert messages[8] == (b"last", True)
        await client.close()
        assert client.closed.done() and not client.open
    finally:
        server.close()  # type: ignore[attr-defined]


async def test_a_server_close_resolves_closed_with_its_code() -> None:
    async def handler(ws: ServerConnection) -> None:
        await ws.close(4008, "too slow")

    server, url = await _echo_server(handler)
    try:
        client = await wsclient.connect(url)
        await asyncio.wait_for(client.closed, 5)
        assert client.close_code == 4008
        assert not client.send_text("after the close")
    finally:
        server.close()  # type: ignore[attr-defined]


async def _raw_server(answer: bytes) -> tuple[asyncio.Server, str]:
    """A server that reads the request head and writes ``answer`` (bytes may use {accept})."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = (await reader.readuntil(b"\r\n\r\n")).decode()
        key = next(
            line.split(":", 1)[1].strip()
            for line in head.split("\r\n")
            if line.lower().startswith("sec-websocket-key")
        )
        accept = base64.b64encode(hashlib.sha1(key.encode() + wsclient.GUID).digest())
        writer.write(answer.replace(b"{accept}", accept))
        await writer.drain()
        await asyncio.sleep(1)
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}/ws"


UPGRADE = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"


@pytest.mark.parametrize(
    ("answer", "why"),
    [
        (b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n", "refused"),
        (UPGRADE + b"Sec-WebSocket-Accept: bm90IHRoZSBrZXk=\r\n\r\n", "Accept"),
    ],
)
async def test_a_bad_handshake_fails_the_connect(answer: bytes, why: str) -> None:
    server, url = await _raw_server(answer)
    async with server:
        with pytest.raises(wsclient.WsError, match=why):
            await wsclient.connect(url, timeout_s=5)


async def test_a_masked_server_frame_fails_the_connection_and_is_not_delivered() -> None:
    masked_frame = b"\x81\x82abcd" + bytes([ord("h") ^ ord("a"), ord("i") ^ ord("b")])
    server, url = await _raw_server(UPGRADE + b"Sec-WebSocket-Accept: {accept}\r\n\r\n" + masked_frame)
    async with server:
        client = await wsclient.connect(url, timeout_s=5)
        await asyncio.wait_for(client.closed, 5)
        assert client.early == []  # the masked frame never reached the owner
