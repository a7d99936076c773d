"""A websocket load generator (loopback only, bounded count and time): N real clients.

``run_load(urls, connections, room_size, rate, duration, pids, redis_url=None, cluster=False)``
connects ``connections`` clients round-robin over the web processes at ``urls``, puts them in
rooms of ``room_size``, and lets each room submit (then vote) at ``rate`` events/s for
``duration`` s; every client checks that it got every event of its room (``check_delivery``).

Two latencies, both on this process's one clock:
* round trip: a sender's ``submit``/``vote`` leaving this process -> each member's receipt of
  the resulting event (includes the server's move: lock, SQL insert, log append);
* broadcast (with ``redis_url``, a Redis Cluster node with ``cluster``): the event's
  publication on the room's Redis channel -> each member's receipt. This process subscribes to
  the channels itself, so "server event" is the moment the log's script published it.
CPU: the servers' CPU time while the rooms move, per 1,000 deliveries (cpu_ms_per_1000), and
this generator's own (client_cpu_ms_per_1000: what reading 1,000 copies of an event costs it).
Memory: the web processes' RSS (/proc) after the connections minus before, per connection,
and the marginal figure over the second half of the connections (no start-up caches in it).

The clients share the 2 cores with the servers: the figures are an upper bound. Each client is
tests/bench/wsclient.py (a frame parsed and checked inside the read callback; the websockets
library cost ~50 us per frame, which made the generator the broadcast floor), on uvloop when it
is installed; the bare server is measured through the same clients.
"""

from __future__ import annotations

import asyncio
import os
import resource
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster

from config import keys
from server.hub import endpoint
from server.hub.channels import Channels
from tests.bench import wsclient
from tests.bench.wsclient import WsClient

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


def cpu_seconds(pid: int) -> float:
    """User + system CPU time the process has used (/proc/<pid>/stat, fields 14 and 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


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
    deliveries_expected: int = 0  # each move's event at every member of its room
    round_trip_ms: list[float] = field(default_factory=list)
    broadcast_ms: list[float] = field(default_factory=list)
    join_failures: int = 0
    # A connect's two halves: socket open -> welcome (handshake, session), join -> snapshot.
    welcome_ms: list[float] = field(default_factory=list)
    connect_cpu_s: float = 0.0  # the servers' CPU time while the clients connected
    frames: int = 0  # frames the clients received (all of them, the whole run)
    connect_frames: int = 0  # ... while connecting (a room announces each join to its members)
    join_ms: list[float] = field(default_factory=list)
    settle_s: float = 0.0  # after the last move was sent, until its event reached everyone
    server_cpu_s: float = 0.0  # the servers' CPU time while the room moved (all processes)
    client_cpu_s: float = 0.0  # this generator's CPU time meanwhile (the floor of the latencies)
    missing: int = 0  # room versions a client never saw (on its socket or in a replay)
    duplicates: int = 0
    resyncs: int = 0
    reconnects: int = 0
    client_errors: list[dict[str, Any]] = field(default_factory=list)

    def losses(self) -> list[str]:
        """What went wrong for some client; empty when every event reached everyone once."""
        found = []
        if self.connections_held < self.connections_wanted:
            found.append(f"{self.connections_wanted - self.connections_held} connections not held")
        if self.join_failures:
            found.append(f"{self.join_failures} joins failed")
        if len(self.round_trip_ms) < self.deliveries_expected:
            found.append(f"{self.deliveries_expected - len(self.round_trip_ms)} move deliveries missing")
        for name in ("missing", "duplicates", "resyncs"):
            if getattr(self, name):
                found.append(f"{getattr(self, name)} room events {name}")
        if self.client_errors:
            found.append(f"{len(self.client_errors)} error frames, first: {self.client_errors[0]}")
        return found

    def summary(self) -> dict[str, Any]:
        return {
            "connections": f"{self.connections_held}/{self.connections_wanted}",
            "connect_s": round(self.connect_s, 1),
            "kib_per_conn": round(self.rss_per_conn_bytes / 1024, 1),
            "kib_marginal": round(self.rss_marginal_bytes / 1024, 1),
            "events_sent": self.events_sent,
            "deliveries": f"{len(self.round_trip_ms)}/{self.deliveries_expected}",
            "missing": self.missing,
            "settle_s": round(self.settle_s, 1),
            "cpu_ms_per_1000": round(1e6 * self.server_cpu_s / max(1, len(self.round_trip_ms)), 1),
            "client_cpu_ms_per_1000": round(1e6 * self.client_cpu_s / max(1, len(self.round_trip_ms)), 1),
            "reconnects": self.reconnects,
            "connect_cpu_ms": round(1e3 * self.connect_cpu_s / max(1, self.connections_held), 2),
            "frames_per_connect": round(self.connect_frames / max(1, self.connections_held), 1),
            "welcome_p50_ms": round(percentile(self.welcome_ms, 0.5), 1),
            "join_p50_ms": round(percentile(self.join_ms, 0.5), 1),
            "rt_p50_ms": round(percentile(self.round_trip_ms, 0.5), 1),
            "rt_p99_ms": round(percentile(self.round_trip_ms, 0.99), 1),
            "bc_p50_ms": round(percentile(self.broadcast_ms, 0.5), 1),
            "bc_p99_ms": round(percentile(self.broadcast_ms, 0.99), 1),
        }


def run_in_loop(coro: Any) -> Any:
    """Run the generator on uvloop when installed (its read path is C: ~5 us less per frame
    on 1,000 sockets), else on asyncio's own loop."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(coro)


