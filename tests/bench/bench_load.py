"""Load figures (docs/BENCHMARKS.md "Load"): `pytest -s tests/bench/bench_load.py -o addopts=""`.

Real web processes (uvicorn, as deployed) on a private Redis and the test database; the
guest-session limit is off for the generator (all its clients share 127.0.0.1).
"""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Iterator

import pytest

from config.settings import Settings
from store.db import Database
from tests.bench.loadgen import run_load
from tests.server.conftest import seed_campaign, start_web_process


@pytest.fixture
def web(
    settings: Settings, db: Database, monkeypatch: pytest.MonkeyPatch
) -> Iterator[list[tuple[subprocess.Popen[bytes], str]]]:
    monkeypatch.setenv("NQ_GUEST_SESSIONS_PER_IP_PER_MIN", "0")
    monkeypatch.setenv("NQ_REDIS_MAX_CONNECTIONS", "400")
    hub = settings.model_copy(update={"room_lobby_s": 0.0, "room_round_s": 600.0, "heartbeat_s": 60.0})
    seed_campaign(db, hub.default_campaign)
    procs: list[tuple[subprocess.Popen[bytes], str]] = []
    yield procs, hub  # type: ignore[misc]
    for proc, _ in procs:
        proc.terminate()
        proc.wait(20)


def _start(web, count: int) -> tuple[list[str], list[int]]:  # type: ignore[no-untyped-def]
    procs, hub = web
    for _ in range(count):
        procs.append(start_web_process(hub))
    return [url for _, url in procs], [proc.pid for proc, _ in procs]


@pytest.mark.parametrize("connections", [2_000])
def test_idle_connections_one_process(web, connections: int) -> None:  # type: ignore[no-untyped-def]
    urls, pids = _start(web, 1)
    result = asyncio.run(run_load(urls, connections, room_size=50, rate=0, duration=0.1, pids=pids))
    print("\nidle, 1 web process:", result.summary())


@pytest.mark.parametrize("processes", [1, 2])
def test_one_room_of_1000_at_10_events_per_s(web, processes: int) -> None:  # type: ignore[no-untyped-def]
    urls, pids = _start(web, processes)
    result = asyncio.run(run_load(urls, 1_000, room_size=1_000, rate=10, duration=10, pids=pids))
    print(f"\n1000-player room, 10 events/s, {processes} web process(es):", result.summary())
