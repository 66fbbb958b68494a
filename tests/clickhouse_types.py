"""The ClickHouse type of each contract column as data-model.md ("Outside the process")
states it: the tests' oracle, written apart from records.py so a change there shows."""

from __future__ import annotations

from marketprism_fast.sinks.clickhouse.ddl import ServerCapabilities
from marketprism_fast.records import INSTRUMENT_COLUMNS, Column

_NUMBERS = {
    "f8": "Float64",
    "f8[]": "Array(Float64)",
    "i8": "Int64",
    "u8": "UInt64",
    "i1": "Int8",
    "u1": "UInt8",
    "u2": "UInt16",
}
# Text columns whose values repeat: the instrument, the kline interval, the liquidation status.
_REPEATING_TEXT = frozenset(INSTRUMENT_COLUMNS) | {"interval", "status"}


def expected_type(column: Column, capabilities: ServerCapabilities) -> str:
    if column.type == "ts":
        return "DateTime64(9, 'UTC')" if capabilities.datetime64 else "Int64"
    if column.type == "str":
        repeating = capabilities.low_cardinality and column.name in _REPEATING_TEXT
        return "LowCardinality(String)" if repeating else "String"
    return _NUMBERS[column.type]
