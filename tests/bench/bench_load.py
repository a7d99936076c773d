"""Load figures (docs/BENCHMARKS.md "Load"): `pytest -s tests/bench/bench_load.py -o addopts=""`.

Real web processes started as deployed (`python -m server web`, the uvicorn options of
Settings) on a private Redis and the test database, and in the same run the same clients
against tests/bench/bare_fanout.py under the same uvicorn options: the floor of this machine,
to which every figure is given as a ratio. The guest-session limit is off for the generator
(all its clients share 127.0.0.1). BENCH_IDLE_CONNECTIONS sets the idle count (10,000).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from config.settings import Settings
from store.db import Database
from tests.bench.loadgen import LoadResult, run_load
from tests.server.conftest import ROOT, free_port, seed_campaign
from tests.support.processes import settings_env, stop, wait_http

IDLE = int(os.environ.get("BENCH_IDLE_CONNECTIONS", "10000"))


class Servers:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.procs: list[subprocess.Popen[bytes]] = []

    def _start(self, args: list[str], env: dict[str, str]) -> tuple[str, int]:
        port = free_port()
        proc = subprocess.Popen([*args, "--port", str(port)], cwd=ROOT, env=env)
        self.procs.append(proc)
        wait_http(f"http://127.0.0.1:{port}/healthz", proc=proc)
        return f"ws://127.0.0.1:{port}/ws", proc.pid

    def web(self, count: int) -> tuple[list[str], list[int]]:
        env = settings_env(self.settings.model_copy(update={"host": "127.0.0.1"}))
        started = [self._start([sys.executable, "-m", "server", "web"], env) for _ in range(count)]
        return [url for url, _ in started], [pid for _, pid in started]

    def bare(self) -> tuple[list[str], list[int]]:
        s = self.settings
        args = [sys.executable, "-m", "uvicorn", "tests.bench.bare_fanout:app", "--host", "127.0.0.1"]
        args += ["--ws", s.ws_implementation, "--log-level", "warning"]
        args += ["--ws-per-message-deflate", str(s.ws_per_message_deflate).lower()]
        url, pid = self._start(args, dict(os.environ))
        return [url], [pid]

    def stop(self) -> None:
        for proc in self.procs:
            stop(proc)
        self.procs.clear()


@pytest.fixture
def servers(settings: Settings, db: Database) -> Iterator[Servers]:
    hub = settings.model_copy(
        update={
            "room_lobby_s": 0.0,
            "room_round_s": 600.0,
            "heartbeat_s": 60.0,
            "guest_sessions_per_ip_per_min": 0,
            "ws_per_address": 1_000_000,  # every simulated player shares 127.0.0.1
            "redis_max_connections": 400,
        }
    )
    seed_campaign(db, hub.default_campaign)
    found = Servers(hub)
    yield found
    found.stop()


def _report(label: str, ours: LoadResult, floor: LoadResult, keys_: tuple[str, ...]) -> None:
    a, b = ours.summary(), floor.summary()
    print(f"\n{label}\n  ours: {a}\n  bare: {b}")
    for key in keys_:
        ratio = a[key] / b[key] if b[key] else float("nan")
        print(f"  {key}: ours {a[key]} / bare {b[key]} = {ratio:.2f}x")


def _run(urls: list[str], pids: list[int], redis_url: str | None, **load: Any) -> LoadResult:
    return asyncio.run(run_load(urls, pids=pids, redis_url=redis_url, **load))


def test_idle_connections_one_process(servers: Servers) -> None:
    load = {"connections": IDLE, "room_size": 50, "rate": 0, "duration": 0.1}
    urls, pids = servers.web(1)
    ours = _run(urls, pids, None, **load)
    servers.stop()
    urls, pids = servers.bare()
    floor = _run(urls, pids, None, **load)
    _report(f"{IDLE} idle connections, 1 web process", ours, floor, ("kib_per_conn", "kib_marginal"))


@pytest.mark.parametrize("processes", [1, 2])
def test_one_room_of_1000_at_10_events_per_s(servers: Servers, processes: int) -> None:
    load = {"connections": 1_000, "room_size": 1_000, "rate": 10, "duration": 20}
    urls, pids = servers.web(processes)
    ours = _run(urls, pids, servers.settings.redis_url, **load)
    servers.stop()
    urls, pids = servers.bare()
    floor = _run(urls, pids, None, **load)
    label = f"1000-player room, 10 events/s, 20 s, {processes} web process(es)"
    _report(label, ours, floor, ("rt_p50_ms", "rt_p99_ms"))
