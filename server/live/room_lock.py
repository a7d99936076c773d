"""A room's Redis lock: short TTL kept alive while its holder lives, and fenced writes.

The lock used to be redis-py's with a 15 s timeout: a web process killed mid-submit left the
room frozen for up to 15 s. Here the key lives ``ttl_s`` (Settings.room_lock_ttl_s, 2 s by
default) and a task renews it every third of that while the holder's event loop runs; a dead
holder's lock lapses within ``ttl_s``.

Fencing: a holder that stalls past its TTL (a blocked loop, a partition) may find the lock
taken over. Every write it makes under the lock — the state save and each event appended to
the room's log — runs in one Lua script that first checks the lock still holds its token, so a
lapsed holder writes nothing (``LockLost``) instead of overwriting its successor's work.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from contextvars import ContextVar

import redis.asyncio as aioredis

from config import keys

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


class RoomLock:
    def __init__(self, r: aioredis.Redis, room_id: str, ttl_s: float, poll_s: float = 0.005) -> None:
        self.r, self.room_id = r, room_id
        self.key = keys.room_lock(room_id)
        self.ttl_ms = max(100, int(ttl_s * 1000))
        self.poll_s = poll_s
        self.token = secrets.token_hex(12)
        self._renewer: asyncio.Task[None] | None = None
        self._renew = r.register_script(_RENEW)
        self._release = r.register_script(_RELEASE)

    async def acquire(self, blocking: bool = True, timeout_s: float = 15.0) -> bool:
        deadline = time.monotonic() + timeout_s
        while not await self.r.set(self.key, self.token, nx=True, px=self.ttl_ms):
            if not blocking:
                return False
            if time.monotonic() > deadline:
                raise LockTimeout(f"room {self.room_id} stayed locked for {timeout_s} s")
            await asyncio.sleep(self.poll_s)
        self._renewer = asyncio.get_running_loop().create_task(self._keep_alive())
        held = dict(HELD.get() or {})
        held[self.room_id] = (self.token, asyncio.current_task())
        HELD.set(held)
        return True

    async def _keep_alive(self) -> None:
        while True:
            await asyncio.sleep(self.ttl_ms / 3000)
            with contextlib.suppress(Exception):  # a failed renewal: the fenced writes tell
                if not await self._renew(keys=[self.key], args=[self.token, self.ttl_ms]):
                    return

    async def release(self) -> None:
        if self._renewer is not None:
            self._renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._renewer
        held = dict(HELD.get() or {})
        held.pop(self.room_id, None)
        HELD.set(held)
        await self._release(keys=[self.key], args=[self.token])


def held_token(room_id: str) -> str | None:
    """The token of this task's lock on the room, if it holds one."""
    entry = (HELD.get() or {}).get(room_id)
    if entry is None or entry[1] is not asyncio.current_task():
        return None
    return entry[0]


def is_lock_lost(exc: Exception) -> bool:
    return "LOCKLOST" in str(exc)
