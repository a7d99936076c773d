"""A socket that stops reading holds up nobody else, and still gets its events in order once.

Real uvicorn, real sockets, the real Redis log. Bob stops reading (his client pushes back: a
queue of one frame, so the TCP buffers fill and uvicorn pauses his socket). 2,000 events of
4 KiB go to the room: Alice, reading, must get every one in order while Bob is stalled — the
room's fan-out writes caught-up sockets in one loop (server/hub/fanout.py ``_fan_out``); a
socket that is paused, busy or behind goes through its outbox, and no event's loop may wait on
Bob. Then Bob reads again: what he got is in order with nothing twice, and he either got
everything or was closed as too slow (4003) once his outbox overflowed, to come back with
``since``.
"""

from __future__ import annotations

import asyncio
import time

import orjson
import redis
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from store import eventlog
from tests.server.conftest import Client, LiveServer

EVENTS = 2_000
PAD = "x" * 4_096


async def test_a_stalled_socket_holds_up_nobody_and_stays_in_order(
    live_server: LiveServer, redis_client: redis.Redis
) -> None:
    alice = await Client.connect(live_server.ws_url)
    await alice.expect("welcome")
    await alice.join_round("stall")
    bob = await connect(live_server.ws_url, max_size=2**22, max_queue=1)
    assert orjson.loads(await bob.recv())["type"] == "welcome"
    await bob.send(orjson.dumps({"type": "join", "room": "stall"}).decode())
    bob_v = None
    while bob_v is None:  # Bob's snapshot; then he stops reading
        event = orjson.loads(await bob.recv())
        bob_v = event["v"] if event["type"] == "room" else None
    await alice.drain()

    start = time.monotonic()
    flood = [{"type": "flood", "n": n, "pad": PAD} for n in range(EVENTS)]
    sent = [eventlog.append(redis_client, "stall", event) for event in flood]
    seen: list[int] = []
    while len(seen) < EVENTS:
        event = await alice._recv(20)
        if event["type"] == "flood":
            seen.append(event["v"])
    assert seen == sent  # every one, in order, once
    took = time.monotonic() - start

    got: list[int] = []
    closed_slow = False
    try:
        while len(got) < EVENTS:
            event = orjson.loads(await asyncio.wait_for(bob.recv(), 20))
            if event["type"] == "flood":
                got.append(event["v"])
    except ConnectionClosed as exc:
        closed_slow = exc.rcvd is not None and exc.rcvd.code == 4003
    assert got == sorted(set(got)) and all(v > bob_v for v in got)  # in order, nothing twice
    assert closed_slow or got == seen, (len(got), closed_slow)
    assert took < 20, took
    await bob.close()
    await alice.close()
