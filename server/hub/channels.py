"""The pub/sub subscriptions of one web process, on one Redis or on a Redis Cluster.

Room channels carry the room log's events (store/eventlog.py publishes them from the append
script). On one Redis they are ordinary channels. On a Redis Cluster (``rooms_redis_cluster_url``)
they are shard channels: the append script SPUBLISHes on the shard that holds the room's log (a
room's keys and channel share its hash tag, config/keys.py), and this process SSUBSCRIBEs on
that shard's node, so an event crosses one node instead of being copied to every node of the
cluster as a PUBLISH is (docs/SCALING.md).

Player channels carry private events. Workers and the HTTP side publish them on ``redis_url``;
on a cluster, code that holds the rooms' client publishes them there with a plain PUBLISH
(which a cluster forwards to every node), so this process listens on both.

Every connection is read by its own task into one queue; the hub takes ``(channel, data)``
pairs from it in arrival order per connection (a room's events come over one connection, so
their order holds).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.client import PubSub
from redis.asyncio.cluster import RedisCluster

log = logging.getLogger(__name__)

RoomsRedis = aioredis.Redis | RedisCluster


def is_cluster(r: Any) -> bool:
    return isinstance(r, RedisCluster)


class WaitingRedisCluster(RedisCluster):
    """A cluster client whose commands wait their turn when every pooled connection is busy.

    redis-py's cluster pool raises MaxConnectionsError at once where its single-node pool
    (BlockingConnectionPool, server/app.py) waits: a join storm on the cluster failed snapshots
    that way. At most ``max_connections`` commands run at once, so no node's pool is exceeded.
    """

    def __init__(self, *args: Any, max_connections: int = 200, **kwargs: Any) -> None:
        super().__init__(*args, max_connections=max_connections, **kwargs)
        self._turns = asyncio.Semaphore(max_connections)

    async def execute_command(self, *args: Any, **kwargs: Any) -> Any:
        async with self._turns:
            return await super().execute_command(*args, **kwargs)


def _node_client(node: Any) -> aioredis.Redis:
    """A client of one cluster node (for its pub/sub connection), with the cluster's credentials."""
    kw = node.connection_kwargs
    auth = {"username": kw.get("username"), "password": kw.get("password")}
    return aioredis.Redis(host=node.host, port=node.port, **auth)


class _Reader:
    """One pub/sub connection and the task that moves its messages into the shared queue."""

    def __init__(self, pubsub: PubSub, out: asyncio.Queue[tuple[str, bytes]]) -> None:
        self.pubsub, self.out = pubsub, out
        self.task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        while True:
            try:
                message = await self.pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("pub/sub read failed; retrying")
                await asyncio.sleep(0.5)
                continue
            if message is None or message.get("type") not in ("message", "smessage"):
                continue
            channel = message["channel"]
            name = channel.decode() if isinstance(channel, bytes) else channel
            self.out.put_nowait((name, message["data"]))

    async def aclose(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.task
        with contextlib.suppress(Exception):
            await self.pubsub.aclose()


class Channels:
    """Subscribe to room and player channels; ``get()`` the next message of any of them."""

    def __init__(self, rooms_r: RoomsRedis, plain_r: aioredis.Redis) -> None:
        self.rooms_r, self.plain_r = rooms_r, plain_r
        self.sharded = is_cluster(rooms_r)
        self.queue: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue()
        self._plain = _Reader(plain_r.pubsub(), self.queue)  # rooms too, when not on a cluster
        self._cluster_players: _Reader | None = None
        self._shards: dict[str, _Reader] = {}  # node name -> its shard channels' reader
        self._room_node: dict[str, str] = {}  # shard channel -> node name
        self._shard_lock = asyncio.Lock()
        # Player (un)subscriptions waiting for the next batch: (subscribe?, channel, done).
        self._player_ops: list[tuple[bool, str, asyncio.Future[None]]] = []
        self._player_flush: asyncio.Task[None] | None = None

    async def start(self, idle_channel: str) -> None:
        # A pub/sub connection needs one subscription before it can be read.
        await self._plain.pubsub.subscribe(idle_channel)
        self._plain.start()
        if self.sharded:
            assert isinstance(self.rooms_r, RedisCluster)
            await self.rooms_r.initialize()  # learns the nodes and who holds which slots
            node = self.rooms_r.get_random_node()
            players = _node_client(node).pubsub()
            await players.subscribe(idle_channel)
            self._cluster_players = _Reader(players, self.queue)
            self._cluster_players.start()

    async def aclose(self) -> None:
        readers = [self._plain, self._cluster_players, *self._shards.values()]
        for reader in readers:
            if reader is not None:
                await reader.aclose()

    async def get(self) -> tuple[str, bytes]:
        return await self.queue.get()

    async def subscribe_player(self, channel: str) -> None:
        await self._player_op(True, channel)

    async def unsubscribe_player(self, channel: str) -> None:
        await self._player_op(False, channel)

    async def _player_op(self, subscribe: bool, channel: str) -> None:
        """Every socket subscribes to its player's channel: a connect storm sent one SUBSCRIBE
        (a write of its own) per socket, and one per UNSUBSCRIBE when they left (issue 19). The
        calls made while a batch is on its way go out together, in call order (a subscribe,
        unsubscribe, subscribe of one channel ends subscribed); each caller returns once its
        command was sent, as before."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._player_ops.append((subscribe, channel, done))
        if self._player_flush is None:
            self._player_flush = asyncio.get_running_loop().create_task(self._flush_player_ops())
        await done

    async def _flush_player_ops(self) -> None:
        try:
            while self._player_ops:
                ops, self._player_ops = self._player_ops, []
                for subscribe, run in itertools.groupby(ops, key=lambda op: op[0]):
                    batch = list(run)
                    channels = [channel for _, channel, _ in batch]
                    try:
                        for reader in (self._plain, self._cluster_players):
                            if reader is not None:
                                send = reader.pubsub.subscribe if subscribe else reader.pubsub.unsubscribe
                                await send(*channels)
                    except Exception as exc:  # each caller fails as it would have alone
                        for _, _, done in batch:
                            if not done.done():
                                done.set_exception(exc)
                        continue
                    for _, _, done in batch:
                        if not done.done():
                            done.set_result(None)
        finally:
            self._player_flush = None

    async def subscribe_room(self, channel: str) -> None:
        if not self.sharded:
            await self._plain.pubsub.subscribe(channel)
            return
        assert isinstance(self.rooms_r, RedisCluster)
        # One at a time: two joins racing to open a node's connection opened two, and every
        # event of their rooms then came twice or more (a join storm's outboxes overflowed).
        async with self._shard_lock:
            node = self.rooms_r.get_node_from_key(channel)
            reader = self._shards.get(node.name)
            if reader is None:
                pubsub = _node_client(node).pubsub()
                await pubsub.ssubscribe(channel)
                reader = self._shards[node.name] = _Reader(pubsub, self.queue)
                reader.start()
            else:
                await reader.pubsub.ssubscribe(channel)
            self._room_node[channel] = node.name

    async def unsubscribe_room(self, channel: str) -> None:
        if not self.sharded:
            await self._plain.pubsub.unsubscribe(channel)
            return
        async with self._shard_lock:
            name = self._room_node.pop(channel, None)
            reader = self._shards.get(name) if name else None
            if reader is not None:
                await reader.pubsub.sunsubscribe(channel)
