"""The ClickHouse DDL as text: capabilities by server version, identifiers, the tables of
both variants, the ``ddl`` command and the committed schema files. (The DDL running on a
real server: test_ddl_clickhouse.py.)"""

from __future__ import annotations

import io
import re
import subprocess
import sys
from dataclasses import dataclass

import pytest

from marketprism_fast.cli import main
from marketprism_fast.sinks.clickhouse.ddl import (
    DEFAULT_DATABASE,
    LEGACY,
    MODERN,
    ServerCapabilities,
    create_database,
    create_table,
    render_schema,
    schema_statements,
)
from marketprism_fast.errors import ConfigurationError
from marketprism_fast.records import INSTRUMENT_COLUMNS, KINDS
from tests.clickhouse_types import expected_type
from tests.helpers import REPO

SCHEMA_FILES = {"--modern": REPO / "config/clickhouse/schema.sql", "--legacy": REPO / "config/clickhouse/schema-18.sql"}
# data-model.md, "Outside the process".
TABLES = (
    "trades", "book_deltas", "book_snapshots", "quotes", "tickers",
    "klines", "funding_rates", "open_interest", "liquidations",
)  # fmt: skip


@dataclass(frozen=True)
class Table:
    """A CREATE TABLE statement read back from its text."""

    name: str
    columns: list[tuple[str, str]]  # (name, everything after the name: type and codec)
    engine: str
    partition_by: str
    order_by: str
    settings: str | None = None


_CREATE_TABLE = re.compile(
    r"CREATE TABLE IF NOT EXISTS (?P<name>\S+)\n\(\n(?P<columns>.*?)\n\)\n"
    r"ENGINE = (?P<engine>.+)\nPARTITION BY (?P<partition>.+)\nORDER BY (?P<order>[^\n]+)(?:\nSETTINGS (?P<settings>.+))?",
    re.S,
)


def read_table(statement: str) -> Table:
    match = _CREATE_TABLE.fullmatch(statement)
    assert match, statement
    columns = []
    for line in match["columns"].split(",\n"):
        name, definition = re.fullmatch(r"    `(\w+)` (.+)", line).groups()  # type: ignore[union-attr]
        columns.append((name, definition))
    return Table(match["name"], columns, match["engine"], match["partition"], match["order"], match["settings"])


def tables(capabilities: ServerCapabilities) -> dict[str, Table]:
    return {kind.name: read_table(create_table(kind, "db", capabilities)) for kind in KINDS}


@pytest.mark.parametrize(
    ("version", "datetime64", "low_cardinality", "codecs", "deduplication"),
    [
        ("18.16.1", False, False, False, False),
        ("18.16", False, False, False, False),
        ("19.1.6", False, False, True, False),
        ("19.3.3", False, True, True, False),
        ("20.1.2.4", True, True, True, False),
        ("22.1", True, True, True, False),
        ("22.2", True, True, True, True),
        ("23.8.2.7", True, True, True, True),
        ("25.3", True, True, True, True),
        (" 24.1.1 ", True, True, True, True),
    ],
)
def test_capabilities_follow_the_server_version(
    version: str, datetime64: bool, low_cardinality: bool, codecs: bool, deduplication: bool
) -> None:
    assert ServerCapabilities.from_version(version) == ServerCapabilities(datetime64, low_cardinality, codecs, deduplication)


def test_the_named_variants_are_18_16_and_everything() -> None:
    assert LEGACY == ServerCapabilities(datetime64=False, low_cardinality=False, codecs=False, deduplication=False)
    assert MODERN == ServerCapabilities(datetime64=True, low_cardinality=True, codecs=True, deduplication=True)


def test_tables_deduplicate_insert_tokens_only_where_the_server_can() -> None:
    for kind in KINDS:
        assert tables(MODERN)[kind.name].settings == "non_replicated_deduplication_window = 10000"
        assert tables(LEGACY)[kind.name].settings is None
        assert tables(ServerCapabilities.from_version("21.8"))[kind.name].settings is None


