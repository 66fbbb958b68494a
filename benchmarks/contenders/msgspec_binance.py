"""The best pure-Python path: typed ``msgspec.Struct`` decoding into per-column Python lists.

One ``msgspec.json.Decoder`` decodes a whole combined-stream frame (``{"stream": ...,
"data": {...}}``) in one call, into a union of typed structs tagged by the event type ``e``.
Spot bookTicker carries no ``e``; on spot, a frame whose stream name (in its first bytes)
ends in ``@bookTicker`` goes to an untagged decoder instead. Decimal texts decode straight
into ``float`` fields (``strict=False``; texts that may be empty stay ``str`` and go through
``float(text)``), millisecond times become nanoseconds, and each kind's rows go into a struct
of lists (one list per storage column, instrument as a registry code like the compiled
buffers). Bulk ``list.extend`` is used wherever a message yields many rows.
"""

from __future__ import annotations

from typing import Callable, ClassVar, Optional, Union

import msgspec

from marketprism_fast.instruments import InstrumentRegistry
from marketprism_fast.records import kind as kind_of

from .base import Contender
from .binance_streams import BINANCE_VENUES, EVENT_KINDS
from .corpus import TS_RECV
from .normalized import Columns

NS_PER_MS = 1_000_000
NAN = float("nan")
_SPOT_BOOK_TICKER = b'@bookTicker"'

class _TradeFields(msgspec.Struct, gc=False):
    s: str
    p: float
    q: float
    T: int
    m: bool


class Trade(_TradeFields, tag_field="e", tag="trade", rename={"id": "t"}):
    id: int
    aggregated: ClassVar[int] = 0


class AggTrade(_TradeFields, tag_field="e", tag="aggTrade", rename={"id": "a"}):
    id: int
    aggregated: ClassVar[int] = 1


class DepthUpdate(msgspec.Struct, tag_field="e", tag="depthUpdate", gc=False):
    s: str
    E: int
    U: int
    u: int
    b: list[tuple[float, float]]
    a: list[tuple[float, float]]
    pu: int = 0  # futures only


class SpotBookTicker(msgspec.Struct, gc=False):
    s: str
    u: int
    b: float
    B: float
    a: float
    A: float
    E: Optional[int] = None  # spot bookTicker has no event time


class BookTicker(SpotBookTicker, tag_field="e", tag="bookTicker"):
    pass


class KlineBody(msgspec.Struct, gc=False):
    i: str
    t: int
    T: int
    o: float
    h: float
    l: float  # noqa: E741 (Binance's field name)
    c: float
    v: float
    x: bool
    q: str = ""
    V: str = ""
    Q: str = ""
    n: int = 0


class Kline(msgspec.Struct, tag_field="e", tag="kline", gc=False):
    s: str
    E: int
    k: KlineBody


class MarkPrice(msgspec.Struct, tag_field="e", tag="markPriceUpdate", gc=False):
    s: str
    E: int
    p: float
    r: str = ""  # "" on delivery contracts
    i: str = ""
    T: Optional[int] = None


Event = Union[Trade, AggTrade, DepthUpdate, BookTicker, Kline, MarkPrice]


class Frame(msgspec.Struct, gc=False):
    stream: str
    data: Event


class SpotBookTickerFrame(msgspec.Struct, gc=False):
    stream: str
    data: SpotBookTicker


def _or_nan(text: str) -> float:
    return float(text) if text else NAN


class Rows:
    """One kind's records of one chunk: a list per storage column, plus bound appenders."""

    __slots__ = ("lists", "append", "extend")

    def __init__(self, kind_name: str) -> None:
        own = [c.name for c in kind_of(kind_name).own]
        self.lists: dict[str, list] = {name: [] for name in ["instrument", "ts_event", "ts_recv", *own]}
        self.append = tuple(values.append for values in self.lists.values())
        self.extend = tuple(values.extend for values in self.lists.values())

    def __len__(self) -> int:
        return len(self.lists["instrument"])


def _trade(msg: Trade | AggTrade, rows: Rows, code: int, ts_recv: int) -> None:
    instrument, ts_event, recv, trade_id, price, amount, side, aggregated = rows.append
    instrument(code)
    ts_event(msg.T * NS_PER_MS)
    recv(ts_recv)
    trade_id(str(msg.id))
    aggregated(msg.aggregated)
    price(msg.p)
    amount(msg.q)
    side(-1 if msg.m else 1)  # m: the buyer is the maker, so the taker sold


def _depth(msg: DepthUpdate, rows: Rows, code: int, ts_recv: int) -> None:
    instrument, ts_event, recv, side, price, amount, first, update, prev, snapshot, checksum = rows.extend
    levels = msg.b + msg.a
    n = len(levels)
    instrument([code] * n)
    ts_event([msg.E * NS_PER_MS] * n)
    recv([ts_recv] * n)
    side([1] * len(msg.b) + [-1] * len(msg.a))
    price([p for p, _ in levels])
    amount([q for _, q in levels])
    first([msg.U] * n)
    update([msg.u] * n)
    prev([msg.pu] * n)
    snapshot([0] * n)
    checksum([0] * n)


