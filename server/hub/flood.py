"""Per-connection flood limits: two token buckets, one for messages and one for bytes."""

from __future__ import annotations

import time
from collections.abc import Callable


class TokenBucket:
    """Holds up to ``burst`` tokens, refilled at ``rate`` per second; a take that finds too few fails."""

    __slots__ = ("burst", "clock", "rate", "stamp", "tokens")  # two per socket

    def __init__(self, rate: float, burst: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate, self.burst, self.clock = rate, burst, clock
        self.tokens = burst
        self.stamp = clock()

    def take(self, amount: float = 1.0) -> bool:
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens < amount:
            return False
        self.tokens -= amount
        return True


class FloodGuard:
    """Messages/s and bytes/s of one connection; ``allow`` is False once either is exceeded."""

    __slots__ = ("bytes", "messages")

    def __init__(
        self,
        messages_per_s: float,
        burst: int,
        bytes_per_s: float,
        max_frame_bytes: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.messages = TokenBucket(messages_per_s, burst, clock)
        # One second's worth of bytes, but never less than a few full frames.
        self.bytes = TokenBucket(bytes_per_s, max(bytes_per_s, 4 * max_frame_bytes), clock)

    def allow(self, size: int) -> bool:
        return self.messages.take(1.0) and self.bytes.take(float(size))
