"""Record buffers into batches, on size or age, handed to the fan-out.

Every ``poll_seconds`` the batcher looks at each parser: when a kind's pending rows reach
``batch_rows`` (``parser.pending_rows()``, where the parser has it) or ``flush_interval``
has passed since the parser's last take, it calls ``parser.take()``, which seals the
buffers into immutable batches, gives each batch its identity (``identity.BatchIds``) and
submits them. One call per parser per poll; nothing per record or per frame.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Callable, Mapping, Sequence

from ..batch import Batch
from .identity import BatchIds

log = logging.getLogger("marketprism_fast.pipeline.batcher")

# Size is checked this often at most (age is checked at the same time).
MAX_POLL_SECONDS = 0.05


class Batcher:
    def __init__(
        self,
        parsers: Mapping[str, object],
        submit: Callable[[Sequence[Batch]], None],
        *,
        flush_interval: float,
        batch_rows: int,
        ids: BatchIds,
    ) -> None:
        self.parsers = dict(parsers)
        self.submit = submit
        self.flush_interval = flush_interval
        self.batch_rows = batch_rows
        self.ids = ids
        self.poll_seconds = min(flush_interval / 4, MAX_POLL_SECONDS)
        self._last_take = {venue: time.monotonic() for venue in self.parsers}
        self.batches = 0
        self.rows = 0
        self.takes_by_size = 0
        self.takes_by_age = 0

    def _full(self, parser) -> bool:
        pending = getattr(parser, "pending_rows", None)
        if pending is None:
            return False
        return any(n >= self.batch_rows for n in pending().values())

    def poll(self, now: float | None = None) -> int:
        """Take from every parser that is due; returns the batches submitted."""
        now = time.monotonic() if now is None else now
        submitted = 0
        for venue, parser in self.parsers.items():
            by_age = now - self._last_take[venue] >= self.flush_interval
            if not by_age and not self._full(parser):
                continue
            if by_age:
                self.takes_by_age += 1
            else:
                self.takes_by_size += 1
            submitted += self.flush(venue, now)
        return submitted

    def flush(self, venue: str, now: float | None = None) -> int:
        """Take what ``venue``'s parser holds now and submit it."""
        self._last_take[venue] = time.monotonic() if now is None else now
        batches = [b for b in self.parsers[venue].take() if len(b)]
        if not batches:
            return 0
        for batch in batches:
            self.ids.assign(batch)
            self.rows += len(batch)
        self.batches += len(batches)
        self.submit(batches)
        return len(batches)

    def flush_all(self) -> int:
        return sum(self.flush(venue) for venue in self.parsers)

    async def run(self) -> None:
        """Poll until cancelled; on cancellation, take what is left (shutdown)."""
        try:
            while True:
                await asyncio.sleep(self.poll_seconds)
                self.poll()
        finally:
            self.flush_all()

    def stats(self) -> dict:
        return {"batches": self.batches, "rows": self.rows, "takes_by_size": self.takes_by_size, "takes_by_age": self.takes_by_age}
