"""The generated DDL on a real ClickHouse server (tests/servers.py: Debian's 18.16 started
for the session, or the server MPF_CLICKHOUSE_HTTP names).

Variants run here: the legacy schema (what 18.x has), the legacy schema with
LowCardinality (18.x with the experimental type enabled, as the started server's profile
does), and the schema for the server's own version, which on 18.16 is the legacy one and
on a newer server given by URL is the modern one.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from datetime import datetime, timezone
from typing import Iterator

import pytest

from marketprism_fast.sinks.clickhouse.ddl import LEGACY, ServerCapabilities, schema_statements
from marketprism_fast.records import KINDS, Column, Kind
from tests.clickhouse_types import expected_type
from tests.helpers import REPO, same_value
from tests.servers import ClickHouse

LEGACY_LOW_CARDINALITY = ServerCapabilities(datetime64=False, low_cardinality=True, codecs=False)
VARIANTS = ("legacy", "legacy_low_cardinality", "server_version")

# 2021-10-11 23:30:00.123456789 UTC: late in the UTC day, already the 12th east of UTC.
TS_BASE_NS = 1_633_995_000_123_456_789
UTC_DAY = "20211011"


@pytest.fixture(params=VARIANTS)
def capabilities(request, clickhouse: ClickHouse) -> ServerCapabilities:
    if request.param == "legacy":
        return LEGACY
    if request.param == "legacy_low_cardinality":
        return LEGACY_LOW_CARDINALITY
    # the server's own schema: on 18.16 the legacy one again, on a newer server the modern one
    return ServerCapabilities.from_version(clickhouse.version())


@pytest.fixture
def database(request, clickhouse: ClickHouse) -> Iterator[str]:
    """A database of this test's own, empty at the start and dropped at the end."""
    name = "mpf_test_" + re.sub(r"\W", "_", request.node.name.lower())
    clickhouse.query(f"DROP DATABASE IF EXISTS {name}")
    yield name
    clickhouse.query(f"DROP DATABASE IF EXISTS {name}")


def create_schema(clickhouse: ClickHouse, database: str, capabilities: ServerCapabilities) -> None:
    for statement in schema_statements(database, capabilities):
        clickhouse.query(statement)


def described(clickhouse: ClickHouse, database: str, kind: Kind) -> list[tuple[str, str]]:
    return [(row["name"], row["type"]) for row in clickhouse.rows(f"DESCRIBE TABLE {database}.{kind.table}")]


def contract(kind: Kind, capabilities: ServerCapabilities) -> list[tuple[str, str]]:
    return [(c.name, expected_type(c, capabilities)) for c in kind.columns] + [("_batch_id", "UInt64")]


def sample_value(column: Column, ordinal: int):
    """A value of the column's type, different in every column of a row (a swap shows),
    at the edges of integer ranges, with a NaN where the contract has absent levels."""
    if column.type == "str":
        return f"{column.name}-é-{ordinal}"
    if column.type == "ts":
        return TS_BASE_NS + ordinal
    if column.type == "f8":
        return ordinal + 0.1
    if column.type == "f8[]":
        return [ordinal + 0.5, 1e-300, float("nan")]
    return {
        "u8": 2**64 - 1 - ordinal,
        "i8": -(2**63) + ordinal,
        "i1": -128 + ordinal,
        "u1": 255 - ordinal,
        "u2": 65535 - ordinal,
    }[column.type]


def as_text(column: Column, value, capabilities: ServerCapabilities):
    """The value as JSONEachRow carries it: DateTime64 as its text, the rest as is."""
    if column.type == "ts" and capabilities.datetime64:
        seconds, nanos = divmod(value, 1_000_000_000)
        return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%d %H:%M:%S") + f".{nanos:09d}"
    return value


def sample_row(kind: Kind, capabilities: ServerCapabilities) -> dict:
    row = {c.name: as_text(c, sample_value(c, i), capabilities) for i, c in enumerate(kind.columns)}
    row["_batch_id"] = 2**64 - 2
    return row


def test_the_schema_creates_every_table_with_the_contract_columns_and_types(
    clickhouse: ClickHouse, database: str, capabilities: ServerCapabilities
) -> None:
    create_schema(clickhouse, database, capabilities)
    create_schema(clickhouse, database, capabilities)  # IF NOT EXISTS: running it again changes nothing
    tables = clickhouse.rows(f"SELECT name FROM system.tables WHERE database = '{database}' ORDER BY name")
    assert [row["name"] for row in tables] == sorted(kind.table for kind in KINDS)
    for kind in KINDS:
        assert described(clickhouse, database, kind) == contract(kind, capabilities), kind.table


def test_a_row_with_a_value_in_every_column_reads_back(
    clickhouse: ClickHouse, database: str, capabilities: ServerCapabilities
) -> None:
    create_schema(clickhouse, database, capabilities)
    for kind in KINDS:
        row = sample_row(kind, capabilities)
        clickhouse.insert_rows(f"{database}.{kind.table}", [row])
        (got,) = clickhouse.rows(f"SELECT * FROM {database}.{kind.table}")
        assert list(got) == list(kind.column_names) + ["_batch_id"], kind.table
        for name, value in row.items():
            assert same_value(got[name], value), (kind.table, name, got[name], value)


def test_partitions_are_utc_days_whatever_the_server_time_zone(
    clickhouse: ClickHouse, database: str, capabilities: ServerCapabilities
) -> None:
    create_schema(clickhouse, database, capabilities)
    for kind in KINDS:
        clickhouse.insert_rows(f"{database}.{kind.table}", [sample_row(kind, capabilities)])
    parts = clickhouse.rows(f"SELECT DISTINCT table, partition FROM system.parts WHERE database = '{database}' AND active")
    assert sorted((p["table"], p["partition"]) for p in parts) == sorted((k.table, UTC_DAY) for k in KINDS)


def test_tables_survive_the_server_rereading_their_definitions(
    clickhouse: ClickHouse, database: str, capabilities: ServerCapabilities
) -> None:
    # DETACH/ATTACH parses the definition the server wrote to disk, as a restart does; on
    # 18.16 that text drops the quotes, so a keyword column (`interval`) in a key would break it.
    create_schema(clickhouse, database, capabilities)
    for kind in KINDS:
        clickhouse.query(f"DETACH TABLE {database}.{kind.table}")
        clickhouse.query(f"ATTACH TABLE {database}.{kind.table}")
        assert described(clickhouse, database, kind) == contract(kind, capabilities), kind.table


def test_the_committed_legacy_schema_runs_in_clickhouse_client(clickhouse: ClickHouse) -> None:
    if clickhouse.tcp_port is None:
        pytest.skip("the server was given by URL: its native port is not known")
    client = shutil.which("clickhouse-client")
    assert client, "clickhouse-client not found: run scripts/setup.sh"
    schema = REPO / "config/clickhouse/schema-18.sql"
    database = "marketprism"  # the one the committed file creates
    command = [client, "--host", "127.0.0.1", "--port", str(clickhouse.tcp_port), "--multiquery"]
    try:
        with schema.open("rb") as script:
            result = subprocess.run(command, stdin=script, capture_output=True, timeout=60)
        assert result.returncode == 0, result.stderr.decode()
        for kind in KINDS:
            assert described(clickhouse, database, kind) == contract(kind, LEGACY), kind.table
    finally:
        clickhouse.query(f"DROP DATABASE IF EXISTS {database}")
