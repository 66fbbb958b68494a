"""Batches into ClickHouse over the native protocol: numpy columns, compressed, once.

``ClickHouseWriter`` is blocking (clickhouse-driver) and lives on one worker thread
(``sink.py``; the consumer uses it the same way). It creates the database and one table per
kind, choosing the DDL variant by the server's version (``ddl.py``), then inserts each
batch as Native columns (``native.py``: numbers as their bytes, ``String`` built with numpy,
no Python object per value; other types through the driver's writers), lz4 by default.

Why a retry never duplicates rows, on 18.16 as on current servers
-----------------------------------------------------------------

1. **One part per insert.** A batch is split at UTC-day boundaries (the partition key) and
   each piece is sent as one INSERT of one block (``insert_block_size`` larger than any
   batch). A MergeTree writes one block of one partition as one part, made visible by one
   rename: after the INSERT, whatever happened to the client or the server (even SIGKILL),
   a piece's rows are in the table all together or not at all.
2. **Every row carries its batch id** (``_batch_id``). Whether a piece is in the table is
   therefore a question the table answers: ``count()`` of the batch id within the piece's
   venue and time range (the primary key and the partition's min/max index keep that read
   to the few granules the batch covers) is either the piece's row count or zero.
3. **A piece whose outcome is unknown is checked before it is sent again.** Unknown means:
   the connection failed during the insert, the insert timed out, or the piece comes back
   from the spool or a redelivered NATS message (it may have been written before the
   process stopped). First the writer waits until no query of that piece is still running
   on the server: every piece's INSERT has a fixed ``query_id`` derived from the batch id
   and day, and a server refuses a second query with the id of one still running, so a
   late-finishing first attempt cannot race the check. Then it counts; it inserts only the
   pieces that are absent.
4. **Servers from 22.2** also get ``insert_deduplication_token`` (batch id and day) and tables
   with ``non_replicated_deduplication_window``: the server itself drops a repeated piece.
   This is a second guard, not the one the argument rests on.

A fresh batch on a healthy connection is inserted without a check (its outcome is known
until something fails), so the check costs nothing in steady state.

A piece counted with some but not all of its rows cannot happen under (1); if it ever did,
the writer does not insert it again (no duplicates), logs it and counts an error.
"""

from __future__ import annotations

import functools
import logging
import time
import urllib.parse
from dataclasses import dataclass

import numpy as np

from ...batch import Batch
from ...config import ClickHouseSinkConfig
from ...errors import ConfigurationError, SinkRejected, SinkUnavailable
from ...pipeline.identity import batch_id, id_text
from ...records import Kind
from . import native
from .ddl import BATCH_ID, LEGACY, ServerCapabilities, check_identifier, quote, schema_statements, table_columns

log = logging.getLogger("marketprism_fast.sinks.clickhouse")

DAY_NS = 86_400 * 1_000_000_000
# Larger than any batch: clickhouse-driver sends at most this many rows per block.
INSERT_BLOCK_ROWS = 1 << 30
RUNNING_POLL_SECONDS = 0.05
DEFAULT_PORT = 9000

# Server error codes after which the outcome of an insert is unknown or a retry may succeed.
_RETRIABLE_CODES = frozenset(
    {
        159,  # TIMEOUT_EXCEEDED
        164,  # READONLY (a server starting up)
        202,  # TOO_MANY_SIMULTANEOUS_QUERIES
        209,  # SOCKET_TIMEOUT
        210,  # NETWORK_ERROR
        216,  # QUERY_WITH_SAME_ID_IS_ALREADY_RUNNING
        241,  # MEMORY_LIMIT_EXCEEDED
        242,  # TABLE_IS_READ_ONLY
        252,  # TOO_MANY_PARTS
        394,  # QUERY_WAS_CANCELLED
    }
)


@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int
    database: str


