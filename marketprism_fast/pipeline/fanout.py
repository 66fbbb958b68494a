"""Batches to every sink: one bounded queue and one task per sink.

``submit(batches)`` appends to each sink's queue and returns at once: it never awaits and
never blocks, so a slow or dead sink cannot hold up the feed or the other sinks. Each sink's
task takes its queue in order and calls ``sink.write``.

When a queue holds more than ``Overflow.max_queue_batches`` batches, or the batches queued
for a sink plus those its write in progress holds take more than ``Overflow.max_queue_bytes``
of memory (``batch_bytes``), the sink's policy decides, and every decision is counted
(``dropped_batches``, ``spooled_batches``) and logged. The byte bound is what keeps memory
flat whatever the batch size and however slow a sink is: a sink that cannot keep up sheds
its oldest batches to disk (or drops them), it never grows the process.

* ``drop_oldest``: the oldest queued batches are dropped.
* ``spool``: the oldest queued batches go to the sink's disk spool (``sink.spool_nowait``,
  for sinks that have one: ClickHouse, NATS), handed to the sink's disk thread without
  waiting, so a sink stuck in a long write still sheds its queue; the sink writes them back
  later (possibly after some newer batches). If the disk thread is itself too far behind
  (its own bound, in batches and bytes), the oldest are dropped, counted. A sink without a
  spool falls back to ``drop_oldest`` (said once, at start).

The sink's task hands it at most ``max_queue_batches`` batches and a quarter of
``max_queue_bytes`` per ``write`` call (at least one batch), so the backlog figure counts
what the sink has not yet taken, and one write is never a long one.

Batches are immutable and shared by every queue; a record buffer's memory is reused when
the last sink has dropped its reference (``batch.py``), so the queues hold no copies.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from typing import Mapping, Sequence

import numpy as np

from ..batch import PACKED_ID_FLAG, Batch
from ..config import Overflow
from ..sinks.base import Sink, SpoolingSink
from ..tasks import cancel_and_wait

log = logging.getLogger("marketprism_fast.pipeline.fanout")

# One "queue overflowing" line per sink at most this often; the counter is exact.
LOG_EVERY_SECONDS = 10.0
# At shutdown, a write already under way gets this long to finish (its batch may be half sent).
SHUTDOWN_WRITE_GRACE_SECONDS = 30.0


def batch_bytes(batch: Batch) -> int:
    """The memory a batch keeps alive, near enough to bound queues by: its storage arrays
    (compiled batches, the live path: the buffer's rows and the text they reference), or its
    columns (batches built from columns: reference parsers, spool read-back). Object (text)
    columns of the latter count their pointers only: their texts are mostly shared objects
    (an instrument's text once per instrument)."""
    st = batch.storage
    if st:
        total = 0
        for name, values in st.items():
            total += values.nbytes
            if name.endswith("_len"):  # text bytes in the arena (a packed id has none)
                total += int(values[values < PACKED_ID_FLAG].sum(dtype=np.int64))
        return total
    return sum(c.nbytes for c in batch.columns().values())


class _Lane:
    def __init__(self, sink: Sink, overflow: Overflow) -> None:
        self.sink = sink
        self.overflow = overflow
        self.can_spool = overflow.policy == "spool" and isinstance(sink, SpoolingSink)
        self.queue: collections.deque[tuple[Batch, int]] = collections.deque()  # (batch, bytes)
        self.rows = 0
        self.bytes = 0  # of the queued batches
        self.writing_bytes = 0  # of the batches the write in progress holds
        self.max_bytes_seen = 0
        self.dropped_batches = 0
        self.dropped_rows = 0
        self.spooled_batches = 0
        self.errors = 0
        self.ready = asyncio.Event()
        self.idle = asyncio.Event()
        self.idle.set()
        self.tasks: list[asyncio.Task] = []
        self._last_log = 0.0
        self._unlogged = 0

    def pop(self) -> Batch:
        batch, size = self.queue.popleft()
        self.rows -= len(batch)
        self.bytes -= size
        return batch

    def over(self) -> bool:
        if not self.queue:
            return False
        return len(self.queue) > self.overflow.max_queue_batches or self.bytes + self.writing_bytes > self.overflow.max_queue_bytes

    def take(self) -> tuple[list[Batch], int]:
        """The next batches for one write: at most max_queue_batches and a quarter of
        max_queue_bytes (at least one batch)."""
        limit = max(self.overflow.max_queue_bytes // 4, 1)
        batches, taken = [], 0
        while self.queue and len(batches) < self.overflow.max_queue_batches:
            size = self.queue[0][1]
            if batches and taken + size > limit:
                break
            batches.append(self.pop())
            taken += size
        return batches, taken

    def note_overflow(self, what: str, batch: Batch) -> None:
        self._unlogged += 1
        now = time.monotonic()
        if now - self._last_log >= LOG_EVERY_SECONDS:
            log.warning(
                "sink %s: queue over %d batches or %d bytes: %s %d batch(es), last %s %s of %d rows (overflow.policy=%s)",
                self.sink.name, self.overflow.max_queue_batches, self.overflow.max_queue_bytes, what, self._unlogged,
                batch.exchange, batch.kind.name, len(batch), self.overflow.policy,
            )
            self._last_log = now
            self._unlogged = 0


class FanOut:
    """``overflow``: one policy for every sink, or one per sink name; by default each
    sink's own ``overflow`` attribute (its config section's), else ``Overflow()``."""

    def __init__(self, sinks: Sequence[Sink], overflow: Overflow | Mapping[str, Overflow] | None = None) -> None:
        self.sinks = list(sinks)
        self._lanes: dict[str, _Lane] = {}
        for sink in self.sinks:
            if isinstance(overflow, Overflow):
                policy = overflow
            elif overflow is not None and sink.name in overflow:
                policy = overflow[sink.name]
            else:
                policy = getattr(sink, "overflow", None) or Overflow()
            lane = _Lane(sink, policy)
            if policy.policy == "spool" and not lane.can_spool:
                log.warning("sink %s has no spool: its overflow policy acts as drop_oldest", sink.name)
            self._lanes[sink.name] = lane
        self._started = False

    async def start(self) -> None:
        """Start every sink (none raises when its server is down) and its tasks."""
        await asyncio.gather(*(sink.start() for sink in self.sinks))
        for lane in self._lanes.values():
            lane.tasks.append(asyncio.create_task(self._write_loop(lane), name=f"sink-{lane.sink.name}"))
        self._started = True

    def submit(self, batches: Sequence[Batch]) -> None:
        """Queue the batches for every sink. Never blocks, never awaits."""
        sized = [(b, batch_bytes(b)) for b in batches if len(b)]
        if not sized:
            return
        rows = sum(len(b) for b, _ in sized)
        size = sum(n for _, n in sized)
        for lane in self._lanes.values():
            lane.queue.extend(sized)
            lane.rows += rows
            lane.bytes += size
            lane.max_bytes_seen = max(lane.max_bytes_seen, lane.bytes + lane.writing_bytes)
            lane.idle.clear()
            while lane.over():
                batch = lane.pop()
                if lane.can_spool and lane.sink.spool_nowait(batch):  # type: ignore[attr-defined]
                    lane.spooled_batches += 1
                    lane.note_overflow("spooled the oldest", batch)
                else:
                    lane.dropped_batches += 1
                    lane.dropped_rows += len(batch)
                    lane.note_overflow("dropped the oldest", batch)
            lane.ready.set()

    async def _write_loop(self, lane: _Lane) -> None:
        sink = lane.sink
        while True:
            if not lane.queue:
                lane.idle.set()
                lane.ready.clear()
                await lane.ready.wait()
                continue
            batches, lane.writing_bytes = lane.take()
            try:
                await sink.write(batches)
            except asyncio.CancelledError:
                raise
            except Exception:  # a sink bug must not end its task: count, log, go on
                lane.errors += 1
                lane.dropped_batches += len(batches)
                log.exception("sink %s: write failed; %d batch(es) dropped", sink.name, len(batches))
            finally:
                lane.writing_bytes = 0
            del batches

    async def drain(self, timeout: float) -> bool:
        """Wait (up to ``timeout``) until every queue is written, then close the sinks with
        what is left of the time. What a spooling sink never got goes to its spool; a write
        in progress is let finish (a grace of its own) rather than cut off. True if every
        queue emptied."""
        deadline = time.monotonic() + timeout
        lanes = list(self._lanes.values())
        emptied = True
        for lane in lanes:
            try:
                await asyncio.wait_for(lane.idle.wait(), max(deadline - time.monotonic(), 0.0))
            except asyncio.TimeoutError:
                emptied = False
                log.warning("sink %s: %d batch(es) still queued at shutdown", lane.sink.name, len(lane.queue))
        for lane in lanes:
            if lane.queue and lane.can_spool:
                while lane.queue:
                    batch = lane.pop()
                    while not lane.sink.spool_nowait(batch):  # type: ignore[attr-defined]
                        await asyncio.sleep(0.01)  # the disk thread is busy: shutdown waits for it
                    lane.spooled_batches += 1
            elif lane.queue:
                lane.dropped_batches += len(lane.queue)
                log.warning("sink %s: %d queued batch(es) dropped at shutdown", lane.sink.name, len(lane.queue))
                while lane.queue:
                    lane.pop()
            lane.ready.set()
            try:  # the write in progress, if any
                await asyncio.wait_for(lane.idle.wait(), SHUTDOWN_WRITE_GRACE_SECONDS)
            except asyncio.TimeoutError:
                log.warning("sink %s: a write still running at shutdown was cut off", lane.sink.name)
            await cancel_and_wait(lane.tasks)
            lane.tasks.clear()
        await asyncio.gather(*(self._close(lane.sink, deadline) for lane in lanes))
        return emptied

    async def _close(self, sink: Sink, deadline: float) -> None:
        try:
            await asyncio.wait_for(sink.close(), max(deadline - time.monotonic(), 1.0))
        except Exception:
            log.exception("sink %s: close failed", sink.name)

    def backlog(self, name: str) -> tuple[int, int]:
        lane = self._lanes[name]
        return len(lane.queue), lane.rows

    def backlog_bytes(self, name: str) -> int:
        """Memory held for the sink: its queue plus the batches of its write in progress."""
        lane = self._lanes[name]
        return lane.bytes + lane.writing_bytes

    def stats(self) -> dict[str, dict]:
        """Per sink: its own stats plus the queue in front of it (seams.md §3)."""
        out: dict[str, dict] = {}
        for name, lane in self._lanes.items():
            health = lane.sink.health()
            stats = {"state": health.state, "detail": health.detail, **lane.sink.stats()}
            stats["backlog_batches"] = len(lane.queue)
            stats["backlog_rows"] = lane.rows
            stats["backlog_bytes"] = lane.bytes + lane.writing_bytes
            stats["backlog_bytes_max"] = lane.max_bytes_seen
            stats["dropped_batches"] = stats.get("dropped_batches", 0) + lane.dropped_batches
            stats["overflow_spooled_batches"] = lane.spooled_batches
            stats["errors"] = stats.get("errors", 0) + lane.errors
            stats.setdefault("spool_bytes", 0)
            stats.setdefault("spool_files", 0)
            out[name] = stats
        return out
