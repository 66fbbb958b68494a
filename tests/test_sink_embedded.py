"""The embedded store (chdb, ClickHouse in-process): the modern DDL runs on a current engine,
and every kind reads back column for column."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest

from marketprism_fast.batch import Batch
from marketprism_fast.config import EmbeddedSinkConfig
from marketprism_fast.pipeline.identity import BatchIds
from marketprism_fast.records import KINDS
from marketprism_fast.sinks.clickhouse.ddl import MODERN, table_columns
from marketprism_fast.sinks.embedded import EmbeddedSink
from tests.clickhouse_types import expected_type
from tests.sink_data import corpus_batches, expected_by_kind, multiset, synthetic_batch, synthetic_batches


@pytest.mark.corpus
def test_every_kind_reads_back_from_the_embedded_store_with_the_modern_schema(tmp_path: Path) -> None:
    batches = corpus_batches() + synthetic_batches(n=400)
    sink = EmbeddedSink(EmbeddedSinkConfig(enabled=True, path=str(tmp_path / "store")))

    async def main() -> dict:
        await sink.start()
        await sink.write(batches)
        await sink.write(batches)  # the same write again: dropped by its insert tokens
        assert sink.health().state == "ok", sink.health()
        out = {}
        version = (await sink.query("SELECT version() AS v")).column("v")[0].as_py()
        out["version"] = version
        for kind in KINDS:
            described = await sink.query(f"DESCRIBE TABLE marketprism.{kind.table}")
            out[("describe", kind.name)] = list(zip(described.column("name").to_pylist(), described.column("type").to_pylist()))
            ts = [c.name for c in kind.columns if c.type == "ts"]
            select = ", ".join(f"toUnixTimestamp64Nano(`{n}`) AS `{n}`" if n in ts else f"`{n}`" for n in kind.column_names)
            out[kind.name] = (await sink.query(f"SELECT {select} FROM marketprism.{kind.table}")).to_pylist()
        await sink.close()
        return out

    got = asyncio.run(main())
    assert int(got["version"].split(".")[0]) >= 23
    for kind in KINDS:
        # The modern DDL as generated, accepted by a current engine: every type as the contract says.
        assert got[("describe", kind.name)] == [(c.name, expected_type(c, MODERN)) if c.name != "_batch_id" else ("_batch_id", "UInt64") for c in table_columns(kind)]
    expected = expected_by_kind(batches)
    for kind in KINDS:
        assert multiset(got[kind.name], kind.column_names) == expected.get(kind.name, {}), kind.name


def test_a_write_is_one_insert_per_table_and_a_batch_that_cannot_be_stored_fails_alone(tmp_path: Path) -> None:
    # An insert costs the same whatever its size: a sink that fell behind must catch up by
    # taking more batches per insert. The store itself is real; only its calls are counted.
    trade, quote = (next(k for k in KINDS if k.name == name) for name in ("trade", "quote"))
    ids = BatchIds("embedded-groups")
    first = [synthetic_batch(trade, 50, seed, ids) for seed in range(40)] + [synthetic_batch(quote, 50, seed, ids) for seed in range(10)]
    second = [synthetic_batch(trade, 50, seed, ids) for seed in range(40, 46)]
    columns = {c.name: np.array(second[0].column(c.name)) for c in trade.columns}
    columns["trade_id"] = np.array([12345] * 50, dtype=object)  # not a text: Arrow refuses the batch
    bad = Batch.from_columns(trade, "okx", columns)
    ids.assign(bad)
    sink = EmbeddedSink(EmbeddedSinkConfig(enabled=True, path=str(tmp_path / "store")))
    inserts: list[int] = []

    async def main() -> int:
        await sink.start()
        insert = sink.store.insert

        def counted(group):
            inserts.append(len(group))
            return insert(group)

        sink.store.insert = counted
        await sink.write(first)
        assert inserts == [40, 10]
        inserts.clear()
        await sink.write(second[:3] + [bad] + second[3:])
        rows = (await sink.query("SELECT count() AS n FROM marketprism.trades")).column("n")[0].as_py()
        await sink.close()
        return rows

    rows = asyncio.run(main())
    assert inserts == [7, 1, 1, 1, 1, 1, 1, 1]  # the group fails, then each batch alone
    assert rows == 50 * (40 + 6)
    assert sink.counters.errors == 1 and sink.counters.batches_written == 50 + 6
