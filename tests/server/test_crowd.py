"""Crowd counts: many joins fold into at most one ``crowd`` event per interval, across processes."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Awaitable, Callable

import redis
import redis.asyncio as aioredis

from config import keys
from config.settings import Settings
from server.live.crowd import Throttle
from store import eventlog
from tests.server.conftest import Client, Clock, LiveServer


async def test_a_burst_of_pokes_runs_the_action_twice_with_the_interval_between(redis_server) -> None:
    runs: list[float] = []

    async def action() -> None:
        runs.append(time.monotonic())

    throttle = Throttle(0.3, action)
    for _ in range(200):
        throttle.poke()
        await asyncio.sleep(0)
    while not throttle.idle:
        await asyncio.sleep(0.01)
    assert len(runs) == 2, "one at once, one for everything poked while it was held"
    assert runs[1] - runs[0] >= 0.3 - 0.01
    throttle.poke()  # an interval later nothing holds it back
    await asyncio.sleep(0.4)
    assert len(runs) == 3


async def test_two_processes_sharing_a_claim_key_keep_one_interval(
    redis_client: redis.Redis, settings: Settings
) -> None:
    """Two throttles on one claim key stand for two web processes with members of one room."""
    r = aioredis.Redis.from_url(settings.redis_url)
    runs: list[tuple[str, float]] = []

    def action(name: str) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            runs.append((name, time.monotonic()))

        return run

    claim = keys.room_crowd_claim("shared")
    first = Throttle(0.3, action("a"), r=r, claim_key=claim)
    second = Throttle(0.3, action("b"), r=r, claim_key=claim)
    try:
        started = time.monotonic()
        while time.monotonic() - started < 1.0:
            first.poke()
            second.poke()
            await asyncio.sleep(0.02)
        while not (first.idle and second.idle):
            await asyncio.sleep(0.02)
    finally:
        await r.aclose()
    times = [t for _, t in runs]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    # Poked every 20 ms by both for a second, yet never two runs within one interval.
    assert len(runs) >= 3 and min(gaps) >= 0.3 - 0.02, runs
    assert {name for name, _ in runs} <= {"a", "b"}


async def test_a_small_room_counts_joins_in_its_members_events_not_in_crowd_events(
    live_server: LiveServer, redis_client: redis.Redis
) -> None:
    """A room small enough to announce its members tells its size in each ``members`` event
    (``count``): no ``crowd`` event for its joins (one per room fill went to every member, issue
    19). Leaves still bring the crowd count."""
    watcher = await Client.connect(live_server.ws_url)
    await watcher.expect("welcome")
    await watcher.send({"type": "join", "room": "busy"})
    await watcher.expect("room")
    crowd = [await Client.connect(live_server.ws_url) for _ in range(20)]
    await asyncio.gather(*(c.expect("welcome") for c in crowd))
    await asyncio.gather(*(c.send({"type": "join", "room": "busy"}) for c in crowd))
    await asyncio.gather(*(c.expect("room") for c in crowd))
    for client in crowd:  # the joins are announced by the room's next flush (issue 19)
        await watcher.expect_joined(client.events[0]["player"]["id"])
    announced = [e for e in eventlog.since(redis_client, "busy", 0) or [] if e["type"] == "members"]
    assert len({p["id"] for e in announced for p in e["joined"]}) == 21
    assert announced[-1]["count"] == 21
    assert len(announced) < 21, len(announced)  # announced together: far fewer events than joins
    await asyncio.sleep(1.5)  # a crowd event would have come by now (crowd_interval_s 1 s)
    assert not [e for e in eventlog.since(redis_client, "busy", 0) or [] if e["type"] == "crowd"]
    await asyncio.gather(*(c.send({"type": "leave"}) for c in crowd))
    gone = await watcher.expect("crowd", where=lambda e: e["players"] == 1, timeout=10)
    assert gone["audience"] == 0
    await asyncio.gather(*(c.expect("left") for c in crowd))
    await asyncio.gather(*(c.close() for c in crowd))
    await watcher.close()


async def test_many_joins_into_a_big_room_give_few_crowd_events_with_the_final_count(
    hub_settings: Settings, campaign: list[int], redis_client: redis.Redis
) -> None:
    """A room too big to announce its members (here more than 10) changes them silently; the
    crowd count follows its joins, at most one event per interval however many join."""
    big = hub_settings.model_copy(update={"room_member_events_max": 10})
    server = LiveServer(big, Clock()).start()
    try:
        watcher = await Client.connect(server.ws_url)
        await watcher.expect("welcome")
        await watcher.send({"type": "join", "room": "big"})
        await watcher.expect("room")
        started = time.monotonic()
        crowd = [await Client.connect(server.ws_url) for _ in range(20)]
        await asyncio.gather(*(c.expect("welcome") for c in crowd))
        await asyncio.gather(*(c.send({"type": "join", "room": "big"}) for c in crowd))
        await asyncio.gather(*(c.expect("room") for c in crowd))
        last = await watcher.expect("crowd", where=lambda e: e["players"] == 21, timeout=10)
        elapsed = time.monotonic() - started
        assert last["audience"] == 0
        logged = [e for e in eventlog.since(redis_client, "big", 0) or [] if e["type"] == "crowd"]
        # At most one per second (+1 for the first), far fewer than one per join.
        assert len(logged) <= elapsed + 2 and len(logged) < 10, (len(logged), elapsed)
        await asyncio.gather(*(c.close() for c in crowd))
        await watcher.close()
    finally:
        server.stop()
