"""Who is in a puzzle room: two Redis hashes changed by one script each, without the room lock.

A join or a leave used to load and re-save the whole room state under the room's lock, with
the member list inside it: a 1,000-player room joining at once serialised 1,000 lock round
trips, each copying a list that grew with the room. Here membership lives beside the state
(config.keys.room_members: id -> name, room_conns: id -> open connections) and each change is
one Lua script that also appends the ``joined``/``left``/``renamed`` event to the room's log
(store.eventlog's append, run in the same script), so the log's order is the membership's order
across every web process.

The rules are stated once, in rooms/puzzle_room.py (PuzzleRoom.join/leave/rename): several
connections per player, a kick drops them all, rooms bigger than ``announce_max`` change
members silently (their clients follow the ``crowd`` count). The scripts below run the same
rules; tests/server/test_membership_rules.py runs random sequences through both.
"""

from __future__ import annotations

from typing import Any

import orjson
import redis.asyncio as aioredis

from config import keys
from store.eventlog import APPEND_LUA

# Each prefix runs before the event-log append (KEYS[1..3], ARGV[1..2]) and returns early when
# there is nothing to announce: 0 = no change, -1 = changed but the room is too big to announce.
# KEYS[4]: members hash, KEYS[5]: conns hash, KEYS[6]: room lock, KEYS[7]: room state hash.
# ARGV[3]: player id, ARGV[4]: name or mode, ARGV[5]: announce_max.
#
# _MARK ends each prefix: a snapshot is the saved state plus the members read after it and
# claims the version saved with the state. Membership events change no saved state, so when
# no transition is in flight (the lock is free) the event's version is marked as reflected;
# otherwise that transition saves a version at least as new when it ends.
_MARK = """
if redis.call('EXISTS', KEYS[6]) == 0 then
  redis.call('HSET', KEYS[7], 'v', tonumber(redis.call('GET', KEYS[1]) or '0') + 1)
end
"""
_JOIN = """
if redis.call('HINCRBY', KEYS[5], ARGV[3], 1) > 1 then return 0 end
redis.call('HSET', KEYS[4], ARGV[3], ARGV[4])
if redis.call('HLEN', KEYS[4]) > tonumber(ARGV[5]) then return -1 end
"""

# ARGV[4] = "all" drops every connection of the player at once (a kick or a ban).
_LEAVE = """
if redis.call('HEXISTS', KEYS[4], ARGV[3]) == 0 then return 0 end
if ARGV[4] ~= 'all' and redis.call('HINCRBY', KEYS[5], ARGV[3], -1) > 0 then return 0 end
redis.call('HDEL', KEYS[5], ARGV[3])
redis.call('HDEL', KEYS[4], ARGV[3])
if redis.call('HLEN', KEYS[4]) >= tonumber(ARGV[5]) then return -1 end
"""

_RENAME = """
if redis.call('HEXISTS', KEYS[4], ARGV[3]) == 0 then return 0 end
redis.call('HSET', KEYS[4], ARGV[3], ARGV[4])
if redis.call('HLEN', KEYS[4]) > tonumber(ARGV[5]) then return -1 end
"""

NO_CHANGE = 0
SILENT = -1


class RoomMembers:
    """Membership of puzzle rooms; every method returns the outcome of its script.

    The result is the event's version when the change was announced, ``SILENT`` when it
    changed a room too big to announce, ``NO_CHANGE`` otherwise (a second tab, a stranger).
    """

    def __init__(self, r: aioredis.Redis, announce_max: int, history: int) -> None:
        self.r, self.announce_max, self.history = r, announce_max, history
        self._join = r.register_script(_JOIN + _MARK + APPEND_LUA)
        self._leave = r.register_script(_LEAVE + _MARK + APPEND_LUA)
        self._rename = r.register_script(_RENAME + _MARK + APPEND_LUA)

    async def _run(self, script: Any, room_id: str, event: dict[str, Any], player_id: int, arg: str) -> int:
        keys_ = [
            keys.room_version(room_id),
            keys.room_events(room_id),
            keys.room_channel(room_id),
            keys.room_members(room_id),
            keys.room_conns(room_id),
            keys.room_lock(room_id),
            keys.room_state(room_id),
        ]
        args = [orjson.dumps(event), self.history, player_id, arg, self.announce_max]
        return int(await script(keys=keys_, args=args))

    async def join(self, room_id: str, player_id: int, name: str) -> int:
        event = {"type": "joined", "player": {"id": player_id, "name": name}}
        return await self._run(self._join, room_id, event, player_id, name)

    async def leave(self, room_id: str, player_id: int, *, every_connection: bool = False) -> int:
        event = {"type": "left", "player": {"id": player_id}}
        return await self._run(self._leave, room_id, event, player_id, "all" if every_connection else "one")

    async def rename(self, room_id: str, player_id: int, name: str) -> int:
        event = {"type": "renamed", "player": {"id": player_id, "name": name}}
        return await self._run(self._rename, room_id, event, player_id, name)

    async def all(self, room_id: str) -> dict[int, str]:
        raw = await self.r.hgetall(keys.room_members(room_id))
        return {int(k): v.decode() if isinstance(v, bytes) else v for k, v in raw.items()}

    async def only(self, room_id: str, player_id: int) -> dict[int, str]:
        """The one member, or nobody: for a move that only checks its own player."""
        name = await self.r.hget(keys.room_members(room_id), str(player_id))
        if name is None:
            return {}
        return {player_id: name.decode() if isinstance(name, bytes) else name}

    async def count(self, room_id: str) -> int:
        return int(await self.r.hlen(keys.room_members(room_id)))
