"""Rooms on a real Redis Cluster (three redis-server processes started here), sharded pub/sub.

Two real web processes with ``rooms_redis_cluster_url`` serve two rooms whose slots are on
different nodes; players on both processes play each room; a worker's event (the sync cluster
client, as workers/scoring.py tells rooms) reaches them. The room's channel must be a shard
channel with a subscriber from each process on the node that owns the room's slot and an
ordinary channel nowhere, and the room must live on the cluster, not on redis_url.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections.abc import Iterator

import orjson
import pytest
import redis
import redis.asyncio as aioredis
from redis.crc import key_slot

from config import keys
from config.settings import Settings
from server.hub.channels import Channels, WaitingRedisCluster
from store import eventlog
from tests.server.conftest import Client, start_web_process
from tests.support.redis_cluster import SLOTS, LocalCluster, cluster_binary

pytestmark = pytest.mark.skipif(
    cluster_binary() is None, reason="needs redis-server >= 7.0 (apt-get install redis-server)"
)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    with LocalCluster(tmp_path_factory.mktemp("cluster"), nodes=3) as found:
        yield found


def _node_of(room: str, nodes: int = 3) -> int:
    return key_slot(keys.room_channel(room).encode()) * nodes // SLOTS


def _count(reply: object) -> int:
    """The one channel's subscriber count from a NUMSUB/SHARDNUMSUB reply (pairs or a flat list)."""
    items = list(reply)  # type: ignore[call-overload]
    if items and isinstance(items[0], tuple | list):
        return int(items[0][1])
    return int(items[1])


def _rooms_on_different_nodes() -> tuple[str, str]:
    first = "shard-a"
    for i in range(100):
        other = f"shard-b{i}"
        if _node_of(other) != _node_of(first):
            return first, other
    raise AssertionError("no second room on another node")


def test_every_key_and_the_channel_of_a_room_share_one_slot() -> None:
    """Every keys.* function whose first argument is a room id (other arguments filled in)."""
    room_keys = [
        fn
        for _name, fn in inspect.getmembers(keys, inspect.isfunction)
        if list(inspect.signature(fn).parameters)[:1] == ["room_id"]
    ]
    assert len(room_keys) >= 15
    for room in ("shared", "load0", "q-daily-2026-11-29"):
        slots = set()
        for fn in room_keys:
            extra = [1] * (len(inspect.signature(fn).parameters) - 1)
            slots.add(key_slot(fn(room, *extra).encode()))
        assert slots == {key_slot(keys.room_channel(room).encode())}, room


@pytest.fixture
def cluster_web(
    hub_settings: Settings, campaign: list[int], cluster: LocalCluster
) -> Iterator[tuple[Settings, str, str]]:
    settings = hub_settings.model_copy(update={"rooms_redis_cluster_url": cluster.url})
    first, url1 = start_web_process(settings)
    try:
        second, url2 = start_web_process(settings)
    except Exception:
        first.kill()
        raise
    yield settings, url1, url2
    for proc in (first, second):
        proc.terminate()
        proc.wait(10)


async def test_rooms_play_across_processes_on_sharded_channels(
    cluster_web: tuple[Settings, str, str], cluster: LocalCluster, redis_client: redis.Redis
) -> None:
    _settings, url1, url2 = cluster_web
    worker_r = redis.RedisCluster.from_url(cluster.url)
    nodes = [redis.Redis(host="127.0.0.1", port=port) for port in cluster.ports]
    clients: list[Client] = []
    try:
        for room in _rooms_on_different_nodes():
            alice, bob = await Client.connect(url1), await Client.connect(url2)
            clients += [alice, bob]
            await alice.expect("welcome")
            bob_id = (await bob.expect("welcome"))["player"]["id"]
            # Private events: from redis_url (workers) and through the cluster (room code).
            for n, publisher in enumerate((redis_client, worker_r)):
                publisher.publish(keys.player_channel(bob_id), orjson.dumps({"type": "private", "n": n}))
                assert (await bob.expect("private", where=lambda e, n=n: e["n"] == n))["n"] == n
            await alice.join_round(room)
            await bob.send({"type": "join", "room": room})
            await bob.expect("room")
            await alice.send({"type": "submit", "text": f"cats in {room}"})
            eid = (await bob.expect("explanation"))["explanation"]["id"]
            await bob.send({"type": "vote", "explanation_id": eid})
            assert (await alice.expect("vote"))["explanation_id"] == eid
            # A worker's event, appended with SPUBLISH through the sync cluster client.
            event = {"type": "score_progress", "explanation_id": eid, "done": 1, "total": 2}
            eventlog.append(worker_r, room, event)
            for client in (alice, bob):
                assert (await client.expect("score_progress"))["explanation_id"] == eid
            # Each saw every version after its join once, in order.
            for client in (alice, bob):
                start = min(e["v"] for e in client.events if e["type"] == "room")
                seen = [e["v"] for e in client.events if e.get("v", 0) > start and e["type"] != "room"]
                assert seen == list(range(start + 1, start + 1 + len(seen))), seen

            channel = keys.room_channel(room)
            owner = _node_of(room)
            for i, node in enumerate(nodes):
                assert _count(node.pubsub_numsub(channel)) == 0
                assert _count(node.pubsub_shardnumsub(channel)) == (2 if i == owner else 0), (room, i)
            # The room lives on the cluster, not on redis_url.
            assert worker_r.exists(keys.room_state(room)) == 1
            assert redis_client.exists(keys.room_state(room)) == 0
    finally:
        for client in clients:
            await client.close()
        worker_r.close()
        for node in nodes:
            node.close()


async def test_concurrent_first_subscriptions_on_a_node_hear_each_event_once(cluster: LocalCluster) -> None:
    """A join storm subscribes a room from many joins at once; each event must still come once
    (two joins racing to open a node's connection opened two: every event came twice or more)."""
    rooms_r = WaitingRedisCluster.from_url(cluster.url)
    plain = aioredis.Redis.from_url(cluster.url)
    await rooms_r.initialize()
    bus = Channels(rooms_r, plain)
    worker_r = redis.RedisCluster.from_url(cluster.url)
    await bus.start(keys.player_channel("test-idle"))
    first, _ = _rooms_on_different_nodes()
    neighbours = [r for r in (f"same{i}" for i in range(200)) if _node_of(r) == _node_of(first)]
    same_node = [first, *neighbours[:2]]
    try:
        channels = [keys.room_channel(room) for room in same_node]
        await asyncio.gather(*(bus.subscribe_room(ch) for ch in channels for _ in range(10)))
        for room in same_node:
            await asyncio.to_thread(eventlog.append, worker_r, room, {"type": "x"})
        heard = []
        with contextlib.suppress(TimeoutError):
            while True:
                heard.append((await asyncio.wait_for(bus.get(), 1.0))[0])
        assert sorted(heard) == sorted(channels)  # each room's event once
    finally:
        await bus.aclose()
        await rooms_r.aclose()
        await plain.aclose()
        worker_r.close()
