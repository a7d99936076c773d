"""The scheduler runs due tasks on an injected clock, one process at a time."""

from __future__ import annotations

from datetime import UTC, datetime

import redis

from config import keys
from config.settings import Settings
from server.cli.scheduler import Scheduler, SchedulerContext
from store.db import Database


class FakeClock:
    """Injected time: tests advance it instead of sleeping."""

    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def _ctx(settings: Settings, db: Database, redis_client: redis.Redis) -> SchedulerContext:
    return SchedulerContext(settings=settings, db=db, redis=redis_client)


def test_tasks_run_when_due(settings: Settings, db: Database, redis_client: redis.Redis) -> None:
    calls: list[str] = []
    clock = FakeClock()
    sched = Scheduler(
        _ctx(settings, db, redis_client),
        tasks=[
            ("fast", 1.0, lambda c, n: calls.append("fast")),
            ("slow", 10.0, lambda c, n: calls.append("slow")),
        ],
        monotonic=clock,
        clock=lambda: datetime(2026, 11, 21, tzinfo=UTC),
    )
    assert sched.tick() == ["fast", "slow"]
    assert sched.tick() == []
    clock.t += 1.5
    assert sched.tick() == ["fast"]
    clock.t += 10
    assert sched.tick() == ["fast", "slow"]


def test_only_one_scheduler_acts(settings: Settings, db: Database, redis_client: redis.Redis) -> None:
    ran: list[str] = []
    a = Scheduler(
        _ctx(settings, db, redis_client), tasks=[("t", 0.0, lambda c, n: ran.append("a"))], owner="a"
    )
    b = Scheduler(
        _ctx(settings, db, redis_client), tasks=[("t", 0.0, lambda c, n: ran.append("b"))], owner="b"
    )
    a.tick()
    b.tick()
    assert ran == ["a"]
    redis_client.delete(keys.scheduler_lease())  # a's lease expired
    b.tick()
    assert ran == ["a", "b"]


def test_a_failing_task_does_not_stop_the_others(
    settings: Settings, db: Database, redis_client: redis.Redis
) -> None:
    def boom(c: SchedulerContext, n: datetime) -> None:
        raise RuntimeError("boom")

    ran: list[str] = []
    sched = Scheduler(
        _ctx(settings, db, redis_client), tasks=[("bad", 0, boom), ("good", 0, lambda c, n: ran.append("ok"))]
    )
    assert sched.tick() == ["good"]
    assert ran == ["ok"]
