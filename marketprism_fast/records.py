"""The one place that defines record kinds, their columns, dtypes and ClickHouse types.

Everything else derives from this module: the compiled buffers' column indices
(``_columns.pxi`` is generated from it at build time), the batches, the writers
of the ``normalize`` CLI and the ClickHouse DDL.

Two views of each kind:

* the **contract columns** (``Kind.columns``), exactly as ``data-model.md`` lists them;
* the **storage columns** (``Kind.storage``), how the compiled record buffers hold them:
  the four instrument strings collapse into one ``instrument`` code, every other string
  is an ``(offset, length)`` reference into the buffer's byte arena, and a ``frame``
  column remembers which received frame produced the row (used to restore frame order
  across kinds). An id text (``trade_id``) that is a plain decimal integer below 2**47 is
  held packed in those two columns instead, with no arena bytes (``batch.PACKED_ID_FLAG``
  set in the length); ``Batch.texts`` and ``Batch.column`` give it back as its text.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import numpy as np

# Column value types. "ts" is int64 nanoseconds since the Unix epoch (UTC).
# "str" is text; "f8[]" is a fixed-width float64 row (book_snapshot levels).
_NUMPY = {
    "f8": np.float64,
    "i8": np.int64,
    "ts": np.int64,
    "u8": np.uint64,
    "i1": np.int8,
    "u1": np.uint8,
    "u2": np.uint16,
    "u4": np.uint32,
    "str": np.object_,
    "f8[]": np.float64,
}

_CLICKHOUSE = {
    "f8": "Float64",
    "i8": "Int64",
    "u8": "UInt64",
    "i1": "Int8",
    "u1": "UInt8",
    "u2": "UInt16",
    "u4": "UInt32",
    "f8[]": "Array(Float64)",
}


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # one of the keys of _NUMPY
    doc: str = ""

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(_NUMPY[self.type])

    @property
    def is_text(self) -> bool:
        return self.type == "str"

    def clickhouse_type(self, *, datetime64: bool, low_cardinality: bool) -> str:
        if self.type == "ts":
            return "DateTime64(9, 'UTC')" if datetime64 else "Int64"
        if self.type == "str":
            lowcard = self.name in LOW_CARDINALITY_TEXT
            return "LowCardinality(String)" if (lowcard and low_cardinality) else "String"
        return _CLICKHOUSE[self.type]


@dataclass(frozen=True)
class StorageColumn:
    """One array of a compiled record buffer."""

    name: str
    type: str  # numpy short type: u4, u2, i8, u8, f8, i1, u1, f8[]
    source: str  # the contract column it stores ("" for storage-only columns)

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(_NUMPY[self.type])


COMMON = (
    Column("exchange", "str", "venue id"),
    Column("market", "str", "spot / perpetual / future / option"),
    Column("symbol", "str", "normalized symbol"),
    Column("raw_symbol", "str", "the venue's own symbol text"),
    Column("ts_event", "ts", "exchange time of the event"),
    Column("ts_recv", "ts", "local receive time of the frame"),
)
INSTRUMENT_COLUMNS = ("exchange", "market", "symbol", "raw_symbol")
LOW_CARDINALITY_TEXT = frozenset(INSTRUMENT_COLUMNS + ("interval", "status"))

# Storage-only columns: not part of the contract, never leave the process.
# book_delta keeps the venue's level texts (OKX checksums are computed over them).
_HIDDEN_TEXT = {"book_delta": ("price_text", "amount_text")}


@dataclass(frozen=True)
class Kind:
    name: str
    table: str
    own: tuple[Column, ...]
    redis_latest: bool = False

    @property
    def columns(self) -> tuple[Column, ...]:
        return COMMON + self.own

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"{self.name} has no column {name!r}")

    @property
    def hidden_text(self) -> tuple[str, ...]:
        return _HIDDEN_TEXT.get(self.name, ())

    @property
    def storage(self) -> tuple[StorageColumn, ...]:
        cols = [
            StorageColumn("instrument", "u4", ""),
            StorageColumn("frame", "u4", ""),
            StorageColumn("ts_event", "i8", "ts_event"),
            StorageColumn("ts_recv", "i8", "ts_recv"),
        ]
        for c in self.own:
            if c.is_text:
                cols.append(StorageColumn(c.name + "_off", "u4", c.name))
                cols.append(StorageColumn(c.name + "_len", "u2", c.name))
            else:
                cols.append(StorageColumn(c.name, "i8" if c.type == "ts" else c.type, c.name))
        for name in self.hidden_text:
            cols.append(StorageColumn(name + "_off", "u4", ""))
            cols.append(StorageColumn(name + "_len", "u2", ""))
        return tuple(cols)

    def storage_index(self, name: str) -> int:
        for i, c in enumerate(self.storage):
            if c.name == name:
                return i
        raise KeyError(f"{self.name} has no storage column {name!r}")


def _f8(*names: str) -> tuple[Column, ...]:
    return tuple(Column(n, "f8") for n in names)


KINDS: tuple[Kind, ...] = (
    Kind(
        "trade",
        "trades",
        (
            Column("trade_id", "str", "the venue's trade id text"),
            Column("price", "f8"),
            Column("amount", "f8", "base quantity (contracts where the venue counts contracts)"),
            Column("side", "i1", "taker side: +1 buy, -1 sell, 0 unknown"),
            Column("aggregated", "u1", "1 for Binance aggTrade rows"),
        ),
        redis_latest=True,
    ),
    Kind(
        "book_delta",
        "book_deltas",
        (
            Column("side", "i1", "+1 bid, -1 ask"),
            Column("price", "f8"),
            Column("amount", "f8", "new total at the level; 0 removes it"),
            Column("first_update_id", "u8"),
            Column("update_id", "u8"),
            Column("prev_update_id", "u8"),
            Column("is_snapshot", "u1"),
            Column("checksum", "i8", "OKX message checksum (signed 32-bit), else 0"),
        ),
    ),
    Kind(
        "book_snapshot",
        "book_snapshots",
        (
            Column("depth", "u2"),
            Column("bid_price", "f8[]"),
            Column("bid_amount", "f8[]"),
            Column("ask_price", "f8[]"),
            Column("ask_amount", "f8[]"),
            Column("update_id", "u8"),
        ),
        redis_latest=True,
    ),
    Kind(
        "quote",
        "quotes",
        _f8("bid_price", "bid_amount", "ask_price", "ask_amount") + (Column("update_id", "u8"),),
        redis_latest=True,
    ),
    Kind(
        "ticker",
        "tickers",
        _f8(
            "last_price",
            "last_amount",
            "open_price",
            "high_price",
            "low_price",
            "volume",
            "quote_volume",
            "price_change",
            "price_change_pct",
            "weighted_avg_price",
            "bid_price",
            "bid_amount",
            "ask_price",
            "ask_amount",
            "mark_price",
            "index_price",
            "open_interest",
        )
        + (Column("trade_count", "u8"),),
        redis_latest=True,
    ),
    Kind(
        "kline",
        "klines",
        (
            Column("interval", "str", "venue text such as 1m"),
            Column("open_time", "ts"),
            Column("close_time", "ts"),
        )
        + _f8(
            "open",
            "high",
            "low",
            "close",
            "volume",
            "quote_volume",
            "taker_buy_volume",
            "taker_buy_quote_volume",
        )
        + (Column("trade_count", "u8"), Column("closed", "u1")),
    ),
    Kind(
        "funding_rate",
        "funding_rates",
        _f8("funding_rate", "predicted_rate", "mark_price", "index_price")
        + (Column("funding_time", "ts", "next funding time"),),
        redis_latest=True,
    ),
    Kind(
        "open_interest",
        "open_interest",
        _f8("open_interest", "open_interest_value"),
        redis_latest=True,
    ),
    Kind(
        "liquidation",
        "liquidations",
        (
            Column("side", "i1", "side of the liquidation order"),
            Column("price", "f8"),
            Column("amount", "f8"),
            Column("order_id", "str"),
            Column("status", "str"),
        ),
    ),
)

KIND_NAMES: tuple[str, ...] = tuple(k.name for k in KINDS)
KIND_BY_NAME: dict[str, Kind] = {k.name: k for k in KINDS}
# Position of each kind in the contract's order (records of one frame come out in it).
KIND_ORDER: dict[str, int] = {k.name: i for i, k in enumerate(KINDS)}

VENUES: tuple[str, ...] = ("binance_spot", "binance_usdm", "binance_coinm", "okx", "deribit")
MARKETS: tuple[str, ...] = ("spot", "perpetual", "future", "option")

SIDE_BUY = 1
SIDE_SELL = -1
SIDE_BID = 1
SIDE_ASK = -1


def kind(name: str) -> Kind:
    try:
        return KIND_BY_NAME[name]
    except KeyError:
        raise KeyError(f"unknown record kind {name!r}; known: {', '.join(KIND_NAMES)}") from None


def absent_value(column: Column):
    """The value a column takes when the venue does not send it (data-model.md)."""
    if column.type in ("f8", "f8[]"):
        return float("nan")
    if column.type == "str":
        return ""
    return 0


# Values a venue cannot send (a frame carrying one is malformed): a negative amount anywhere,
# a negative price where the venue's documentation rules it out. Rates, price changes and
# greeks may be negative; so may prices on Deribit, whose combo instruments (spreads) trade
# below zero. NaN (an absent value) is neither.
NON_NEGATIVE_AMOUNTS: dict[str, tuple[str, ...]] = {
    "trade": ("amount",),
    "book_delta": ("amount",),
    "quote": ("bid_amount", "ask_amount"),
    "ticker": ("last_amount", "volume", "quote_volume", "bid_amount", "ask_amount", "open_interest"),
    "kline": ("volume", "quote_volume", "taker_buy_volume", "taker_buy_quote_volume"),
    "open_interest": ("open_interest", "open_interest_value"),
    "liquidation": ("amount",),
}
NON_NEGATIVE_PRICES: dict[str, tuple[str, ...]] = {
    "trade": ("price",),
    "book_delta": ("price",),
    "quote": ("bid_price", "ask_price"),
    "ticker": (
        "last_price", "open_price", "high_price", "low_price", "weighted_avg_price",
        "bid_price", "ask_price", "mark_price", "index_price",
    ),
    "kline": ("open", "high", "low", "close"),
    "funding_rate": ("mark_price", "index_price"),
    "liquidation": ("price",),
}
NEGATIVE_PRICE_VENUES = frozenset({"deribit"})


def non_negative_columns(venue: str) -> dict[str, tuple[str, ...]]:
    """Per kind, the columns whose values may not be negative for ``venue``."""
    out = {k: tuple(v) for k, v in NON_NEGATIVE_AMOUNTS.items()}
    if venue not in NEGATIVE_PRICE_VENUES:
        for k, v in NON_NEGATIVE_PRICES.items():
            out[k] = out.get(k, ()) + v
    return out


def iter_non_negative() -> Iterator[tuple[int, int, bool]]:
    """(kind id, storage index, is a price) of every column NON_NEGATIVE_* names, by kind."""
    for ki, k in enumerate(KINDS):
        for name in NON_NEGATIVE_AMOUNTS.get(k.name, ()):
            yield ki, k.storage_index(name), False
        for name in NON_NEGATIVE_PRICES.get(k.name, ()):
            yield ki, k.storage_index(name), True


def iter_storage_constants() -> Iterator[tuple[str, int]]:
    """(constant name, value) pairs for the compiled core: kind ids and storage indices."""
    for ki, k in enumerate(KINDS):
        yield f"K_{k.name.upper()}", ki
    yield "N_KINDS", len(KINDS)
    yield "MAX_STORAGE_COLUMNS", max(len(k.storage) for k in KINDS)
    for k in KINDS:
        prefix = k.name.upper()
        for i, c in enumerate(k.storage):
            yield f"{prefix}_{c.name.upper()}", i
        yield f"{prefix}_NCOLS", len(k.storage)
