"""A websocket load generator (loopback only, bounded count and time): N real clients.

``run_load(urls, connections, room_size, rate, duration, pids, redis_url=None)`` connects
``connections`` clients round-robin over the web processes at ``urls``, puts them in rooms of
``room_size``, and lets each room submit (then vote) at ``rate`` events/s for ``duration`` s.

Two latencies, both on this process's one clock:
* round trip: a sender's ``submit``/``vote`` leaving this process -> each member's receipt of
  the resulting event (includes the server's move: lock, SQL insert, log append);
* broadcast (with ``redis_url``): the event's publication on the room's Redis channel -> each
  member's receipt. This process subscribes to the channels itself, so "server event" is the
  moment the log's script published it.
Memory: the web processes' RSS (/proc) after the connections minus before, per connection,
and the marginal figure over the second half of the connections (no start-up caches in it).

The clients share the 2 cores with the servers: the figures are an upper bound.
"""

from __future__ import annotations

import asyncio
import resource
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import redis.asyncio as aioredis
from websockets.asyncio.client import ClientConnection, connect

from config import keys

MAX_CONNECTIONS = 12_000  # bounded: this is a loopback tool, not a traffic cannon
MAX_DURATION_S = 120.0


def raise_fd_limit(wanted: int) -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = min(hard, max(soft, wanted))
    resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return target


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


@dataclass
class LoadResult:
    connections_wanted: int
    connections_held: int = 0
    connect_s: float = 0.0
    rss_per_conn_bytes: float = 0.0
    rss_marginal_bytes: float = 0.0
    events_sent: int = 0
    round_trip_ms: list[float] = field(default_factory=list)
    broadcast_ms: list[float] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {
            "connections": f"{self.connections_held}/{self.connections_wanted}",
            "connect_s": round(self.connect_s, 1),
            "kib_per_conn": round(self.rss_per_conn_bytes / 1024, 1),
            "kib_marginal": round(self.rss_marginal_bytes / 1024, 1),
            "events_sent": self.events_sent,
            "deliveries": len(self.round_trip_ms),
            "rt_p50_ms": round(percentile(self.round_trip_ms, 0.5), 1),
            "rt_p99_ms": round(percentile(self.round_trip_ms, 0.99), 1),
            "bc_p50_ms": round(percentile(self.broadcast_ms, 0.5), 1),
            "bc_p99_ms": round(percentile(self.broadcast_ms, 0.99), 1),
        }


class Clocks:
    """When each tagged move was sent, and when each room event was published."""

    def __init__(self) -> None:
        self.sent: dict[str, float] = {}
        self.published: dict[tuple[str, int], float] = {}


class LoadClient:
    def __init__(self, ws: ClientConnection, room: str, clocks: Clocks, result: LoadResult) -> None:
        self.ws, self.room, self.clocks, self.result = ws, room, clocks, result
        self.welcome: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.explanations: list[int] = []
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        try:
            async for frame in self.ws:
                now = time.monotonic()
                event = orjson.loads(frame)
                kind = event.get("type")
                if kind == "welcome" and not self.welcome.done():
                    self.welcome.set_result(event)
                elif kind == "ping":
                    await self.ws.send(orjson.dumps({"type": "pong", "t": event.get("t")}).decode())
                elif kind == "explanation":
                    self.explanations.append(int(event["explanation"]["id"]))
                    self._stamp(f"s:{event['explanation']['text']}", event, now)
                elif kind == "vote":
                    self._stamp(f"v:{event['explanation_id']}:{event['player_id']}", event, now)
        except Exception:
            return

    def _stamp(self, tag: str, event: dict[str, Any], now: float) -> None:
        start = self.clocks.sent.get(tag)
        if start is not None:
            self.result.round_trip_ms.append((now - start) * 1000)
        published = self.clocks.published.get((self.room, int(event.get("v", -1))))
        if published is not None:
            self.result.broadcast_ms.append((now - published) * 1000)

    async def send(self, message: dict[str, Any]) -> None:
        await self.ws.send(orjson.dumps(message).decode())


