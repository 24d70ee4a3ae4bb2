"""A token bucket per API key for the routes that move money or mint keys and tokens."""

from __future__ import annotations

import math
import time

from gyeol.core.errors import DomainError


class RateLimiter:
    """`rate` tokens a second per key, `burst_seconds` of them at once; a rate of 0 is no limit."""

    def __init__(self, rate: float, burst_seconds: float = 2.0) -> None:
        self.rate = rate
        self.capacity = max(1.0, rate * burst_seconds)
        self._buckets: dict[str, tuple[float, float]] = {}

    def check(self, key: str) -> None:
        if self.rate == 0:
            return
        now = time.monotonic()
        tokens, last = self._buckets.get(key, (self.capacity, now))
        tokens = min(self.capacity, tokens + (now - last) * self.rate)
        if tokens < 1.0:
            self._buckets[key] = (tokens, now)
            retry = max(1, math.ceil((1.0 - tokens) / self.rate))
            raise DomainError("rate_limit", "RATE_LIMITED", "Too many requests; slow down.",
                              headers={"Retry-After": str(retry)}, details={"retryAfter": retry})
        self._buckets[key] = (tokens - 1.0, now)
