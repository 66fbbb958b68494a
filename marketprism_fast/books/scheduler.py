"""Rate-limited resync requests: a token bucket in the venue's own weight units.

A gap marks a symbol out of sync; its book comes back only with a new snapshot (a REST depth
request on Binance, a resubscription on OKX and Deribit). A storm of gaps (a network stall
hits every symbol at once) must not become a storm of requests that gets the IP banned: each
symbol is queued at most once, and requests leave the queue, oldest first, only as fast as
the bucket refills.

    scheduler = SnapshotScheduler.for_venue("binance_spot")
    scheduler.request("BTCUSDT")          # from the builder on a gap
    for symbol in scheduler.due():        # from the caller's timer
        fetch_snapshot(symbol)

The clock is injectable (seconds, monotonic), so behaviour is tested without waiting.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable

from ..errors import ConfigurationError


@dataclass(frozen=True)
class VenueBudget:
    """Request weight limit per minute, the weight of one snapshot request, and the share of
    the limit that resyncs may use (the rest is left to every other request)."""

    weight_per_minute: float
    request_weight: float
    share: float = 0.25
    burst_requests: int = 5


# Binance: REQUEST_WEIGHT per IP per minute; depth limit=1000 weighs 50 on spot and 20 on
# futures. OKX and Deribit resync by resubscribing: weight 1 per (un)subscribe request
# (OKX allows 480 per connection per hour).
VENUE_BUDGETS: dict[str, VenueBudget] = {
    "binance_spot": VenueBudget(6000, 50),
    "binance_usdm": VenueBudget(2400, 20),
    "binance_coinm": VenueBudget(2400, 20),
    "okx": VenueBudget(8, 1, share=1.0),
    "deribit": VenueBudget(600, 1),
}


class SnapshotScheduler:
    def __init__(
        self,
        *,
        capacity: float,
        refill_per_second: float,
        request_weight: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not request_weight > 0:
            raise ConfigurationError(f"request_weight must be > 0, got {request_weight}", field="request_weight")
        if not capacity >= request_weight:
            raise ConfigurationError(
                f"capacity {capacity} cannot hold one request of weight {request_weight}", field="capacity"
            )
        if not refill_per_second > 0:
            raise ConfigurationError(f"refill_per_second must be > 0, got {refill_per_second}", field="refill_per_second")
        self.capacity = float(capacity)
        self.refill_per_second = float(refill_per_second)
        self.request_weight = float(request_weight)
        self._clock = clock
        self._tokens = self.capacity
        self._stamp = clock()
        self._queue: OrderedDict[str, None] = OrderedDict()
        self._counts = {"requested": 0, "coalesced": 0, "sent": 0, "cancelled": 0}

    @classmethod
    def for_venue(cls, venue: str, *, clock: Callable[[], float] = time.monotonic) -> "SnapshotScheduler":
        try:
            budget = VENUE_BUDGETS[venue]
        except KeyError:
            raise ConfigurationError(f"no snapshot budget for venue {venue!r}", field="venue") from None
        return cls(
            capacity=budget.burst_requests * budget.request_weight,
            refill_per_second=budget.weight_per_minute * budget.share / 60.0,
            request_weight=budget.request_weight,
            clock=clock,
        )

    def request(self, symbol: str) -> bool:
        """Queue a snapshot for ``symbol``; False when it is already queued."""
        self._counts["requested"] += 1
        if symbol in self._queue:
            self._counts["coalesced"] += 1
            return False
        self._queue[symbol] = None
        return True

    def cancel(self, symbol: str) -> bool:
        """Forget a queued request (the symbol got its snapshot another way)."""
        if self._queue.pop(symbol, 0) is None:
            self._counts["cancelled"] += 1
            return True
        return False

    def due(self) -> list[str]:
        """Symbols whose request may be sent now, oldest first; their weight is spent."""
        self._refill()
        out: list[str] = []
        while self._queue and self._tokens >= self.request_weight:
            symbol, _ = self._queue.popitem(last=False)
            self._tokens -= self.request_weight
            out.append(symbol)
        self._counts["sent"] += len(out)
        return out

    def next_due_in(self) -> float | None:
        """Seconds until the next queued request may go (0 if now), None when none is queued."""
        if not self._queue:
            return None
        self._refill()
        missing = self.request_weight - self._tokens
        return max(0.0, missing / self.refill_per_second)

    @property
    def pending(self) -> list[str]:
        return list(self._queue)

    def stats(self) -> dict:
        return dict(self._counts, pending=len(self._queue), tokens=self._tokens)

    def _refill(self) -> None:
        now = self._clock()
        elapsed = max(0.0, now - self._stamp)  # a clock that steps back refills nothing
        self._stamp = now
        self._tokens = min(self.capacity, self._tokens + elapsed * self.refill_per_second)
