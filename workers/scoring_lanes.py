"""A fair line for scoring requests: one lane per player, lanes served round-robin.

Every scoring request joins its author's lane (a request without an author, its room's lane).
A scoring job takes its batch from the ring of lanes that hold requests, one request per lane
in turn, so a player with fifty submissions (fifty rooms, or a script) gets one place in each
turn of the ring like everybody else instead of fifty places ahead of them. A request put back
after a failed attempt goes to the front of its lane and its lane to the front of the ring: a
retried request keeps its place. Each move is one Lua script, so any number of web processes
and workers share the line safely.

Invariant: a lane is in the ring exactly once while its list is not empty, and not otherwise.
"""

from __future__ import annotations

import redis

from config import keys

_ADD = """
local lane = KEYS[2]
local n = redis.call(ARGV[3], lane, ARGV[2])
if n == 1 then redis.call(ARGV[4], KEYS[1], ARGV[1]) end
return n
"""

# ARGV[1]: the lane keys' prefix (config.keys.scoring_lane("")), ARGV[2]: how many to take.
_TAKE = """
local taken = {}
local want = tonumber(ARGV[2])
while #taken < want do
  local lane = redis.call('LPOP', KEYS[1])
  if not lane then break end
  local rid = redis.call('LPOP', ARGV[1] .. lane)
  if rid then
    taken[#taken + 1] = rid
    if redis.call('LLEN', ARGV[1] .. lane) > 0 then redis.call('RPUSH', KEYS[1], lane) end
  end
end
return taken
"""


def lane_of(player_id: int | None, room_id: str | None) -> str:
    if player_id is not None:
        return f"p{int(player_id)}"
    return f"r{room_id}" if room_id else "system"


def add(r: redis.Redis, lane: str, request_id: str) -> None:
    """A new request: the back of its lane (the lane joins the back of the ring if it was idle)."""
    r.eval(_ADD, 2, keys.scoring_ring(), keys.scoring_lane(lane), lane, request_id, "RPUSH", "RPUSH")


def put_back(r: redis.Redis, lane: str, request_id: str) -> None:
    """A request whose attempt failed: the front of its lane (an idle lane: the front of the ring)."""
    r.eval(_ADD, 2, keys.scoring_ring(), keys.scoring_lane(lane), lane, request_id, "LPUSH", "LPUSH")


def take(r: redis.Redis, n: int) -> list[str]:
    """Up to ``n`` request ids, one per lane in the ring's order, round after round."""
    taken = r.eval(_TAKE, 1, keys.scoring_ring(), keys.scoring_lane(""), n)
    return [t.decode() if isinstance(t, bytes) else str(t) for t in taken or []]  # type: ignore[union-attr]


def depth(r: redis.Redis) -> int:
    """How many lanes wait (for status pages and tests)."""
    return int(r.llen(keys.scoring_ring()))  # type: ignore[arg-type]
