"""Binance spot, USD-M and COIN-M market streams, and their REST depth / open-interest bodies.

Frames come raw (``{"e": ...}``) or combined (``{"stream": ..., "data": {...}}``, keys in any
order); ``data`` may also be an array of events (``!markPrice@arr``). The three venues share
one message format: spot simply lacks a few fields (``pu`` on depth updates, ``e``/``E`` on
bookTicker), which the readers below treat as absent.
"""

from __future__ import annotations

from typing import Any, Callable

from ...errors import ConfigurationError, ParseError
from ...instruments import InstrumentRegistry
from ...reference.base import ReferenceParser, decode_json
from ...reference.fields import (
    NAN,
    boolean,
    decimal,
    decimal_level,
    decimal_or_nan,
    integer,
    integer_or_zero,
    mapping,
    millis,
    array,
    side_from_word,
    text,
    text_or_empty,
)

BINANCE_VENUES = ("binance_spot", "binance_usdm", "binance_coinm")

# 24hrTicker fields onto ticker columns (data-model.md, "Details that are part of the contract").
_TICKER_FIELDS = (
    ("c", "last_price"),
    ("Q", "last_amount"),
    ("o", "open_price"),
    ("h", "high_price"),
    ("l", "low_price"),
    ("v", "volume"),
    ("q", "quote_volume"),
    ("p", "price_change"),
    ("P", "price_change_pct"),
    ("w", "weighted_avg_price"),
    ("b", "bid_price"),
    ("B", "bid_amount"),
    ("a", "ask_price"),
    ("A", "ask_amount"),
)
_SPOT_BOOK_TICKER_KEYS = ("u", "s", "b", "B", "a", "A")

Event = dict[str, Any]


