"""A join storm's Redis cost (docs/BENCHMARKS.md "Issue 19, session 9"):
`pytest -s tests/bench/bench_join_batch.py -o addopts=""`.

CPU of this process per ``join_synced`` (the join script, its bookkeeping and the joiner's
snapshot: what a socket's ``join`` costs the web process in Redis work), 200 joins in flight
at a time into rooms of 50 as the load bench's connect storm makes them, on the real Redis:
one pipeline per join (``batch_max=1``, the code before session 9) against the joins meanwhile
in one pipeline (server/live/pipeline_batch.py), alternated in one run. BENCH_JOINS sets the
joins per measurement (5,000).
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time

import redis
import redis.asyncio as aioredis

from config.settings import Settings
from server.app import HiredisPacked
from server.live.pipeline_batch import BATCH_MAX, PipelineBatcher
from server.live.room_service import RoomService
from store.db import Database
from tests.server.conftest import Clock

JOINS = int(os.environ.get("BENCH_JOINS", "5000"))
IN_FLIGHT = 200  # the load generator's connects in flight (tests/bench/loadgen.py)


async def _storm(service: RoomService, first_id: int) -> float:
    """CPU seconds of this process per join for JOINS joins from ``first_id`` on."""
    gate = asyncio.Semaphore(IN_FLIGHT)

    async def one(pid: int) -> None:
        async with gate:
            await service.join_synced(f"jb{pid // 50}", pid, f"P{pid}")

    started = time.process_time()
    await asyncio.gather(*(one(pid) for pid in range(first_id, first_id + JOINS)))
    return (time.process_time() - started) / JOINS


async def test_join_storm_cpu_per_join(settings: Settings, db: Database, redis_client: redis.Redis) -> None:
    hub = settings.model_copy(update={"room_lobby_s": 600.0})
    # The web process's pool (server/app.py): 200 connections, waited for when all are taken,
    # commands packed by hiredis.
    pool = aioredis.BlockingConnectionPool.from_url(
        hub.redis_url, max_connections=200, timeout=20, connection_class=HiredisPacked
    )
    r = aioredis.Redis(connection_pool=pool)
    service = RoomService(hub, db, r, redis_client, clock=Clock())
    figures: dict[int, list[float]] = {1: [], BATCH_MAX: []}
    try:
        await service.join("warm", 1, "W")  # the scripts loaded
        first = 10
        for _ in range(3):
            for batch_max in figures:
                service.members._batcher = PipelineBatcher(r, batch_max=batch_max)
                figures[batch_max].append(await _storm(service, first))
                first += JOINS
        one, batched = (statistics.median(figures[k]) * 1e6 for k in (1, BATCH_MAX))
        print(f"\n{JOINS} joins, {IN_FLIGHT} in flight, rooms of 50 (median of 3, us of CPU per join):")
        print(f"  one pipeline per join: {one:.0f} {[round(x * 1e6) for x in figures[1]]}")
        print(f"  joins meanwhile in one: {batched:.0f} {[round(x * 1e6) for x in figures[BATCH_MAX]]}")
        print(f"  ratio {batched / one:.2f}", flush=True)
        assert batched < one
    finally:
        await service.members.aclose()
        await r.aclose()
