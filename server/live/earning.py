"""One room at a time: the room whose round a player earns points in (rooms/points.py's rule).

A player's first submit or vote in a round claims their earning slot for that room, one Redis
key (config.keys.player_earning) set by a script: free or held by the same room, it is taken or
extended; held by another room, the move is refused with ``busy_elsewhere`` and nothing is
stored. The slot is held until the round can have settled (its deadline plus the longest
reveal) and at least ``round_s + reveal_min_s`` from the claim: a player who hops between
rooms whose rounds end at different times, acting at each one's last second, still earns at
most one round per round length — what one room gives. Tabs are one member of one room, so
they change nothing here.
"""

from __future__ import annotations

import redis.asyncio as aioredis

from config import keys
from rooms.puzzle_room import RoomError, Timing
from server.wire.protocol import ERR_BUSY_ELSEWHERE

# KEYS[1]: the slot. ARGV[1]: room id, ARGV[2]: hold in ms. Returns the other room, or nil.
_CLAIM = """
local cur = redis.call('GET', KEYS[1])
if cur and cur ~= ARGV[1] then return cur end
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
end
return false
"""


class EarningSlots:
    def __init__(self, r: aioredis.Redis, timing: Timing) -> None:
        self.r, self.timing = r, timing
        self._claim = r.register_script(_CLAIM)

    def hold_s(self, deadline: float | None, now: float) -> float:
        t = self.timing
        until_settled = max(0.0, (deadline or now) - now) + t.reveal_s
        return max(t.round_s + t.reveal_min_s, until_settled) + 1.0

    async def claim(self, player_id: int, room_id: str, deadline: float | None, now: float) -> None:
        """Take or extend the player's slot for this room; RoomError when another room holds it."""
        hold_ms = int(self.hold_s(deadline, now) * 1000)
        other = await self._claim(keys=[keys.player_earning(player_id)], args=[room_id, hold_ms])
        if other is not None:
            name = other.decode() if isinstance(other, bytes) else str(other)
            raise RoomError(
                ERR_BUSY_ELSEWHERE,
                f"you are playing in room {name} until its round ends: points come from one room at a time",
            )

    async def holder(self, player_id: int) -> str | None:
        raw = await self.r.get(keys.player_earning(player_id))
        return raw.decode() if isinstance(raw, bytes) else raw
