"""The RQ queues, by role: interactive model work, its warm-ups, and background work."""

from __future__ import annotations

import redis
from rq import Queue

from config.settings import Settings


def model_queue(r: redis.Redis, settings: Settings) -> Queue:
    return Queue(settings.queue_model, connection=r)


def default_queue(r: redis.Redis, settings: Settings) -> Queue:
    return Queue(settings.queue_default, connection=r)


def warm_queue(r: redis.Redis, settings: Settings) -> Queue:
    return Queue(settings.queue_warm, connection=r)


def all_queues(r: redis.Redis, settings: Settings) -> list[Queue]:
    # Order matters: a worker takes interactive model work first, then preparing the next
    # rounds' neurons, then background work.
    return [model_queue(r, settings), warm_queue(r, settings), default_queue(r, settings)]


def queue_depths(r: redis.Redis, settings: Settings) -> dict[str, int]:
    return {q.name: q.count for q in all_queues(r, settings)}
