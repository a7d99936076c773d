"""A token bucket in Redis, shared by every web process: ``rate`` tokens a second, ``burst`` at most.

One Lua script reads, refills and takes in a single step (no race between processes) and
uses the Redis server's clock, so web processes with skewed clocks agree.
"""

from __future__ import annotations

from dataclasses import dataclass

import redis.asyncio as aioredis

from config import keys

_SCRIPT = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1])
local at = tonumber(state[2])
if tokens == nil or at == nil then
  tokens = burst
  at = now
end
tokens = math.min(burst, tokens + math.max(0, now - at) * rate)
local allowed = 0
local wait = 0
if tokens >= cost then
  tokens = tokens - cost
  allowed = 1
else
  wait = (cost - tokens) / rate
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
-- An idle bucket is full again after burst/rate seconds; then it need not be kept.
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return {allowed, tostring(tokens), tostring(wait)}
"""


@dataclass(frozen=True)
class Decision:
    allowed: bool
    remaining: float
    retry_after_s: float


@dataclass(frozen=True)
class Bucket:
    scope: str  # "anon" (per IP) or "key" (per API key)
    ident: str
    rate_per_s: float
    burst: int


async def take(r: aioredis.Redis, bucket: Bucket, cost: float = 1.0) -> Decision:
    """Take ``cost`` tokens from ``bucket`` if it holds them."""
    allowed, remaining, wait = await r.eval(  # type: ignore[misc]
        _SCRIPT,
        1,
        keys.rate_limit(f"api-{bucket.scope}", bucket.ident),
        repr(float(bucket.rate_per_s)),
        str(int(bucket.burst)),
        repr(float(cost)),
    )
    return Decision(bool(int(allowed)), float(remaining), float(wait))