def parse_url(url: str, database: str) -> Endpoint:
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme not in ("clickhouse", "tcp") or not parsed.hostname:
        raise ConfigurationError(
            f"sinks.clickhouse.url {url!r}: expected clickhouse://HOST:PORT (the native protocol port, usually 9000)",
            field="sinks.clickhouse.url",
        )
    return Endpoint(parsed.hostname, parsed.port or DEFAULT_PORT, check_identifier(database, field="sinks.clickhouse.database"))


def _is_retriable(exc: BaseException) -> bool:
    from clickhouse_driver import errors

    if isinstance(exc, (OSError, EOFError, errors.NetworkError, errors.SocketTimeoutError, errors.UnexpectedPacketFromServerError)):
        return True
    if isinstance(exc, errors.ServerException):
        return exc.code in _RETRIABLE_CODES
    return isinstance(exc, errors.Error)


class ClickHouseWriter:
    """One connection to one server; call from one thread only."""

    def __init__(self, config: ClickHouseSinkConfig, *, password: str = "", name: str = "clickhouse") -> None:
        self.config = config
        self.name = name
        self.endpoint = parse_url(config.url, config.database)
        self._password = password
        self._client = None
        self.capabilities: ServerCapabilities = LEGACY
        self.server_version = ""
        self.skipped_pieces = 0  # pieces a check found already written

    # ---- connection ---------------------------------------------------------------------

    def _connect(self):
        if self._client is not None:
            return self._client
        Client = native.make_client_class()
        timeout = self.config.insert_timeout_seconds
        client = Client(
            host=self.endpoint.host,
            port=self.endpoint.port,
            user=self.config.user,
            password=self._password,
            compression=False if self.config.compression == "none" else self.config.compression,
            connect_timeout=min(timeout, 5.0),
            send_receive_timeout=timeout,
            sync_request_timeout=min(timeout, 5.0),
            settings={"use_numpy": True, "insert_block_size": INSERT_BLOCK_ROWS},
        )
        try:
            (version,), = client.execute("SELECT version()")
            self.server_version = version
            self.capabilities = ServerCapabilities.from_version(version)
            for statement in schema_statements(self.endpoint.database, self.capabilities):
                client.execute(statement)
        except Exception as exc:
            client.disconnect()
            raise self._error("cannot connect", exc) from exc
        self._client = client
        log.info(
            "%s: connected to ClickHouse %s at %s:%d, database %s", self.name, version, self.endpoint.host,
            self.endpoint.port, self.endpoint.database,
        )
        return client

    def connect(self) -> None:
        """Connect and create the database and tables (SinkUnavailable when the server is down)."""
        self._connect()

    def disconnect(self) -> None:
        if self._client is not None:
            try:
                self._client.disconnect()
            finally:
                self._client = None

    def _error(self, what: str, exc: BaseException) -> Exception:
        text = " ".join(str(exc).split())[:300] or type(exc).__name__
        if _is_retriable(exc):
            return SinkUnavailable(f"{self.name}: {what}: {text}", sink=self.name)
        return SinkRejected(f"{self.name}: {what}: {text}", sink=self.name)

    def _table(self, kind: Kind) -> str:
        return f"{quote(self.endpoint.database)}.{quote(kind.table)}"

    # ---- columns ------------------------------------------------------------------------

    def _encoded(self, batch: Batch, bid: int) -> native.EncodedColumns:
        """The batch's columns then its id, each encoded once the server's insert block has
        said its type (``native.py``: numbers and String without a Python object per value)."""
        columns: list = [functools.partial(native.encode_column, batch, column) for column in batch.kind.columns]
        columns.append(functools.partial(native.encode_column, batch, BATCH_ID, values=np.full(len(batch), bid, dtype=np.uint64)))
        return native.EncodedColumns(columns, len(batch))

    @staticmethod
    def _pieces(batch: Batch) -> list[tuple[int, np.ndarray | None]]:
        """(UTC day, row indices or None for all rows) per partition the batch touches."""
        days = np.asarray(batch.column("ts_event"), dtype=np.int64) // DAY_NS
        if len(days) == 0:
            return []
        first, last = int(days.min()), int(days.max())
        if first == last:
            return [(first, None)]
        return [(int(day), np.flatnonzero(days == day)) for day in np.unique(days)]

    # ---- insert -------------------------------------------------------------------------

    def insert(self, batch: Batch, *, check: bool = False) -> int:
        """Insert the batch once; returns the rows inserted now (0 when a check found them
        all already there). ``check``: the batch may already be (partly) in the table.
        Raises SinkUnavailable (retry later with ``check=True``) or SinkRejected."""
        if not len(batch):
            return 0
        client = self._connect()
        bid = batch_id(batch)
        names = ", ".join(quote(c.name) for c in table_columns(batch.kind))
        statement = f"INSERT INTO {self._table(batch.kind)} ({names}) VALUES"
        pieces = self._pieces(batch)
        present = self._present(batch, pieces) if check else {}
        inserted = 0
        for day, rows in pieces:
            n = len(batch) if rows is None else len(rows)
            already = present.get(day, 0)
            if already:
                self.skipped_pieces += 1
                if already != n:
                    log.error(
                        "%s: batch %s day %d has %d of %d rows in %s: not inserted again", self.name, id_text(bid), day,
                        already, n, batch.kind.table,
                    )
                continue
            data = self._encoded(batch if rows is None else batch.select(rows), bid)
            settings = {"insert_deduplication_token": f"{id_text(bid)}-{day}"} if self.capabilities.deduplication else None
            try:
                client.execute(statement, data, columnar=True, types_check=False, settings=settings, query_id=self._query_id(batch, day))
            except Exception as exc:
                self.disconnect()  # the connection's state is unknown
                raise self._error(f"insert of {batch.kind.name} batch {id_text(bid)} ({n} rows)", exc) from exc
            inserted += n
        return inserted

    def _query_id(self, batch: Batch, day: int) -> str:
        return f"mpf-{batch.kind.table}-{id_text(batch_id(batch))}-{day}"

    def _present(self, batch: Batch, pieces: list[tuple[int, np.ndarray | None]]) -> dict[int, int]:
        """Rows of this batch already in the table, per day, once no insert of it still runs."""
        client = self._connect()
        bid = batch_id(batch)
        prefix = f"mpf-{batch.kind.table}-{id_text(bid)}-"
        deadline = time.monotonic() + self.config.insert_timeout_seconds
        try:
            while client.execute("SELECT count() FROM system.processes WHERE startsWith(query_id, %(p)s)", {"p": prefix})[0][0]:
                if time.monotonic() > deadline:
                    raise SinkUnavailable(f"{self.name}: an earlier insert of batch {id_text(bid)} is still running", sink=self.name)
                time.sleep(RUNNING_POLL_SECONDS)
            ts = np.asarray(batch.column("ts_event"), dtype=np.int64)
            ts_ns = "toUnixTimestamp64Nano(`ts_event`)" if self.capabilities.datetime64 else "`ts_event`"
            rows = client.execute(
                f"SELECT intDiv({ts_ns}, {DAY_NS}) AS day, count() FROM {self._table(batch.kind)} "
                f"WHERE `exchange` = %(exchange)s AND {ts_ns} >= %(lo)s AND {ts_ns} <= %(hi)s "
                f"AND {quote(BATCH_ID.name)} = %(id)s GROUP BY day",
                {"exchange": batch.exchange, "lo": int(ts.min()), "hi": int(ts.max()), "id": bid},
                settings={"use_numpy": False},
            )
        except SinkUnavailable:
            raise
        except Exception as exc:
            self.disconnect()
            raise self._error(f"check of batch {id_text(bid)}", exc) from exc
        return {int(day): int(n) for day, n in rows}

    def count(self, kind: Kind) -> int:
        client = self._connect()
        return int(client.execute(f"SELECT count() FROM {self._table(kind)}", settings={"use_numpy": False})[0][0])