class BinanceParser(ReferenceParser):
    def __init__(self, venue: str, instruments: InstrumentRegistry | None = None, *, book_markers: bool = False) -> None:
        if venue not in BINANCE_VENUES:
            raise ConfigurationError(f"not a Binance venue: {venue!r}; expected one of {', '.join(BINANCE_VENUES)}", field="venue")
        super().__init__(instruments, venue=venue, book_markers=book_markers)
        self._handlers: dict[str, Callable[[Event, int], None]] = {
            "trade": self._trade,
            "aggTrade": self._agg_trade,
            "depthUpdate": self._depth_update,
            "bookTicker": self._book_ticker,
            "24hrTicker": self._ticker,
            "kline": self._kline,
            "markPriceUpdate": self._mark_price,
            "forceOrder": self._force_order,
        }

    # ---- frames ----------------------------------------------------------------------------

    def parse_frame(self, frame: bytes, ts_recv: int) -> str | None:
        message = decode_json(frame)
        if isinstance(message, dict):
            if "stream" in message:
                if not isinstance(message["stream"], str) or "data" not in message:
                    raise ParseError("combined frame: expected a 'stream' name and its 'data'")
                payload = message["data"]
            elif "error" in message:
                error = message["error"]
                code, msg = (error.get("code"), error.get("msg")) if isinstance(error, dict) else ("", error)
                self.log_error_event(code, msg)
                return "error_event"
            elif "result" in message and "id" in message:
                return "ack"
            else:
                payload = message
        elif isinstance(message, list):
            payload = message
        else:
            raise ParseError(f"a Binance frame is a JSON object or array, got {type(message).__name__}")
        events = payload if isinstance(payload, list) else [payload]
        handlers = [self._handler_for(event) for event in events]
        if events and all(h is None for h in handlers):
            return "unknown_channel"
        if any(h is None for h in handlers):
            raise ParseError("an event array mixes known and unknown event types")
        for handler, event in zip(handlers, events):
            handler(event, ts_recv)
        return None

    def _handler_for(self, event: Any) -> Callable[[Event, int], None] | None:
        if not isinstance(event, dict):
            raise ParseError(f"an event is a JSON object, got {type(event).__name__}")
        event_type = event.get("e")
        if event_type is None:
            # Spot bookTicker carries no "e"; anything else without one is a stream we don't read
            # (e.g. partial depth "lastUpdateId" snapshots).
            if all(key in event for key in _SPOT_BOOK_TICKER_KEYS):
                return self._book_ticker
            return None
        return self._handlers.get(event_type)

    def _trade(self, ev: Event, ts_recv: int) -> None:
        self._emit_trade(ev, trade_id=str(integer(ev, "t")), aggregated=0)

    def _agg_trade(self, ev: Event, ts_recv: int) -> None:
        self._emit_trade(ev, trade_id=str(integer(ev, "a")), aggregated=1)

    def _emit_trade(self, ev: Event, *, trade_id: str, aggregated: int) -> None:
        self.emit(
            "trade",
            text(ev, "s"),
            millis(ev, "T"),
            trade_id=trade_id,
            price=decimal(ev, "p"),
            amount=decimal(ev, "q"),
            side=-1 if boolean(ev, "m") else 1,  # m: the buyer is the maker, so the taker sold
            aggregated=aggregated,
        )

    def _depth_update(self, ev: Event, ts_recv: int) -> None:
        self.emit_book(
            text(ev, "s"),
            millis(ev, "E"),
            array(ev, "b"),
            array(ev, "a"),
            decimal_level,
            first_update_id=integer(ev, "U"),
            update_id=integer(ev, "u"),
            prev_update_id=_previous_update_id(ev),
            is_snapshot=0,
        )

    def _book_ticker(self, ev: Event, ts_recv: int) -> None:
        self.emit(
            "quote",
            text(ev, "s"),
            millis(ev, "E") if "E" in ev else ts_recv,  # spot bookTicker has no event time
            bid_price=decimal(ev, "b"),
            bid_amount=decimal(ev, "B"),
            ask_price=decimal(ev, "a"),
            ask_amount=decimal(ev, "A"),
            update_id=integer(ev, "u"),
        )

    def _ticker(self, ev: Event, ts_recv: int) -> None:
        values = {column: decimal_or_nan(ev, key) for key, column in _TICKER_FIELDS}
        self.emit(
            "ticker",
            text(ev, "s"),
            millis(ev, "E"),
            **values,
            mark_price=NAN,
            index_price=NAN,
            open_interest=NAN,
            trade_count=integer_or_zero(ev, "n"),
        )

    def _kline(self, ev: Event, ts_recv: int) -> None:
        k = mapping(ev, "k")
        self.emit(
            "kline",
            text(ev, "s"),
            millis(ev, "E"),
            interval=text(k, "i"),
            open_time=millis(k, "t"),
            close_time=millis(k, "T"),
            open=decimal(k, "o"),
            high=decimal(k, "h"),
            low=decimal(k, "l"),
            close=decimal(k, "c"),
            volume=decimal(k, "v"),
            quote_volume=decimal_or_nan(k, "q"),
            taker_buy_volume=decimal_or_nan(k, "V"),
            taker_buy_quote_volume=decimal_or_nan(k, "Q"),
            trade_count=integer_or_zero(k, "n"),
            closed=1 if boolean(k, "x") else 0,
        )

    def _mark_price(self, ev: Event, ts_recv: int) -> None:
        self.emit(
            "funding_rate",
            text(ev, "s"),
            millis(ev, "E"),
            funding_rate=decimal_or_nan(ev, "r"),  # "" on delivery contracts
            predicted_rate=NAN,
            mark_price=decimal(ev, "p"),
            index_price=decimal_or_nan(ev, "i"),
            funding_time=millis(ev, "T") if ev.get("T") is not None else 0,
        )

    def _force_order(self, ev: Event, ts_recv: int) -> None:
        order = mapping(ev, "o")
        self.emit(
            "liquidation",
            text(order, "s"),
            millis(order, "T"),
            side=side_from_word(order.get("S"), "BUY", "SELL", "forceOrder 'S'"),
            price=decimal(order, "p"),
            amount=decimal(order, "q"),
            order_id="",
            status=text_or_empty(order, "X"),
        )

    # ---- REST bodies -----------------------------------------------------------------------

    def parse_snapshot(self, body: bytes, ts_recv: int, raw_symbol: str) -> str | None:
        snapshot = _rest_object(body, "depth snapshot")
        symbol = raw_symbol or text(snapshot, "symbol")
        last = integer(snapshot, "lastUpdateId")
        self.emit_book(
            symbol,
            ts_recv,  # REST snapshot rows carry their receive time
            array(snapshot, "bids"),
            array(snapshot, "asks"),
            decimal_level,
            first_update_id=last,
            update_id=last,
            prev_update_id=0,
            is_snapshot=1,
        )
        return None

    def parse_open_interest(self, body: bytes, ts_recv: int) -> str | None:
        reply = _rest_object(body, "openInterest")
        self.emit(
            "open_interest",
            text(reply, "symbol"),
            millis(reply, "time"),
            open_interest=decimal(reply, "openInterest"),
            open_interest_value=NAN,
        )
        return None


def _previous_update_id(ev: Event) -> int:
    """Futures ``pu`` (spot has none: 0). -1, sent on the first event after a reset, means
    there is no predecessor: 0 as well."""
    if ev.get("pu") == -1 and type(ev["pu"]) is int:
        return 0
    return integer_or_zero(ev, "pu")


def _rest_object(body: bytes, what: str) -> dict:
    reply = decode_json(body)
    if not isinstance(reply, dict):
        raise ParseError(f"{what} body: expected a JSON object, got {type(reply).__name__}")
    if "code" in reply and "msg" in reply:
        raise ParseError(f"{what} body is a Binance error: code {reply['code']}: {reply['msg']}")
    return reply
