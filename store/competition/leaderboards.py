"""Leaderboards on Redis sorted sets: the live path (one round trip per point event) and queries.

How a board is stored, and why (ties without losing precision):

* The sorted-set score is the board's integer score itself, negated on ``desc`` boards, so that
  every board reads in ascending order (ZRANGE/ZRANK) with the best first. Integer scores are
  exact in a double up to 2**53; nothing is packed next to them, so no precision is lost.
* Ties are broken by the member string, which Redis orders bytewise among equal scores. The
  member is ``<ms:13><event id:12><player or team id:12>``, all digits, fixed width: the time at
  which the entry reached its current score, then the event id (two events in one ms), then the
  id. So among equal scores the earlier achievement comes first, deterministically.
* Because that member changes when the score changes, a hash per board maps id -> member.

Ranks: ``rank`` is the competition rank (1, 2, 2, 4): 1 + the number of entries with a strictly
better score (one ZCOUNT). ``position`` is the deterministic order (0-based) that the tie-break
gives; pages and "around me" follow it, so two tied players share a rank but always show in the
same order.

Every update is order-independent (incr keeps the latest tie-break, best the earliest at the
best score, set the latest), which is what lets a rebuild from SQL reproduce the live boards.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime

import redis

from config import keys
from config.settings import Settings, get_settings
from rooms.boards import BoardError, Placement, boards_for_event, epoch_ms, spec_of
from store.models import Player, PointEvent

ENTRY_WIDTH = 37  # 13 + 12 + 12 digits
MAX_ABS_SCORE = 2**53 - 1

# KEYS: (zset, hash) per placement. ARGV[1]: count; then per placement: op, stored value (already
# negated for desc boards), tie-break (25 digits), member id (12 digits), expire-at (0 = keep).
# Scores travel as strings: Redis prints doubles exactly, and the one sum (incr) is formatted with
# %.17g, because Lua's tostring of a number keeps only 14 significant digits.
_APPLY = """
local n = tonumber(ARGV[1])
for i = 0, n - 1 do
  local zkey, hkey = KEYS[2 * i + 1], KEYS[2 * i + 2]
  local a = 2 + i * 5
  local op, value, tb, id, exp = ARGV[a], ARGV[a + 1], ARGV[a + 2], ARGV[a + 3], ARGV[a + 4]
  local entry = tb .. id
  local old = redis.call('HGET', hkey, id)
  local oldscore = old and redis.call('ZSCORE', zkey, old)
  if not oldscore then
    redis.call('ZADD', zkey, value, entry)
    redis.call('HSET', hkey, id, entry)
  else
    local oldtb = string.sub(old, 1, 25)
    local newscore, newentry = nil, old
    if op == 'incr' then
      -- %.17g prints every integer below 2**53 exactly (tostring would keep 14 digits).
      newscore = string.format('%.17g', tonumber(oldscore) + tonumber(value))
      if tb > oldtb then newentry = entry end
    elseif op == 'best' then
      local v, s = tonumber(value), tonumber(oldscore)
      if v < s or (v == s and tb < oldtb) then newscore, newentry = value, entry end
    elseif tb > oldtb then
      newscore, newentry = value, entry
    end
    if newentry ~= old then
      redis.call('ZREM', zkey, old)
      redis.call('HSET', hkey, id, newentry)
    end
    if newscore then redis.call('ZADD', zkey, newscore, newentry) end
  end
  if exp ~= '0' then
    redis.call('EXPIREAT', zkey, exp)
    redis.call('EXPIREAT', hkey, exp)
  end
