"""Pacing: reconnect backoff and token buckets (connection attempts, client messages).

Both are documented venue obligations: reconnect storms must thin out (capped exponential
backoff with full jitter, as in "Exponential Backoff And Jitter", AWS Architecture Blog), and
connection attempts and client messages must stay under each venue's published rates.
"""

from __future__ import annotations

import asyncio
import random
import time
from typing import Callable


class Backoff:
    """Capped exponential backoff with full jitter."""

    def __init__(self, initial: float, cap: float, rng: random.Random | None = None) -> None:
        self.initial = initial
        self.cap = cap
        self.rng = rng or random.Random()

    def ceiling(self, attempt: int) -> float:
        return min(self.cap, self.initial * (2 ** min(attempt, 62)))

    def delay(self, attempt: int) -> float:
        return self.rng.uniform(0.0, self.ceiling(attempt))


class TokenBucket:
    """``rate`` tokens per second, at most ``burst`` saved; ``acquire`` waits for one."""

    def __init__(self, rate: float, burst: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.burst = max(1.0, burst)
        self.tokens = self.burst
        self.clock = clock
        self.stamp = clock()
        self.waited = 0

    def _refill(self) -> None:
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now

    async def acquire(self) -> None:
        self._refill()
        while self.tokens < 1.0:
            self.waited += 1
            await asyncio.sleep((1.0 - self.tokens) / self.rate)
            self._refill()
        self.tokens -= 1.0