async def _connect(url: str, subprotocols: list[str] | None = None) -> WsClient:
    return await wsclient.connect(url, subprotocols, timeout_s=60)


# How a reconnect presents its token to the server of this tree (server/hub/endpoint.py).
TOKEN_PREFIX: str | None = getattr(endpoint, "TOKEN_PREFIX", None)
SUBPROTOCOL: str = getattr(endpoint, "SUBPROTOCOL", "")


class Clocks:
    """When each tagged move was sent, and when each room event was published."""

    def __init__(self) -> None:
        self.sent: dict[str, float] = {}
        self.published: dict[tuple[str, int], float] = {}


class LoadClient:
    """One player's socket. Besides the latencies it keeps the room's versions it saw, so the run
    can say whether it got every event of its room once and in order (``check_delivery``)."""

    def __init__(self, ws: WsClient, url: str, room: str, clocks: Clocks, result: LoadResult) -> None:
        self.ws, self.url, self.room, self.clocks, self.result = ws, url, room, clocks, result
        loop = asyncio.get_running_loop()
        self.welcome: asyncio.Future[dict[str, Any]] = loop.create_future()
        self.synced: asyncio.Future[int] = loop.create_future()  # the version of the join's snapshot
        self.explanations: list[int] = []
        self.last_v: int | None = None
        self.duplicates = 0
        self.gaps = 0  # versions skipped on the socket
        self.resyncs = 0  # snapshots sent in place of missed events
        self.reconnects = 0  # closed by the server and back with since=last_v (a replay)
        self.errors: list[dict[str, Any]] = []
        self.stopping = False
        self._listen(ws)
        self.reader = asyncio.create_task(self._watch())

    def _listen(self, ws: WsClient) -> None:
        ws.on_message = self._on_message
        early, ws.early = ws.early, []
        for payload, text in early:  # frames that came with the handshake's answer
            self._on_message(payload, text)

    def _on_message(self, payload: bytes, text: bool) -> None:
        """Each frame in full, in the read callback: parsed and checked (``_on_frame``)."""
        now = time.monotonic()
        self.result.frames += 1
        try:
            reply = self._on_frame(orjson.loads(payload), now)
        except Exception as exc:  # a frame this client cannot read counts as an error frame
            self.errors.append(
                {"type": "unreadable", "frame": payload[:200].decode(errors="replace"), "why": repr(exc)}
            )
            return
        if reply is not None:
            self.ws.send_text(reply)

    async def _watch(self) -> None:
        """Reconnect when the server closes this socket, until the run stops."""
        while True:
            await self.ws.closed
            if self.stopping or not await self._reconnect():
                return

    async def _reconnect(self) -> bool:
        """The server closed us (e.g. too slow): back with the token and since=last_v, as a
        client does; what it replays counts as delivered."""
        token = self.welcome.result().get("token") if self.welcome.done() else None
        if self.last_v is None or token is None:
            return False
        url = f"{self.url}?since={self.last_v}&room={self.room}"
        try:
            if TOKEN_PREFIX is None:  # this tree's server reads the token from the URL
                ws = await _connect(f"{url}&token={token}")
            else:  # ... or from Sec-WebSocket-Protocol, never the URL
                ws = await _connect(url, [SUBPROTOCOL, f"{TOKEN_PREFIX}{token}"])
        except Exception:
            return False
        self.ws = ws
        self._listen(ws)
        self.reconnects += 1
        return True

    def _on_frame(self, event: dict[str, Any], now: float) -> str | None:
        """Account for one frame; the reply to send, if any (a pong)."""
        kind = event.get("type")
        if kind == "welcome" and not self.welcome.done():
            self.welcome.set_result(event)
            return None
        if kind == "ping":
            return orjson.dumps({"type": "pong", "t": event.get("t")}).decode()
        if kind == "error":
            self.errors.append(event)
            if not self.synced.done():
                self.synced.set_exception(RuntimeError(f"join refused: {event}"))
            return None
        v = event.get("v")
        if not isinstance(v, int):
            return None  # private events carry no version
        if kind == "room":  # a snapshot: the join's, or a resync in place of missed events
            if event.get("resync") and self.last_v is not None and v > self.last_v:
                self.resyncs += 1
            self.last_v = max(v, self.last_v or 0)
            if not self.synced.done():
                self.synced.set_result(v)
            return None
        if self.last_v is None:
            return None  # before the join's snapshot (cannot happen: the server syncs first)
        if v <= self.last_v:
            self.duplicates += 1
            return None
        self.gaps += v - self.last_v - 1
        self.last_v = v
        if kind == "explanation":
            self.explanations.append(int(event["explanation"]["id"]))
            self._stamp(f"s:{event['explanation']['text']}", event, now)
        elif kind == "vote":
            self._stamp(f"v:{event['explanation_id']}:{event['player_id']}", event, now)
        return None

    def _stamp(self, tag: str, event: dict[str, Any], now: float) -> None:
        start = self.clocks.sent.get(tag)
        if start is not None:
            self.result.round_trip_ms.append((now - start) * 1000)
        published = self.clocks.published.get((self.room, int(event.get("v", -1))))
        if published is not None:
            self.result.broadcast_ms.append((now - published) * 1000)

    async def send(self, message: dict[str, Any]) -> bool:
        """False when the server had closed this socket (it reconnects; the run counts that)."""
        return self.ws.send_text(orjson.dumps(message).decode())


