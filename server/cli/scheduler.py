"""The scheduler role: periodic tasks run by exactly one process at a time.

Each task is a function of (context, now) with its own interval. Time comes from an
injected clock so tests never sleep. A Redis lease lets several scheduler processes
run for availability while only one acts.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import redis

from config import keys
from config.settings import Settings
from store.db import Database

log = logging.getLogger("neuronquest.scheduler")


@dataclass
class SchedulerContext:
    settings: Settings
    db: Database
    redis: redis.Redis


Task = Callable[[SchedulerContext, datetime], None]


@dataclass
class PeriodicTask:
    name: str
    every_s: float
    run: Task
    last_run: float = field(default=float("-inf"))


def _heartbeat(ctx: SchedulerContext, now: datetime) -> None:
    ctx.redis.set(keys.scheduler_heartbeat(), now.isoformat(), ex=120)


def _quest_rollover(ctx: SchedulerContext, now: datetime) -> None:
    from store.competition.quests import quest_rollover

    quest_rollover(ctx, now)


def _rescore_sweep(ctx: SchedulerContext, now: datetime) -> None:
    from workers.rescoring import enqueue_sweep

    enqueue_sweep(ctx.redis, ctx.settings)


def _purge_sessions(ctx: SchedulerContext, now: datetime) -> None:
    from store.auth_sessions import purge_expired

    with ctx.db.session() as session:
        purge_expired(session)


DEFAULT_TASKS: list[tuple[str, float, Task]] = [
    ("heartbeat", 10.0, _heartbeat),
    # Opens today's daily and this week's quest, closes and freezes ended ones.
    ("quest_rollover", 30.0, _quest_rollover),
    # Queues rescoring of explanations lacking a score for new records or a new simulator version.
    ("rescore_sweep", 300.0, _rescore_sweep),
    # Deletes session records past their expiry (a token names its record: server/api/sessions.py).
    ("purge_sessions", 3600.0, _purge_sessions),
]


class Scheduler:
    def __init__(
        self,
        ctx: SchedulerContext,
        tasks: list[tuple[str, float, Task]] | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        monotonic: Callable[[], float] = time.monotonic,
        owner: str = "",
    ) -> None:
        self.ctx = ctx
        self.tasks = [PeriodicTask(n, e, f) for n, e, f in (tasks if tasks is not None else DEFAULT_TASKS)]
        self.clock = clock
        self.monotonic = monotonic
        self.owner = owner or f"scheduler-{id(self)}"

    def holds_lease(self, ttl_s: int = 30) -> bool:
        """Take or renew the single-scheduler lease."""
        key = keys.scheduler_lease()
        if self.ctx.redis.set(key, self.owner, nx=True, ex=ttl_s):
            return True
        if (self.ctx.redis.get(key) or b"").decode() == self.owner:
            self.ctx.redis.expire(key, ttl_s)
            return True
        return False

    def tick(self) -> list[str]:
        """Run every task that is due; returns the names that ran."""
        if not self.holds_lease():
            return []
        ran = []
        for task in self.tasks:
            if self.monotonic() - task.last_run < task.every_s:
                continue
            task.last_run = self.monotonic()
            try:
                task.run(self.ctx, self.clock())
                ran.append(task.name)
            except Exception:  # one failing task must not stop the others
                log.exception("scheduled task %s failed", task.name)
        return ran

    def run_forever(self, stop: threading.Event, poll_s: float = 1.0) -> None:
        while not stop.is_set():
            self.tick()
            stop.wait(poll_s)
        if (self.ctx.redis.get(keys.scheduler_lease()) or b"").decode() == self.owner:
            self.ctx.redis.delete(keys.scheduler_lease())
