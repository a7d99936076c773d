"""Room membership outside the room lock (server/live/room_members.py), on the real Redis.

What must hold: a join storm needs no lock and loses nobody; the first member starts the
lobby clock exactly once; several tabs of one player are one member; joins and leaves are
announced together, one ``members`` event per flush (issue 19); a big room changes members
silently but its snapshot still says how many there are; a kick removes every tab; and a
snapshot taken after membership events claims their version (no needless replay).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis
import redis.asyncio as aioredis

from config import keys
from config.settings import Settings
from server.live.room_service import RoomService
from store import eventlog
from store.db import Database
from tests.server.conftest import Clock


@pytest.fixture
async def service(settings: Settings, db: Database, redis_client: redis.Redis) -> AsyncIterator[RoomService]:
    hub = settings.model_copy(
        update={
            "room_lobby_s": 5.0,
            "room_member_events_max": 3,
            "room_snapshot_members": 2,
            "room_member_flush_s": 60.0,  # the tests flush themselves
        }
    )
    r = aioredis.Redis.from_url(hub.redis_url)
    service = RoomService(hub, db, r, redis_client, clock=Clock())
    yield service
    await service.members.aclose()
    await r.aclose()


def _types(r: redis.Redis, room: str) -> list[str]:
    return [e["type"] for e in eventlog.since(r, room, 0) or []]


def _announced(r: redis.Redis, room: str) -> list[dict[str, Any]]:
    return [e for e in eventlog.since(r, room, 0) or [] if e["type"] == "members"]


def _joined(r: redis.Redis, room: str) -> list[int]:
    return [p["id"] for e in _announced(r, room) for p in e["joined"]]


async def test_a_join_storm_takes_no_lock_and_loses_nobody(
    settings: Settings, db: Database, redis_client: redis.Redis
) -> None:
    update = {"room_lobby_s": 5.0, "room_member_events_max": 1_000, "room_member_flush_s": 60.0}
    hub = settings.model_copy(update=update)
    r = aioredis.Redis.from_url(hub.redis_url, max_connections=400)
    service = RoomService(hub, db, r, redis_client, clock=Clock())
    # Someone holds the room's lock the whole time: joins must not wait for it.
    redis_client.set(keys.room_lock("storm"), "held elsewhere", px=60_000)
    try:
        await asyncio.wait_for(
            asyncio.gather(*(service.join("storm", pid, f"P{pid}") for pid in range(1, 301))), timeout=20
        )
        assert await service.members.count("storm") == 300
        assert _types(redis_client, "storm") == []  # announced together, by the room's flush
        await service.members.flush("storm")
        [storm] = _announced(redis_client, "storm")  # one event for 300 joins
        assert sorted(p["id"] for p in storm["joined"]) == list(range(1, 301)) and storm["count"] == 300
        assert "lobby" not in _types(redis_client, "storm")  # the lock was busy: nobody armed it yet
        redis_client.delete(keys.room_lock("storm"))
        await service.tick("storm")  # the clock heals it: the lobby countdown starts once
        await service.tick("storm")
        assert _types(redis_client, "storm").count("lobby") == 1
    finally:
        await service.members.aclose()
        await r.aclose()


async def test_tabs_count_as_one_member_and_the_last_tab_leaves(
    service: RoomService, redis_client: redis.Redis
) -> None:
    await service.join("tabs", 1, "Ada")
    await service.members.flush("tabs")
    await service.tick("tabs")  # the hub ticks a room right after a join: the lobby's clock starts
    await service.join("tabs", 1, "Ada")
    await service.leave("tabs", 1)
    assert await service.members.all("tabs") == {1: "Ada"}
    assert await service.members.flush("tabs") == 0  # a second tab came and went: nothing to say
    await service.leave("tabs", 1)
    await service.leave("tabs", 1)  # a stray leave changes nothing
    assert await service.members.all("tabs") == {}
    await service.members.flush("tabs")
    assert _types(redis_client, "tabs") == ["members", "lobby", "members"]
    assert [(e["joined"], e["left"]) for e in _announced(redis_client, "tabs")] == [
        ([{"id": 1, "name": "Ada"}], []),
        ([], [1]),
    ]
    assert (await service.load("tabs")).state.deadline is None  # empty lobby: the clock stops


async def test_a_big_room_is_silent_but_counted(service: RoomService, redis_client: redis.Redis) -> None:
    for pid in range(1, 4):
        await service.join("big", pid, f"P{pid}")
    await service.members.flush("big")
    for pid in range(4, 6):
        await service.join("big", pid, f"P{pid}")
    await service.rename("big", 5, "Five")
    assert await service.members.flush("big") == 0  # nothing pending: 4 and 5 came silently
    assert _joined(redis_client, "big") == [1, 2, 3]  # room_member_events_max = 3
    assert "renamed" not in _types(redis_client, "big")
    snapshot = await service.snapshot("big")
    assert snapshot["member_count"] == 5 and len(snapshot["members"]) == 2  # room_snapshot_members
    assert (await service.members.all("big"))[5] == "Five"
    for pid in (1, 2, 3):  # 5 -> 4 -> 3 silent; a room of 3 announces again: 3 -> 2
        await service.leave("big", pid)
    await service.members.flush("big")
    assert _announced(redis_client, "big")[-1] == {
        "v": _announced(redis_client, "big")[-1]["v"],
        "type": "members",
        "joined": [],
        "left": [3],
        "count": 2,
    }


async def test_a_kick_removes_every_tab(service: RoomService, redis_client: redis.Redis) -> None:
    await service.join("kick", 1, "Ada")
    await service.join("kick", 2, "Bob")
    await service.join("kick", 2, "Bob")
    await service.leave("kick", 2, every_connection=True)
    assert await service.members.all("kick") == {1: "Ada"}
    assert redis_client.hget(keys.room_conns("kick"), "2") is None


async def test_a_snapshot_claims_the_version_of_membership_events(
    service: RoomService, redis_client: redis.Redis
) -> None:
    await service.join("snap", 1, "Ada")
    await service.join("snap", 2, "Bob")
    await service.members.flush("snap")
    snapshot = await service.snapshot("snap")
    assert snapshot["v"] == await service.version("snap")
    assert {m["id"] for m in snapshot["members"]} == {1, 2}


class RoundTrips:
    """Counts the connections a client takes from its pool: one per command or pipeline, so one
    per round trip to Redis (a join storm's and a close storm's cost, issue 19)."""

    def __init__(self, r: aioredis.Redis) -> None:
        self.count = 0
        pool = r.connection_pool
        taken = pool.get_connection

        async def counting(*args: object, **kwargs: object) -> object:
            self.count += 1
            return await taken(*args, **kwargs)

        pool.get_connection = counting  # type: ignore[method-assign]


async def test_a_join_and_its_snapshot_are_one_round_trip(
    service: RoomService, redis_client: redis.Redis
) -> None:
    await service.join("one", 1, "Ada")
    trips = RoundTrips(service.r)
    snapshot, room = await service.join_synced("one", 2, "Bob")
    assert trips.count == 1
    # Read after the join: it lists the joiner (whose event the room's flush sends later).
    assert {m["id"]: m["name"] for m in snapshot["members"]} == {1: "Ada", 2: "Bob"}
    assert snapshot["v"] == int(redis_client.get(keys.room_version("one")) or 0)
    assert room.state.phase == snapshot["phase"]
    # A name someone else holds: the claim in the script fails, nothing changes, and the join
    # is made again under the name shown in the room.
    snapshot, _ = await service.join_synced("one", 3, "ada")
    assert snapshot["member_count"] == 3  # (it lists room_snapshot_members = 2 of them)
    assert (await service.members.all("one"))[3] == "ada (2)"
    await service.members.flush("one")
    assert sorted(_joined(redis_client, "one")) == [1, 2, 3]  # announce_max 3: each join once
    # Redis forgot its scripts (a restart): the join still happens, once, and is read after.
    redis_client.script_flush()
    snapshot, _ = await service.join_synced("two", 4, "Cy")
    assert snapshot["member_count"] == 1 and await service.members.all("two") == {4: "Cy"}
    await service.members.flush("two")
    assert _joined(redis_client, "two") == [4]


async def test_a_join_storm_shares_round_trips_and_each_joiner_reads_after_its_join(
    service: RoomService, redis_client: redis.Redis
) -> None:
    """A join each pipeline was a tenth of a 10,000-socket connect storm (issue 19): the joins
    meanwhile now go in one pipeline, each still reading its snapshot right after its own join."""
    await service.join("warm", 1, "W")  # Redis has the join script now (a process loads it once)
    trips = RoundTrips(service.r)
    found = await asyncio.wait_for(
        asyncio.gather(*(service.join_synced("batch", pid, f"P{pid}") for pid in range(10, 310))), 20
    )
    assert trips.count <= 3  # 300 joins: the first alone, the rest 200 a pipeline (was 300)
    counts = sorted(snapshot["member_count"] for snapshot, _ in found)
    assert counts == list(range(1, 301))  # each read right after its own join, none between
    for pid, (snapshot, _) in zip(range(10, 310), found, strict=True):
        assert snapshot["v"] == found[0][0]["v"]  # no event yet: the flush announces them
        assert pid in {m["id"] for m in snapshot["members"]} or snapshot["member_count"] > 2
    assert await service.members.count("batch") == 300
    assert redis_client.get(keys.player_room(42)) == b"batch"  # the bookkeeping before each join


async def test_a_close_storm_is_one_round_trip_a_leave(
    settings: Settings, db: Database, redis_client: redis.Redis
) -> None:
    """10,000 sockets closing at once ran out the pool's wait (four round trips a leave, and a
    lock per emptied room): a leave was then one, and the leaves meanwhile now share it
    (server/live/pipeline_batch.py), whatever the pool's size."""
    update = {"room_lobby_s": 5.0, "room_member_events_max": 1_000, "room_member_flush_s": 60.0}
    hub = settings.model_copy(update=update)
    pool = aioredis.BlockingConnectionPool.from_url(hub.redis_url, max_connections=8, timeout=10)
    r = aioredis.Redis(connection_pool=pool)
    service = RoomService(hub, db, r, redis_client, clock=Clock())
    rooms = [f"storm{k}" for k in range(10)]
    try:
        for k, room in enumerate(rooms):
            await asyncio.gather(*(service.join(room, 100 * k + p, f"P{p}") for p in range(40)))
        await service.join("warm", 1, "W")
        await service.leave("warm", 1)  # Redis has the leave script now (a process loads it once)
        trips = RoundTrips(r)
        # Everyone but the rooms' last member: the rooms stay in their lobby, nobody is waited for.
        leaves = [service.leave(room, 100 * k + p) for k, room in enumerate(rooms) for p in range(1, 40)]
        await asyncio.wait_for(asyncio.gather(*leaves), timeout=30)
        assert trips.count <= 3  # 390 leaves: the first alone, the rest 200 a pipeline (was 390)
        for k, room in enumerate(rooms):
            assert await service.members.count(room) == 1
            await service.members.flush(room)
            assert [p["id"] for p in _announced(redis_client, room)[-1]["joined"]] == [100 * k]
            assert len(_announced(redis_client, room)[-1]["left"]) == 39
        # The last ones: each room rests (under its lock) and its keys start to expire.
        await asyncio.wait_for(
            asyncio.gather(*(service.leave(room, 100 * k) for k, room in enumerate(rooms))), 30
        )
        for room in rooms:
            assert await service.members.count(room) == 0
            assert redis_client.ttl(keys.room_state(room)) > 0
    finally:
        await service.members.aclose()
        await r.aclose()
