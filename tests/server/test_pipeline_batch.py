"""Concurrent callers' commands in one pipeline (server/live/pipeline_batch.py), on the real Redis.

What must hold: callers queued meanwhile share one pipeline and each gets the replies of its
own commands, in their order; one caller's failing command fails that caller only; a caller
cancelled before its batch went out sends nothing; a Redis that cannot be reached fails every
caller of the batch (as each would alone) and the next batch still runs.
"""

from __future__ import annotations

import asyncio
from typing import Any

import redis
import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError

from config.settings import Settings
from server.live.pipeline_batch import PipelineBatcher


def _incr_then_get(key: str) -> Any:
    def queue(pipe: Any) -> None:
        pipe.incr(key)
        pipe.get(key)

    return queue


async def test_callers_meanwhile_share_a_pipeline_and_get_their_own_replies(
    settings: Settings, redis_client: redis.Redis
) -> None:
    r = aioredis.Redis.from_url(settings.redis_url)
    batcher = PipelineBatcher(r, batch_max=50)
    try:
        replies = await asyncio.gather(*(batcher.run(_incr_then_get(f"pb:{i % 7}")) for i in range(120)))
        assert batcher.batches == 3  # all queued before the first went out: 50, 50 and 20
        for incremented, read in replies:
            assert int(read) == incremented  # its own two commands, together and in order
        for k in range(7):  # every caller's commands ran once
            mine = sorted(replies[i][0] for i in range(k, 120, 7))
            assert mine == list(range(1, len(mine) + 1))
    finally:
        await r.aclose()


async def test_a_failing_command_fails_its_caller_only(settings: Settings, redis_client: redis.Redis) -> None:
    redis_client.set("pb:text", "not a number")
    r = aioredis.Redis.from_url(settings.redis_url)
    batcher = PipelineBatcher(r)
    try:
        good = [batcher.run(_incr_then_get("pb:n")) for _ in range(3)]
        bad = batcher.run(_incr_then_get("pb:text"))
        first, second, failed, third = await asyncio.gather(good[0], good[1], bad, good[2])
        assert isinstance(failed[0], ResponseError)  # the reply is the error, for the caller to judge
        assert failed[1] == b"not a number"
        assert [first[0], second[0], third[0]] == [1, 2, 3]  # the others ran as if alone
    finally:
        await r.aclose()


async def test_a_caller_cancelled_before_its_batch_sends_nothing(
    settings: Settings, redis_client: redis.Redis
) -> None:
    r = aioredis.Redis.from_url(settings.redis_url)
    batcher = PipelineBatcher(r)
    try:
        first = asyncio.ensure_future(batcher.run(_incr_then_get("pb:first")))
        await asyncio.sleep(0)  # the first batch is on its way: the next callers wait behind it
        gone = asyncio.ensure_future(batcher.run(_incr_then_get("pb:gone")))
        kept = asyncio.ensure_future(batcher.run(_incr_then_get("pb:kept")))
        await asyncio.sleep(0)
        gone.cancel()
        assert (await first)[0] == 1 and (await kept)[0] == 1
        assert redis_client.get("pb:gone") is None
    finally:
        await r.aclose()


async def test_an_unreachable_redis_fails_the_batch_and_the_next_one_runs(
    settings: Settings, redis_client: redis.Redis
) -> None:
    dead = aioredis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=1)
    batcher = PipelineBatcher(dead)
    outcomes = await asyncio.gather(
        *(batcher.run(_incr_then_get("pb:x")) for _ in range(5)), return_exceptions=True
    )
    assert all(isinstance(o, RedisConnectionError) for o in outcomes)
    batcher.r = aioredis.Redis.from_url(settings.redis_url)
    try:
        assert (await batcher.run(_incr_then_get("pb:x")))[0] == 1
    finally:
        await batcher.r.aclose()
        await dead.aclose()
