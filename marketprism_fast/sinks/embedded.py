"""The embedded store: ClickHouse in-process (chdb), where no server is configured.

The same database and tables as the ClickHouse sink, with the modern DDL
(``clickhouse/ddl.py``: ``DateTime64(9, 'UTC')``, ``LowCardinality``, codecs, the
``_batch_id`` column and the insert-token window), in a directory (``path``). The batches of
one write go in as one insert per table: one Arrow table of one chunk, ``INSERT INTO t
SETTINGS insert_deduplication_token=... SELECT * FROM Python(table)`` (chdb reads one Arrow
stream per insert and truncates several). An insert costs ~15-20 ms whatever its size, so a
sink that fell behind catches up by taking more batches per write, not more inserts (and
the table gets one part per insert, not one per batch). The token is the batch id of a
lone batch, a digest of the ids of several: the same write repeated is stored once. A
group that fails is inserted again batch by batch, so only a batch that cannot be stored
fails. chdb is blocking: it runs on the sink's one worker thread. ``query`` runs SQL for the
``demo`` summary and the tests.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa

from ..batch import Batch
from ..config import EmbeddedSinkConfig
from ..pipeline.identity import batch_id, group_id, id_text
from . import arrow
from .base import OK, SinkCounters, SinkHealth
from .clickhouse.ddl import BATCH_ID, MODERN, check_identifier, quote, schema_statements

log = logging.getLogger("marketprism_fast.sinks.embedded")


class EmbeddedStore:
    """A chdb session on one directory; call from one thread."""

    def __init__(self, path: str, database: str) -> None:
        from chdb import session

        Path(path).mkdir(parents=True, exist_ok=True)
        self.database = check_identifier(database, field="sinks.embedded.database")
        self._session = session.Session(path)
        for statement in schema_statements(self.database, MODERN):
            self._session.query(statement)

    def insert(self, batches: Sequence[Batch]) -> None:
        """One insert of batches of one kind (at least one)."""
        ids = [batch_id(b) for b in batches]
        tables = [
            arrow.to_table(b).append_column(
                pa.field(BATCH_ID.name, pa.uint64(), nullable=False), pa.array(np.full(len(b), i, dtype=np.uint64))
            )
            for b, i in zip(batches, ids)
        ]
        if len(tables) == 1:
            table = tables[0]
            token = id_text(ids[0])
        else:  # one chunk, one dictionary per text column: what chdb reads
            table = pa.concat_tables([t.replace_schema_metadata(None) for t in tables]).unify_dictionaries().combine_chunks()
            token = id_text(group_id(ids))
        name = f"{quote(self.database)}.{quote(batches[0].kind.table)}"
        # chdb finds ``table`` by its name in this frame.
        self._session.query(f"INSERT INTO {name} SETTINGS insert_deduplication_token = '{token}' SELECT * FROM Python(table)")

    def query(self, sql: str, fmt: str = "ArrowTable"):
        return self._session.query(sql, fmt)

    def close(self) -> None:
        self._session.close()


class EmbeddedSink:
    name = "embedded"

    def __init__(self, config: EmbeddedSinkConfig) -> None:
        self.config = config
        self.overflow = config.overflow
        self.counters = SinkCounters()
        self.store: EmbeddedStore | None = None
        self._error = ""
        self._executor = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="mpf-embedded")

    async def _call(self, fn, *args):
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    async def start(self) -> None:
        try:
            self.store = await self._call(EmbeddedStore, self.config.path, self.config.database)
        except Exception as exc:
            self._error = f"cannot open the store at {self.config.path}: {exc}"
            log.error("embedded: %s", self._error)

    def _write(self, batches: list[Batch]) -> None:
        by_table: dict[str, list[Batch]] = {}
        for batch in batches:
            if len(batch):
                by_table.setdefault(batch.kind.table, []).append(batch)
        for group in by_table.values():
            if self.store is None:
                self.counters.dropped_batches += len(group)
                continue
            if not self._insert(group) and len(group) > 1:
                for batch in group:  # only a batch that cannot be stored fails
                    self._insert([batch])

    def _insert(self, group: list[Batch]) -> bool:
        started = time.perf_counter()
        try:
            self.store.insert(group)  # type: ignore[union-attr]
        except Exception as exc:
            self._error = f"insert failed: {exc}"
            if len(group) == 1:
                self.counters.write_failed()
                log.error("embedded: %s", self._error)
            return False
        self._error = ""
        seconds = (time.perf_counter() - started) / len(group)
        for batch in group:
            self.counters.write_succeeded(batch, seconds)
        return True

    async def write(self, batches: list[Batch]) -> None:
        await self._call(self._write, batches)

    async def query(self, sql: str, fmt: str = "ArrowTable"):
        if self.store is None:
            raise RuntimeError(f"embedded store not open: {self._error}")
        return await self._call(self.store.query, sql, fmt)

    async def close(self) -> None:
        if self.store is not None:
            await self._call(self.store.close)
            self.store = None
        self._executor.shutdown(wait=True)

    def health(self) -> SinkHealth:
        return SinkHealth("down", self._error) if self._error else OK

    def stats(self) -> dict:
        health = self.health()
        return {"state": health.state, "detail": health.detail, **self.counters.as_dict(), "spool_bytes": 0, "spool_files": 0}
