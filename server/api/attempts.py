"""Limits on failed attempts: logins, room codes, API keys (the ``limits`` package, moving
windows kept in Redis, so every web process shares them).

Only failures are counted, and a request is refused while any of its windows is full, before
any work is done (no password hash is computed for a refused login). Each limit is a list of
windows in ``limits``' notation, e.g. "5/minute;20/hour;100/day": once the minute's budget is
spent the caller waits out the minute, after 20 failures the hour; the waits grow with
persistence, which is the backoff. The answer carries how long to wait (Retry-After).
"""

from __future__ import annotations

import asyncio
import math
import time

import redis.asyncio as aioredis
from limits import RateLimitItem, parse_many
from limits.aio.storage import RedisStorage
from limits.aio.strategies import MovingWindowRateLimiter

from config import keys
from config.settings import Settings


def _storage_uri(redis_url: str) -> str:
    if redis_url.startswith("unix://"):
        return "async+redis+unix://" + redis_url.removeprefix("unix://")
    return "async+" + redis_url


class AttemptLimit:
    """Failures of one kind (``scope``) counted per identity (an account, an address)."""

    def __init__(self, limiter: MovingWindowRateLimiter, scope: str, spec: str) -> None:
        self.limiter, self.scope = limiter, scope
        self.windows: list[RateLimitItem] = parse_many(spec) if spec.strip() else []

    async def retry_after(self, ident: str) -> int:
        """Seconds until ``ident`` may try again; 0 when it may now."""
        wait = 0.0
        for window in self.windows:
            if not await self.limiter.test(window, self.scope, ident):
                stats = await self.limiter.get_window_stats(window, self.scope, ident)
                wait = max(wait, stats.reset_time - time.time(), 1.0)
        return math.ceil(wait)

    async def failed(self, ident: str) -> None:
        for window in self.windows:
            await self.limiter.hit(window, self.scope, ident)


class Attempts:
    """The limits of one web process (built at startup, on the app's Redis pool), and the gate
    that bounds how many password hashes are checked at once."""

    def __init__(self, settings: Settings, r: aioredis.Redis) -> None:
        storage = RedisStorage(
            _storage_uri(settings.redis_url),
            implementation="redispy",
            key_prefix=keys.limiter_prefix(),
            connection_pool=r.connection_pool,
        )
        limiter = MovingWindowRateLimiter(storage)
        self.login_account = AttemptLimit(limiter, "login-account", settings.login_failures_per_account)
        self.login_address = AttemptLimit(limiter, "login-address", settings.login_failures_per_address)
        self.code_player = AttemptLimit(limiter, "code-player", settings.join_code_failures)
        self.code_address = AttemptLimit(limiter, "code-address", settings.join_code_failures)
        self.api_key_address = AttemptLimit(limiter, "apikey-address", settings.api_key_failures)
        # argon2 takes ~50 ms of a core and 64 MiB: a burst of logins waits here, off the
        # database connection and the event loop, instead of starving other requests.
        self.password_gate = asyncio.Semaphore(settings.password_check_concurrency)


async def wait_needed(*pairs: tuple[AttemptLimit, str]) -> int:
    """The longest wait over several (limit, identity) pairs; 0 when all may try now."""
    waits = [await limit.retry_after(ident) for limit, ident in pairs]
    return max(waits, default=0)
