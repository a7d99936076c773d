"""Ghost members of a dead web process are removed: a lease per process and a sweep.

Every web process keeps a lease (config.keys.process_lease, TTL Settings.process_lease_s,
renewed every third of it) and is listed in config.keys.processes. Its room memberships are
counted per (room, player) in its own hash per room (server/live/room_members.py). Each process also
sweeps: a listed process whose lease lapsed is dead (SIGKILL, OOM, a lost host) — one sweeper
claims it (SET NX), removes exactly the connections its hash counts (``RoomMembers.sweep``,
which announces ``left`` like any leave), lets an emptied lobby rest, and forgets the process.
A kill -9'd process's members are gone within about ``process_lease_s`` plus one sweep.

The lease is renewed from a thread with a synchronous client when one is given (the app gives
one), like the room locks (server/live/room_lock.py): a renewal task on an event loop
backlogged by a connect storm came late on a loaded machine, another process took this live
process for dead and removed its members (issue 19's four-process run). The sweep stays on
the loop: a late sweep only delays the removal of a dead process's members.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Awaitable, Callable

import redis
import redis.asyncio as aioredis

from config import keys
from server.live.room_members import FIELD_SEP, NO_CHANGE, RoomMembers

log = logging.getLogger(__name__)


class MemberLeases:
    def __init__(
        self,
        r: aioredis.Redis,
        members: RoomMembers,
        lease_s: float,
        on_empty: Callable[[str], Awaitable[None]] | None = None,
        r_sync: redis.Redis | None = None,
    ) -> None:
        self.r, self.members, self.lease_s, self.r_sync = r, members, lease_s, r_sync
        self.process_id = members.process_id
        # Called with a room id that a sweep left empty (the room service rests its lobby).
        self.on_empty = on_empty
        self._task: asyncio.Task[None] | None = None
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None

    async def start(self) -> None:
        await self.renew()
        if self.r_sync is not None:
            self._thread = threading.Thread(target=self._renew_in_thread, name="process-lease", daemon=True)
            self._thread.start()
        self._task = asyncio.get_running_loop().create_task(self._loop())

    def _renew_in_thread(self) -> None:
        assert self.r_sync is not None
        while not self._stopped.wait(self.lease_s / 3):
            try:
                self.r_sync.set(keys.process_lease(self.process_id), b"1", px=int(self.lease_s * 1000))
            except Exception:  # Redis away: the loop's renewal logs it
                log.debug("renewing the process lease from its thread failed", exc_info=True)

    async def stop(self) -> None:
        self._stopped.set()
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join, 5)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        with contextlib.suppress(Exception):  # a clean stop: our sockets left already
            await self.r.delete(keys.process_lease(self.process_id))
            await self.r.srem(keys.processes(), self.process_id)

    async def renew(self) -> None:
        async with self.r.pipeline(transaction=False) as pipe:
            pipe.set(keys.process_lease(self.process_id), b"1", px=int(self.lease_s * 1000))
            pipe.sadd(keys.processes(), self.process_id)
            await pipe.execute()

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.lease_s / 3)
            try:
                await self.renew()
                await self.sweep()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("renewing the process lease or sweeping dead processes")

    async def sweep(self) -> int:
        """Remove the members of every dead process; returns how many connections went."""
        removed = 0
        for raw in await self.r.smembers(keys.processes()):
            process = raw.decode() if isinstance(raw, bytes) else str(raw)
            if process == self.process_id or await self.r.exists(keys.process_lease(process)):
                continue
            claim = keys.process_sweep_claim(process)
            if not await self.r.set(claim, self.process_id, nx=True, px=int(self.lease_s * 1000)):
                continue  # another process is sweeping it
            removed += await self._sweep_one(process)
        return removed

    async def _sweep_one(self, process: str) -> int:
        removed = 0
        for raw_room in await self.r.smembers(keys.process_rooms(process)):
            room = raw_room.decode() if isinstance(raw_room, bytes) else str(raw_room)
            held = await self.r.hgetall(keys.room_process_members(room, process))
            for field, count in held.items():
                name = field.decode() if isinstance(field, bytes) else str(field)
                room_id, _, player = name.rpartition(FIELD_SEP)
                n = int(count)
                if n <= 0 or not player.isdigit():
                    continue
                changed = await self.members.sweep(process, room_id, int(player), n)
                removed += n
                if changed != NO_CHANGE and self.on_empty and await self.members.count(room_id) == 0:
                    await self.on_empty(room_id)
            await self.r.delete(keys.room_process_members(room, process))
        await self.r.delete(keys.process_rooms(process))
        await self.r.srem(keys.processes(), process)
        if removed:
            log.warning("removed %d connections of dead web process %s", removed, process)
        return removed
