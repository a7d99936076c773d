"""A small Starlette app with only the reference routes, set up like server/app.py sets app.state.ctx."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import redis
import redis.asyncio as aioredis
from starlette.applications import Starlette

from config.settings import Settings
from server.api.reference import routes
from store.db import Database


@dataclass
class ReferenceContext:
    settings: Settings
    db: Database
    r: aioredis.Redis
    r_sync: redis.Redis


def reference_app(settings: Settings, db: Database) -> Starlette:
    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        r = aioredis.Redis.from_url(settings.redis_url)
        r_sync = redis.Redis.from_url(settings.redis_url)
        app.state.ctx = ReferenceContext(settings, db, r, r_sync)
        try:
            yield
        finally:
            await r.aclose()
            r_sync.close()

    return Starlette(routes=routes, lifespan=lifespan)
