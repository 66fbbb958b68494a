"""SnapshotScheduler: a token bucket in venue weight; a storm of gaps is not a storm of requests."""

from __future__ import annotations

import pytest

from marketprism_fast.books import VENUE_BUDGETS, SnapshotScheduler
from marketprism_fast.errors import ConfigurationError


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def make(clock: Clock, **options) -> SnapshotScheduler:
    return SnapshotScheduler(**{"capacity": 150, "refill_per_second": 25, "request_weight": 50, "clock": clock, **options})


def test_a_storm_is_released_at_the_refill_rate() -> None:
    clock = Clock()
    scheduler = make(clock)
    symbols = [f"S{i}" for i in range(200)]
    for _ in range(5):  # every symbol gaps five times
        for symbol in symbols:
            scheduler.request(symbol)
    assert scheduler.pending == symbols  # once each, oldest first
    assert scheduler.due() == symbols[:3]  # the burst: 150 / 50
    assert scheduler.due() == []
    sent = 3
    for _ in range(40):  # 40 s at 25 weight/s = 1000 weight = 20 requests
        clock.now += 1.0
        sent += len(scheduler.due())
    assert sent == 3 + 20
    stats = scheduler.stats()
    assert (stats["requested"], stats["coalesced"], stats["sent"], stats["pending"]) == (1000, 800, 23, 177)


def test_the_bucket_never_holds_more_than_its_capacity() -> None:
    clock = Clock()
    scheduler = make(clock)
    clock.now += 3600.0  # an idle hour
    for i in range(10):
        scheduler.request(f"S{i}")
    assert len(scheduler.due()) == 3


def test_cancelled_requests_are_not_sent() -> None:
    clock = Clock()
    scheduler = make(clock)
    for symbol in ("A", "B", "C", "D"):
        scheduler.request(symbol)
    assert scheduler.cancel("B") and not scheduler.cancel("B") and not scheduler.cancel("Z")
    assert scheduler.due() == ["A", "C", "D"]


def test_next_due_in_tells_the_caller_when_to_come_back() -> None:
    clock = Clock()
    scheduler = make(clock)
    assert scheduler.next_due_in() is None
    for symbol in ("A", "B", "C", "D"):
        scheduler.request(symbol)
    assert scheduler.next_due_in() == 0.0
    scheduler.due()
    assert scheduler.next_due_in() == pytest.approx(2.0)  # 50 weight at 25/s
    clock.now += 2.0
    assert scheduler.due() == ["D"]


def test_a_clock_stepping_back_refills_nothing() -> None:
    clock = Clock()
    scheduler = make(clock, capacity=50)
    scheduler.request("A")
    scheduler.request("B")
    assert scheduler.due() == ["A"]
    clock.now -= 100.0
    assert scheduler.due() == []
    clock.now += 2.0
    assert scheduler.due() == ["B"]


@pytest.mark.parametrize("venue", sorted(VENUE_BUDGETS))
def test_venue_budgets_allow_a_burst_and_stay_within_the_limit(venue: str) -> None:
    clock = Clock()
    budget = VENUE_BUDGETS[venue]
    scheduler = SnapshotScheduler.for_venue(venue, clock=clock)
    for i in range(1000):
        scheduler.request(f"S{i}")
    burst = len(scheduler.due())
    assert burst == budget.burst_requests
    clock.now += 60.0
    per_minute = len(scheduler.due())
    assert per_minute * budget.request_weight <= budget.weight_per_minute * budget.share


@pytest.mark.parametrize(
    "options,field",
    [
        ({"request_weight": 0}, "request_weight"),
        ({"capacity": 10}, "capacity"),
        ({"refill_per_second": 0}, "refill_per_second"),
    ],
)
def test_bad_settings_are_configuration_errors(options: dict, field: str) -> None:
    with pytest.raises(ConfigurationError) as error:
        make(Clock(), **options)
    assert error.value.field == field
    with pytest.raises(ConfigurationError):
        SnapshotScheduler.for_venue("kraken")
