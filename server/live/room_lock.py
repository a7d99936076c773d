"""A room's Redis lock: short TTL kept alive while its holder lives, and fenced writes.

The lock used to be redis-py's with a 15 s timeout: a web process killed mid-submit left the
room frozen for up to 15 s. Here the key lives ``ttl_s`` (Settings.room_lock_ttl_s, 5 s by
default) and the process's ``LockKeeper`` renews it every ``RENEW_EVERY_S`` (a quarter of a
shorter TTL) while the holder holds it; a dead holder's lock lapses within ``ttl_s``.

A live holder loses its lock only when its whole process stops for longer than the TTL less the
renewal period: the keeper's thread needs the GIL, and a pass of the cyclic garbage collector
holds it throughout. With 10,000 sockets held such a pass took 2.13 s at load 7 (issue 19,
docs/BENCHMARKS.md "session 10"), past the 2 s TTL of before: rooms lost their locks under their
live holders (``LockLost``). At 5 s a pause of up to 4.5 s is survived, twice that pass.

The keeper is a thread with its own synchronous Redis connection, not a task on the event loop:
a renewal task shared the loop and the async pool with a 10,000-socket connect storm, came
late, and the lock lapsed under a live holder (``LockLost``, issue 19). A thread is scheduled
by the OS whatever the loop is doing (the GIL is handed over every few milliseconds) and waits
for no pooled connection. It renews a lock at most ``MAX_HOLD_S``: a holder stuck longer than
any move may take is treated as dead, and its lock lapses as a dead process's does.

Fencing: a holder that stalls past its TTL (a blocked loop, a partition) may find the lock
taken over. Every write it makes under the lock — the state save and each event appended to
the room's log — runs in one Lua script that first checks the lock still holds its token, so a
lapsed holder writes nothing (``LockLost``) instead of overwriting its successor's work.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import threading
import time
from contextvars import ContextVar
from typing import Any

import orjson
import redis
import redis.asyncio as aioredis

from config import keys
from store import eventlog

log = logging.getLogger(__name__)

# The keeper stops renewing a lock held longer than this (a move waits at most 15 s for a room).
MAX_HOLD_S = 60.0
# How often the keeper renews (at most; a quarter of a TTL under 2 s). A pause of the process up
# to the TTL less this costs no lock (the module doc); a renewal is one pipelined round trip for
# all the locks held, and only while some are held, so a short period costs little.
RENEW_EVERY_S = 0.5

# room id -> (the token of the lock held on it, the task holding it); the fenced writes read
# it. A task spawned inside the locked block inherits this context but not the lock: the
# task is part of the entry so that such a task writes unfenced, as it would anywhere else.
HELD: ContextVar[dict[str, tuple[str, object]] | None] = ContextVar("room_locks_held", default=None)

_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
# Prefix for a write under the lock: KEYS[1] the lock, ARGV[1] the token.
FENCE_LUA = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return redis.error_reply('LOCKLOST') end
"""


class LockLost(Exception):
    """The lock lapsed before this write: another holder may have moved the room since."""


class LockTimeout(Exception):
    pass


class LockKeeper:
    """Renews every room lock this process holds, from a thread of its own (see the module doc).

    ``r_sync``: a synchronous client of the Redis that holds the locks (a cluster client when
    the rooms are on a cluster). The thread starts with the first lock and runs as a daemon."""

    def __init__(self, r_sync: redis.Redis | Any, ttl_s: float) -> None:
        self.ttl_ms = max(100, int(ttl_s * 1000))
        self._r = r_sync
        self._renew = r_sync.register_script(_RENEW)
        self._held: dict[tuple[str, str], float] = {}  # (lock key, token) -> when it was taken
        self._guard = threading.Lock()
        self._wake = threading.Event()
        self._stopping = threading.Event()  # set by close(); also ends a renewal period's sleep
        self._thread: threading.Thread | None = None

    def hold(self, key: str, token: str) -> None:
        with self._guard:
            self._held[(key, token)] = time.monotonic()
            if self._thread is None and not self._stopping.is_set():
                self._thread = threading.Thread(target=self._run, name="room-lock-keeper", daemon=True)
                self._thread.start()
            self._wake.set()  # an idle keeper sleeps until a lock is held

    def drop(self, key: str, token: str) -> None:
        with self._guard:
            self._held.pop((key, token), None)

    def close(self, timeout_s: float = 5.0) -> None:
        """Stop the thread (the app's shutdown): a keeper left running after its app keeps
        waking for the GIL; a test process that started hundreds of apps ran hundreds of them,
        and the live app's keeper, queued behind them for the GIL, came too late (LockLost in
        CI's 2,000-fan audience test)."""
        with self._guard:
            thread, self._thread = self._thread, None
            self._stopping.set()
            self._wake.set()
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout_s)

    def _run(self) -> None:
        period_s = min(RENEW_EVERY_S, self.ttl_ms / 4000)
        while True:
            with self._guard:
                if self._stopping.is_set():
                    return
                idle = not self._held
                if idle:
                    self._wake.clear()
            if idle:
                # Nothing to renew: sleep until hold() or close() wakes us, not every period.
                self._wake.wait()
                continue
            if self._stopping.wait(period_s):
                return
            now = time.monotonic()
            with self._guard:
                held = [kt for kt, since in self._held.items() if now - since < MAX_HOLD_S]
            try:
                self._renew_all(held)
            except Exception:  # Redis away: the fenced writes tell the holder
                log.debug("renewing %d locks failed", len(held), exc_info=True)

    def _renew_all(self, held: list[tuple[str, str]]) -> None:
        """Every held lock in one round trip. One at a time, 200 locks (a submit in each of 200
        rooms at once, issue 19's idle run) were 200 round trips, each waiting for the GIL
        again behind a busy event loop (up to the 5 ms switch interval each): a cycle took
        longer than the locks' 2 s and the last ones lapsed under their holders (LockLost).
        A cluster pipeline runs no scripts: there they go one by one."""
        if not held:
            return
        if isinstance(self._r, redis.RedisCluster):
            for key, token in held:
                try:  # one shard away must not cost the locks on the others their renewal
                    self._renew(keys=[key], args=[token, self.ttl_ms])
                except Exception:
                    log.debug("renewing %s failed", key, exc_info=True)
            return
        pipe = self._r.pipeline(transaction=False)
        for key, token in held:
            self._renew(keys=[key], args=[token, self.ttl_ms], client=pipe)
        pipe.execute(raise_on_error=False)


