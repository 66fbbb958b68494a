"""Deribit subscription notifications with typed ``msgspec.Struct``s into per-column lists.

A notification is ``{"jsonrpc": "2.0", "method": "subscription", "params": {"channel": ..,
"data": {..}}}``; the data shape depends on the channel's first word, which sits in the
frame's first bytes, so that word picks the channel's own ``msgspec.json.Decoder``. RPC
results and heartbeats start otherwise and hold no records.

Values as the reference parser (``marketprism_fast/venues/deribit/reference.py``) gives them: JSON
numbers decoded straight into float fields (an absent or null number is NaN), millisecond
times as nanoseconds, raw book levels ``[new|change|delete, price, amount]`` (delete: amount
0). A ticker that carries ``open_interest`` also gives an open_interest row, and one that
carries ``current_funding`` a funding_rate row; a trade with a ``liquidation`` flag also gives
a liquidation row.
"""

from __future__ import annotations

from typing import Callable, Literal, Optional, Union

import msgspec

from .corpus import TS_RECV
from .msgspec_binance import Rows
from .msgspec_rows import NAN, NS_PER_MS, MsgspecVenueContender, Route, append_row

OptionalNumber = Optional[float]
MaybeNumber = Union[float, None, msgspec.UnsetType]  # UNSET: the key is absent (no derived row)

# ---- messages --------------------------------------------------------------------------------

RawLevel = tuple[Literal["new", "change", "delete"], float, float]


class Book(msgspec.Struct, gc=False):
    type: Literal["snapshot", "change"]
    instrument_name: str
    timestamp: int
    change_id: int
    bids: list[RawLevel]
    asks: list[RawLevel]
    prev_change_id: int = 0


class Stats(msgspec.Struct, gc=False):
    high: OptionalNumber = None
    low: OptionalNumber = None
    volume: OptionalNumber = None
    volume_usd: OptionalNumber = None
    price_change: OptionalNumber = None


class Ticker(msgspec.Struct, gc=False):
    instrument_name: str
    timestamp: int
    stats: Optional[Stats] = None
    last_price: OptionalNumber = None
    best_bid_price: OptionalNumber = None
    best_bid_amount: OptionalNumber = None
    best_ask_price: OptionalNumber = None
    best_ask_amount: OptionalNumber = None
    mark_price: OptionalNumber = None
    index_price: OptionalNumber = None
    open_interest: MaybeNumber = msgspec.UNSET
    current_funding: MaybeNumber = msgspec.UNSET
    funding_8h: OptionalNumber = None


class Trade(msgspec.Struct, gc=False):
    instrument_name: str
    timestamp: int
    trade_id: Union[str, int]
    price: float
    amount: float
    direction: Literal["buy", "sell"]
    liquidation: Optional[Literal["M", "T", "MT"]] = None


class TradesParams(msgspec.Struct, gc=False):
    channel: str
    data: list[Trade]


class TradesFrame(msgspec.Struct, gc=False):
    params: TradesParams


class BookParams(msgspec.Struct, gc=False):
    channel: str
    data: Book


class BookFrame(msgspec.Struct, gc=False):
    params: BookParams


class TickerParams(msgspec.Struct, gc=False):
    channel: str
    data: Ticker


class TickerFrame(msgspec.Struct, gc=False):
    params: TickerParams


# ---- rows ------------------------------------------------------------------------------------

KINDS = ("trade", "book_delta", "ticker", "open_interest", "funding_rate", "liquidation")
TRADE, BOOK, TICKER, OPEN_INTEREST, FUNDING_RATE, LIQUIDATION = range(len(KINDS))
_NO_STATS = Stats()


def _nan_if_none(value: float | None) -> float:
    return NAN if value is None else value


def _trades(msg: TradesFrame, out: list[Rows], code: Callable[[str], int]) -> None:
    instrument, ts_event, recv, trade_id, price, amount, side, aggregated = out[TRADE].append
    for trade in msg.params.data:
        inst_code = code(trade.instrument_name)
        ts = trade.timestamp * NS_PER_MS
        taker = 1 if trade.direction == "buy" else -1
        instrument(inst_code)
        ts_event(ts)
        recv(TS_RECV)
        trade_id(str(trade.trade_id))
        price(trade.price)
        amount(trade.amount)
        side(taker)
        aggregated(0)
        flag = trade.liquidation
        if flag is not None:
            # the liquidated order is the taker's for T/MT, the resting maker's for M
            liquidated = taker if flag != "M" else -taker
            append_row(out[LIQUIDATION], (inst_code, ts, TS_RECV, liquidated, trade.price, trade.amount, "", flag))


