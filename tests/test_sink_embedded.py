"""The embedded store (chdb, ClickHouse in-process): the modern DDL runs on a current engine,
and every kind reads back column for column."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from marketprism_fast.config import EmbeddedSinkConfig
from marketprism_fast.records import KINDS
from marketprism_fast.sinks.clickhouse.ddl import MODERN, table_columns
from marketprism_fast.sinks.embedded import EmbeddedSink
from tests.clickhouse_types import expected_type
from tests.sink_data import corpus_batches, expected_by_kind, multiset, synthetic_batches


@pytest.mark.corpus
def test_every_kind_reads_back_from_the_embedded_store_with_the_modern_schema(tmp_path: Path) -> None:
    batches = corpus_batches() + synthetic_batches(n=400)
    sink = EmbeddedSink(EmbeddedSinkConfig(enabled=True, path=str(tmp_path / "store")))

    async def main() -> dict:
        await sink.start()
        await sink.write(batches)
        await sink.write(batches[:3])  # the same batches again: dropped by their insert tokens
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
