"""A sink that takes every batch and keeps nothing: counts rows (benchmarks, dry runs)."""

from __future__ import annotations

from ..batch import Batch
from ..config import NullSinkConfig
from .base import OK, SinkCounters, SinkHealth


class NullSink:
    name = "null"

    def __init__(self, config: NullSinkConfig | None = None) -> None:
        self.config = config or NullSinkConfig()
        self.counters = SinkCounters()

    async def start(self) -> None:
        pass

    async def write(self, batches: list[Batch]) -> None:
        for batch in batches:
            self.counters.wrote(batch)

    async def close(self) -> None:
        pass

    def health(self) -> SinkHealth:
        return OK

    def stats(self) -> dict:
        return {"state": "ok", "detail": "", **self.counters.as_dict(), "spool_bytes": 0, "spool_files": 0}
