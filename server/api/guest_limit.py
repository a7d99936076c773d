"""How many new guest sessions one client address may open: the brake on vote stuffing.

Votes are one per player per explanation, and a guest is a player, so a script that opens
guest after guest could vote many times. Each new guest (a websocket connect without a token)
counts against its client address in a fixed one-minute window in Redis (shared by every
web process); past ``Settings.guest_sessions_per_ip_per_min`` the connect is refused with
``flood`` and close 1008. Players who keep their token are never counted. People behind one
address (a classroom NAT) share the budget, hence a generous default; 0 turns it off.
Behind a reverse proxy the address is the proxy's unless uvicorn runs with --proxy-headers.
"""

from __future__ import annotations

import redis.asyncio as aioredis

from config import keys

WINDOW_S = 60


async def allow_new_guest(r: aioredis.Redis, address: str, per_minute: int) -> bool:
    """Count one new guest for ``address``; False once its minute's budget is spent."""
    if per_minute <= 0:
        return True
    key = keys.rate_limit("guest", address)
    async with r.pipeline(transaction=True) as pipe:
        pipe.set(key, 0, ex=WINDOW_S, nx=True)  # the window starts with its first guest
        pipe.incr(key)
        _, count = await pipe.execute()
    return int(count) <= per_minute
