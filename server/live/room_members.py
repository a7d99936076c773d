"""Who is in a puzzle room: two Redis hashes changed by one script each, without the room lock.

A join or a leave used to load and re-save the whole room state under the room's lock, with
the member list inside it: a 1,000-player room joining at once serialised 1,000 lock round
trips, each copying a list that grew with the room. Here membership lives beside the state
(config.keys.room_members: id -> name, room_conns: id -> open connections) and each change is
one Lua script.

Joins and leaves are announced together: a change adds the player to the room's set of
unannounced changes (config.keys.room_member_changes), and ``flush_s`` later one ``members``
event (store.eventlog's append, in the flush script) lists who of them is in the room now, with
their names, who is not, and the count. One event per room per flush instead of one per player
sent to every member: a room of 50 filling up sent each joiner ~25 ``joined`` frames, the
largest cost of a connect storm (issue 19). The event says what the members hash holds when it
is appended, so clients that apply the log in order end with the room's members whatever the
order of the changes across web processes (a leave on one and a join on another in the same
flush window end as the hash says). ``renamed`` still goes out at once (rare; no storm).

The rules are stated once, in rooms/puzzle_room.py (PuzzleRoom.join/leave/rename and
``members_event``): several connections per player, a kick drops them all, rooms bigger than
``announce_max`` change members silently (their clients follow the ``crowd`` count). The
scripts below run the same rules; tests/server/test_membership_rules.py runs random sequences
through both.

Each web process also counts the connections it holds per (room, player) in its own hash per
room (config.keys.room_process_members, in the room's slot; config.keys.process_rooms lists
the rooms), in the same scripts: when the process dies, another one removes
exactly those connections (``sweep``, driven by server/live/member_leases.py), so a killed
process leaves no ghost members.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable
from typing import Any

import orjson
import redis.asyncio as aioredis
from redis.exceptions import NoScriptError

from config import keys
from server.live.pipeline_batch import PipelineBatcher
from server.live.room_expiry import expiring_keys
from store.eventlog import append_lua, sharded

log = logging.getLogger(__name__)

# KEYS[1..3]: the room's version, stream and channel (rename's append), KEYS[4]: members hash,
# KEYS[5]: conns hash, KEYS[6]: room lock, KEYS[7]: room state hash, KEYS[8]: this process's
# connections hash, KEYS[9]: the room's unannounced changes (a set of player ids). ARGV[1]: the
# event (rename), ARGV[2]: the log's length, ARGV[3]: player id, ARGV[4]: name or count,
# ARGV[5]: announce_max, ARGV[6]: this process's field for (room, player).
# Join and leave answer 0 = no change, -1 = changed but the room is too big to announce,
# PENDING = changed and left to the room's next flush.
#
# _MARK: a snapshot is the saved state plus the members read after it and claims the version
# saved with the state. Membership events change no saved state, so when no transition is in
# flight (the lock is free) the event's version is marked as reflected; otherwise that
# transition saves a version at least as new when it ends.
_MARK = """
if redis.call('EXISTS', KEYS[6]) == 0 then
  redis.call('HSET', KEYS[7], 'v', tonumber(redis.call('GET', KEYS[1]) or '0') + 1)
end
"""
# KEYS[11..]: the room's keys that expire while it is empty (server/live/room_expiry.py); the
# first member makes them permanent again in the same step (no round trip of its own per join).
# KEYS[10]: the room's names hash; ARGV[8]: the casefolded name to claim in it first, '' for none
# (claimed already). A name another player holds changes nothing and answers NAME_TAKEN: the
# claim rides in the join's one round trip (a join storm's 10,000 claims were a round trip
# each, issue 19), and most names are free.
_JOIN = """
if ARGV[8] ~= '' and redis.call('HSETNX', KEYS[10], ARGV[8], ARGV[3]) == 0
   and redis.call('HGET', KEYS[10], ARGV[8]) ~= ARGV[3] then return -2 end
