"""A player who changes country takes their points along to the new country's boards.

The rebuild from SQL (store/competition/boards_rebuild.py) counts every point event on the
board of the player's current country, so the live boards must do the same when the country
changes: otherwise the old points stay on the old board and one player ranks on two countries'
boards at once. The move is one script per change: each current period's entry leaves the old
country's board and is added to the new one's (``incr`` boards: the scores add up and the later
tie-break stays, as the rebuild would make it). A closed week's board keeps its history.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

import redis
from redis.lock import Lock
from sqlmodel import Session, col, select

from config import keys
from config.settings import Settings
from rooms.boards import expires_at, period_id, spec_of
from store.competition.leaderboards import member_field
from store.models import Player

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


def country_lock(r: redis.Redis, player_id: int) -> Lock:
    """One country change of ``player_id`` at a time, whichever tab or process makes it: its SQL
    write and its boards' move together (redis-py's lock)."""
    return r.lock(keys.player_country_lock(player_id), timeout=10, blocking_timeout=10)


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


def follow_country_changes(
    session: Session,
    r: redis.Redis,
    counted_under: Mapping[int, str | None],
    now: datetime,
    settings: Settings,
) -> int:
    """After points were counted on the boards of the countries in ``counted_under`` (player id
    -> the country read before counting): move them on where a country change landed meanwhile.

    The award read the country, then a change committed and moved the player's entries, then
    the award counted on the old board: the stray entry would stay there until a rebuild. A
    fresh read after counting sees the change, and the same move takes the stray entry along,
    under the change's own lock so that no third change interleaves (the move takes whatever
    entry the old board holds, so a second move of the same change finds nothing to do).
    Returns the entries moved; one SQL query when nothing changed, which is nearly always."""
    if not counted_under:
        return 0
    # Its own session: the caller's transaction may hold a snapshot from before the change.
    with Session(session.get_bind()) as fresh:
        query = select(Player.id, Player.country).where(col(Player.id).in_(list(counted_under)))
        changed = [pid for pid, country in fresh.exec(query) if _differ(counted_under[pid], country)]
    moved = 0
    for player_id in changed:
        with country_lock(r, player_id):
            with Session(session.get_bind()) as fresh:
                country = fresh.exec(select(Player.country).where(Player.id == player_id)).one()
            moved += move_country_points(r, player_id, counted_under[player_id], country, now, settings)
    return moved


def _differ(a: str | None, b: str | None) -> bool:
    return (a or "").upper() != (b or "").upper()
