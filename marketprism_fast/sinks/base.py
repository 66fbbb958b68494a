"""The one interface every sink has, and the counters every sink keeps.

A sink takes lists of immutable ``Batch``es in order from its own task (``pipeline.fanout``)
and must never make that task wait on a dead server for long: it reports (``health``),
keeps what it can (a spool, or the latest values) and catches up later.

Four methods (seams.md §2): ``start`` (must not raise when the server is down), ``write``,
``close`` (flush what is queued or spooled if possible), ``health``; plus ``stats`` for
``/status``. Sinks that keep a disk spool also have ``spool_nowait(batch) -> bool``: what
the fan-out calls instead of queueing when the sink's queue is full and its policy is
``spool``. It hands the batch to the sink's disk thread and returns at once (False, and
nothing done, when that thread already has a full queue of its own).
"""

from __future__ import annotations

import bisect
import time
from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

from ..batch import Batch

State = Literal["ok", "degraded", "down"]

# Upper bounds (seconds) of the flush-time histogram buckets, as Prometheus counts them.
FLUSH_BUCKETS: tuple[float, ...] = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


@dataclass(frozen=True)
class SinkHealth:
    state: State
    detail: str = ""


OK = SinkHealth("ok")


@runtime_checkable
class Sink(Protocol):
    name: str

    async def start(self) -> None: ...

    async def write(self, batches: list[Batch]) -> None: ...

    async def close(self) -> None: ...

    def health(self) -> SinkHealth: ...

    def stats(self) -> dict: ...


@runtime_checkable
class SpoolingSink(Sink, Protocol):
    def spool_nowait(self, batch: Batch) -> bool: ...


class SinkCounters:
    """What every sink counts, in the shape of ``/status`` (seams.md §3).

    The fan-out adds ``backlog_batches``/``backlog_rows``/``dropped_batches`` for the queue
    in front of the sink; sinks with a spool fill ``spool_bytes``/``spool_files``.
    """

    def __init__(self) -> None:
        self.rows_written: dict[str, int] = {}
        self.batches_written = 0
        self.errors = 0
        self.dropped_batches = 0
        self.last_success: float | None = None
        self._flush_count = 0
        self._flush_sum = 0.0
        self._flush_buckets = [0] * len(FLUSH_BUCKETS)

    def wrote(self, batch: Batch, rows: int | None = None) -> None:
        name = batch.kind.name
        self.rows_written[name] = self.rows_written.get(name, 0) + (len(batch) if rows is None else rows)
        self.batches_written += 1
        self.last_success = time.time()

    def flushed(self, seconds: float) -> None:
        self._flush_count += 1
        self._flush_sum += seconds
        i = bisect.bisect_left(FLUSH_BUCKETS, seconds)
        if i < len(self._flush_buckets):
            self._flush_buckets[i] += 1

    def write_succeeded(self, batch: Batch, seconds: float) -> None:
        """One batch written in ``seconds``."""
        self.flushed(seconds)
        self.wrote(batch)

    def write_failed(self) -> None:
        """One batch a sink without a spool could not write: an error, and the batch is gone."""
        self.errors += 1
        self.dropped_batches += 1

    def as_dict(self) -> dict:
        cumulative, buckets = 0, {}
        for le, n in zip(FLUSH_BUCKETS, self._flush_buckets):
            cumulative += n
            buckets[repr(le)] = cumulative
        buckets["+Inf"] = self._flush_count
        return {
            "last_success": self.last_success,
            "errors": self.errors,
            "dropped_batches": self.dropped_batches,
            "rows_written": dict(self.rows_written),
            "batches_written": self.batches_written,
            "flush_seconds": {"count": self._flush_count, "sum": self._flush_sum, "buckets": buckets},
        }


class Backoff:
    """Capped exponential retry delay with full jitter; reset on success."""

    def __init__(self, initial: float = 0.2, cap: float = 10.0) -> None:
        import random

        self._random = random.Random()
        self.initial = initial
        self.cap = cap
        self.failures = 0
        self.next_attempt = 0.0  # monotonic

    def failed(self) -> float:
        delay = self._random.uniform(0, min(self.cap, self.initial * 2**self.failures))
        self.failures += 1
        self.next_attempt = time.monotonic() + delay
        return delay

    def succeeded(self) -> None:
        self.failures = 0
        self.next_attempt = 0.0

    def ready(self) -> bool:
        return time.monotonic() >= self.next_attempt