redis.call('HINCRBY', KEYS[8], ARGV[6], 1)
if redis.call('HINCRBY', KEYS[5], ARGV[3], 1) > 1 then return 0 end
redis.call('HSET', KEYS[4], ARGV[3], ARGV[4])
local n = redis.call('HLEN', KEYS[4])
if n == 1 then for i = 11, #KEYS do redis.call('PERSIST', KEYS[i]) end end
if n > tonumber(ARGV[5]) then return -1 end
redis.call('SADD', KEYS[9], ARGV[3])
return -3
"""

# ARGV[4] = "all" drops every connection of the player at once (a kick or a ban); a number
# drops that many. ARGV[7] = "own": they are this process's own (one of its sockets closed);
# "dead": a dead process's, counted in its hash (KEYS[8]), at most the player's open ones.
_LEAVE = """
local n = ARGV[4]
if ARGV[7] == 'own' then
  if ARGV[4] == 'all' then redis.call('HDEL', KEYS[8], ARGV[6])
  elseif redis.call('HINCRBY', KEYS[8], ARGV[6], -tonumber(ARGV[4])) <= 0 then
    redis.call('HDEL', KEYS[8], ARGV[6])
  end
end
if redis.call('HEXISTS', KEYS[4], ARGV[3]) == 0 then return 0 end
if n ~= 'all' and redis.call('HINCRBY', KEYS[5], ARGV[3], -tonumber(n)) > 0 then return 0 end
redis.call('HDEL', KEYS[5], ARGV[3])
redis.call('HDEL', KEYS[4], ARGV[3])
if redis.call('HLEN', KEYS[4]) >= tonumber(ARGV[5]) then return -1 end
redis.call('SADD', KEYS[9], ARGV[3])
return -3
"""

# Returns early when there is nothing to announce, as join and leave do.
_RENAME = """
if redis.call('HEXISTS', KEYS[4], ARGV[3]) == 0 then return 0 end
redis.call('HSET', KEYS[4], ARGV[3], ARGV[4])
if redis.call('HLEN', KEYS[4]) > tonumber(ARGV[5]) then return -1 end
"""

# The room's unannounced changes as one ``members`` event (rooms/puzzle_room.py
# ``members_event``), built from what the members hash holds now; then _MARK and the append.
# Same KEYS as above; ARGV[1] is set here, ARGV[2]: the log's length, ARGV[3]: announce_max.
_FLUSH = """
local ids = redis.call('SMEMBERS', KEYS[9])
if #ids == 0 then return 0 end
redis.call('DEL', KEYS[9])
local count = redis.call('HLEN', KEYS[4])
if count > tonumber(ARGV[3]) then return -1 end
table.sort(ids, function(a, b) return tonumber(a) < tonumber(b) end)
local joined, left = {}, {}
for _, id in ipairs(ids) do
  local name = redis.call('HGET', KEYS[4], id)
  if name then
    joined[#joined + 1] = '{"id":' .. id .. ',"name":' .. cjson.encode(name) .. '}'
  else
    left[#left + 1] = id
  end
end
ARGV[1] = '{"type":"members","joined":[' .. table.concat(joined, ',') .. '],"left":['
  .. table.concat(left, ',') .. '],"count":' .. count .. '}'
"""

NO_CHANGE = 0
SILENT = -1
NAME_TAKEN = -2  # the join script's claim of the name failed: nothing changed
PENDING = -3  # changed; the room's next flush announces it
# How long the server remembers a player's room for a reconnect with ``since``.
PLAYER_ROOM_TTL_S = 6 * 3600
# Separates room and player in a process hash's field (room ids never contain it).
FIELD_SEP = "\x1f"
# "alice (2)" … "alice (9)"; past that the player id tells them apart.
MAX_SAME_NAME = 9


class RoomMembers:
    """Membership of puzzle rooms; every method returns the outcome of its script.

    A join or a leave answers ``PENDING`` when it changed the room (announced by the room's
    next ``flush``, which it schedules ``flush_s`` later), ``SILENT`` when it changed a room too
    big to announce, ``NO_CHANGE`` otherwise (a second tab, a stranger); a rename answers the
    version of its event when it was announced.
    """

    def __init__(
        self, r: aioredis.Redis, announce_max: int, history: int, process_id: str = "", flush_s: float = 0.2
    ) -> None:
        self.r, self.announce_max, self.history, self.flush_s = r, announce_max, history, flush_s
        # Whose connections these are (server/live/member_leases.py); one id per web process.
        self.process_id = process_id or uuid.uuid4().hex
        self._join = r.register_script(_JOIN)
        self._leave = r.register_script(_LEAVE)
        self._rename = r.register_script(append_lua(r, _RENAME + _MARK))
        self._flush = r.register_script(append_lua(r, _FLUSH + _MARK))
        self._flushes: dict[str, asyncio.Task[None]] = {}  # room -> its scheduled flush
        self._batcher = PipelineBatcher(r)

    def _keys_args(
        self,
        room_id: str,
        event: dict[str, Any] | None,
        player_id: int,
        arg: str,
        whose: str = "own",
        process_id: str | None = None,
        more_keys: tuple[str, ...] = (),
        more_args: tuple[str, ...] = (),
    ) -> tuple[list[str], list[Any]]:
        keys_ = [
            keys.room_version(room_id),
            keys.room_events(room_id),
            keys.room_channel(room_id),
            keys.room_members(room_id),
            keys.room_conns(room_id),
            keys.room_lock(room_id),
            keys.room_state(room_id),
            # In the room's slot, so that the script's keys share one Redis Cluster shard.
            keys.room_process_members(room_id, process_id or self.process_id),
            keys.room_member_changes(room_id),
            *more_keys,
        ]
        field = f"{room_id}{FIELD_SEP}{player_id}"
        args = [
            orjson.dumps(event) if event is not None else "",
            self.history,
            player_id,
            arg,
            self.announce_max,
            field,
            whose,
            *more_args,
        ]
        return keys_, args

    async def _run(
        self,
        script: Any,
        room_id: str,
        event: dict[str, Any] | None,
        player_id: int,
        arg: str,
        whose: str = "own",
        **kw: Any,
    ) -> int:
        keys_, args = self._keys_args(room_id, event, player_id, arg, whose, **kw)
        return self._changed(room_id, int(await script(keys=keys_, args=args)))

    # -- announcing --------------------------------------------------------------------------
    def _changed(self, room_id: str, outcome: int) -> int:
        """Schedule the room's flush after a change that waits for one; the outcome."""
        if outcome == PENDING and room_id not in self._flushes:
            self._flushes[room_id] = asyncio.get_running_loop().create_task(self._flush_later(room_id))
        return outcome

    async def _flush_later(self, room_id: str) -> None:
        await asyncio.sleep(self.flush_s)
        # Forgotten before the flush runs: a change that lands during its round trip schedules
        # the next one (which finds the set empty if this flush covered it).
        self._flushes.pop(room_id, None)
        try:
            await self.flush(room_id)
        except Exception:  # Redis away: the changes wait in the set for the room's next flush
            log.exception("announcing the members of room %s", room_id)

    async def flush(self, room_id: str) -> int:
        """Announce the room's unannounced joins and leaves in one ``members`` event: its
        version, ``NO_CHANGE`` when there was nothing to announce, ``SILENT`` in a big room."""
        keys_, _ = self._keys_args(room_id, None, 0, "")
        return int(await self._flush(keys=keys_, args=["", self.history, self.announce_max]))

    async def aclose(self) -> None:
        """Announce what is scheduled now (a stopping web process)."""
        pending, self._flushes = self._flushes, {}
        for room_id, task in pending.items():
            task.cancel()
            with contextlib.suppress(Exception):
                await self.flush(room_id)

    async def join(self, room_id: str, player_id: int, name: str) -> int:
        """Join as ``name``; also remembers the player's room for a reconnect (``PLAYER_ROOM_TTL_S``)."""
        outcome, _name, _ = await self._join_once(room_id, player_id, name, claim=False)
        return outcome

    async def join_distinct(self, room_id: str, player_id: int, name: str) -> tuple[int, str]:
        """Join under the name this player shows in the room (``distinct``); (outcome, name)."""
        outcome, shown, _ = await self.join_reading(room_id, player_id, name)
        return outcome, shown

    async def join_reading(
        self, room_id: str, player_id: int, name: str, then: Callable[[Any], None] | None = None
    ) -> tuple[int, str, list[Any]]:
        """``join_distinct``, and the replies of the reads ``then`` queues on the join's pipeline
        (after the join script: the joiner's snapshot).

        One round trip when the name is free (most are): the bookkeeping of ``_before_join``, the
        name's claim with the join script, and ``then``'s reads."""
        outcome, shown, after = await self._join_once(room_id, player_id, name, claim=True, then=then)
        if outcome == NAME_TAKEN:
            shown = await self.distinct(room_id, player_id, name, first=2)
            outcome, shown, after = await self._join_once(room_id, player_id, shown, claim=False, then=then)
        return outcome, shown, after

    async def _join_once(
        self,
        room_id: str,
        player_id: int,
        name: str,
        *,
        claim: bool,
        then: Callable[[Any], None] | None = None,
    ) -> tuple[int, str, list[Any]]:
        more_keys = (keys.room_names(room_id), *expiring_keys(room_id))
        claimed = name.casefold() if claim else ""
        keys_, args = self._keys_args(
            room_id, None, player_id, name, more_keys=more_keys, more_args=(claimed,)
        )
        before = lambda pipe: self._before_join(pipe, room_id, player_id)  # noqa: E731
        outcome, after = await self._script_then(self._join, keys_, args, before, then)
        return self._changed(room_id, outcome), name, after

    async def _script_then(
        self,
        script: Any,
        keys_: list[str],
        args: list[Any],
        before: Callable[[Any], None] | None = None,
        then: Callable[[Any], None] | None = None,
    ) -> tuple[int, list[Any]]:
        """Run ``script`` in one pipeline with what ``before`` queues ahead of it and ``then``
        after it (reads that must see its change): (the script's reply, ``then``'s replies)."""
        if sharded(self.r):  # a cluster pipeline runs no scripts: the script goes alone
            await self._queued(before)
            return int(await script(keys=keys_, args=args)), await self._queued(then)
        at = 0

        def queue(pipe: Any) -> None:
            nonlocal at
            start = len(pipe.command_stack)
            if before is not None:
                before(pipe)
            at = len(pipe.command_stack) - start
            # EVALSHA itself, not the Script: a pipeline with Scripts asks SCRIPT EXISTS first
            # (a round trip of its own); an unloaded script is answered below instead.
            pipe.evalsha(script.sha, len(keys_), *keys_, *args)
            if then is not None:
                then(pipe)

        # In one pipeline with the joins and leaves of other sockets meanwhile (a storm's).
        replies = await self._batcher.run(queue)
        if isinstance(replies[at], NoScriptError):  # Redis restarted or flushed its scripts
            replies[at] = await script(keys=keys_, args=args)
            replies[at + 1 :] = await self._queued(then)  # what ``then`` read came before it
        for reply in replies:
            if isinstance(reply, Exception):
                raise reply
        return int(replies[at]), replies[at + 1 :]

    async def _queued(self, queue: Callable[[Any], None] | None) -> list[Any]:
        if queue is None:
            return []
        async with self.r.pipeline(transaction=False) as pipe:
            queue(pipe)
            return list(await pipe.execute())

    def _before_join(self, pipe: Any, room_id: str, player_id: int) -> None:
        """Queued before the join script (a 10,000-socket connect is round trips): which rooms
        to look in when this process dies (a room listed but emptied is harmless), and the
        player's room for a reconnect with ``since``."""
        pipe.sadd(keys.process_rooms(self.process_id), room_id)
        pipe.set(keys.player_room(player_id), room_id, ex=PLAYER_ROOM_TTL_S)

    async def leave(self, room_id: str, player_id: int, *, every_connection: bool = False) -> int:
        outcome, _ = await self.leave_reading(room_id, player_id, every_connection=every_connection)
        return outcome

    async def leave_reading(
        self,
        room_id: str,
        player_id: int,
        *,
        every_connection: bool = False,
        then: Callable[[Any], None] | None = None,
    ) -> tuple[int, list[Any]]:
        """``leave``, and the replies of the reads ``then`` queues after it in the same round
        trip (what the room service checks after a leave: a close storm's 10,000 leaves were
        four round trips each and ran the Redis pool dry, issue 19)."""
        arg = "all" if every_connection else "1"
        keys_, args = self._keys_args(room_id, None, player_id, arg)
        outcome, after = await self._script_then(self._leave, keys_, args, then=then)
        return self._changed(room_id, outcome), after

    async def sweep(self, dead_process: str, room_id: str, player_id: int, connections: int) -> int:
        """Remove ``connections`` of the player's that a dead process held (its hash said so)."""
        return await self._run(
            self._leave, room_id, None, player_id, str(connections), "dead", process_id=dead_process
        )

    async def rename(self, room_id: str, player_id: int, name: str) -> int:
        event = {"type": "renamed", "player": {"id": player_id, "name": name}}
        return await self._run(self._rename, room_id, event, player_id, name)

    async def distinct(self, room_id: str, player_id: int, name: str, first: int = 1) -> str:
        """The name this player shows in the room: ``name``, or ``name (2)``, ``(3)``… when another
        player of the room holds it (case-insensitive). Each shown name is claimed for one player
        (HSETNX), so two players joining as "alice" at once cannot both get it; a player keeps
        their claim when they come back. Claims are not freed when a player leaves: a later
        "alice" then shows as "alice (2)", which is still unambiguous in the room's history.
        ``first``: the first suffix to try (``join_distinct`` tried the bare name already)."""
        key = keys.room_names(room_id)
        for n in range(first, MAX_SAME_NAME + 1):
            shown = name if n == 1 else f"{name} ({n})"
            if await self.r.hsetnx(key, shown.casefold(), player_id):
                return shown
            holder = await self.r.hget(key, shown.casefold())
            if holder is not None and int(holder) == player_id:
                return shown
        return f"{name} #{player_id}"  # the player id is unique

    async def all(self, room_id: str) -> dict[int, str]:
        raw = await self.r.hgetall(keys.room_members(room_id))
        return {int(k): v.decode() if isinstance(v, bytes) else v for k, v in raw.items()}

    async def some(self, room_id: str, limit: int) -> tuple[dict[int, str], int]:
        """At most about ``limit`` members and the count: for a snapshot, which lists a few. A
        join storm into a room of 1,000 read the whole hash for every joiner (10^6 entries)."""
        async with self.r.pipeline(transaction=False) as pipe:
            self.some_into(pipe, room_id, limit)
            return await self.some_from(room_id, limit, await pipe.execute())

    def some_into(self, pipe: Any, room_id: str, limit: int) -> None:
        """``some``'s reads, queued on a caller's pipeline (the snapshot's one round trip)."""
        pipe.hlen(keys.room_members(room_id))
        pipe.hscan(keys.room_members(room_id), 0, count=limit)

    async def some_from(self, room_id: str, limit: int, replies: list[Any]) -> tuple[dict[int, str], int]:
        """``some`` from the replies of ``some_into``."""
        count, (cursor, raw) = int(replies[0]), replies[1]
        if count <= limit and int(cursor) != 0:  # a small hash the one scan step did not cover
            return await self.all(room_id), count
        found = {int(k): v.decode() if isinstance(v, bytes) else v for k, v in raw.items()}
        return dict(list(found.items())[:limit]), count

    async def only(self, room_id: str, player_id: int) -> dict[int, str]:
        """The one member, or nobody: for a move that only checks its own player."""
        name = await self.r.hget(keys.room_members(room_id), str(player_id))
        if name is None:
            return {}
        return {player_id: name.decode() if isinstance(name, bytes) else name}

    async def count(self, room_id: str) -> int:
        return int(await self.r.hlen(keys.room_members(room_id)))
