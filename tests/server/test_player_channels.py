"""Player channels are (un)subscribed in batches (server/hub/channels.py ``Channels``): a connect
storm's sockets share SUBSCRIBE commands instead of sending one each, and no private event is
lost or subscription left behind for it. Real Redis."""

from __future__ import annotations

import asyncio

import redis.asyncio as aioredis

from server.cli.embedded_redis import EmbeddedRedis
from server.hub.channels import Channels


async def _subscribe_calls(r: aioredis.Redis) -> int:
    stats = await r.info("commandstats")
    return int(stats.get("cmdstat_subscribe", {}).get("calls", 0))


async def _storm(url: str) -> None:
    r = aioredis.Redis.from_url(url)
    bus = Channels(r, r)
    await bus.start("players:idle-test")
    try:
        before = await _subscribe_calls(r)
        channels = [f"player-test:{i}" for i in range(200)]
        await asyncio.gather(*(bus.subscribe_player(c) for c in channels))
        sent = await _subscribe_calls(r) - before
        assert 1 <= sent <= 3, f"{sent} SUBSCRIBE commands for 200 sockets"
        # Every one of them is live: a private event to each arrives.
        for c in channels:
            await r.publish(c, c.encode())
        got = {(await asyncio.wait_for(bus.get(), 5))[0] for _ in channels}
        assert got == set(channels)

        # In call order: subscribe/unsubscribe/subscribe ends subscribed, and the reverse not.
        await asyncio.gather(
            bus.unsubscribe_player("player-test:0"),
            bus.subscribe_player("player-test:0"),
            bus.unsubscribe_player("player-test:1"),
        )
        numsub = dict(await r.pubsub_numsub("player-test:0", "player-test:1"))
        assert numsub == {b"player-test:0": 1, b"player-test:1": 0}
        await r.publish("player-test:1", b"gone")
        await r.publish("player-test:0", b"still here")
        assert await asyncio.wait_for(bus.get(), 5) == ("player-test:0", b"still here")
    finally:
        await bus.aclose()
        await r.aclose()


def test_a_storm_of_player_subscriptions_shares_commands_and_keeps_order(redis_server: EmbeddedRedis) -> None:
    asyncio.run(_storm(redis_server.url))
