"""Reconnection with replay or resync, floods, malformed frames, heartbeats, bad tokens."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterator

import orjson
import pytest
import redis
from websockets.exceptions import ConnectionClosed

from config import keys
from config.settings import Settings
from server.wire import protocol as p
from store import eventlog
from tests.server.conftest import Client, Clock, LiveServer


async def _closed_with(client: Client, timeout: float = 5.0) -> int:
    """Read until the server closes; the close code it sent."""
    try:
        while True:
            await client._recv(timeout)
    except ConnectionClosed as closed:
        assert closed.rcvd is not None, "closed without a close frame"
        return closed.rcvd.code


def _versions(events: list[dict[str, object]]) -> list[int]:
    return [int(e["v"]) for e in events if "v" in e and e.get("type") != "room"]  # type: ignore[call-overload]


async def _caught_up(client: Client, r: redis.Redis, room: str, since: int, timeout: float = 10) -> list[int]:
    """Read until the client has every version the room's log holds after ``since``; those versions."""
    deadline = time.monotonic() + timeout
    while True:
        in_log = [int(e["v"]) for e in eventlog.since(r, room, since) or []]
        got = _versions(client.events)
        if got and in_log and got[-1] == in_log[-1]:
            return in_log
        if time.monotonic() > deadline:
            return in_log
        with contextlib.suppress(TimeoutError):
            await client._recv(0.2)


async def test_reconnect_with_since_replays_exactly_the_missed_events(
    live_server: LiveServer, redis_client: redis.Redis
) -> None:
    alice, bob = await Client.connect(live_server.ws_url), await Client.connect(live_server.ws_url)
    token = (await alice.expect("welcome"))["token"]
    bob_id = (await bob.expect("welcome"))["player"]["id"]
    await alice.join_round("rc")
    await bob.send({"type": "join", "room": "rc"})
    await alice.expect_joined(bob_id)
    seen = max(int(e["v"]) for e in alice.events if "v" in e)
    await alice.close()

    await bob.send({"type": "submit", "text": "cats while alice is away"})
    await bob.expect("explanation")

    back = await Client.connect(live_server.ws_url, token=token, since=seen)
    assert (await back.expect("welcome"))["token"] == token
    missed = await back.expect("explanation")
    assert missed["explanation"]["text"] == "cats while alice is away"
    # Caught up = the client holds the log's newest version (a quiet period proves nothing
    # on a loaded machine); the old socket's clean-up may still append its leave's "members" meanwhile.
    in_log = await _caught_up(back, redis_client, "rc", seen)
    assert not [e for e in back.events if e["type"] == "room"], "a replay, not a resync"
    log_types = [(e["v"], e["type"]) for e in eventlog.since(redis_client, "rc", 0) or []]
    assert _versions(back.events) == in_log and in_log[0] == seen + 1, log_types
    await back.close()
    await bob.close()


async def test_reconnect_after_trimmed_history_gets_a_full_resync(
    live_server: LiveServer, redis_client: redis.Redis
) -> None:
    alice = await Client.connect(live_server.ws_url)
    token = (await alice.expect("welcome"))["token"]
    await alice.join_round("trim")
    for i in range(10):  # more events than the history keeps
        eventlog.append(redis_client, "trim", {"type": "notice", "message": f"n{i}"}, history=3)
    await alice.close()
    # Her leave is announced by the room's next members flush (0.2 s later), which marks the
    # room's state with the log's newest version: wait for it, so that the snapshot below is
    # of the room as it is now (the notices appended here bypass the room, the flush does not).
    deadline = time.monotonic() + 10
    while int(redis_client.hget(keys.room_state("trim"), "v") or 0) < int(
        redis_client.get(keys.room_version("trim")) or 0
    ):
        assert time.monotonic() < deadline, "the leave was never announced"
        await asyncio.sleep(0.05)
    back = await Client.connect(live_server.ws_url, token=token, since=1)
    snapshot = await back.expect("room")
    assert snapshot["resync"] is True and snapshot["phase"] == "round" and snapshot["clues"]
    assert snapshot["v"] >= 11
    await back.close()


