"""The legacy collector style: stdlib ``json.loads``, then one pydantic v2 model per record.

Prices and amounts are ``Decimal`` fields validated from the venue's text, times are
``datetime`` fields validated from epoch milliseconds, sides are words; every record is
one model instance (a depthUpdate becomes one model per price level). The instrument's
four strings are looked up once per symbol and shared, as the old collector cached them.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Callable, Literal, Optional

from pydantic import BaseModel

from marketprism_fast.instruments import Instrument, InstrumentRegistry
from marketprism_fast.records import kind as kind_of

from .base import Contender
from .binance_streams import BINANCE_VENUES, EVENT_KINDS
from .corpus import TS_RECV
from .normalized import Columns

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MICROSECOND = timedelta(microseconds=1)
_SPOT_BOOK_TICKER_KEYS = ("u", "s", "b", "B", "a", "A")


class Record(BaseModel):
    exchange: str
    market: str
    symbol: str
    raw_symbol: str
    timestamp: datetime
    receive_time: datetime


class TradeRecord(Record):
    trade_id: str
    price: Decimal
    amount: Decimal
    side: Literal["buy", "sell"]
    aggregated: bool


class BookLevelRecord(Record):
    side: Literal["bid", "ask"]
    price: Decimal
    amount: Decimal
    first_update_id: int
    update_id: int
    prev_update_id: int
    is_snapshot: bool
    checksum: int


class QuoteRecord(Record):
    bid_price: Decimal
    bid_amount: Decimal
    ask_price: Decimal
    ask_amount: Decimal
    update_id: int


class KlineRecord(Record):
    interval: str
    open_time: datetime
    close_time: datetime
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal
    quote_volume: Optional[Decimal]
    taker_buy_volume: Optional[Decimal]
    taker_buy_quote_volume: Optional[Decimal]
    trade_count: int
    closed: bool


class FundingRateRecord(Record):
    funding_rate: Optional[Decimal]
    predicted_rate: Optional[Decimal]
    mark_price: Decimal
    index_price: Optional[Decimal]
    funding_time: Optional[datetime]


def _text_or_none(value: Optional[str]) -> Optional[str]:
    return value if value else None


def _instrument_fields(inst: Instrument) -> dict[str, str]:
    return {"exchange": inst.exchange, "market": inst.market, "symbol": inst.symbol, "raw_symbol": inst.raw_symbol}


class LegacyContender(Contender):
    name = "legacy"
    venues = BINANCE_VENUES

    def __init__(self, venue: str) -> None:
        super().__init__(venue)
        self.instruments = InstrumentRegistry(venue)
        self._symbols: dict[str, dict[str, str]] = {}
        self._handlers: dict[str, Callable[[dict, dict, datetime, list], None]] = {
            "trade": self._trade,
            "aggTrade": self._trade,
            "depthUpdate": self._depth,
            "bookTicker": self._book_ticker,
            "kline": self._kline,
            "markPriceUpdate": self._mark_price,
        }

    def _symbol(self, raw: str) -> dict[str, str]:
        fields = self._symbols.get(raw)
        if fields is None:
            fields = self._symbols[raw] = _instrument_fields(self.instruments[self.instruments.intern(raw)])
        return fields

    def decode(self, frames: list[bytes]) -> list[Record]:
        records: list[Record] = []
        received = datetime.fromtimestamp(TS_RECV // 1000 / 1e6, tz=timezone.utc)
        for frame in frames:
            message = json.loads(frame)
            event = message.get("data", message)
            event_type = event.get("e")
            if event_type is None and all(key in event for key in _SPOT_BOOK_TICKER_KEYS):
                event_type = "bookTicker"
            handler = self._handlers.get(event_type)
            if handler is not None:
                handler(event, self._symbol(event["s"]), received, records)
        return records

    @staticmethod
    def _trade(ev: dict, symbol: dict, received: datetime, records: list) -> None:
        aggregated = ev["e"] == "aggTrade"
        records.append(TradeRecord(
            **symbol, timestamp=ev["T"], receive_time=received,
            trade_id=str(ev["a"] if aggregated else ev["t"]), price=ev["p"], amount=ev["q"],
            side="sell" if ev["m"] else "buy", aggregated=aggregated,
        ))

    @staticmethod
    def _depth(ev: dict, symbol: dict, received: datetime, records: list) -> None:
        ids = {"first_update_id": ev["U"], "update_id": ev["u"], "prev_update_id": ev.get("pu", 0)}
        for side, key in (("bid", "b"), ("ask", "a")):
            for price, amount in ev[key]:
                records.append(BookLevelRecord(
                    **symbol, timestamp=ev["E"], receive_time=received, side=side, price=price, amount=amount,
                    **ids, is_snapshot=False, checksum=0,
                ))

    @staticmethod
    def _book_ticker(ev: dict, symbol: dict, received: datetime, records: list) -> None:
        records.append(QuoteRecord(
            **symbol, timestamp=ev.get("E", received), receive_time=received,
            bid_price=ev["b"], bid_amount=ev["B"], ask_price=ev["a"], ask_amount=ev["A"], update_id=ev["u"],
        ))

    @staticmethod
    def _kline(ev: dict, symbol: dict, received: datetime, records: list) -> None:
        k = ev["k"]
        records.append(KlineRecord(
            **symbol, timestamp=ev["E"], receive_time=received, interval=k["i"], open_time=k["t"], close_time=k["T"],
            open=k["o"], high=k["h"], low=k["l"], close=k["c"], volume=k["v"],
            quote_volume=_text_or_none(k.get("q")), taker_buy_volume=_text_or_none(k.get("V")),
            taker_buy_quote_volume=_text_or_none(k.get("Q")), trade_count=k.get("n", 0), closed=k["x"],
        ))

    @staticmethod
    def _mark_price(ev: dict, symbol: dict, received: datetime, records: list) -> None:
        records.append(FundingRateRecord(
            **symbol, timestamp=ev["E"], receive_time=received, funding_rate=_text_or_none(ev.get("r")),
            predicted_rate=None, mark_price=ev["p"], index_price=_text_or_none(ev.get("i")),
            funding_time=ev.get("T"),
        ))

    def columns(self, outputs: list[list[Record]]) -> Columns:
        merged: Columns = {}
        for records in outputs:
            for record in records:
                kind_name = _KIND_OF_MODEL[type(record)]
                target = merged.setdefault(kind_name, {name: [] for name in kind_of(kind_name).column_names})
                for name, value in _contract_values(record):
                    target[name].append(value)
        return merged


_KIND_OF_MODEL: dict[type, str] = {
    TradeRecord: EVENT_KINDS["trade"],
    BookLevelRecord: EVENT_KINDS["depthUpdate"],
    QuoteRecord: EVENT_KINDS["bookTicker"],
    KlineRecord: EVENT_KINDS["kline"],
    FundingRateRecord: EVENT_KINDS["markPriceUpdate"],
}
_SIDES = {"buy": 1, "sell": -1, "bid": 1, "ask": -1}
_RENAMED = {"timestamp": "ts_event", "receive_time": "ts_recv"}


def _nanoseconds(value: datetime) -> int:
    return (value - EPOCH) // _MICROSECOND * 1000


def _contract_value(name: str, value: object) -> object:
    if value is None:
        return 0 if name == "funding_time" else float("nan")
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime):
        return _nanoseconds(value)
    if isinstance(value, bool):
        return int(value)
    if name == "side":
        return _SIDES[value]
    return value


def _contract_values(record: Record):
    """(contract column, value) pairs of one legacy record, in the record's field order."""
    for name, value in record.__dict__.items():
        yield _RENAMED.get(name, name), _contract_value(name, value)
