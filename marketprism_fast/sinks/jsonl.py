"""JSON Lines to a file: one object per record, as the ``normalize`` command writes them.

The encoding is the ``normalize`` writer's (``offline.writers.JsonLines``: ``kind`` then every
column by name, floats as ``repr``, NaN as null, arrays as arrays, ns times as integers).
Records are written batch by batch in the order the sink receives them (within a batch, in
frame order; the live node does not interleave kinds across batches). The file is opened
for appending; a write error marks the sink down and the batch is counted as dropped.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import time
from pathlib import Path

from ..batch import Batch
from ..config import JsonlSinkConfig
from ..offline.writers import JsonLines
from .base import OK, SinkCounters, SinkHealth

log = logging.getLogger("marketprism_fast.sinks.jsonl")


class JsonlSink:
    name = "jsonl"

    def __init__(self, config: JsonlSinkConfig) -> None:
        self.config = config
        self.overflow = config.overflow
        self.counters = SinkCounters()
        self._json = JsonLines()
        self._file = None
        self._error = ""
        self._executor = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="mpf-jsonl")

    async def start(self) -> None:
        await asyncio.get_running_loop().run_in_executor(self._executor, self._open)

    def _open(self) -> None:
        try:
            path = Path(self.config.path)
            path.parent.mkdir(parents=True, exist_ok=True)
            self._file = open(path, "ab")
            self._error = ""
        except OSError as exc:
            self._error = f"cannot open {self.config.path}: {exc.strerror or exc}"
            log.error("jsonl: %s", self._error)

    def _write(self, batches: list[Batch]) -> None:
        if self._file is None:
            self._open()
            if self._file is None:
                self.counters.dropped_batches += len(batches)
                return
        for batch in batches:
            started = time.perf_counter()
            text = "\n".join(self._json.lines(batch)) + "\n"
            try:
                self._file.write(text.encode())
                self._file.flush()
            except OSError as exc:
                self._error = f"cannot write {self.config.path}: {exc.strerror or exc}"
                self.counters.write_failed()
                log.error("jsonl: %s", self._error)
                continue
            self._error = ""
            self.counters.write_succeeded(batch, time.perf_counter() - started)

    async def write(self, batches: list[Batch]) -> None:
        await asyncio.get_running_loop().run_in_executor(self._executor, self._write, batches)

    async def close(self) -> None:
        def _close() -> None:
            if self._file is not None:
                self._file.close()
                self._file = None

        await asyncio.get_running_loop().run_in_executor(self._executor, _close)
        self._executor.shutdown(wait=True)

    def health(self) -> SinkHealth:
        return SinkHealth("down", self._error) if self._error else OK

    def stats(self) -> dict:
        health = self.health()
        return {"state": health.state, "detail": health.detail, **self.counters.as_dict(), "spool_bytes": 0, "spool_files": 0}
