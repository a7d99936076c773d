"""What a job needs, built once per worker process: settings, database, Redis.

RQ runs our jobs in a SimpleWorker (no fork per job), so module-level caches —
this context and the loaded models — live as long as the worker process.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, TypeVar

import redis

from config.settings import Settings, get_settings
from store.db import Database

T = TypeVar("T")


@dataclass
class WorkerContext:
    settings: Settings
    db: Database
    redis: redis.Redis
    # Where rooms' event logs live: a Redis Cluster client with rooms_redis_cluster_url, else ``redis``.
    rooms_redis: Any = None

    def __post_init__(self) -> None:
        if self.rooms_redis is None:
            self.rooms_redis = self.redis


_override: Settings | None = None


def use_settings(settings: Settings) -> None:
    """Tests and the CLI pass their Settings in instead of reading the environment."""
    global _override
    _override = settings
    get_context.cache_clear()


@lru_cache(maxsize=1)
def get_context() -> WorkerContext:
    settings = _override or get_settings()
    url = settings.rooms_redis_cluster_url
    return WorkerContext(
        settings=settings,
        db=Database(settings),
        redis=redis.Redis.from_url(settings.redis_url),
        rooms_redis=redis.RedisCluster.from_url(url) if url else None,
    )


_models: dict[str, Any] = {}
_models_lock = threading.Lock()


def once_per_process(key: str, build: Callable[[], T]) -> T:
    """The object built for ``key`` in this worker process, building it the first time.

    Simulators and explainers hold models: loading one costs seconds, so a worker keeps each
    for its lifetime. The lock makes concurrent first calls build it once.
    """
    with _models_lock:
        if key not in _models:
            _models[key] = build()
        return _models[key]  # type: ignore[no-any-return]
