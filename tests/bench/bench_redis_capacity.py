"""How many room events one Redis, and a three-node cluster, append and publish per second.

    flock /tmp/nq-heavy.lock .venv/bin/pytest -q -s tests/bench/bench_redis_capacity.py -o addopts=""

Every room event is one call of the event log's append script (store/eventlog.py: INCR, XADD
to a trimmed stream, PUBLISH — SPUBLISH on a cluster). redis-benchmark (shipped with
redis-server) calls that very script for three hot rooms at once (one redis-benchmark of 50
clients per room), against one redis-server and against a local cluster of three whose shards
hold one room each, in the same run; the baseline is redis-benchmark's SET on the same
servers. Each room channel has SUBSCRIBERS subscribers (web processes holding members of
the room) while it runs, so the publish cost of the fan-out to processes is in the figure.
docs/SCALING.md uses the result.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import redis
from redis.crc import key_slot

from server.cli.embedded_redis import free_port
from store.eventlog import _APPEND
from tests.support.redis_cluster import SLOTS, LocalCluster, cluster_binary

REQUESTS = int(os.environ.get("BENCH_REDIS_REQUESTS", "100000"))
SUBSCRIBERS = 4
EVENT = '{"type":"vote","explanation_id":1,"player_id":2}'

pytestmark = pytest.mark.skipif(
    cluster_binary() is None or shutil.which("redis-benchmark") is None,
    reason="needs redis-server >= 7.0 and redis-benchmark",
)


def _rps_together(targets: list[tuple[int, list[str]]]) -> float:
    """Run one redis-benchmark per (port, command) at once; their requests per second, summed."""
    procs = []
    for port, command in targets:
        args = ["redis-benchmark", "-p", str(port), "-c", "50", "-n", str(REQUESTS), "-q", *command]
        procs.append(subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    total = 0.0
    for proc in procs:
        out, _ = proc.communicate(timeout=300)
        found = re.findall(r"([\d.]+) requests per second", out)
        assert found and "Error" not in out, out
        total += float(found[-1])
    return total


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _append_args(sha: str, room_id: str) -> list[str]:
    room = f"nq:room:{{{room_id}}}"
    return ["EVALSHA", sha, "3", f"{room}:v", f"{room}:events", f"{room}:ch", EVENT, "500"]


def _rooms_on_each_node(nodes: int) -> list[str]:
    """One room id whose slot is on each node of LocalCluster's equal slot ranges."""
    found: dict[int, str] = {}
    for i in range(10_000):
        room = f"r{i}"
        node = key_slot(f"nq:room:{{{room}}}:v".encode()) * nodes // SLOTS
        found.setdefault(node, room)
        if len(found) == nodes:
            return [found[n] for n in range(nodes)]
    raise AssertionError("no room for every node")


def _subscribe(port: int, channels: list[str], sharded: bool) -> list[object]:
    """SUBSCRIBERS connections to the node on ``port`` subscribed to the channels, as web
    processes holding members of those rooms are."""
    found = []
    for _ in range(SUBSCRIBERS):
        pubsub = redis.Redis(port=port).pubsub()
        (pubsub.ssubscribe if sharded else pubsub.subscribe)(*channels)
        found.append(pubsub)
    return found


def _wait(r: redis.Redis) -> None:
    for _ in range(200):
        try:
            r.ping()
            return
        except redis.ConnectionError:
            time.sleep(0.05)
    raise RuntimeError("redis-server did not start")


def test_room_events_per_second(tmp_path: Path) -> None:
    binary = cluster_binary()
    assert binary is not None
    port = free_port()
    args = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    proc = subprocess.Popen(args, cwd=tmp_path, stdout=subprocess.DEVNULL)
    cluster = LocalCluster(tmp_path / "cluster", nodes=3).start()
    rooms = _rooms_on_each_node(3)  # three hot rooms: on one server, then one per shard
    subs: list[object] = []
    try:
        r = redis.Redis(port=port)
        _wait(r)
        sha = _text(r.script_load(_APPEND))
        subs += _subscribe(port, [f"nq:room:{{{room}}}:ch" for room in rooms], sharded=False)
        set_rps = _rps_together([(port, ["SET", f"k:{{{room}}}", "v"]) for room in rooms])
        append_rps = _rps_together([(port, _append_args(sha, room)) for room in rooms])
        sharded = _APPEND.replace("redis.call('PUBLISH'", "redis.call('SPUBLISH'")
        targets_set, targets_append = [], []
        for node_port, room in zip(cluster.ports, rooms, strict=True):
            node_sha = _text(redis.Redis(port=node_port).script_load(sharded))
            subs += _subscribe(node_port, [f"nq:room:{{{room}}}:ch"], sharded=True)
            targets_set.append((node_port, ["SET", f"k:{{{room}}}", "v"]))
            targets_append.append((node_port, _append_args(node_sha, room)))
        cluster_set = _rps_together(targets_set)
        cluster_append = _rps_together(targets_append)
    finally:
        for pubsub in subs:
            pubsub.close()  # type: ignore[attr-defined]
        proc.terminate()
        proc.wait(10)
        cluster.stop()
    print(f"\nthree hot rooms, 50 clients each, {SUBSCRIBERS} subscribers per room channel")
    print(f"one redis-server: SET {set_rps:,.0f}/s; room events (append + PUBLISH) {append_rps:,.0f}/s")
    print(f"  events / SET = {append_rps / set_rps:.2f}")
    print(f"three-node cluster: SET {cluster_set:,.0f}/s; events (append + SPUBLISH) {cluster_append:,.0f}/s")
    ratios = f"SET {cluster_set / set_rps:.2f}x, events {cluster_append / append_rps:.2f}x"
    print(f"  cluster / one server: {ratios}")
    print("  (every process shares this machine's 2 cores: the cluster's gain here is a floor)")