class RoomLock:
    def __init__(self, r: aioredis.Redis, room_id: str, keeper: LockKeeper, poll_s: float = 0.005) -> None:
        self.r, self.room_id, self.keeper = r, room_id, keeper
        self.key = keys.room_lock(room_id)
        self.ttl_ms = keeper.ttl_ms
        self.poll_s = poll_s
        self.token = secrets.token_hex(12)
        self._release = r.register_script(_RELEASE)

    async def acquire(self, blocking: bool = True, timeout_s: float = 15.0) -> bool:
        # Kept alive from before the SET is sent: the reply can wait in the socket for seconds
        # while a backlogged event loop gets round to it, and a keeper told only then found the
        # lock already lapsed (issue 19's LockLost). Renewing a key that holds another token
        # does nothing.
        self.keeper.hold(self.key, self.token)
        deadline = time.monotonic() + timeout_s
        try:
            while not await self.r.set(self.key, self.token, nx=True, px=self.ttl_ms):
                if not blocking:
                    self.keeper.drop(self.key, self.token)
                    return False
                if time.monotonic() > deadline:
                    raise LockTimeout(f"room {self.room_id} stayed locked for {timeout_s} s")
                await asyncio.sleep(self.poll_s)
        except BaseException:
            self.keeper.drop(self.key, self.token)
            raise
        held = dict(HELD.get() or {})
        held[self.room_id] = (self.token, asyncio.current_task())
        HELD.set(held)
        return True

    async def release(self) -> None:
        self.keeper.drop(self.key, self.token)
        held = dict(HELD.get() or {})
        held.pop(self.room_id, None)
        HELD.set(held)
        await self._release(keys=[self.key], args=[self.token])


# KEYS: state hash, lock, version. ARGV: state, token. Only the room's own keys: on a Redis
# Cluster a script's keys must share a slot (the room's hash tag, config/keys.py), so the
# rooms index (one key for all rooms) is written after it.
_SAVE = (
    FENCE_LUA.replace("KEYS[1]", "KEYS[2]").replace("ARGV[1]", "ARGV[2]")
    + """
local v = tonumber(redis.call('GET', KEYS[3]) or '0')
redis.call('HSET', KEYS[1], 'state', ARGV[1], 'v', v)
return v
"""
)
# The event-log append (store.eventlog), fenced: KEYS[4] the lock, ARGV[3] the token.
_FENCE_APPEND = FENCE_LUA.replace("KEYS[1]", "KEYS[4]").replace("ARGV[1]", "ARGV[3]")


class FencedWrites:
    """The writes a lock holder makes, each refused (``LockLost``) once its lock lapsed."""

    def __init__(self, r: aioredis.Redis) -> None:
        self.r = r
        self._save = r.register_script(_SAVE)
        self._append = r.register_script(eventlog.append_lua(r, _FENCE_APPEND))  # SPUBLISH on a cluster

    async def save(self, room_id: str, state: bytes, index_score: float, token: str) -> None:
        """The room's state with the version it reflects (read in the same script)."""
        state_keys = [keys.room_state(room_id), keys.room_lock(room_id), keys.room_version(room_id)]
        await self._run(self._save, state_keys, [state, token], room_id)
        await self.r.zadd(keys.rooms_index(), {room_id: index_score})

    async def append(self, room_id: str, event: dict[str, Any], history: int, token: str) -> None:
        log_keys = [keys.room_version(room_id), keys.room_events(room_id), keys.room_channel(room_id)]
        log_keys.append(keys.room_lock(room_id))
        body = orjson.dumps({k: v for k, v in event.items() if k != "v"})
        await self._run(self._append, log_keys, [body, history, token], room_id)

    @staticmethod
    async def _run(script: Any, script_keys: list[str], args: list[Any], room_id: str) -> None:
        try:
            await script(keys=script_keys, args=args)
        except redis.ResponseError as exc:
            if "LOCKLOST" in str(exc):
                raise LockLost(f"room {room_id}: its lock lapsed before this write") from None
            raise


def held_token(room_id: str) -> str | None:
    """The token of this task's lock on the room, if it holds one."""
    entry = (HELD.get() or {}).get(room_id)
    if entry is None or entry[1] is not asyncio.current_task():
        return None
    return entry[0]
