"""The membership rules exist twice — pure Python (rooms/puzzle_room.py) and the Lua scripts the
live rooms run (server/live/room_members.py) — so the same random sequences of joins, leaves,
kicks and renames go through both, on the real Redis, and must leave the same members, the
same connection counts and the same events (in the same order) behind.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import redis.asyncio as aioredis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from config import keys
from rooms.puzzle_room import PuzzleRoom, RoomState, Timing
from server.cli.embedded_redis import EmbeddedRedis
from server.live.room_members import RoomMembers
from store import eventlog

MEMBERSHIP = ("members", "renamed")
OPS = st.lists(
    st.tuples(
        st.sampled_from(["join", "leave", "kick", "rename", "flush"]),
        st.integers(min_value=1, max_value=5),  # player id
        st.sampled_from(["Ann", "Bob", "Cy"]),  # name for a join or a rename
    ),
    max_size=40,
)


async def _through_both(url: str, ops: list[tuple[str, int, str]], announce_max: int) -> None:
    r = aioredis.Redis.from_url(url)
    room_id = f"rules-{uuid.uuid4().hex[:8]}"
    lua = RoomMembers(r, announce_max, history=1_000, flush_s=3600.0)  # flushed by the ops
    rules = PuzzleRoom(RoomState(room_id=room_id), Timing(lobby_s=5, round_s=60, reveal_s=30, reveal_min_s=0))
    expected: list[dict[str, Any]] = []
    try:
        for op, pid, name in ops:
            if op == "join":
                events = rules.join(pid, name, 0.0, announce_max)
                await lua.join(room_id, pid, name)
            elif op == "flush":  # the room's joins and leaves announced together (issue 19)
                events = rules.members_event(announce_max)
                await lua.flush(room_id)
            elif op == "rename":
                events = rules.rename(pid, name, announce_max)
                await lua.rename(room_id, pid, name)
            else:
                events = rules.leave(pid, 0.0, every_connection=op == "kick", announce_max=announce_max)
                await lua.leave(room_id, pid, every_connection=op == "kick")
            expected += [e for e in events if e["type"] in MEMBERSHIP]  # arming the lobby is shared
        expected += rules.members_event(announce_max)
        await lua.flush(room_id)
        logged = await eventlog.since_async(r, room_id, 0)
        assert logged is not None
        assert [{k: v for k, v in e.items() if k != "v"} for e in logged] == expected
        assert await lua.all(room_id) == rules.state.members
        conns = await r.hgetall(keys.room_conns(room_id))
        assert {int(k): int(v) for k, v in conns.items()} == rules.state.conns
    finally:
        await r.aclose()


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=OPS, announce_max=st.integers(min_value=1, max_value=6))
def test_python_and_lua_membership_agree(redis_server: EmbeddedRedis, ops: list, announce_max: int) -> None:
    asyncio.run(_through_both(redis_server.url, ops, announce_max))


async def _storm_of_alices(url: str) -> None:
    r = aioredis.Redis.from_url(url)
    room_id = f"names-{uuid.uuid4().hex[:8]}"
    lua = RoomMembers(r, announce_max=200, history=1_000)
    try:
        # Eleven players join as "alice"/"Alice" at once: the first claim rides in the join's
        # pipeline (issue 19), and still no two of them show the same name.
        joined = await asyncio.gather(
            *(lua.join_distinct(room_id, pid, "alice" if pid % 2 else "Alice") for pid in range(1, 12))
        )
        names = [name for _, name in joined]
        assert len({n.casefold() for n in names}) == 11
        assert {n.casefold() for n in names} >= {"alice", *(f"alice ({k})" for k in range(2, 10))}
        assert await lua.all(room_id) == dict(zip(range(1, 12), names, strict=True))
        # Coming back (a second tab) keeps one's claim, bare name or suffixed.
        for pid in (names.index(next(n for n in names if n.casefold() == "alice")) + 1, 11):
            again = await lua.join_distinct(room_id, pid, "alice")
            assert again[1].casefold() == names[pid - 1].casefold()
    finally:
        await r.aclose()


def test_name_claims_stay_unique_in_a_join_storm(redis_server: EmbeddedRedis) -> None:
    asyncio.run(_storm_of_alices(redis_server.url))