@pytest.mark.parametrize("version", ["", "23", "v23.8", "latest", "18.16.1+ds", "18.x"])
def test_a_version_text_that_is_no_version_is_a_configuration_error(version: str) -> None:
    with pytest.raises(ConfigurationError, match="server version") as caught:
        ServerCapabilities.from_version(version)
    assert caught.value.field == "server_version"


@pytest.mark.parametrize("name", ["", "1st", "market-prism", "a.b", "a b", "x`y", "db; DROP TABLE t", "prisme_é"])
def test_a_database_name_that_is_no_plain_identifier_is_refused(name: str) -> None:
    for make in (lambda: create_database(name), lambda: schema_statements(name, MODERN), lambda: render_schema(name, LEGACY)):
        with pytest.raises(ConfigurationError, match="database") as caught:
            make()
        assert caught.value.field == "database"
        assert repr(name) in str(caught.value)


@pytest.mark.parametrize("name", ["marketprism", "_scratch", "MP2", "default"])
def test_plain_identifiers_are_database_names(name: str) -> None:
    assert create_database(name) == f"CREATE DATABASE IF NOT EXISTS `{name}`"


def test_the_schema_is_the_database_then_one_table_per_kind_in_contract_order() -> None:
    statements = schema_statements("mp", MODERN)
    assert statements[0] == "CREATE DATABASE IF NOT EXISTS `mp`"
    assert [read_table(s).name for s in statements[1:]] == [f"`mp`.`{t}`" for t in TABLES]
    assert render_schema("mp", MODERN) == ";\n\n".join(statements) + ";\n"


VARIANTS = {
    "modern": MODERN,
    "legacy": LEGACY,
    "legacy_low_cardinality": ServerCapabilities(datetime64=False, low_cardinality=True, codecs=False),
    "19.1": ServerCapabilities.from_version("19.1"),
}


@pytest.mark.parametrize("capabilities", VARIANTS.values(), ids=VARIANTS.keys())
def test_tables_hold_the_contract_columns_in_contract_order_then_the_batch_id(capabilities: ServerCapabilities) -> None:
    for kind in KINDS:
        table = tables(capabilities)[kind.name]
        assert [name for name, _ in table.columns] == list(kind.column_names) + ["_batch_id"]
        codec = " CODEC(Delta, ZSTD(1))" if capabilities.codecs else ""
        assert table.columns == [
            (c.name, expected_type(c, capabilities) + (codec if c.type == "ts" else "")) for c in kind.columns
        ] + [("_batch_id", "UInt64")]
        # Storage-only columns of the compiled buffers (instrument code, frame, level texts).
        hidden = {c.name for c in kind.storage} - set(kind.column_names)
        assert hidden and not hidden & {name for name, _ in table.columns}


def test_modern_tables_use_datetime64_low_cardinality_codecs_and_arrays() -> None:
    for kind in KINDS:
        table = tables(MODERN)[kind.name]
        definitions = dict(table.columns)
        for name in INSTRUMENT_COLUMNS:
            assert definitions[name] == "LowCardinality(String)"
        for name in ("ts_event", "ts_recv"):
            assert definitions[name] == "DateTime64(9, 'UTC') CODEC(Delta, ZSTD(1))"
        assert table.engine == "MergeTree"
        assert table.partition_by == "toYYYYMMDD(`ts_event`)"
        assert table.order_by == "(`exchange`, `symbol`, `ts_event`)"
    snapshot = dict(tables(MODERN)["book_snapshot"].columns)
    for name in ("bid_price", "bid_amount", "ask_price", "ask_amount"):
        assert snapshot[name] == "Array(Float64)"
    assert snapshot["depth"] == "UInt16" and snapshot["update_id"] == "UInt64"
    kline = dict(tables(MODERN)["kline"].columns)
    assert kline["interval"] == "LowCardinality(String)"
    assert kline["open_time"] == kline["close_time"] == "DateTime64(9, 'UTC') CODEC(Delta, ZSTD(1))"
    assert dict(tables(MODERN)["trade"].columns)["trade_id"] == "String"  # one value per trade: no dictionary
    assert dict(tables(MODERN)["funding_rate"].columns)["funding_time"].startswith("DateTime64(9, 'UTC')")


