"""OKX v5 public channels with typed ``msgspec.Struct``s into per-column lists.

An OKX data frame is ``{"arg": {"channel": .., "instId": ..}, ["action": ..,] "data": [..]}``
and the item shape depends on the channel, which a struct union cannot tag on (the tag is
in ``arg``, not in the items). OKX always sends ``arg`` first, so the channel name is read
from the frame's first bytes and picks the channel's own ``msgspec.json.Decoder``; a frame
of another shape (``{"event": ..}`` acks, ``pong``) takes a slower generic decode.

Values as the reference parser (``marketprism_fast/venues/okx/reference.py``) gives them:
decimal texts decoded straight into ``float`` fields and millisecond ``ts`` texts into ``int``
(``strict=False``; an absent ticker value is NaN), ``ts`` as nanoseconds, book levels ``[px, sz, liquidated, orders]`` with their original texts kept
(the compiled parser keeps them for the checksum, so this contender does the same work).
"""

from __future__ import annotations

from typing import Callable, Literal, Optional

import msgspec

from .corpus import TS_RECV
from .msgspec_binance import Rows
from .msgspec_rows import NAN, NS_PER_MS, MsgspecVenueContender, Route, Writer, or_nan

# ---- messages --------------------------------------------------------------------------------


class Arg(msgspec.Struct, gc=False):
    channel: str
    instId: str = ""


class TradeItem(msgspec.Struct, gc=False):
    tradeId: str
    px: float
    sz: float
    side: Literal["buy", "sell"]
    ts: int
    instId: str = ""


class TradesFrame(msgspec.Struct, gc=False):
    arg: Arg
    data: list[TradeItem]


Level = tuple[str, str, str, str]  # px, sz, liquidated orders (deprecated), order count


class BookItem(msgspec.Struct, gc=False):
    bids: list[Level]
    asks: list[Level]
    ts: int
    checksum: int = 0
    seqId: int = 0
    prevSeqId: int = -1  # a snapshot's -1 and an absent prevSeqId both mean "none" (0)
    instId: str = ""


class BooksFrame(msgspec.Struct, gc=False):
    arg: Arg
    action: Literal["snapshot", "update"]
    data: list[BookItem]


class TickerItem(msgspec.Struct, gc=False):
    ts: int
    instId: str = ""
    instType: str = ""
    last: Optional[float] = None
    lastSz: Optional[float] = None
    open24h: Optional[float] = None
    high24h: Optional[float] = None
    low24h: Optional[float] = None
    vol24h: Optional[float] = None
    volCcy24h: Optional[float] = None
    bidPx: Optional[str] = None  # "" when the book has no bid: stays text
    bidSz: Optional[str] = None
    askPx: Optional[float] = None
    askSz: Optional[float] = None


class TickersFrame(msgspec.Struct, gc=False):
    arg: Arg
    data: list[TickerItem]


class AnyFrame(msgspec.Struct, gc=False):
    """Only what tells a data frame from an event frame."""

    arg: Optional[Arg] = None
    event: Optional[str] = None


# ---- rows ------------------------------------------------------------------------------------

KINDS = ("trade", "book_delta", "ticker")
TRADE, BOOK, TICKER = range(len(KINDS))


def _trades(msg: TradesFrame, out: list[Rows], code: Callable[[str], int]) -> None:
    instrument, ts_event, recv, trade_id, price, amount, side, aggregated = out[TRADE].append
    default_inst = msg.arg.instId
    for item in msg.data:
        instrument(code(item.instId or default_inst))
        ts_event(item.ts * NS_PER_MS)
        recv(TS_RECV)
        trade_id(item.tradeId)
        price(item.px)
        amount(item.sz)
        side(1 if item.side == "buy" else -1)
        aggregated(0)


