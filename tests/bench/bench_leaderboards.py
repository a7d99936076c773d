"""Leaderboard speed: point events/s through apply_point_event into every board a player is on,
against `redis-benchmark -t zadd` on the SAME Redis in the same run, and p99 of rank queries.

    .venv/bin/pytest -q -s tests/bench/bench_leaderboards.py -o addopts=""

One event here lands on 12 (board, period) keys (points x4 periods, country x2, region, team,
teams x2, room, quest), in one Lua call. Our loop is one client, so the like-for-like baseline
is redis-benchmark with one client (-c 1); the 50-client figure is printed for scale.
"""

from __future__ import annotations

import random
import shutil
import subprocess
import time
from datetime import UTC, datetime, timedelta

import pytest
import redis

from config.settings import Settings
from rooms.boards import boards_of_player
from server.cli.embedded_redis import EmbeddedRedis
from store.competition import leaderboards as lb
from store.competition.boards_rebuild import rebuild_all
from store.db import Database
from store.models import Player, PointEvent, Quest, Team, TeamMember

PLAYERS, TEAMS, EVENTS, QUERIES = 5_000, 100, 30_000, 3_000
COUNTRIES = ["FR", "DE", "US", "JP", "BR", "IN", "NG", "CA"]


def _redis_benchmark(port: int, clients: int, n: int = 100_000) -> float:
    binary = shutil.which("redis-benchmark")
    if binary is None:
        pytest.skip("redis-benchmark not installed (apt-get install redis-tools)")
    out = subprocess.run(
        [binary, "-h", "127.0.0.1", "-p", str(port), "-t", "zadd", "-n", str(n), "-c", str(clients), "--csv"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    for line in out.splitlines():
        cells = [c.strip('"') for c in line.split(",")]
        if cells[0].startswith("ZADD"):
            return float(cells[1])
    raise RuntimeError(f"no ZADD line in redis-benchmark output:\n{out}")


def _seed(db: Database, now: datetime) -> tuple[list[Player], dict[int, int], int, list[PointEvent]]:
    rng = random.Random(7)
    with db.session() as s:
        players = [
            Player(name=f"p{i}", country=rng.choice(COUNTRIES), region=f"r{i % 20}") for i in range(PLAYERS)
        ]
        teams = [Team(name=f"t{i}", invite_code=f"CODE{i:04d}") for i in range(TEAMS)]
        quest = Quest(
            kind="daily", period=now.date().isoformat(), opens_at=now, closes_at=now + timedelta(days=1)
        )
        s.add_all([*players, *teams, quest])
        s.commit()
        team_of = {p.id or 0: teams[i % TEAMS].id or 0 for i, p in enumerate(players) if i % 2 == 0}
        s.add_all(
            [
                TeamMember(team_id=t, player_id=p, joined_at=now - timedelta(days=1))
                for p, t in team_of.items()
            ]
        )
        events = [
            PointEvent(
                player_id=players[rng.randrange(PLAYERS)].id or 0,
                amount=rng.choice((10, 20, 50)),
                reason="beat_best",
                room_id=f"room{rng.randrange(50)}",
                quest_id=quest.id,
                created_at=now + timedelta(milliseconds=i),
            )
            for i in range(EVENTS)
        ]  # fmt: skip
        s.add_all(events)
        s.commit()
        return players, team_of, quest.id or 0, events


def _pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def test_bench_leaderboards(
    db: Database, redis_client: redis.Redis, redis_server: EmbeddedRedis, settings: Settings
) -> None:
    now = datetime.now(UTC)
    players, team_of, quest_id, events = _seed(db, now)
    by_id = {p.id: p for p in players}

    t = time.perf_counter()
    for event in events:
        lb.apply_point_event(
            redis_client, event, by_id[event.player_id], team_of.get(event.player_id), now, settings
        )
    elapsed = time.perf_counter() - t
    events_per_s = EVENTS / elapsed
    boards_per_event = len(boards_of_player(players[0], team_of.get(players[0].id or 0), [quest_id], now)) + 1

    zadd_1 = _redis_benchmark(redis_server.port, 1)
    zadd_50 = _redis_benchmark(redis_server.port, 50)
    redis_client.flushdb()  # redis-benchmark's keys are not ours

    t = time.perf_counter()
    with db.session() as s:
        rebuild_all(redis_client, s, now, settings)
    rebuild_s = time.perf_counter() - t

    rng = random.Random(3)
    rank_lat, around_lat, page_lat = [], [], []
    for _ in range(QUERIES):
        p = players[rng.randrange(PLAYERS)]
        placements = boards_of_player(p, team_of.get(p.id or 0), [quest_id], now)
        t = time.perf_counter()
        lb.my_ranks(redis_client, placements)
        rank_lat.append(time.perf_counter() - t)
        t = time.perf_counter()
        lb.around(redis_client, "points", "all", p.id or 0, 5)
        around_lat.append(time.perf_counter() - t)
    cursor = None
    for _ in range(200):
        t = time.perf_counter()
        page = lb.top(redis_client, "points", "all", 20, cursor)
        page_lat.append(time.perf_counter() - t)
        cursor = page.next_cursor

    def lat(name: str, samples: list[float]) -> None:
        print(f"  {name:<27} p50 {_pct(samples, 0.5):.3f} ms  p99 {_pct(samples, 0.99):.3f} ms")

    print()
    print(f"leaderboards: {EVENTS} point events, {PLAYERS} players, {boards_per_event} boards per event")
    updates = events_per_s * boards_per_event
    print(f"  {'apply_point_event':<27}{events_per_s:10.0f} events/s ({updates:.0f} board updates/s)")
    for clients, zadd in ((1, zadd_1), (50, zadd_50)):
        ratio = events_per_s / zadd
        print(
            f"  {f'redis-benchmark ZADD -c {clients}':<27}{zadd:10.0f} ops/s    ratio events/ZADD {ratio:.3f}"
        )
    print(f"  {'rebuild_all from SQL':<27}{rebuild_s:10.2f} s")
    lat(f"my ranks ({len(placements)} boards)", rank_lat)
    lat("around me (n=5)", around_lat)
    lat("top page (20, keyset)", page_lat)
    assert events_per_s > 0 and rebuild_s > 0
