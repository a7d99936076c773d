"""One web process's queue for each room's lock: its coroutines wait their turn here, in order.

The room lock lives in Redis (every process shares it), and redis-py waits for a busy Redis
lock by polling it. When hundreds of moves of one room arrived together in one process
(a 1,000-player room at 10 moves/s on a loaded machine), every waiting coroutine polled every
few milliseconds: tens of thousands of Redis commands a second that held the connection pool
(`No connection available`) and the CPU the lock's holder needed to finish, so holds grew
and waits timed out (`LockError`, issue 19). Here a process's waiters queue on an
``asyncio.Lock`` per room (FIFO, no polling) and only the one at the head polls Redis, where it
meets at most one waiter from each other process.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from redis.exceptions import LockError


class RoomTurns:
    """``async with turns.turn(room_id)``: this process's exclusive turn at the room's lock."""

    def __init__(self, wait_s: float) -> None:
        self.wait_s = wait_s
        # A room's lock lives while some coroutine holds or waits for it, then goes by itself.
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    def _lock(self, room_id: str) -> asyncio.Lock:
        lock = self._locks.get(room_id)
        if lock is None:
            lock = self._locks[room_id] = asyncio.Lock()
        return lock

    def busy(self, room_id: str) -> bool:
        """Some coroutine of this process holds or waits for the room: the clock need not try."""
        lock = self._locks.get(room_id)
        return lock is not None and lock.locked()

    @asynccontextmanager
    async def turn(self, room_id: str) -> AsyncIterator[None]:
        lock = self._lock(room_id)
        try:
            async with asyncio.timeout(self.wait_s):
                await lock.acquire()
        except TimeoutError:
            raise LockError(f"room {room_id} stayed busy for {self.wait_s:g} s") from None
        try:
            yield
        finally:
            lock.release()
