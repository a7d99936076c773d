"""A room snapshot's state and version agree even while a transition is half written.

The race this pins down: a transition appends its events to the log and only then saves the
state. A snapshot taken in between used to pair the NEW version with the OLD state, so a
joining client saw a lobby and dropped the ``puzzle`` event as already seen (and waited for a
round forever). The fix stores the version with the state; a slow ``emit`` widens the window.
"""

from __future__ import annotations

import asyncio
from typing import Any

import redis
import redis.asyncio as aioredis

from config.settings import Settings
from server.live.room_service import RoomService
from store import eventlog
from store.db import Database


class SlowEmitService(RoomService):
    """Pauses after each appended event, so snapshots land between append and save."""

    async def emit(self, room_id: str, events: list[dict[str, Any]]) -> None:
        await super().emit(room_id, events)
        await asyncio.sleep(0.05)


async def test_a_snapshot_never_claims_events_its_state_does_not_show(
    hub_settings: Settings, db: Database, redis_client: redis.Redis, campaign: list[int]
) -> None:
    r = aioredis.Redis.from_url(hub_settings.redis_url)
    service = SlowEmitService(hub_settings, db, r, redis_client)
    try:
        await service.join("snap", 1, "ann")  # lobby, due at once (lobby_s = 0)
        ticking = asyncio.create_task(service.tick("snap"))
        snapshots = []
        while not ticking.done():
            snapshots.append(await service.snapshot("snap"))
            await asyncio.sleep(0.005)
        await ticking
        snapshots.append(await service.snapshot("snap"))
    finally:
        await r.aclose()
    puzzle_v = next(e["v"] for e in eventlog.since(redis_client, "snap", 0) or [] if e["type"] == "puzzle")
    assert len(snapshots) > 3, "the window was not sampled"
    for snap in snapshots:
        # A snapshot that includes the puzzle event's version shows the round, and one that
        # does not shows the lobby: then the client gets the puzzle event live.
        assert (snap["v"] >= puzzle_v) == (snap["phase"] == "round"), (snap["v"], snap["phase"], puzzle_v)
    assert snapshots[-1]["phase"] == "round"
