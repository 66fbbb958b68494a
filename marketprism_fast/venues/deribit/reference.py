"""Deribit JSON-RPC over WebSocket (``/ws/api/v2``): subscription notifications.

Notifications are ``{"jsonrpc":"2.0","method":"subscription","params":{"channel":..,"data":..}}``;
numbers are JSON numbers. Everything else the server sends is an RPC result or error, or a
heartbeat; a ``test_request`` heartbeat must be answered by the transport, so it is counted.
"""

from __future__ import annotations

from typing import Any, Callable

from ...errors import ParseError
from ...instruments import InstrumentRegistry
from ...reference.base import ReferenceParser, decode_json
from ...reference.fields import (
    NAN,
    Level,
    array,
    id_text,
    integer,
    integer_or_zero,
    mapping,
    millis,
    number,
    number_or_nan,
    number_value,
    side_from_word,
    text,
)

Data = Any
Handler = Callable[[str, Data, int], None]
LIQUIDATION_FLAGS = ("M", "T", "MT")  # which side of the trade was liquidated: maker, taker, both
_LEVEL_ACTIONS = ("new", "change", "delete")


class DeribitParser(ReferenceParser):
    venue = "deribit"

    def __init__(self, instruments: InstrumentRegistry | None = None, *, book_markers: bool = False) -> None:
        super().__init__(instruments, book_markers=book_markers)
        self._handlers: dict[str, Handler] = {
            "trades": self._trades,
            "book": self._book,
            "quote": self._quote,
            "ticker": self._ticker,
            "perpetual": self._perpetual,
        }

    def parse_frame(self, frame: bytes, ts_recv: int) -> str | None:
        message = decode_json(frame)
        if not isinstance(message, dict):
            raise ParseError(f"a Deribit frame is a JSON object, got {type(message).__name__}")
        method = message.get("method")
        if method == "heartbeat":
            params = message.get("params")
            if isinstance(params, dict) and params.get("type") == "test_request":
                self.count_test_request()
            return "heartbeat"
        if "error" in message:
            error = message["error"]
            code, msg = (error.get("code"), error.get("message")) if isinstance(error, dict) else ("", error)
            self.log_error_event(code, msg)
            return "error_event"
        if "result" in message:
            return "rpc_result"
        if method != "subscription":
            if method is None:
                raise ParseError("neither a subscription notification, an RPC result nor a heartbeat")
            return "unknown_channel"
        params = mapping(message, "params")
        channel = text(params, "channel")
        if "data" not in params:
            raise ParseError(f"{channel}: notification without 'data'")
        prefix = channel.partition(".")[0]
        handler = self._handlers.get(prefix)
        if handler is None and channel.startswith("chart.trades."):
            handler = self._chart_trades
        if handler is None:
            return "unknown_channel"
        handler(channel, params["data"], ts_recv)
        return None

    # ---- channels --------------------------------------------------------------------------

    def _trades(self, channel: str, data: Data, ts_recv: int) -> None:
        if not isinstance(data, list):
            raise ParseError(f"{channel}: 'data' must be an array of trades")
        for trade in data:
            instrument = text(trade, "instrument_name")
            ts_event = millis(trade, "timestamp")
            price, amount = number(trade, "price"), number(trade, "amount")
            side = side_from_word(trade.get("direction"), "buy", "sell", "trade 'direction'")
            self.emit(
                "trade",
                instrument,
                ts_event,
                trade_id=id_text(trade, "trade_id"),
                price=price,
                amount=amount,
                side=side,
                aggregated=0,
            )
            flag = trade.get("liquidation")
            if flag is None:
                continue
            if flag not in LIQUIDATION_FLAGS:
                raise ParseError(f"{channel}: 'liquidation' must be one of {LIQUIDATION_FLAGS}, got {flag!r:.20}")
            self.emit(
                "liquidation",
                instrument,
                ts_event,
                # The liquidated order is the taker's for T/MT, the resting maker's for M.
                side=side if flag in ("T", "MT") else -side,
                price=price,
                amount=amount,
                order_id="",
                status=flag,
            )

    def _book(self, channel: str, data: Data, ts_recv: int) -> None:
        book = _object(channel, data)
        instrument = text(book, "instrument_name")
        ts_event = millis(book, "timestamp")
        change_id = integer(book, "change_id")
        kind = book.get("type")
        if kind is None:
            # Grouped books (book.{instrument}.{group}.{depth}.{interval}) send whole books of
            # [price, amount] levels with no type: each one is a snapshot.
            is_snapshot, prev_change_id, read_level = 1, 0, _grouped_level
        elif kind in ("snapshot", "change"):
            is_snapshot = 1 if kind == "snapshot" else 0
            prev_change_id = integer_or_zero(book, "prev_change_id")
            read_level = _raw_level
        else:
            raise ParseError(f"{channel}: 'type' must be 'snapshot' or 'change', got {kind!r:.20}")
        self.emit_book(
            instrument,
            ts_event,
            array(book, "bids"),
            array(book, "asks"),
            read_level,
            first_update_id=change_id,
            update_id=change_id,
            prev_update_id=prev_change_id,
            is_snapshot=is_snapshot,
        )

    def _quote(self, channel: str, data: Data, ts_recv: int) -> None:
        quote = _object(channel, data)
        self.emit(
            "quote",
            text(quote, "instrument_name"),
            millis(quote, "timestamp"),
            bid_price=number_or_nan(quote, "best_bid_price"),
            bid_amount=number_or_nan(quote, "best_bid_amount"),
            ask_price=number_or_nan(quote, "best_ask_price"),
            ask_amount=number_or_nan(quote, "best_ask_amount"),
            update_id=0,
        )

    def _ticker(self, channel: str, data: Data, ts_recv: int) -> None:
        ticker = _object(channel, data)
        instrument = text(ticker, "instrument_name")
        ts_event = millis(ticker, "timestamp")
        stats = ticker.get("stats")
        if stats is None:
            stats = {}
        elif not isinstance(stats, dict):
            raise ParseError(f"{channel}: 'stats' must be a JSON object")
        mark_price = number_or_nan(ticker, "mark_price")
        index_price = number_or_nan(ticker, "index_price")
        self.emit(
            "ticker",
            instrument,
            ts_event,
            last_price=number_or_nan(ticker, "last_price"),
            last_amount=NAN,
            open_price=NAN,
            high_price=number_or_nan(stats, "high"),
            low_price=number_or_nan(stats, "low"),
            volume=number_or_nan(stats, "volume"),
            quote_volume=number_or_nan(stats, "volume_usd"),
            price_change=NAN,
            price_change_pct=number_or_nan(stats, "price_change"),  # Deribit sends a percentage
            weighted_avg_price=NAN,
            bid_price=number_or_nan(ticker, "best_bid_price"),
            bid_amount=number_or_nan(ticker, "best_bid_amount"),
            ask_price=number_or_nan(ticker, "best_ask_price"),
            ask_amount=number_or_nan(ticker, "best_ask_amount"),
            mark_price=mark_price,
            index_price=index_price,
            open_interest=number_or_nan(ticker, "open_interest"),
            trade_count=0,
        )
        if "open_interest" in ticker:
            self.emit(
                "open_interest",
                instrument,
                ts_event,
                open_interest=number_or_nan(ticker, "open_interest"),
                open_interest_value=NAN,
            )
        if "current_funding" in ticker:
            self.emit(
                "funding_rate",
                instrument,
                ts_event,
                funding_rate=number_or_nan(ticker, "current_funding"),
                predicted_rate=number_or_nan(ticker, "funding_8h"),
                mark_price=mark_price,
                index_price=index_price,
                funding_time=0,
            )

    def _chart_trades(self, channel: str, data: Data, ts_recv: int) -> None:
        # chart.trades.{instrument_name}.{resolution}; instrument names hold no '.'.
        instrument, _, resolution = channel[len("chart.trades.") :].rpartition(".")
        if not resolution:
            raise ParseError(f"{channel}: expected chart.trades.{{instrument}}.{{resolution}}")
        candle = _object(channel, data)
        open_time = millis(candle, "tick")
        self.emit(
            "kline",
            instrument,
            ts_recv,  # a candle push carries no event time (as spot bookTicker: ts_recv)
            interval=resolution,
            open_time=open_time,
            close_time=0,
            open=number(candle, "open"),
            high=number(candle, "high"),
            low=number(candle, "low"),
            close=number(candle, "close"),
            volume=number(candle, "volume"),
            quote_volume=number_or_nan(candle, "cost"),
            taker_buy_volume=NAN,
            taker_buy_quote_volume=NAN,
            trade_count=0,
            closed=0,
        )

    def _perpetual(self, channel: str, data: Data, ts_recv: int) -> None:
        # perpetual.{instrument_name}.{interval}: {timestamp, interest, index_price}
        instrument = channel[len("perpetual.") :].rpartition(".")[0]
        funding = _object(channel, data)
        self.emit(
            "funding_rate",
            instrument,
            millis(funding, "timestamp"),
            funding_rate=number(funding, "interest"),
            predicted_rate=NAN,
            mark_price=NAN,
            index_price=number_or_nan(funding, "index_price"),
            funding_time=0,
        )


def _object(channel: str, data: Data) -> dict:
    if not isinstance(data, dict):
        raise ParseError(f"{channel}: 'data' must be a JSON object")
    return data


def _raw_level(level: Any) -> Level:
    """``[action, price, amount]``; ``delete`` removes the level (amount 0)."""
    if not isinstance(level, list) or len(level) != 3 or level[0] not in _LEVEL_ACTIONS:
        raise ParseError(f"book level: expected [new|change|delete, price, amount], got {level!r:.60}")
    price = number_value(level[1], "level price")
    amount = number_value(level[2], "level amount")
    return Level(price, 0.0 if level[0] == "delete" else amount, "", "")


def _grouped_level(level: Any) -> Level:
    if not isinstance(level, list) or len(level) != 2:
        raise ParseError(f"book level: expected [price, amount], got {level!r:.60}")
    return Level(number_value(level[0], "level price"), number_value(level[1], "level amount"), "", "")
