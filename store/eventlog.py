"""A room's versioned event log in Redis: one stream per room plus pub/sub fan-out.

Every event gets the room's next version ``v`` atomically (one Lua script), is kept
in a trimmed stream whose entry ids are ``v-0`` so replay is a range read, and is
published on the room's channel so every web process with members can forward it.
Web processes and workers both append here, so a worker's score and a player's
vote are ordered in one sequence. On a Redis Cluster the script publishes with SPUBLISH on the
room's shard channel (server/hub/channels.py).
"""

from __future__ import annotations

from typing import Any

import orjson
import redis
import redis.asyncio as aioredis

from config import keys

# KEYS: version, stream, channel. ARGV: event json (an object without "v"), maxlen.
_APPEND = """
local v = redis.call('INCR', KEYS[1])
local body = ARGV[1]
local event
if body == '{}' then
  event = '{"v":' .. v .. '}'
else
  event = '{"v":' .. v .. ',' .. string.sub(body, 2)
end
redis.call('XADD', KEYS[2], 'MAXLEN', tonumber(ARGV[2]), v .. '-0', 'e', event)
redis.call('PUBLISH', KEYS[3], event)
return v
"""
# Prefix of _APPEND for append_once. KEYS[4]: the once key. ARGV[3]: its TTL in seconds.
_ONCE = """
if not redis.call('SET', KEYS[4], '1', 'NX', 'EX', tonumber(ARGV[3])) then return 0 end
"""


# Prefix of _APPEND for append_marked_async. KEYS[4]: the room's lock, KEYS[5]: its state hash.
# An event that changes no saved state (a crowd count) marks the saved state as reflecting its
# version when no transition is in flight, as membership events do (server/live/room_members.py
# _MARK): a snapshot claims the saved state's version, and one that lagged behind such events
# made every joiner after them find a gap and replay the log (a round trip per join, issue 19).
_MARKED = """
if redis.call('EXISTS', KEYS[5]) == 1 and redis.call('EXISTS', KEYS[4]) == 0 then
  redis.call('HSET', KEYS[5], 'v', tonumber(redis.call('GET', KEYS[1]) or '0') + 1)
end
"""

# Other scripts that must change something and log it atomically end with this (server/live/room_members.py).
APPEND_LUA = _APPEND


def sharded(r: Any) -> bool:
    """A Redis Cluster client: rooms' events go out on shard channels (SPUBLISH)."""
    return isinstance(r, redis.RedisCluster | aioredis.RedisCluster)


def append_lua(r: Any, prefix: str = "") -> str:
    """``prefix`` + the append script for this client: SPUBLISH on a cluster, where the room's
    channel shares its keys' hash tag and so its shard (config/keys.py)."""
    body = _APPEND.replace("redis.call('PUBLISH'", "redis.call('SPUBLISH'") if sharded(r) else _APPEND
    return prefix + body


async def append_marked_async(
    r: aioredis.Redis, room_id: str, event: dict[str, Any], *, history: int = 500
) -> int:
    """``append_async`` for an event outside any transition (``_MARKED``); its version."""
    script = r.register_script(append_lua(r, _MARKED))
    keys_ = [
        keys.room_version(room_id),
        keys.room_events(room_id),
        keys.room_channel(room_id),
        keys.room_lock(room_id),
        keys.room_state(room_id),
    ]
    return int(await script(keys=keys_, args=[_encode(event), history]))


def _encode(event: dict[str, Any]) -> bytes:
    if "v" in event:
        event = {k: val for k, val in event.items() if k != "v"}
    return orjson.dumps(event)


def append(r: redis.Redis, room_id: str, event: dict[str, Any], *, history: int = 500) -> int:
    """Append one event; returns its version. Synchronous, for workers and the CLI."""
    script = r.register_script(append_lua(r))
    keys_ = [keys.room_version(room_id), keys.room_events(room_id), keys.room_channel(room_id)]
    return int(script(keys=keys_, args=[_encode(event), history]))


def append_once(
    r: redis.Redis, room_id: str, event: dict[str, Any], once_key: str, ttl_s: int, *, history: int = 500
) -> int | None:
    """Append unless ``once_key`` exists, and set it, in one script: a retried job can never
    tell a room the same thing twice, nor skip it. The version, or None when already told."""
    script = r.register_script(append_lua(r, _ONCE))
    keys_ = [keys.room_version(room_id), keys.room_events(room_id), keys.room_channel(room_id), once_key]
    v = script(keys=keys_, args=[_encode(event), history, ttl_s])
    return int(v) if v else None  # type: ignore[arg-type]


async def append_async(r: aioredis.Redis, room_id: str, event: dict[str, Any], *, history: int = 500) -> int:
    """Append one event; returns its version. For the web process."""
    script = r.register_script(append_lua(r))
    keys_ = [keys.room_version(room_id), keys.room_events(room_id), keys.room_channel(room_id)]
    return int(await script(keys=keys_, args=[_encode(event), history]))


def _decode_entries(entries: list[Any]) -> list[dict[str, Any]]:
    out = []
    for _id, fields in entries:
        raw = fields.get(b"e") if b"e" in fields else fields.get("e")
        out.append(orjson.loads(raw))
    return out


def _complete_after(events: list[dict[str, Any]], v: int) -> list[dict[str, Any]] | None:
    """The events if they continue exactly after ``v``; None when some were trimmed."""
    if not events or events[0]["v"] != v + 1:
        return None
    return events


async def since_async(r: aioredis.Redis, room_id: str, v: int) -> list[dict[str, Any]] | None:
    """Events after version ``v``, oldest first; None if some were trimmed (resync)."""
    current = int(await r.get(keys.room_version(room_id)) or 0)
    if v >= current:
        return []
    entries = await r.xrange(keys.room_events(room_id), min=f"{v + 1}-0", max="+")
    return _complete_after(_decode_entries(entries), v)


def since(r: redis.Redis, room_id: str, v: int) -> list[dict[str, Any]] | None:
    current = int(r.get(keys.room_version(room_id)) or 0)  # type: ignore[arg-type]
    if v >= current:
        return []
    entries = r.xrange(keys.room_events(room_id), min=f"{v + 1}-0", max="+")
    return _complete_after(_decode_entries(entries), v)  # type: ignore[arg-type]


def publish_to_player(r: redis.Redis, player_id: int | str, event: dict[str, Any]) -> None:
    """A private event (not in the room log): e.g. the answer to a player's test_text."""
    r.publish(keys.player_channel(player_id), orjson.dumps(event))