def check_delivery(clients: list[LoadClient], final_v: dict[str, int], result: LoadResult) -> None:
    """Every client ends at its room's last version, having seen each version after its
    join once and in order: what it did not is counted as missing."""
    for client in clients:
        final = final_v.get(client.room, 0)
        behind = final - client.last_v if client.last_v is not None else final
        result.missing += max(0, behind) + client.gaps
        result.duplicates += client.duplicates
        result.resyncs += client.resyncs
        result.reconnects += client.reconnects
        result.client_errors.extend(client.errors)


def _rooms_client(redis_url: str, cluster: bool) -> aioredis.Redis | RedisCluster:
    return RedisCluster.from_url(redis_url) if cluster else aioredis.Redis.from_url(redis_url)


async def _watch_channels(redis_url: str, cluster: bool, rooms: list[str], clocks: Clocks) -> None:
    """Stamp each room event's publication: subscribed as a web process is (server/hub/channels.py:
    shard channels on a cluster)."""
    r = _rooms_client(redis_url, cluster)
    plain = aioredis.Redis.from_url(redis_url)
    if isinstance(r, RedisCluster):
        await r.initialize()
    bus = Channels(r, plain)
    by_channel = {keys.room_channel(room): room for room in rooms}
    await bus.start(keys.player_channel("loadgen-idle"))
    for channel in by_channel:
        await bus.subscribe_room(channel)
    try:
        while True:
            channel, data = await bus.get()
            now = time.monotonic()
            v = orjson.loads(data).get("v")
            if isinstance(v, int) and channel in by_channel:
                clocks.published[(by_channel[channel], v)] = now
    finally:
        await bus.aclose()
        await r.aclose()
        await plain.aclose()


async def _final_versions(
    redis_url: str | None, cluster: bool, rooms: list[str], held: list[LoadClient]
) -> dict[str, int]:
    """Each room's last version: from Redis when there is one, else the newest any client saw."""
    if redis_url is None:
        found: dict[str, int] = {}
        for c in held:
            found[c.room] = max(found.get(c.room, 0), c.last_v or 0)
        return found
    r = _rooms_client(redis_url, cluster)
    try:
        return {room: int(await r.get(keys.room_version(room)) or 0) for room in rooms}
    finally:
        await r.aclose()


async def _settle(result: LoadResult, quiet_s: float = 5.0, most_s: float = 60.0) -> None:
    """Wait for the moves still in flight: until every delivery came, or none came for ``quiet_s``
    (a move that never produces its event is then counted missing, not waited for forever)."""
    start = last_change = time.monotonic()
    seen = len(result.round_trip_ms)
    while len(result.round_trip_ms) < result.deliveries_expected and time.monotonic() - start < most_s:
        await asyncio.sleep(0.25)
        if len(result.round_trip_ms) != seen:
            seen, last_change = len(result.round_trip_ms), time.monotonic()
        elif time.monotonic() - last_change > quiet_s:
            break
    result.settle_s = time.monotonic() - start
    await asyncio.sleep(1.0)  # events after the moves' own (crowd counts, ticks) arrive too


