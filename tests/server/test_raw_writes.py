"""Room events framed once per room and written as bytes (server/hub/raw_writes.py), under the
uvicorn options the web process runs with: every socket takes that path, and what arrives is
the event, in its format, in order — JSON text and msgpack binary alike.

If a uvicorn or websockets upgrade moves what the raw path relies on, the first test fails
instead of every broadcast quietly taking the slower ASGI way.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
import redis
import uvicorn

from config.settings import Settings
from server.app import create_app
from server.cli.embedded_redis import free_port
from server.hub.raw_writes import RawWriter, frame_bytes, server_protocol
from store import eventlog
from tests.server.conftest import Client, Clock

EVENTS = 50


@pytest.fixture
def deployed(hub_settings: Settings, campaign: list[int]) -> Iterator[tuple[str, object]]:
    """uvicorn in a thread with the websocket options of ``neuronquest web`` (server/cli/run.py)."""
    app = create_app(hub_settings, clock=Clock())
    port = free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        ws=hub_settings.ws_implementation,
        ws_per_message_deflate=hub_settings.ws_per_message_deflate,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.02)
    yield f"ws://127.0.0.1:{port}/ws", app
    server.should_exit = True
    thread.join(10)


def count_raw_writes(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """Every frame the raw path writes from now on, as written (the same bytes objects)."""
    written: list[bytes] = []
    real_write = RawWriter.write

    def counting(self: RawWriter, data: bytes) -> bool:
        done = real_write(self, data)
        if done:
            written.append(data)
        return done

    monkeypatch.setattr(RawWriter, "write", counting)
    return written


async def test_room_events_go_out_as_bytes_framed_once(
    deployed: tuple[str, object], redis_client: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, app = deployed
    written = count_raw_writes(monkeypatch)
    clients = [await Client.connect(url, fmt) for fmt in ("json", "msgpack", "json")]
    for client in clients:
        await client.expect("welcome")
        await client.join_round("raw")
        await client.drain()
    hub = app.state.ctx.hub  # type: ignore[attr-defined]
    conns = [c for room in hub.rooms.values() for c in room]
    assert len(conns) == 3 and all(c._raw is not None for c in conns), "the deployed options allow raw writes"
    # The handshake's request and response were let go (memory per idle socket, issue 19).
    protos = [server_protocol(c.ws) for c in conns]
    assert all(p is not None and p.request is None and p.response is None for p in protos)

    notice = [{"type": "notice", "message": f"n{n}"} for n in range(EVENTS)]
    sent = [eventlog.append(redis_client, "raw", event) for event in notice]
    for client in clients:
        got = []
        while len(got) < EVENTS:
            event = await client.expect("notice")
            got.append((event["v"], event["message"]))
        assert got == [(v, f"n{n}") for n, v in enumerate(sent)]  # each one, in order, intact
    # Every delivery took the raw path, and each event was framed once per format: the json
    # sockets got the very same bytes object.
    notices = [data for data in written if b"notice" in data]
    assert len(notices) == 3 * EVENTS
    assert len({id(data) for data in notices}) == 2 * EVENTS
    for client in clients:
        await client.close()


async def test_a_connects_welcome_and_snapshot_go_out_as_bytes(
    deployed: tuple[str, object], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The frames of one socket only (welcome, its room's snapshot) took Starlette's, uvicorn's
    and the websockets library's send per frame: two of a connect storm's frames per socket."""
    url, _app = deployed
    written = count_raw_writes(monkeypatch)
    for fmt in ("json", "msgpack"):
        client = await Client.connect(url, fmt)
        welcome = await client.expect("welcome")
        assert welcome["protocol"] == 1 and welcome["player"]["id"]  # intact, in its format
        await client.send({"type": "join", "room": f"direct{fmt}"})
        snapshot = await client.expect("room")
        assert snapshot["room"] == f"direct{fmt}" and snapshot["resync"] is False
        await client.close()
    welcomes = [data for data in written if b"welcome" in data]
    snapshots = [data for data in written if b"direct" in data and b"room" in data]
    assert len(welcomes) == 2 and len(snapshots) >= 2
    assert welcomes[0][0] == 0x81 and welcomes[1][0] == 0x82  # a text frame, then a binary one


def test_a_frame_is_what_the_websockets_library_would_send() -> None:
    assert frame_bytes("hi") == b"\x81\x02hi"  # FIN + text, unmasked, length 2
    assert frame_bytes(b"\x00" * 200)[:4] == b"\x82\x7e\x00\xc8"  # binary, 16-bit length
