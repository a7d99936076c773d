"""Rate-limited publishing: at most one update per interval per room, over every web process.

DESIGN.md: "crowd counts pushed at most once a second". When 500 people join at once the room
must not get 500 count events; it gets one now and one a second later with the total.

``Throttle(interval_s, action, r=..., claim_key=...)`` is the reusable part (the streamer
rooms can use it for any per-room tally): call ``poke()`` whenever something changed; the
action runs at the earliest allowed moment and reads the CURRENT value itself, so many pokes
fold into one run. With a Redis client and a claim key the limit holds across processes:
before running, a process claims the key with ``SET NX PX interval``; a process that loses the
claim waits out the key's remaining time and tries again, so the last change always gets
published, by somebody, within about one interval.

``Crowds`` uses it for the ``crowd`` room event: ``{"type": "crowd", "players": n,
"audience": m}`` (members of the puzzle room, and the streamer room's audience counter).
The hub calls ``crowds.changed(room_id)`` after a join or a leave.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

import redis.asyncio as aioredis

from config import keys

log = logging.getLogger(__name__)

# Idle rooms' throttles are forgotten every this many changes: sweeping at every join and leave
# walked every room of the process each time (10,000 joins into 200 rooms: 2 million steps).
SWEEP_EVERY = 256


class Throttle:
    """Runs ``action`` after a ``poke()``, at most once per ``interval_s`` (per claim key if given)."""

    def __init__(
        self,
        interval_s: float,
        action: Callable[[], Awaitable[None]],
        *,
        r: aioredis.Redis | None = None,
        claim_key: str | None = None,
    ) -> None:
        self.interval_s, self.action = interval_s, action
        self.r, self.claim_key = r, claim_key
        self._task: asyncio.Task[None] | None = None
        self._again = False  # poked while the action ran: run once more after the interval
        self._last_run = float("-inf")

    @property
    def idle(self) -> bool:
        return self._task is None or self._task.done()

    def poke(self) -> None:
        if not self.idle:
            self._again = True
            return
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            wait = self._last_run + self.interval_s - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            while (held_ms := await self._claim()) > 0:  # another process published just now
                await asyncio.sleep(held_ms / 1000)
            # Pokes until now are covered by this run (the action reads the current value).
            self._again = False
            self._last_run = loop.time()
            try:
                await self.action()
            except Exception:
                log.exception("throttled action %s failed", self.claim_key)
            if not self._again:
                return

    async def _claim(self) -> int:
        """0 when this process may run now, else the milliseconds the claim is still held."""
        if self.r is None or self.claim_key is None:
            return 0
        interval_ms = max(1, int(self.interval_s * 1000))
        if await self.r.set(self.claim_key, b"1", nx=True, px=interval_ms):
            return 0
        return max(1, int(await self.r.pttl(self.claim_key)))


class Crowds:
    """One throttled ``crowd`` event per room: players and audience, at most once per interval."""

    def __init__(
        self,
        r: aioredis.Redis,
        interval_s: float,
        count_players: Callable[[str], Awaitable[int]],
        emit: Callable[[str, dict[str, object]], Awaitable[None]],
    ) -> None:
        self.r, self.interval_s = r, interval_s
        self.count_players, self.emit = count_players, emit
        self._throttles: dict[str, Throttle] = {}
        self._changes = 0

    def changed(self, room_id: str) -> None:
        """Something changed the room's crowd; the count goes out within about one interval."""
        self._changes += 1
        if self._changes % SWEEP_EVERY == 0:  # forget rooms nothing happens in (no unbounded growth)
            for idle_room in [k for k, t in self._throttles.items() if t.idle and k != room_id]:
                del self._throttles[idle_room]
        throttle = self._throttles.get(room_id)
        if throttle is None:
            claim = keys.room_crowd_claim(room_id)
            throttle = Throttle(self.interval_s, lambda: self._publish(room_id), r=self.r, claim_key=claim)
            self._throttles[room_id] = throttle
        throttle.poke()

    async def count(self, room_id: str) -> tuple[int, int]:
        players = await self.count_players(room_id)
        audience = max(0, int(await self.r.get(keys.room_audience_count(room_id)) or 0))
        return players, audience

    async def _publish(self, room_id: str) -> None:
        # Only a poke (a join or leave) leads here, so an unchanged count is rare and harmless;
        # comparing with what this process sent last would be wrong when another one sent since.
        counts = await self.count(room_id)
        await self.emit(room_id, {"type": "crowd", "players": counts[0], "audience": counts[1]})

    async def aclose(self) -> None:
        for throttle in list(self._throttles.values()):  # a closing socket may add one meanwhile
            await throttle.aclose()
