"""Token buckets: per API key for the routes that move money or mint keys and tokens, and per client address for
the routes that need no key (the checkout's pay forms, the sandbox's buyer, receipts)."""

from __future__ import annotations

import math
import time

from starlette.types import Scope

from gyeol.core.errors import DomainError

# Buckets that have filled up again are dropped past this many, so addresses that came once cost nothing.
MAX_BUCKETS = 10_000


def address_of(scope: Scope) -> str:
    """The client's address as the server saw it (the proxy's X-Forwarded-For is put there when the proxy is
    trusted: GYEOL_TRUSTED_PROXIES)."""
    client = scope.get("client")
    return f"addr:{client[0]}" if client else "addr:unknown"


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
        if len(self._buckets) >= MAX_BUCKETS and key not in self._buckets:
            self._forget_full(now)
        self._buckets[key] = (tokens - 1.0, now)

    def _forget_full(self, now: float) -> None:
        full = [k for k, (tokens, last) in self._buckets.items()
                if tokens + (now - last) * self.rate >= self.capacity]
        for k in full:
            del self._buckets[k]
        if len(self._buckets) >= MAX_BUCKETS // 2:  # a flood from many addresses: the oldest buckets go
            for k in list(self._buckets)[:MAX_BUCKETS // 2]:
                del self._buckets[k]