async def run_load(
    urls: list[str],
    connections: int,
    room_size: int,
    rate: float,
    duration: float,
    pids: list[int],
    redis_url: str | None = None,
    cluster: bool = False,
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
                url = urls[i % len(urls)]
                opened = time.monotonic()
                ws = await _connect(url)
            except Exception:
                return
            client = LoadClient(ws, url, rooms[i // room_size], clocks, result)
            clients[i] = client
            try:
                await asyncio.wait_for(client.welcome, 60)
                joined = time.monotonic()
                result.welcome_ms.append((joined - opened) * 1000)
                await client.send({"type": "join", "room": client.room})
                await asyncio.wait_for(client.synced, 60)
                result.join_ms.append((time.monotonic() - joined) * 1000)
            except Exception:
                result.join_failures += 1

    before = sum(rss_bytes(pid) for pid in pids)
    connect_cpu = sum(cpu_seconds(pid) for pid in pids)
    start = time.monotonic()
    half = connections // 2
    await asyncio.gather(*(open_one(i) for i in range(half)))
    first_half_s = time.monotonic() - start
    await asyncio.sleep(2.0)
    at_half = sum(rss_bytes(pid) for pid in pids)
    start = time.monotonic()
    await asyncio.gather(*(open_one(i) for i in range(half, connections)))
    result.connect_s = first_half_s + time.monotonic() - start  # the pause between halves not counted
    result.connect_cpu_s = sum(cpu_seconds(pid) for pid in pids) - connect_cpu
    result.connect_frames = result.frames
    held = [c for c in clients if c is not None]
    result.connections_held = len(held)
    await asyncio.sleep(3.0)  # joins settle; rooms start their rounds
    after = sum(rss_bytes(pid) for pid in pids)
    result.rss_per_conn_bytes = (after - before) / max(1, len(held))
    result.rss_marginal_bytes = (after - at_half) / max(1, len(held) - half)

    watcher = asyncio.create_task(_watch_channels(redis_url, cluster, rooms, clocks)) if redis_url else None
    cpu_before = sum(cpu_seconds(pid) for pid in pids)
    client_before = time.process_time()
    await asyncio.sleep(0.5 if watcher else 0)
    members_of = [clients[r * room_size : (r + 1) * room_size] for r in range(len(rooms))]
    period = 1.0 / rate if rate > 0 else duration
    deadline = time.monotonic() + duration
    n = 0
    submits = [0] * len(rooms)  # each submit from a new author: one explanation per player and round
    while time.monotonic() < deadline:
        for room_no, members in enumerate(members_of):
            live = [c for c in members if c is not None]
            if len(live) < 2:
                continue
            if n % 2 == 0 or not live[0].explanations:  # a submit from a new author
                author = live[submits[room_no] % len(live)]
                submits[room_no] += 1
                # Words of its own per room and move: the rules refuse a text that shares three in
                # four words with an earlier explanation of the unit (rooms/copies.py).
                tag = f"r{room_no}n{n}"
                text = f"load {tag}a {tag}b {tag}c"
                clocks.sent[f"s:{text}"] = time.monotonic()
                if not await author.send({"type": "submit", "text": text}):
                    continue
            else:  # a vote on the room's newest explanation by someone else
                voter = live[-1 - (n // 2) % (len(live) - 1)]
                eid = live[0].explanations[-1]
                clocks.sent[f"v:{eid}:{(await voter.welcome)['player']['id']}"] = time.monotonic()
                if not await voter.send({"type": "vote", "explanation_id": eid}):
                    continue
            result.events_sent += 1
            result.deliveries_expected += len(live)
        n += 1
        await asyncio.sleep(period)
    await _settle(result)
    result.server_cpu_s = sum(cpu_seconds(pid) for pid in pids) - cpu_before
    result.client_cpu_s = time.process_time() - client_before
    if watcher:
        watcher.cancel()
    for client in held:
        client.stopping = True
    final_v = await _final_versions(redis_url, cluster, rooms, held)
    await asyncio.sleep(1.0)  # what was published before the reading arrives
    check_delivery(held, final_v, result)
    for client in held:
        client.reader.cancel()
    await asyncio.gather(*(c.ws.close() for c in held), return_exceptions=True)
    return result
