"""The ClickHouse sink: ``ClickHouseWriter`` on one worker thread, with a disk spool."""

from __future__ import annotations

import logging

from ...batch import Batch
from ...config import ClickHouseSinkConfig
from ..delivery import SpooledDelivery
from ..secrets import resolve_password
from .writer import ClickHouseWriter

log = logging.getLogger("marketprism_fast.sinks.clickhouse")


class ClickHouseSink(SpooledDelivery):
    name = "clickhouse"

    def __init__(self, config: ClickHouseSinkConfig) -> None:
        super().__init__(config.spool, blocking=True, logger=log)
        self.config = config
        self.overflow = config.overflow
        self.writer = ClickHouseWriter(config, password=resolve_password(config, field="sinks.clickhouse"), name=self.name)

    def _open(self) -> None:
        self.writer.connect()

    def _deliver(self, batch: Batch, uncertain: bool) -> int:
        return self.writer.insert(batch, check=uncertain)

    async def _close_client(self) -> None:
        await self._run(self.writer.disconnect)

    def stats(self) -> dict:
        out = super().stats()
        out["server_version"] = self.writer.server_version
        out["pieces_found_written"] = self.writer.skipped_pieces
        return out
