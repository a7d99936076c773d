"""A websocket load generator (loopback only, bounded count and time): N real clients.

``run_load(urls, connections, room_size, rate, duration, pid_of)`` connects ``connections``
clients round-robin over the web processes at ``urls``, puts them in rooms of ``room_size``,
and lets one sender per room submit (then others vote) at ``rate`` events/s for ``duration``
seconds. Broadcast latency is measured from the sender's send to each receiver's receipt of
the resulting ``explanation``/``vote`` event (one clock: the generator's process). Memory per
connection is the growth of the web processes' RSS (/proc) divided by the connections held.

The clients run in this one Python process, which shares the 2 cores with the server: the
figures are an upper bound on the server's own latency. Used by tests/bench/bench_load.py.
"""

from __future__ import annotations

import asyncio
import resource
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from websockets.asyncio.client import ClientConnection, connect

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


@dataclass
class LoadResult:
    connections_wanted: int
    connections_held: int = 0
    connect_s: float = 0.0
    rss_per_conn_bytes: float = 0.0
    events_sent: int = 0
    latencies_ms: list[float] = field(default_factory=list)

    def percentile(self, q: float) -> float:
        if not self.latencies_ms:
            return float("nan")
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    def summary(self) -> dict[str, Any]:
        return {
            "connections": f"{self.connections_held}/{self.connections_wanted}",
            "connect_s": round(self.connect_s, 1),
            "kib_per_conn": round(self.rss_per_conn_bytes / 1024, 1),
            "events_sent": self.events_sent,
            "deliveries": len(self.latencies_ms),
            "p50_ms": round(self.percentile(0.5), 1),
            "p99_ms": round(self.percentile(0.99), 1),
            "mean_ms": round(statistics.fmean(self.latencies_ms), 1) if self.latencies_ms else None,
        }


class LoadClient:
    def __init__(self, ws: ClientConnection, sent_at: dict[str, float], result: LoadResult) -> None:
        self.ws, self.sent_at, self.result = ws, sent_at, result
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
                    self._stamp(f"s:{event['explanation']['text']}", now)
                elif kind == "vote":
                    self._stamp(f"v:{event['explanation_id']}:{event['player_id']}", now)
        except Exception:
            return

    def _stamp(self, tag: str, now: float) -> None:
        start = self.sent_at.get(tag)
        if start is not None:
            self.result.latencies_ms.append((now - start) * 1000)

    async def send(self, message: dict[str, Any]) -> None:
        await self.ws.send(orjson.dumps(message).decode())


async def run_load(
    urls: list[str],
    connections: int,
    room_size: int,
    rate: float,
    duration: float,
    pids: list[int],
    connect_parallel: int = 200,
) -> LoadResult:
    connections = min(connections, MAX_CONNECTIONS)
    duration = min(duration, MAX_DURATION_S)
    raise_fd_limit(connections + 1_000)
    result = LoadResult(connections)
    sent_at: dict[str, float] = {}
    before = sum(rss_bytes(pid) for pid in pids)
    gate = asyncio.Semaphore(connect_parallel)
    clients: list[LoadClient | None] = [None] * connections

    async def open_one(i: int) -> None:
        async with gate:
            try:
                ws = await connect(urls[i % len(urls)], max_size=2**22, ping_interval=None, open_timeout=60)
                client = LoadClient(ws, sent_at, result)
                await asyncio.wait_for(client.welcome, 60)
                await client.send({"type": "join", "room": f"load{i // room_size}"})
                clients[i] = client
            except Exception:
                return

    start = time.monotonic()
    await asyncio.gather(*(open_one(i) for i in range(connections)))
    result.connect_s = time.monotonic() - start
    held = [c for c in clients if c is not None]
    result.connections_held = len(held)
    await asyncio.sleep(3.0)  # joins settle; rooms start their rounds
    result.rss_per_conn_bytes = (sum(rss_bytes(pid) for pid in pids) - before) / max(1, len(held))

    rooms = [
        clients[r * room_size : (r + 1) * room_size]
        for r in range((connections + room_size - 1) // room_size)
    ]
    period = 1.0 / rate if rate > 0 else duration
    deadline = time.monotonic() + duration
    n = 0
    while time.monotonic() < deadline:
        for members in rooms:
            live = [c for c in members if c is not None]
            if len(live) < 2:
                continue
            if n % 2 == 0 or not live[0].explanations:  # a submit from a new author
                author = live[(n // 2) % len(live)]
                text = f"load test explanation {n}"
                sent_at[f"s:{text}"] = time.monotonic()
                await author.send({"type": "submit", "text": text})
            else:  # a vote on the room's newest explanation by someone else
                voter = live[-1 - (n // 2) % (len(live) - 1)]
                eid = live[0].explanations[-1]
                sent_at[f"v:{eid}:{(await voter.welcome)['player']['id']}"] = time.monotonic()
                await voter.send({"type": "vote", "explanation_id": eid})
            result.events_sent += 1
        n += 1
        await asyncio.sleep(period)
    await asyncio.sleep(2.0)  # the last events arrive
    for client in held:
        client.reader.cancel()
    await asyncio.gather(*(c.ws.close() for c in held), return_exceptions=True)
    return result