async def _watch_channels(redis_url: str, rooms: list[str], clocks: Clocks) -> None:
    r = aioredis.Redis.from_url(redis_url)
    pubsub = r.pubsub()
    by_channel = {keys.room_channel(room): room for room in rooms}
    await pubsub.subscribe(*by_channel)
    try:
        while True:
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
            if message is None:
                continue
            now = time.monotonic()
            channel = message["channel"].decode()
            v = orjson.loads(message["data"]).get("v")
            if isinstance(v, int):
                clocks.published[(by_channel[channel], v)] = now
    finally:
        await pubsub.aclose()
        await r.aclose()


async def run_load(
    urls: list[str],
    connections: int,
    room_size: int,
    rate: float,
    duration: float,
    pids: list[int],
    redis_url: str | None = None,
    connect_parallel: int = 200,
) -> LoadResult:
    connections = min(connections, MAX_CONNECTIONS)
    duration = min(duration, MAX_DURATION_S)
    raise_fd_limit(connections + 1_000)
    result, clocks = LoadResult(connections), Clocks()
    rooms = [f"load{r}" for r in range((connections + room_size - 1) // room_size)]
    gate = asyncio.Semaphore(connect_parallel)
    clients: list[LoadClient | None] = [None] * connections

    async def open_one(i: int) -> None:
        async with gate:
            try:
                ws = await connect(
                    urls[i % len(urls)], max_size=2**22, ping_interval=None, open_timeout=60, compression=None
                )
                client = LoadClient(ws, rooms[i // room_size], clocks, result)
                await asyncio.wait_for(client.welcome, 60)
                await client.send({"type": "join", "room": client.room})
                clients[i] = client
            except Exception:
                return

    before = sum(rss_bytes(pid) for pid in pids)
    start = time.monotonic()
    half = connections // 2
    await asyncio.gather(*(open_one(i) for i in range(half)))
    await asyncio.sleep(2.0)
    at_half = sum(rss_bytes(pid) for pid in pids)
    await asyncio.gather(*(open_one(i) for i in range(half, connections)))
    result.connect_s = time.monotonic() - start
    held = [c for c in clients if c is not None]
    result.connections_held = len(held)
    await asyncio.sleep(3.0)  # joins settle; rooms start their rounds
    after = sum(rss_bytes(pid) for pid in pids)
    result.rss_per_conn_bytes = (after - before) / max(1, len(held))
    result.rss_marginal_bytes = (after - at_half) / max(1, len(held) - half)

    watcher = asyncio.create_task(_watch_channels(redis_url, rooms, clocks)) if redis_url else None
    await asyncio.sleep(0.5 if watcher else 0)
    members_of = [clients[r * room_size : (r + 1) * room_size] for r in range(len(rooms))]
    period = 1.0 / rate if rate > 0 else duration
    deadline = time.monotonic() + duration
    n = 0
    while time.monotonic() < deadline:
        for members in members_of:
            live = [c for c in members if c is not None]
            if len(live) < 2:
                continue
            if n % 2 == 0 or not live[0].explanations:  # a submit from a new author
                author = live[(n // 2) % len(live)]
                text = f"load test explanation {n}"
                clocks.sent[f"s:{text}"] = time.monotonic()
                await author.send({"type": "submit", "text": text})
            else:  # a vote on the room's newest explanation by someone else
                voter = live[-1 - (n // 2) % (len(live) - 1)]
                eid = live[0].explanations[-1]
                clocks.sent[f"v:{eid}:{(await voter.welcome)['player']['id']}"] = time.monotonic()
                await voter.send({"type": "vote", "explanation_id": eid})
            result.events_sent += 1
        n += 1
        await asyncio.sleep(period)
    await asyncio.sleep(2.0)  # the last events arrive
    if watcher:
        watcher.cancel()
    for client in held:
        client.reader.cancel()
    await asyncio.gather(*(c.ws.close() for c in held), return_exceptions=True)
    return result