@pytest.fixture
def strict_server(hub_settings: Settings, campaign: list[int]) -> Iterator[LiveServer]:
    settings = hub_settings.model_copy(
        update={"flood_messages_per_s": 5.0, "flood_burst": 10, "max_frame_bytes": 2048}
    )
    server = LiveServer(settings, Clock()).start()
    yield server
    server.stop()


@pytest.fixture
def heartbeat_server(hub_settings: Settings, campaign: list[int]) -> Iterator[LiveServer]:
    """A heartbeat this short drops any client that stops reading for 0.6 s, so only the
    heartbeat test uses it (a busy test client would be dropped by chance on a loaded machine)."""
    server = LiveServer(hub_settings.model_copy(update={"heartbeat_s": 0.3}), Clock()).start()
    yield server
    server.stop()


async def test_flood_gets_an_error_then_close_1008(strict_server: LiveServer) -> None:
    flooder = await Client.connect(strict_server.ws_url)
    await flooder.expect("welcome")
    for i in range(30):
        try:
            await flooder.send({"type": "ping", "t": i})
        except ConnectionClosed:
            break
    assert (await flooder.expect("error"))["code"] == p.ERR_FLOOD
    assert await _closed_with(flooder) == p.CLOSE_POLICY_VIOLATION


async def test_malformed_frames_get_errors_and_the_connection_stays(strict_server: LiveServer) -> None:
    bystander = await Client.connect(strict_server.ws_url)
    await bystander.expect("welcome")
    await bystander.join_round("calm")
    client = await Client.connect(strict_server.ws_url)
    await client.expect("welcome")
    await client.send({"type": "join", "room": "calm"})
    await client.expect("room")
    bad: list[str | bytes] = [
        "not json",
        b"\xc1 not msgpack",
        orjson.dumps({"type": "teleport"}).decode(),
        orjson.dumps({"type": "vote", "explanation_id": "seven"}).decode(),
    ]
    codes = []
    for frame in bad:
        await client.send(frame)
        codes.append((await client.expect("error"))["code"])
    assert codes == [p.ERR_BAD_FRAME, p.ERR_BAD_FRAME, p.ERR_UNKNOWN_TYPE, p.ERR_BAD_FIELD]
    await client.send({"type": "ping", "t": 1})
    assert (await client.expect("pong"))["t"] == 1
    await client.send({"type": "submit", "text": "still playing"})
    assert (await bystander.expect("explanation"))["explanation"]["text"] == "still playing"
    # The fifth bad frame (here: one over max_frame_bytes) is one too many.
    await client.send(orjson.dumps({"type": "submit", "text": "y" * 3000}).decode())
    assert (await client.expect("error"))["code"] == p.ERR_TOO_LARGE
    assert await _closed_with(client) == p.CLOSE_POLICY_VIOLATION
    await bystander.send({"type": "ping", "t": 2})
    assert (await bystander.expect("pong"))["t"] == 2
    await bystander.close()


async def test_a_silent_client_is_dropped_by_the_heartbeat(heartbeat_server: LiveServer) -> None:
    client = await Client.connect(heartbeat_server.ws_url)
    client.send = _no_pong  # type: ignore[method-assign]  # never answers the server's pings
    raw = client.ws
    frames = []
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            frames.append(await raw.recv())
    assert closed.value.rcvd is not None and closed.value.rcvd.code == p.CLOSE_HEARTBEAT_TIMEOUT
    assert any(b'"ping"' in (f.encode() if isinstance(f, str) else f) for f in frames)


async def _no_pong(message: object) -> None:
    return None


async def test_a_forged_token_is_refused(live_server: LiveServer) -> None:
    client = await Client.connect(live_server.ws_url, token="eyJwIjoxfQ.forged")
    assert (await client.expect("error"))["code"] == p.ERR_BAD_TOKEN
    assert await _closed_with(client) == p.CLOSE_BAD_TOKEN