def _book(msg: BookFrame, out: list[Rows], code: Callable[[str], int]) -> None:
    book = msg.params.data
    bids, asks = book.bids, book.asks
    levels = bids + asks
    n = len(levels)
    if not n:
        return  # no book_delta row (marker rows are off, as in the compiled contender)
    (instrument, ts_event, recv, side, price, amount, first, update, prev, snapshot,
     checksum) = out[BOOK].extend
    change_id = book.change_id
    instrument([code(book.instrument_name)] * n)
    ts_event([book.timestamp * NS_PER_MS] * n)
    recv([TS_RECV] * n)
    side([1] * len(bids) + [-1] * len(asks))
    price([p for _, p, _ in levels])
    amount([0.0 if action == "delete" else a for action, _, a in levels])
    first([change_id] * n)
    update([change_id] * n)
    prev([book.prev_change_id] * n)
    snapshot([1 if book.type == "snapshot" else 0] * n)
    checksum([0] * n)


def _ticker(msg: TickerFrame, out: list[Rows], code: Callable[[str], int]) -> None:
    (instrument, ts_event, recv, last_price, last_amount, open_price, high_price, low_price, volume,
     quote_volume, price_change, price_change_pct, weighted_avg_price, bid_price, bid_amount, ask_price,
     ask_amount, mark_price, index_price, open_interest, trade_count) = out[TICKER].append
    ticker = msg.params.data
    stats = _NO_STATS if ticker.stats is None else ticker.stats
    inst_code = code(ticker.instrument_name)
    ts = ticker.timestamp * NS_PER_MS
    mark = _nan_if_none(ticker.mark_price)
    index = _nan_if_none(ticker.index_price)
    oi = ticker.open_interest
    oi_value = NAN if oi is None or oi is msgspec.UNSET else oi
    instrument(inst_code)
    ts_event(ts)
    recv(TS_RECV)
    last_price(_nan_if_none(ticker.last_price))
    last_amount(NAN)
    open_price(NAN)
    high_price(_nan_if_none(stats.high))
    low_price(_nan_if_none(stats.low))
    volume(_nan_if_none(stats.volume))
    quote_volume(_nan_if_none(stats.volume_usd))
    price_change(NAN)
    price_change_pct(_nan_if_none(stats.price_change))  # Deribit sends a percentage
    weighted_avg_price(NAN)
    bid_price(_nan_if_none(ticker.best_bid_price))
    bid_amount(_nan_if_none(ticker.best_bid_amount))
    ask_price(_nan_if_none(ticker.best_ask_price))
    ask_amount(_nan_if_none(ticker.best_ask_amount))
    mark_price(mark)
    index_price(index)
    open_interest(oi_value)
    trade_count(0)
    if oi is not msgspec.UNSET:
        append_row(out[OPEN_INTEREST], (inst_code, ts, TS_RECV, oi_value, NAN))
    funding = ticker.current_funding
    if funding is not msgspec.UNSET:
        append_row(out[FUNDING_RATE],
                   (inst_code, ts, TS_RECV, _nan_if_none(funding), _nan_if_none(ticker.funding_8h), mark, index, 0))


ROUTES: dict[bytes, Route] = {
    b"trades": (msgspec.json.Decoder(TradesFrame).decode, _trades),
    b"book": (msgspec.json.Decoder(BookFrame).decode, _book),
    b"ticker": (msgspec.json.Decoder(TickerFrame).decode, _ticker),
}
NOTIFICATION_PREFIX = b'{"jsonrpc":"2.0","method":"subscription","params":{"channel":"'
_CHANNEL_AT = len(NOTIFICATION_PREFIX)


class DeribitMsgspecContender(MsgspecVenueContender):
    venues = frozenset({"deribit"})
    kinds = KINDS

    def route(self, frame: bytes) -> Route | None:
        if not frame.startswith(NOTIFICATION_PREFIX):
            return None  # RPC results and heartbeats
        return ROUTES.get(frame[_CHANNEL_AT : frame.find(b".", _CHANNEL_AT)])
