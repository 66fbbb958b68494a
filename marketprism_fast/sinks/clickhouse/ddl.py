"""ClickHouse DDL for the record kinds: one database, one MergeTree table per kind.

Everything about the columns (names, order, types) comes from ``records.py``; this module
only decides what depends on the server: which types it has, the partition expression
that fits the timestamp type, and whether columns may carry codecs.

The tables hold the contract columns (``Kind.columns``) in contract order, then one
column of the sink's own, ``_batch_id`` (UInt64): the identity of the batch that wrote the
row (``pipeline/identity.py``), which is how a retry whose outcome is unknown finds out
whether its rows are already there (``writer.py``). Storage-only columns of the compiled
buffers never leave the process.

On servers that deduplicate inserts into plain MergeTree tables by a token (22.2 and
later: ``insert_deduplication_token`` with the table setting
``non_replicated_deduplication_window``), the tables keep a window of recent insert
tokens, and the writer sends one per insert as a second guard.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ...errors import ConfigurationError
from ...records import KINDS, Column, Kind

DEFAULT_DATABASE = "marketprism"

# Rows of one instrument sit together, in time order: the queries read one symbol's span.
SORTING_KEY = ("exchange", "symbol", "ts_event")
PARTITION_TIME = "ts_event"
# ns timestamps are monotonic within a sorting-key run: deltas are small and compress well.
TIMESTAMP_CODEC = "CODEC(Delta, ZSTD(1))"
# The batch identity column (written by the sink, not part of the record contract).
BATCH_ID = Column("_batch_id", "u8", "identity of the batch that wrote the row")
# Insert tokens a table remembers (servers with deduplication): far more than the
# batches that can be in doubt at once.
DEDUPLICATION_WINDOW = 10000

# Letters, digits and '_', not starting with a digit: safe quoted or not, on disk as a
# directory name, and in every server version.
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_VERSION = re.compile(r"(\d+)\.(\d+)(?:\.\d+)*")

# First (major, minor) release with each feature.
_CODECS_SINCE = (19, 1)  # per-column CODEC(...), with Delta and ZSTD
_LOW_CARDINALITY_SINCE = (19, 3)  # LowCardinality without an experimental setting
_DATETIME64_SINCE = (20, 1)
_DEDUPLICATION_SINCE = (22, 2)  # insert_deduplication_token + non_replicated_deduplication_window


@dataclass(frozen=True)
class ServerCapabilities:
    """What the DDL may use on a server.

    ``from_version`` applies this rule: DateTime64 from 20.1; column codecs from 19.1;
    LowCardinality from 19.3, where it stopped being experimental. Before 19.3 (18.x) a
    server accepts LowCardinality only when its profile sets
    ``allow_experimental_low_cardinality_type=1``, which a stock server does not, so the
    version alone says no. For such a configured server, build the capabilities directly:
    ``ServerCapabilities(datetime64=False, low_cardinality=True, codecs=False)``.
    Insert deduplication by token on MergeTree from 22.2.

    Map, Bool and TTL are absent before 20.x too; the schema uses none of them (retention
    is the operator's choice), so they are not capabilities here.
    """

    datetime64: bool
    low_cardinality: bool
    codecs: bool
    deduplication: bool = False

    @classmethod
    def from_version(cls, version: str) -> ServerCapabilities:
        """Capabilities of a server by its version text, as ``SELECT version()`` gives it
        (``18.16.1``, ``23.8.2.7``; ``X.Y`` is enough)."""
        match = _VERSION.fullmatch(version.strip())
        if match is None:
            raise ConfigurationError(
                f"server version {version!r} is not a ClickHouse version such as 18.16 or 23.8.2.7",
                field="server_version",
            )
        release = (int(match.group(1)), int(match.group(2)))
        return cls(
            datetime64=release >= _DATETIME64_SINCE,
            low_cardinality=release >= _LOW_CARDINALITY_SINCE,
            codecs=release >= _CODECS_SINCE,
            deduplication=release >= _DEDUPLICATION_SINCE,
        )


# Production servers (23.x and later) have everything; Debian's packaged server is 18.16.
MODERN = ServerCapabilities(datetime64=True, low_cardinality=True, codecs=True, deduplication=True)
LEGACY = ServerCapabilities.from_version("18.16")


def check_identifier(name: str, *, field: str) -> str:
    """``name`` if it is a plain identifier, else a ConfigurationError naming ``field``."""
    if not _IDENTIFIER.fullmatch(name):
        raise ConfigurationError(
            f"{field} {name!r} is not a plain identifier: use letters, digits and '_', not starting with a digit",
            field=field,
        )
    return name


def quote(name: str) -> str:
    # Every identifier is quoted: some column names are keywords (`interval` parses as
    # INTERVAL in an expression) and newer servers reserve more words.
    return f"`{name}`"


def create_database(database: str) -> str:
    return f"CREATE DATABASE IF NOT EXISTS {quote(check_identifier(database, field='database'))}"


def column_type(column: Column, capabilities: ServerCapabilities) -> str:
    """The column's ClickHouse type on a server with these capabilities (from records.py)."""
    return column.clickhouse_type(datetime64=capabilities.datetime64, low_cardinality=capabilities.low_cardinality)


def _column_definition(column: Column, capabilities: ServerCapabilities) -> str:
    definition = f"{quote(check_identifier(column.name, field='column'))} {column_type(column, capabilities)}"
    if capabilities.codecs and column.type == "ts":
        definition += f" {TIMESTAMP_CODEC}"
    return definition


def partition_expression(capabilities: ServerCapabilities) -> str:
    """One partition per UTC day of ``ts_event``, whatever the server's time zone."""
    if capabilities.datetime64:
        return f"toYYYYMMDD({quote(PARTITION_TIME)})"  # DateTime64(9, 'UTC') carries its zone
    return f"toYYYYMMDD(toDateTime(intDiv({quote(PARTITION_TIME)}, 1000000000), 'UTC'))"


def table_columns(kind: Kind) -> tuple[Column, ...]:
    """The table's columns: the kind's contract columns, then ``_batch_id``."""
    return kind.columns + (BATCH_ID,)


def create_table(kind: Kind, database: str, capabilities: ServerCapabilities) -> str:
    name = f"{quote(check_identifier(database, field='database'))}.{quote(check_identifier(kind.table, field='table'))}"
    columns = ",\n".join(f"    {_column_definition(c, capabilities)}" for c in table_columns(kind))
    statement = (
        f"CREATE TABLE IF NOT EXISTS {name}\n(\n{columns}\n)\n"
        "ENGINE = MergeTree\n"
        f"PARTITION BY {partition_expression(capabilities)}\n"
        f"ORDER BY ({', '.join(quote(c) for c in SORTING_KEY)})"
    )
    if capabilities.deduplication:
        statement += f"\nSETTINGS non_replicated_deduplication_window = {DEDUPLICATION_WINDOW}"
    return statement


def schema_statements(database: str, capabilities: ServerCapabilities) -> list[str]:
    """The database, then one table per kind in contract order; each statement without ';'."""
    create_db = create_database(database)  # checks the name before any table is rendered
    return [create_db] + [create_table(kind, database, capabilities) for kind in KINDS]


def render_schema(database: str, capabilities: ServerCapabilities) -> str:
    """The statements as one script (``clickhouse-client --multiquery`` runs it)."""
    return ";\n\n".join(schema_statements(database, capabilities)) + ";\n"
