"""Resolving live services for one process: which Redis to talk to.

`neuronquest up` starts a private redis-server when no NQ_REDIS_URL is given and
records its URL in the data dir, so that a role started by hand on the same data
dir (`neuronquest web --port 8001`) finds and shares it.
"""

from __future__ import annotations

from pathlib import Path

import redis

from config.settings import Settings


def embedded_url_file(settings: Settings) -> Path:
    return settings.data_path / "redis" / "url"


def resolve_redis_url(settings: Settings) -> str:
    """The Redis URL this process should use, or raise RuntimeError saying why none."""
    if settings.redis_url:
        return settings.redis_url
    path = embedded_url_file(settings)
    if path.exists():
        url = path.read_text().strip()
        try:
            client = redis.Redis.from_url(url, socket_connect_timeout=1)
            client.ping()
            client.close()
            return url
        except redis.RedisError:
            pass
    raise RuntimeError(
        "no Redis: set NQ_REDIS_URL, or start `neuronquest up` on this data dir "
        f"({settings.data_path}) so its private Redis can be shared"
    )


def with_redis(settings: Settings) -> Settings:
    """Settings with redis_url filled in (see resolve_redis_url)."""
    if settings.redis_url:
        return settings
    return settings.model_copy(update={"redis_url": resolve_redis_url(settings)})