def _books(msg: BooksFrame, out: list[Rows], code: Callable[[str], int]) -> None:
    (instrument, ts_event, recv, side, price, amount, first, update, prev, snapshot, checksum,
     price_text, amount_text) = out[BOOK].extend
    default_inst = msg.arg.instId
    is_snapshot = 1 if msg.action == "snapshot" else 0
    for item in msg.data:
        bids, asks = item.bids, item.asks
        levels = bids + asks
        n = len(levels)
        if not n:
            continue  # no book_delta row (marker rows are off, as in the compiled contender)
        seq_id = item.seqId
        instrument([code(item.instId or default_inst)] * n)
        ts_event([item.ts * NS_PER_MS] * n)
        recv([TS_RECV] * n)
        side([1] * len(bids) + [-1] * len(asks))
        price_texts = [level[0] for level in levels]
        amount_texts = [level[1] for level in levels]
        price([float(text) for text in price_texts])
        amount([float(text) for text in amount_texts])
        first([seq_id] * n)
        update([seq_id] * n)
        prev([0 if item.prevSeqId == -1 else item.prevSeqId] * n)
        snapshot([is_snapshot] * n)
        checksum([item.checksum] * n)
        price_text(price_texts)
        amount_text(amount_texts)


def _value(value: float | None) -> float:
    return NAN if value is None else value


def _is_spot_like(item: TickerItem, inst_id: str) -> bool:
    if item.instType:
        return item.instType in ("SPOT", "MARGIN")
    return inst_id.count("-") == 1  # spot ids are BASE-QUOTE


def _tickers(msg: TickersFrame, out: list[Rows], code: Callable[[str], int]) -> None:
    (instrument, ts_event, recv, last_price, last_amount, open_price, high_price, low_price, volume,
     quote_volume, price_change, price_change_pct, weighted_avg_price, bid_price, bid_amount, ask_price,
     ask_amount, mark_price, index_price, open_interest, trade_count) = out[TICKER].append
    default_inst = msg.arg.instId
    for item in msg.data:
        inst_id = item.instId or default_inst
        instrument(code(inst_id))
        ts_event(item.ts * NS_PER_MS)
        recv(TS_RECV)
        last_price(_value(item.last))
        last_amount(_value(item.lastSz))
        open_price(_value(item.open24h))
        high_price(_value(item.high24h))
        low_price(_value(item.low24h))
        if _is_spot_like(item, inst_id):
            volume(_value(item.vol24h))
            quote_volume(_value(item.volCcy24h))
        else:  # derivatives count vol24h in contracts; volCcy24h is the base quantity
            volume(_value(item.volCcy24h))
            quote_volume(NAN)
        price_change(NAN)
        price_change_pct(NAN)
        weighted_avg_price(NAN)
        bid_price(or_nan(item.bidPx))
        bid_amount(or_nan(item.bidSz))
        ask_price(_value(item.askPx))
        ask_amount(_value(item.askSz))
        mark_price(NAN)
        index_price(NAN)
        open_interest(NAN)
        trade_count(0)


def _route(struct: type, writer: Writer) -> Route:
    # strict=False: decimal and millisecond texts decode straight into float/int fields
    return msgspec.json.Decoder(struct, strict=False).decode, writer


_BOOKS = _route(BooksFrame, _books)
ROUTES: dict[bytes, Route] = {
    b"trades": _route(TradesFrame, _trades),
    b"trades-all": _route(TradesFrame, _trades),
    b"tickers": _route(TickersFrame, _tickers),
    b"books": _BOOKS,
    b"books-l2-tbt": _BOOKS,
    b"books50-l2-tbt": _BOOKS,
}
DATA_PREFIX = b'{"arg":{"channel":"'
_CHANNEL_AT = len(DATA_PREFIX)
_DECODE_ANY = msgspec.json.Decoder(AnyFrame).decode


def _slow_route(frame: bytes) -> Route | None:
    """The route of a frame that does not start with ``arg.channel`` (None: no records)."""
    try:
        envelope = _DECODE_ANY(frame)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None  # "pong", or not an OKX message at all
    if envelope.event is not None or envelope.arg is None:
        return None
    return ROUTES.get(envelope.arg.channel.encode())


class OkxMsgspecContender(MsgspecVenueContender):
    venues = frozenset({"okx"})
    kinds = KINDS
    text_kinds = frozenset({"book_delta"})

    def route(self, frame: bytes) -> Route | None:
        if frame.startswith(DATA_PREFIX):
            return ROUTES.get(frame[_CHANNEL_AT : frame.find(b'"', _CHANNEL_AT)])
        return _slow_route(frame)
