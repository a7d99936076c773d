"""A web process notices that Redis lost its data, and puts back what it can.

Redis holds live state only; SQL is the truth (DESIGN.md). A FLUSHALL, or a restart without
persistence, empties it under running processes: the leaderboards vanish, rooms forget their
members, and room versions start again at 1, so a client that had seen version 40 would drop
every new event as old. Every ``redis_check_s`` each web process reads an epoch key that is
written once into an empty Redis. When it is gone or different:

* the leaderboards are rebuilt from SQL (``ensure_boards``: one process does it, under a lock,
  the others find them rebuilt);
* every room with members on this process gets them back (a join each) and each of its
  connections a full ``room`` snapshot — the new state and version — so play goes on.

What lived only in Redis is lost with it: a round in progress (its puzzle starts afresh),
queued jobs and scoring requests (the scheduler's rescore sweep scores what lacks a score).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from datetime import UTC, datetime

import redis
import redis.asyncio as aioredis
from starlette.concurrency import run_in_threadpool

from config import keys
from config.settings import Settings
from server.hub.fanout import Hub
from store.competition.boards_rebuild import ensure_boards
from store.db import Database

log = logging.getLogger(__name__)


class RedisWatch:
    def __init__(
        self, settings: Settings, db: Database, r: aioredis.Redis, r_sync: redis.Redis, hub: Hub
    ) -> None:
        self.settings, self.db, self.r, self.r_sync, self.hub = settings, db, r, r_sync, hub
        self.epoch: bytes | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.epoch = await self._current_epoch()
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task

    async def _current_epoch(self) -> bytes:
        """The epoch in Redis, writing a new one if there is none (the first process wins)."""
        await self.r.set(keys.redis_epoch(), uuid.uuid4().hex, nx=True)
        epoch = await self.r.get(keys.redis_epoch())
        return epoch if isinstance(epoch, bytes) else str(epoch).encode()

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.settings.redis_check_s)
            try:
                await self.check()
            except asyncio.CancelledError:
                raise
            except Exception:  # Redis down right now: the next check tries again
                log.warning("checking Redis for lost data failed", exc_info=True)

    async def check(self) -> bool:
        """Recover if Redis lost its data since the last check; True if it had."""
        if await self.r.get(keys.redis_epoch()) == self.epoch:
            return False
        log.warning("Redis lost its data: rebuilding leaderboards, resyncing rooms")
        epoch = await self._current_epoch()
        await run_in_threadpool(ensure_boards, self.r_sync, self.db, datetime.now(UTC), self.settings)
        await self._rejoin_rooms()
        self.epoch = epoch  # only now: a failure above is retried at the next check
        return True

    async def _rejoin_rooms(self) -> None:
        service = self.hub.service
        for room_id, conns in list(self.hub.rooms.items()):
            for conn in list(conns):
                if conn.room_id != room_id:
                    continue
                if conn.watching is None:  # players are members again; watchers never were
                    await service.join(room_id, conn.player_id, str(conn.player["name"]))
                conn.request_sync(room_id, None)
            await service.tick(room_id)  # members again: the room picks a puzzle
