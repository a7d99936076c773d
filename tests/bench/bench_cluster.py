"""Capacity on a Redis Cluster (docs/SCALING.md): N web processes, rooms on three shards.

    flock /tmp/nq-heavy.lock .venv/bin/pytest -q -s tests/bench/bench_cluster.py -o addopts=""

A real local cluster of three redis-server processes (tests/support/redis_cluster.py, Redis
>= 7.0), web processes with ``rooms_redis_cluster_url`` (rooms and their sharded pub/sub on the
cluster; sessions and queues on the test's Redis), and BENCH_CLUSTER_PLAYERS clients (1,000) in
rooms of BENCH_CLUSTER_ROOM (100) that each move at 10 events/s for BENCH_SECONDS (20). Each
process count runs in turn on the same cluster; every figure is also given as the ratio to one
process measured in the same run. Like bench_load.py it FAILS on any lost or repeated event,
error frame, failed join, or warning/error in a server's log.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from config.settings import Settings
from store.db import Database
from tests.bench.bench_load import SECONDS, Servers, _no_loss
from tests.bench.loadgen import LoadResult, run_in_loop, run_load
from tests.server.conftest import seed_campaign
from tests.support.redis_cluster import LocalCluster, cluster_binary

PLAYERS = int(os.environ.get("BENCH_CLUSTER_PLAYERS", "1000"))
ROOM = int(os.environ.get("BENCH_CLUSTER_ROOM", "100"))
RATE = 10.0

pytestmark = pytest.mark.skipif(cluster_binary() is None, reason="needs redis-server >= 7.0")

BY_PROCESSES: dict[int, dict[str, float]] = {}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    with LocalCluster(tmp_path_factory.mktemp("cluster"), nodes=3) as found:
        yield found


@pytest.fixture
def servers(settings: Settings, db: Database, tmp_path: Path, cluster: LocalCluster) -> Iterator[Servers]:
    cluster.flush()  # each run starts with empty rooms (the database's players start over too)
    hub = settings.model_copy(
        update={
            "room_lobby_s": 0.0,
            "room_round_s": 600.0,
            "heartbeat_s": 60.0,
            "guest_sessions_per_ip_per_min": 0,
            "ws_per_address": 1_000_000,  # every simulated player shares 127.0.0.1 (default cap 256)
            "log_level": "warning",
            "rooms_redis_cluster_url": cluster.url,
        }
    )
    seed_campaign(db, hub.default_campaign)
    found = Servers(hub, tmp_path)
    yield found
    found.stop()


def _throughput(result: LoadResult, seconds: float) -> float:
    """Room events delivered to sockets per second over the moving phase."""
    return len(result.round_trip_ms) / seconds


@pytest.mark.parametrize("processes", [1, 2, 4])
def test_rooms_on_three_shards(servers: Servers, cluster: LocalCluster, processes: int) -> None:
    urls, pids = servers.web(processes)
    load = {"connections": PLAYERS, "room_size": ROOM, "rate": RATE, "duration": SECONDS}
    result = run_in_loop(run_load(urls, pids=pids, redis_url=cluster.url, cluster=True, **load))
    summary = result.summary()
    figures = {
        "deliveries_per_s": round(_throughput(result, SECONDS)),
        "rt_p50_ms": summary["rt_p50_ms"],
        "rt_p99_ms": summary["rt_p99_ms"],
        "bc_p99_ms": summary["bc_p99_ms"],
        "cpu_ms_per_1000": summary["cpu_ms_per_1000"],  # all web processes together
        "kib_per_conn": summary["kib_per_conn"],
    }
    BY_PROCESSES[processes] = figures
    rooms = (PLAYERS + ROOM - 1) // ROOM
    print(
        f"\n{PLAYERS} players in {rooms} rooms on 3 shards, {RATE:g} events/s per room, {processes} web",
        flush=True,
    )
    print(f"  {summary}", flush=True)
    base = BY_PROCESSES.get(1)
    if base is not None:
        for key, value in figures.items():
            ratio = value / base[key] if base[key] else float("nan")
            print(
                f"  {key}: {value} ({processes} processes) / {base[key]} (1 process) = {ratio:.2f}x",
                flush=True,
            )
    _no_loss(servers, result)