def test_legacy_tables_use_only_what_18_16_has() -> None:
    for kind in KINDS:
        table = tables(LEGACY)[kind.name]
        for name, definition in table.columns[:-1]:
            column = kind.column(name)
            expected = {"ts": "Int64", "str": "String"}.get(column.type)
            if expected:
                assert definition == expected, (kind.name, name)
            assert "CODEC" not in definition and "LowCardinality" not in definition and "DateTime64" not in definition
        assert table.partition_by == "toYYYYMMDD(toDateTime(intDiv(`ts_event`, 1000000000), 'UTC'))"
        assert table.order_by == "(`exchange`, `symbol`, `ts_event`)"
    assert dict(tables(LEGACY)["book_snapshot"].columns)["bid_price"] == "Array(Float64)"
    assert dict(tables(LEGACY)["book_delta"].columns)["checksum"] == "Int64"


def test_low_cardinality_without_datetime64_is_its_own_variant() -> None:
    # An 18.x server whose profile enables the experimental type.
    capabilities = ServerCapabilities(datetime64=False, low_cardinality=True, codecs=False)
    definitions = dict(tables(capabilities)["liquidation"].columns)
    assert definitions["exchange"] == definitions["status"] == "LowCardinality(String)"
    assert definitions["order_id"] == "String" and definitions["ts_event"] == "Int64"


def run_ddl(*args: str) -> tuple[int, str, str]:
    stdout, stderr = io.BytesIO(), io.StringIO()
    status = main(["ddl", *args], stdout=stdout, stderr=stderr)
    return status, stdout.getvalue().decode(), stderr.getvalue()


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ((), render_schema(DEFAULT_DATABASE, MODERN)),
        (("--modern",), render_schema(DEFAULT_DATABASE, MODERN)),
        (("--legacy",), render_schema(DEFAULT_DATABASE, LEGACY)),
        (("--server-version", "18.16.1"), render_schema(DEFAULT_DATABASE, LEGACY)),
        (("--server-version", "23.8"), render_schema(DEFAULT_DATABASE, MODERN)),
        (("--server-version", "19.3", "--database", "md"), render_schema("md", ServerCapabilities(False, True, True))),
        (("--legacy", "--database", "mp_test"), render_schema("mp_test", LEGACY)),
    ],
)
def test_the_ddl_command_prints_the_schema_for_the_server_it_is_told(args: tuple[str, ...], expected: str) -> None:
    assert run_ddl(*args) == (0, expected, "")


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("--legacy", "--modern"), "not allowed with"),
        (("--server-version", "23.8", "--legacy"), "not allowed with"),
        (("--database", "market-prism"), "database 'market-prism'"),
        (("--database", ""), "database ''"),
        (("--server-version", "latest"), "server version 'latest'"),
        (("--server-version",), "expected one argument"),
        (("--tables", "trades"), "unrecognized arguments"),
    ],
)
def test_bad_ddl_arguments_exit_2_with_one_line(args: tuple[str, ...], needle: str) -> None:
    status, stdout, stderr = run_ddl(*args)
    assert status == 2 and stdout == ""
    assert len(stderr.splitlines()) == 1 and needle in stderr, stderr


@pytest.mark.parametrize("flag", sorted(SCHEMA_FILES))
def test_the_committed_schema_files_are_what_the_command_prints_now(flag: str) -> None:
    path = SCHEMA_FILES[flag]
    result = subprocess.run(
        [sys.executable, "-m", "marketprism_fast", "ddl", flag], capture_output=True, cwd=REPO, timeout=60
    )
    assert result.returncode == 0 and result.stderr == b"", result.stderr.decode()
    assert path.read_bytes() == result.stdout, (
        f"{path.relative_to(REPO)} is stale: regenerate it with "
        f"`.venv/bin/python -m marketprism_fast ddl {flag} > {path.relative_to(REPO)}` (config/README.md)"
    )
