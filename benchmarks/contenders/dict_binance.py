"""General JSON parsers at their best on Binance: ``orjson.loads`` and pysimdjson, dicts read by key.

Each frame is parsed whole by the library (orjson builds Python dicts and lists; pysimdjson's
``Parser.parse`` builds a lazy document whose objects are read by key without making the
rest), the event type picks a row writer, decimal texts become floats with ``float(text)``,
millisecond times nanoseconds, and rows go into per-column lists exactly as in the msgspec
contender (``msgspec_binance.Rows``, instrument as a registry code). Frames without a ``data``
object of a known event (subscription acks) give no rows.
"""

from __future__ import annotations

from typing import Any, Callable

import orjson

from marketprism_fast.instruments import InstrumentRegistry
from marketprism_fast.records import kind as kind_of

from .base import Contender
from .binance_streams import BINANCE_VENUES, EVENT_KINDS
from .corpus import TS_RECV
from .msgspec_binance import Rows
from .normalized import Columns

NS_PER_MS = 1_000_000
NAN = float("nan")
_KINDS: tuple[str, ...] = tuple(dict.fromkeys(EVENT_KINDS.values()))
TRADE, BOOK, QUOTE, KLINE, FUNDING = (_KINDS.index(k) for k in ("trade", "book_delta", "quote", "kline", "funding_rate"))


def _or_nan(text: str | None) -> float:
    return float(text) if text else NAN


def _trade(d: Any, out: list[Rows], code: int, aggregated: int) -> None:
    instrument, ts_event, recv, trade_id, price, amount, side, agg = out[TRADE].append
    instrument(code)
    ts_event(d["T"] * NS_PER_MS)
    recv(TS_RECV)
    trade_id(str(d["a"] if aggregated else d["t"]))
    agg(aggregated)
    price(float(d["p"]))
    amount(float(d["q"]))
    side(-1 if d["m"] else 1)


def _depth(d: Any, out: list[Rows], code: int) -> None:
    instrument, ts_event, recv, side, price, amount, first, update, prev, snapshot, checksum = out[BOOK].extend
    bids, asks = d["b"], d["a"]
    levels = list(bids) + list(asks)
    n = len(levels)
    instrument([code] * n)
    ts_event([d["E"] * NS_PER_MS] * n)
    recv([TS_RECV] * n)
    side([1] * len(bids) + [-1] * len(asks))
    price([float(level[0]) for level in levels])
    amount([float(level[1]) for level in levels])
    first([d["U"]] * n)
    update([d["u"]] * n)
    prev([d.get("pu", 0)] * n)
    snapshot([0] * n)
    checksum([0] * n)


def _book_ticker(d: Any, out: list[Rows], code: int) -> None:
    instrument, ts_event, recv, bid_price, bid_amount, ask_price, ask_amount, update_id = out[QUOTE].append
    instrument(code)
    event_time = d.get("E")
    ts_event(TS_RECV if event_time is None else event_time * NS_PER_MS)
    recv(TS_RECV)
    bid_price(float(d["b"]))
    bid_amount(float(d["B"]))
    ask_price(float(d["a"]))
    ask_amount(float(d["A"]))
    update_id(d["u"])


def _kline(d: Any, out: list[Rows], code: int) -> None:
    (instrument, ts_event, recv, interval, open_time, close_time, open_, high, low, close, volume,
     quote_volume, taker_volume, taker_quote_volume, trade_count, closed) = out[KLINE].append
    k = d["k"]
    instrument(code)
    ts_event(d["E"] * NS_PER_MS)
    recv(TS_RECV)
    interval(k["i"])
    open_time(k["t"] * NS_PER_MS)
    close_time(k["T"] * NS_PER_MS)
    open_(float(k["o"]))
    high(float(k["h"]))
    low(float(k["l"]))
    close(float(k["c"]))
    volume(float(k["v"]))
    quote_volume(_or_nan(k.get("q")))
    taker_volume(_or_nan(k.get("V")))
    taker_quote_volume(_or_nan(k.get("Q")))
    trade_count(k.get("n", 0))
    closed(1 if k["x"] else 0)


def _mark_price(d: Any, out: list[Rows], code: int) -> None:
    instrument, ts_event, recv, rate, predicted, mark, index, funding_time = out[FUNDING].append
    instrument(code)
    ts_event(d["E"] * NS_PER_MS)
    recv(TS_RECV)
    rate(_or_nan(d.get("r")))
    predicted(NAN)
    mark(float(d["p"]))
    index(_or_nan(d.get("i")))
    funding = d.get("T")
    funding_time(0 if funding is None else funding * NS_PER_MS)


class _DictContender(Contender):
    venues = BINANCE_VENUES

    def __init__(self, venue: str) -> None:
        super().__init__(venue)
        self.instruments = InstrumentRegistry(venue)
        self._codes: dict[str, int] = {}

    def loads(self, frame: bytes) -> Any:
        raise NotImplementedError

    def decode(self, frames: list[bytes]) -> list[Rows]:
        out = [Rows(kind_name) for kind_name in _KINDS]
        one, loads = self._one, self.loads
        for frame in frames:
            one(loads(frame), out)  # no reference to the document outlives the call
        return out

    def _one(self, doc: Any, out: list[Rows]) -> None:
        d = doc.get("data") if "data" in doc else None
        if d is None:
            return  # acks and other envelopes
        s = d.get("s")
        if s is None:
            return
        code = self._codes.get(s)
        if code is None:
            code = self._codes[s] = self.instruments.intern(s)
        e = d.get("e")
        if e == "trade":
            _trade(d, out, code, 0)
        elif e == "aggTrade":
            _trade(d, out, code, 1)
        elif e == "depthUpdate":
            _depth(d, out, code)
        elif e == "bookTicker" or (e is None and doc["stream"].endswith("@bookTicker")):
            _book_ticker(d, out, code)
        elif e == "kline":
            _kline(d, out, code)
        elif e == "markPriceUpdate":
            _mark_price(d, out, code)

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


class OrjsonContender(_DictContender):
    name = "orjson"

    loads = staticmethod(orjson.loads)


def _simdjson_loads() -> Callable[[bytes], Any]:
    import simdjson

    parser = simdjson.Parser()
    return parser.parse


class SimdjsonContender(_DictContender):
    """pysimdjson: one reused ``simdjson.Parser``; a parsed document is valid until the next
    parse, and every value is read out of it before that."""

    name = "pysimdjson"
    requires = "simdjson"

    def __init__(self, venue: str) -> None:
        super().__init__(venue)
        self.loads = _simdjson_loads()  # type: ignore[method-assign]