end
return n
"""

# Rows with competition ranks: for each distinct score on the page, one ZCOUNT.
_ROWS = """
local function rows(key, start, stop)
  local r = redis.call('ZRANGE', key, start, stop, 'WITHSCORES')
  local out, prev, rank = {}, nil, 0
  for i = 1, #r, 2 do
    if r[i + 1] ~= prev then
      prev = r[i + 1]
      rank = redis.call('ZCOUNT', key, '-inf', '(' .. prev) + 1
    end
    out[#out + 1] = r[i]; out[#out + 1] = prev; out[#out + 1] = rank
  end
  return out
end
"""

# KEYS: zset. ARGV: cursor score ('' = first page), cursor entry, limit.
# Keyset: the page starts after (score, entry) wherever that entry is now. The tie group of the
# cursor's score is [lo, hi) by position; a binary search finds the first entry after it.
_PAGE = (
    _ROWS
    + """
local key, limit, start = KEYS[1], tonumber(ARGV[3]), 0
if ARGV[1] ~= '' then
  local lo = redis.call('ZCOUNT', key, '-inf', '(' .. ARGV[1])
  local hi = redis.call('ZCOUNT', key, '-inf', ARGV[1])
  while lo < hi do
    local mid = math.floor((lo + hi) / 2)
    if redis.call('ZRANGE', key, mid, mid)[1] <= ARGV[2] then lo = mid + 1 else hi = mid end
  end
  start = lo
end
return {start, rows(key, start, start + limit - 1)}
"""
)

# KEYS: zset, hash. ARGV: id, neighbours per side. The window keeps 2n+1 rows at either end.
_AROUND = (
    _ROWS
    + """
local entry = redis.call('HGET', KEYS[2], ARGV[1])
local pos = entry and redis.call('ZRANK', KEYS[1], entry)
if not pos then return nil end
local size, n = redis.call('ZCARD', KEYS[1]), tonumber(ARGV[2])
local start = math.max(0, math.min(pos - n, size - 1 - 2 * n))
return {start, size, pos, rows(KEYS[1], start, start + 2 * n)}
"""
)

# KEYS: zset, hash. ARGV: id. Returns position, score, competition rank, board size.
_RANK = """
local entry = redis.call('HGET', KEYS[2], ARGV[1])
local score = entry and redis.call('ZSCORE', KEYS[1], entry)
if not score then return nil end
return {redis.call('ZRANK', KEYS[1], entry), score,
        redis.call('ZCOUNT', KEYS[1], '-inf', '(' .. score) + 1, redis.call('ZCARD', KEYS[1])}
"""


@dataclass(frozen=True)
class Entry:
    id: int  # player id, or team id on the teams board
    score: int
    rank: int  # competition rank: ties share it
    position: int  # 0-based deterministic order

    def to_json(self) -> dict[str, int]:
        return {"id": self.id, "score": self.score, "rank": self.rank, "position": self.position}


@dataclass(frozen=True)
class Page:
    entries: list[Entry]
    next_cursor: str | None


@dataclass(frozen=True)
class Around:
    me: Entry
    size: int
    entries: list[Entry]


def tiebreak(event: PointEvent) -> str:
    return f"{epoch_ms(event.created_at):013d}{event.id or 0:012d}"


def member_field(member_id: int) -> str:
    return f"{member_id:012d}"


def stored_value(order: str, score: int) -> int:
    return -score if order == "desc" else score


def _check_amount(amount: int) -> None:
    if isinstance(amount, bool) or not isinstance(amount, int) or abs(amount) > MAX_ABS_SCORE:
        raise BoardError(f"point amounts must be integers below 2**53, got {amount!r}")


def _script(r: redis.Redis, source: str) -> redis.commands.core.Script:
    return r.register_script(source)


def _args(placements: list[Placement], event: PointEvent, now: datetime) -> tuple[list[str], list[str]]:
    now_s = epoch_ms(now) // 1000
    keys_: list[str] = []
    argv: list[str] = []
    tb = tiebreak(event)
    for p in placements:
        if p.expire_at is not None and p.expire_at <= now_s:
            continue  # a late event for a period whose board is already gone
        keys_ += [keys.leaderboard(p.board, p.period), keys.leaderboard_members(p.board, p.period)]
        value = stored_value(p.spec.order, event.amount)
        argv += [p.spec.operator, str(value), tb, member_field(p.member), str(p.expire_at or 0)]
    return keys_, [str(len(keys_) // 2), *argv]


def apply_point_event(
    r: redis.Redis,
    event: PointEvent,
    player: Player,
    team_id: int | None,
    now: datetime,
    settings: Settings | None = None,
) -> int:
    """Count one stored point event on every board its player is on, in one round trip.

    Call it right after the PointEvent row is committed (it needs the row's id). Returns how
    many (board, period) keys were updated.
    """
    if event.id is None:
        raise BoardError("apply_point_event needs a committed PointEvent (its id breaks ties)")
    _check_amount(event.amount)
    cfg = settings or get_settings()
    placements = boards_for_event(
        event, player, team_id, grace_s=cfg.leaderboard_grace_s, room_ttl_s=cfg.leaderboard_room_ttl_s
    )
    keys_, argv = _args(placements, event, now)
    return int(_script(r, _APPLY)(keys=keys_, args=argv))


# -- queries ------------------------------------------------------------------------------
def _entries(order: str, raw: list[bytes | int], start: int) -> list[Entry]:
    out = []
    for i in range(0, len(raw), 3):
        entry, score, rank = raw[i], raw[i + 1], raw[i + 2]
        member = int(entry[-12:])  # type: ignore[index]
        out.append(Entry(member, stored_value(order, int(float(score))), int(rank), start + i // 3))  # type: ignore[arg-type]
    return out


def encode_cursor(order: str, entry: Entry, raw_entry: bytes) -> str:
    text = f"{stored_value(order, entry.score)}:{raw_entry.decode()}"
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[str, str]:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        score, entry = text.split(":")
        int(score)
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise BoardError("bad cursor") from exc
    if len(entry) != ENTRY_WIDTH or not entry.isdigit():
        raise BoardError("bad cursor")
    return score, entry


def top(r: redis.Redis, board: str, period: str, limit: int, cursor: str | None = None) -> Page:
    """The best ``limit`` entries after ``cursor`` (keyset pagination, stable under inserts)."""
    spec = spec_of(board)
    if limit < 1:
        raise BoardError("limit must be at least 1")
    score, entry = decode_cursor(cursor) if cursor else ("", "")
    start, raw = _script(r, _PAGE)(keys=[keys.leaderboard(board, period)], args=[score, entry, limit])
    entries = _entries(spec.order, raw, int(start))
    next_cursor = None
    if len(entries) == limit:
        next_cursor = encode_cursor(spec.order, entries[-1], raw[-3])
    return Page(entries, next_cursor)


def around(r: redis.Redis, board: str, period: str, member_id: int, neighbours: int) -> Around | None:
    """``member_id`` and up to ``neighbours`` entries each side (2n+1 rows also at either end)."""
    spec = spec_of(board)
    if neighbours < 0:
        raise BoardError("neighbours must not be negative")
    keys_ = [keys.leaderboard(board, period), keys.leaderboard_members(board, period)]
    found = _script(r, _AROUND)(keys=keys_, args=[member_field(member_id), neighbours])
    if not found:
        return None
    start, size, pos, raw = found
    entries = _entries(spec.order, raw, int(start))
    me = next(e for e in entries if e.position == int(pos))
    return Around(me, int(size), entries)


def ranks(r: redis.Redis, boards: list[tuple[str, str]], member_id: int) -> dict[tuple[str, str], dict]:
    """My rank on each (board, period) that has me, in one pipelined round trip."""
    rows = my_ranks(r, [(board, period, member_id) for board, period in boards])
    return {(str(row["board"]), str(row["period"])): row for row in rows}


def my_ranks(r: redis.Redis, placements: list[tuple[str, str, int]]) -> list[dict[str, object]]:
    """Rank rows for (board, period, member) triples (see boards.boards_of_player), one round trip."""
    script = _script(r, _RANK)
    pipe = r.pipeline(transaction=False)
    for board, period, member in placements:
        keys_ = [keys.leaderboard(board, period), keys.leaderboard_members(board, period)]
        script(keys=keys_, args=[member_field(member)], client=pipe)
    out: list[dict[str, object]] = []
    for (board, period, member), found in zip(placements, pipe.execute(), strict=True):
        if found:
            pos, score, rank, size = found
            value = stored_value(spec_of(board).order, int(float(score)))
            out.append({"board": board, "period": period, "id": member, "score": value, "rank": int(rank),
                        "position": int(pos), "size": int(size)})  # fmt: skip
    return out
