"""What a job needs, built once per worker process: settings, database, Redis.

RQ runs our jobs in a SimpleWorker (no fork per job), so module-level caches —
this context and the loaded models — live as long as the worker process.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import redis

from config.settings import Settings, get_settings
from store.db import Database


@dataclass
class WorkerContext:
    settings: Settings
    db: Database
    redis: redis.Redis


_override: Settings | None = None


def use_settings(settings: Settings) -> None:
    """Tests and the CLI pass their Settings in instead of reading the environment."""
    global _override
    _override = settings
    get_context.cache_clear()


@lru_cache(maxsize=1)
def get_context() -> WorkerContext:
    settings = _override or get_settings()
    return WorkerContext(
        settings=settings,
        db=Database(settings),
        redis=redis.Redis.from_url(settings.redis_url),
    )
