"""The ClickHouse sink: ``ClickHouseWriter``s on worker threads (``writers``, one connection
each, so one batch's encoding overlaps another's write on the server), with a disk spool.
Concurrent inserts are as safe as serial ones: each piece has its own query id and check."""

from __future__ import annotations

import logging
import threading

from ...batch import Batch
from ...config import ClickHouseSinkConfig
from ..delivery import SpooledDelivery
from ..secrets import resolve_password
from .writer import ClickHouseWriter

log = logging.getLogger("marketprism_fast.sinks.clickhouse")


class ClickHouseSink(SpooledDelivery):
    name = "clickhouse"

    def __init__(self, config: ClickHouseSinkConfig) -> None:
        super().__init__(config.spool, blocking=True, logger=log, concurrency=config.writers)
        self.config = config
        self.overflow = config.overflow
        self._password = resolve_password(config, field="sinks.clickhouse")
        self._local = threading.local()
        self._writers: list[ClickHouseWriter] = []
        self._writers_lock = threading.Lock()

    @property
    def writer(self) -> ClickHouseWriter:
        """This thread's writer (each worker thread has its own connection)."""
        writer = getattr(self._local, "writer", None)
        if writer is None:
            writer = self._local.writer = ClickHouseWriter(self.config, password=self._password, name=self.name)
            with self._writers_lock:
                self._writers.append(writer)
        return writer

    def _open(self) -> None:
        self.writer.connect()

    def _deliver(self, batch: Batch, uncertain: bool) -> int:
        return self.writer.insert(batch, check=uncertain)

    def _disconnect_all(self) -> None:
        for writer in self._writers:
            writer.disconnect()

    async def _close_client(self) -> None:
        await self._run(self._disconnect_all)

    def stats(self) -> dict:
        out = super().stats()
        out["server_version"] = next((w.server_version for w in self._writers if w.server_version), "")
        out["pieces_found_written"] = sum(w.skipped_pieces for w in self._writers)
        return out
