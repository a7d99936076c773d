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

import math

import redis.asyncio as aioredis

from config import keys
from config.errors import ERR_BUSY_ELSEWHERE
from rooms.puzzle_room import RoomError, Timing

# KEYS[1]: the slot, "room|held until (room clock, s)". ARGV[1]: room id, ARGV[2]: now,
# ARGV[3]: hold in s. Returns the other room's slot ("room|held until"), or nil. The key's own
# TTL only cleans up: the rooms' clock decides (tests move it).
_CLAIM = """
local upto = tonumber(ARGV[2]) + tonumber(ARGV[3])
local cur = redis.call('GET', KEYS[1])
if cur then
  local sep = string.find(cur, '|', 1, true)
  local room, held = string.sub(cur, 1, sep - 1), tonumber(string.sub(cur, sep + 1))
  if room ~= ARGV[1] and held > tonumber(ARGV[2]) then return cur end
  if room == ARGV[1] and held > upto then upto = held end
end
local value = ARGV[1] .. '|' .. string.format('%.3f', upto)
redis.call('SET', KEYS[1], value, 'PX', math.ceil(tonumber(ARGV[3]) * 1000))
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
        hold = self.hold_s(deadline, now)
        other = await self._claim(
            keys=[keys.player_earning(player_id)], args=[room_id, repr(now), repr(hold)]
        )
        if other is not None:
            slot = other.decode() if isinstance(other, bytes) else str(other)
            name, _, held = slot.rpartition("|")
            # Say when, not just "until its round ends": a round that ended early (everyone
            # done) still holds the slot for a round's length, and the player would wait blind.
            wait = max(1, math.ceil(float(held) - now))
            raise RoomError(
                ERR_BUSY_ELSEWHERE,
                f"points come from one room at a time: your round in {name} counts for {wait} s more; "
                "you can play here then",
            )
