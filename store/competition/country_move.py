"""A player who changes country takes their points along to the new country's boards.

The rebuild from SQL (store/competition/boards_rebuild.py) counts every point event on the
board of the player's current country, so the live boards must do the same when the country
changes: otherwise the old points stay on the old board and one player ranks on two countries'
boards at once. The move is one script per change: each current period's entry leaves the old
country's board and is added to the new one's (``incr`` boards: the scores add up and the later
tie-break stays, as the rebuild would make it). A closed week's board keeps its history.
"""

from __future__ import annotations

from datetime import datetime

import redis

from config import keys
from config.settings import Settings
from rooms.boards import expires_at, period_id, spec_of
from store.competition.leaderboards import member_field

# KEYS: per period, old zset, old hash, new zset, new hash. ARGV[1]: the member id (12 digits),
# then per period the new keys' expire-at (0 = kept). Entries are <tie-break:25><id:12>.
_MOVE = """
local id, moved = ARGV[1], 0
for i = 0, #KEYS / 4 - 1 do
  local oz, oh, nz, nh = KEYS[4 * i + 1], KEYS[4 * i + 2], KEYS[4 * i + 3], KEYS[4 * i + 4]
  local exp = tonumber(ARGV[i + 2])
  local old = redis.call('HGET', oh, id)
  local score = old and redis.call('ZSCORE', oz, old)
  if score then
    redis.call('ZREM', oz, old)
    redis.call('HDEL', oh, id)
    local entry, value = old, score
    local there = redis.call('HGET', nh, id)
    local tscore = there and redis.call('ZSCORE', nz, there)
    if tscore then
      -- %.17g prints every integer below 2**53 exactly (tostring would keep 14 digits).
      value = string.format('%.17g', tonumber(score) + tonumber(tscore))
      if string.sub(there, 1, 25) > string.sub(old, 1, 25) then entry = there end
      redis.call('ZREM', nz, there)
    end
    redis.call('ZADD', nz, value, entry)
    redis.call('HSET', nh, id, entry)
    if exp > 0 then
      redis.call('EXPIREAT', nz, exp)
      redis.call('EXPIREAT', nh, exp)
    end
    moved = moved + 1
  end
end
return moved
"""


def move_country_points(
    r: redis.Redis, player_id: int, old: str | None, new: str | None, now: datetime, settings: Settings
) -> int:
    """Move ``player_id``'s entries on the current country boards from ``old`` to ``new``
    (ISO codes); returns how many (board, period) entries moved. Call it after the new country
    is committed."""
    if not old or not new or old.upper() == new.upper():
        return 0
    spec = spec_of("country:" + new.upper())
    keys_: list[str] = []
    argv = [member_field(player_id)]
    for kind in spec.periods:
        period = period_id(kind, now)
        for code in (old.upper(), new.upper()):
            board = f"country:{code}"
            keys_ += [keys.leaderboard(board, period), keys.leaderboard_members(board, period)]
        argv.append(str(expires_at(period, settings.leaderboard_grace_s) or 0))
    return int(r.register_script(_MOVE)(keys=keys_, args=argv))