def _book_ticker(msg: SpotBookTicker, rows: Rows, code: int, ts_recv: int) -> None:
    instrument, ts_event, recv, bid_price, bid_amount, ask_price, ask_amount, update_id = rows.append
    instrument(code)
    ts_event(ts_recv if msg.E is None else msg.E * NS_PER_MS)
    recv(ts_recv)
    bid_price(msg.b)
    bid_amount(msg.B)
    ask_price(msg.a)
    ask_amount(msg.A)
    update_id(msg.u)


def _kline(msg: Kline, rows: Rows, code: int, ts_recv: int) -> None:
    (instrument, ts_event, recv, interval, open_time, close_time, open_, high, low, close, volume,
     quote_volume, taker_volume, taker_quote_volume, trade_count, closed) = rows.append
    k = msg.k
    instrument(code)
    ts_event(msg.E * NS_PER_MS)
    recv(ts_recv)
    interval(k.i)
    open_time(k.t * NS_PER_MS)
    close_time(k.T * NS_PER_MS)
    open_(k.o)
    high(k.h)
    low(k.l)
    close(k.c)
    volume(k.v)
    quote_volume(_or_nan(k.q))
    taker_volume(_or_nan(k.V))
    taker_quote_volume(_or_nan(k.Q))
    trade_count(k.n)
    closed(1 if k.x else 0)


def _mark_price(msg: MarkPrice, rows: Rows, code: int, ts_recv: int) -> None:
    instrument, ts_event, recv, rate, predicted, mark, index, funding_time = rows.append
    instrument(code)
    ts_event(msg.E * NS_PER_MS)
    recv(ts_recv)
    rate(_or_nan(msg.r))
    predicted(NAN)
    mark(msg.p)
    index(_or_nan(msg.i))
    funding_time(0 if msg.T is None else msg.T * NS_PER_MS)


Handler = Callable[[object, Rows, int, int], None]

# struct -> (row writer, Binance event type)
_WRITERS: dict[type, tuple[Handler, str]] = {
    Trade: (_trade, "trade"),
    AggTrade: (_trade, "aggTrade"),
    DepthUpdate: (_depth, "depthUpdate"),
    BookTicker: (_book_ticker, "bookTicker"),
    SpotBookTicker: (_book_ticker, "bookTicker"),
    Kline: (_kline, "kline"),
    MarkPrice: (_mark_price, "markPriceUpdate"),
}
_KINDS: tuple[str, ...] = tuple(dict.fromkeys(EVENT_KINDS.values()))
# struct -> (row writer, slot of its kind's Rows in a chunk's output)
_ROUTES: dict[type, tuple[Handler, int]] = {
    struct: (writer, _KINDS.index(EVENT_KINDS[event])) for struct, (writer, event) in _WRITERS.items()
}
# strict=False: decimal texts decode straight into float fields (msgspec's own correctly
# rounded parse, the same bits as float(text); the equivalence check holds it to that)
_DECODE_FRAME = msgspec.json.Decoder(Frame, strict=False).decode
_DECODE_SPOT_BOOK_TICKER = msgspec.json.Decoder(SpotBookTickerFrame, strict=False).decode


def kind_rows(out: list[Rows], kind_name: str) -> Rows:
    """The rows of one kind in a chunk's output."""
    return out[_KINDS.index(kind_name)]


class MsgspecContender(Contender):
    name = "msgspec"
    venues = BINANCE_VENUES

    def __init__(self, venue: str) -> None:
        super().__init__(venue)
        self.instruments = InstrumentRegistry(venue)
        self._codes: dict[str, int] = {}
        self._untagged_book_ticker = venue == "binance_spot"

    def decode(self, frames: list[bytes]) -> list[Rows]:
        """One chunk -> its rows, one ``Rows`` per kind (in ``_KINDS`` order)."""
        out = [Rows(kind_name) for kind_name in _KINDS]
        codes, intern, routes = self._codes, self.instruments.intern, _ROUTES
        spot, decode_frame, decode_spot_book_ticker = self._untagged_book_ticker, _DECODE_FRAME, _DECODE_SPOT_BOOK_TICKER
        ts_recv = TS_RECV
        for frame in frames:
            try:
                if spot and frame.find(_SPOT_BOOK_TICKER, 0, 64) > 0:
                    msg = decode_spot_book_ticker(frame).data
                else:
                    msg = decode_frame(frame).data
            except msgspec.ValidationError:
                continue  # subscription acks ({"result":null,"id":..}) and streams not read here
            code = codes.get(msg.s)
            if code is None:
                code = codes[msg.s] = intern(msg.s)
            writer, slot = routes[type(msg)]
            writer(msg, out[slot], code, ts_recv)
        return out

    def columns(self, outputs: list[list[Rows]]) -> Columns:
        tables = self.instruments.tables()
        merged: Columns = {}
        for out in outputs:
            for kind_name, rows in zip(_KINDS, out):
                if not len(rows):
                    continue
                target = merged.setdefault(kind_name, {name: [] for name in kind_of(kind_name).column_names})
                codes = rows.lists["instrument"]
                for name in ("exchange", "market", "symbol", "raw_symbol"):
                    target[name].extend(tables[name][codes].tolist())
                for name, values in rows.lists.items():
                    if name != "instrument":
                        target[name].extend(values)
        return merged
