"""OKX v5 public channels (``/ws/v5/public``) and the REST open-interest body.

A data frame is ``{"arg": {"channel": ..., "instId": ...}, "data": [...]}`` (books add
``action``); every value is a decimal text except the book ``checksum``/``seqId`` numbers.
"""

from __future__ import annotations

from typing import Any, Callable

from ...errors import ParseError
from ...instruments import InstrumentRegistry
from ...reference.base import ReferenceParser, decode_json
from ...reference.fields import (
    I32_MAX,
    I32_MIN,
    NAN,
    array,
    decimal,
    decimal_level,
    decimal_or_nan,
    decimal_text_value,
    integer_or_zero,
    integer_text_value,
    integer_value,
    mapping,
    millis_text,
    ms_to_ns,
    side_from_word,
    text,
)

BOOK_CHANNELS = frozenset({"books", "books5", "books50-l2-tbt", "books-l2-tbt"})
Item = dict[str, Any]
Handler = Callable[[str, dict, dict, list, int], None]


def is_spot_like(item: Item, inst_id: str) -> bool:
    """SPOT/MARGIN instruments (``instType``, else the id's shape: spot ids are ``BASE-QUOTE``)."""
    inst_type = item.get("instType")
    if inst_type:
        return inst_type in ("SPOT", "MARGIN")
    return inst_id.count("-") == 1


class OkxParser(ReferenceParser):
    venue = "okx"

    def __init__(self, instruments: InstrumentRegistry | None = None, *, book_markers: bool = False) -> None:
        super().__init__(instruments, book_markers=book_markers)
        self._handlers: dict[str, Handler] = {
            "trades": self._trades,
            "trades-all": self._trades,
            "bbo-tbt": self._bbo,
            "tickers": self._tickers,
            "funding-rate": self._funding_rate,
            "open-interest": self._open_interest,
            "mark-price": self._no_records,
            "liquidation-orders": self._liquidations,
        }
        self._handlers.update(dict.fromkeys(BOOK_CHANNELS, self._books))

    def parse_frame(self, frame: bytes, ts_recv: int) -> str | None:
        if len(frame) == 4 and bytes(frame.encode() if isinstance(frame, str) else frame) == b"pong":
            return "pong"
        message = decode_json(frame)
        if not isinstance(message, dict):
            raise ParseError(f"an OKX frame is a JSON object or 'pong', got {type(message).__name__}")
        if "event" in message:
            if message["event"] == "error":
                self.log_error_event(message.get("code"), message.get("msg"))
                return "error_event"
            return "event"
        arg = mapping(message, "arg")
        channel = text(arg, "channel")
        handler = self._handlers.get(channel)
        if handler is None and channel.startswith("candle"):
            handler = self._candles
        if handler is None:
            return "unknown_channel"
        handler(channel, arg, message, array(message, "data"), ts_recv)
        return None

    # ---- channels --------------------------------------------------------------------------

    def _trades(self, channel: str, arg: dict, message: dict, data: list, ts_recv: int) -> None:
        for item in _items(data):
            self.emit(
                "trade",
                _inst_id(item, arg),
                millis_text(item, "ts"),
                trade_id=text(item, "tradeId"),
                price=decimal(item, "px"),
                amount=decimal(item, "sz"),
                side=side_from_word(item.get("side"), "buy", "sell", "trade 'side'"),
                aggregated=0,
            )

    def _books(self, channel: str, arg: dict, message: dict, data: list, ts_recv: int) -> None:
        # books5 pushes whole top-5 books without an action: each one is a snapshot.
        action = message.get("action", "snapshot" if channel == "books5" else None)
        if action not in ("snapshot", "update"):
            raise ParseError(f"{channel}: 'action' must be 'snapshot' or 'update', got {action!r:.40}")
        is_snapshot = 1 if action == "snapshot" else 0
        for item in _items(data):
            seq_id = integer_or_zero(item, "seqId")
            self.emit_book(
                _inst_id(item, arg),
                millis_text(item, "ts"),
                array(item, "bids"),
                array(item, "asks"),
                decimal_level,
                first_update_id=seq_id,
                update_id=seq_id,
                prev_update_id=_prev_seq_id(item),
                is_snapshot=is_snapshot,
                checksum=integer_or_zero(item, "checksum", low=I32_MIN, high=I32_MAX),
                keep_texts=True,  # the book builder verifies checksums over the venue's texts
            )

    def _bbo(self, channel: str, arg: dict, message: dict, data: list, ts_recv: int) -> None:
        for item in _items(data):
            bid = _best(array(item, "bids"))
            ask = _best(array(item, "asks"))
            self.emit(
                "quote",
                _inst_id(item, arg),
                millis_text(item, "ts"),
                bid_price=bid[0],
                bid_amount=bid[1],
                ask_price=ask[0],
                ask_amount=ask[1],
                update_id=integer_or_zero(item, "seqId"),
            )

    def _tickers(self, channel: str, arg: dict, message: dict, data: list, ts_recv: int) -> None:
        for item in _items(data):
            inst_id = _inst_id(item, arg)
            if is_spot_like(item, inst_id):
                volume, quote_volume = decimal_or_nan(item, "vol24h"), decimal_or_nan(item, "volCcy24h")
            else:  # derivatives count vol24h in contracts; volCcy24h is the base quantity
                volume, quote_volume = decimal_or_nan(item, "volCcy24h"), NAN
            self.emit(
                "ticker",
                inst_id,
                millis_text(item, "ts"),
                last_price=decimal_or_nan(item, "last"),
                last_amount=decimal_or_nan(item, "lastSz"),
                open_price=decimal_or_nan(item, "open24h"),
                high_price=decimal_or_nan(item, "high24h"),
                low_price=decimal_or_nan(item, "low24h"),
                volume=volume,
                quote_volume=quote_volume,
                price_change=NAN,
                price_change_pct=NAN,
                weighted_avg_price=NAN,
                bid_price=decimal_or_nan(item, "bidPx"),
                bid_amount=decimal_or_nan(item, "bidSz"),
                ask_price=decimal_or_nan(item, "askPx"),
                ask_amount=decimal_or_nan(item, "askSz"),
                mark_price=NAN,
                index_price=NAN,
                open_interest=NAN,
                trade_count=0,
            )

    def _candles(self, channel: str, arg: dict, message: dict, data: list, ts_recv: int) -> None:
        interval = channel[len("candle") :]
        inst_id = text(arg, "instId")
        spot_like = is_spot_like(arg, inst_id)
        for candle in data:
            # [ts, o, h, l, c, vol, volCcy, volCcyQuote, confirm]; the last two came later.
            if not isinstance(candle, list) or len(candle) < 7:
                raise ParseError(f"{channel}: expected [ts, o, h, l, c, vol, volCcy, ...], got {candle!r:.80}")
            open_time = ms_to_ns(integer_text_value(candle[0], "candle ts"))
            o, h, low, c, vol, vol_ccy = (decimal_text_value(v, "candle value") for v in candle[1:7])
            vol_ccy_quote = decimal_text_value(candle[7], "candle volCcyQuote") if len(candle) > 7 else NAN
            confirm = candle[8] if len(candle) > 8 else "0"
            if confirm not in ("0", "1"):
                raise ParseError(f"{channel}: candle 'confirm' must be '0' or '1', got {confirm!r:.20}")
            if spot_like:
                volume, quote_volume = vol, vol_ccy_quote if len(candle) > 7 else vol_ccy
            else:
                volume, quote_volume = vol_ccy, vol_ccy_quote
            self.emit(
                "kline",
                inst_id,
                ts_recv,  # a candle push carries no event time (as spot bookTicker: ts_recv)
                interval=interval,
                open_time=open_time,
                close_time=0,
                open=o,
                high=h,
                low=low,
                close=c,
                volume=volume,
                quote_volume=quote_volume,
                taker_buy_volume=NAN,
                taker_buy_quote_volume=NAN,
                trade_count=0,
                closed=1 if confirm == "1" else 0,
            )

    def _funding_rate(self, channel: str, arg: dict, message: dict, data: list, ts_recv: int) -> None:
        for item in _items(data):
            self.emit(
                "funding_rate",
                _inst_id(item, arg),
                millis_text(item, "ts") if item.get("ts") else ts_recv,
                funding_rate=decimal(item, "fundingRate"),
                predicted_rate=decimal_or_nan(item, "nextFundingRate"),
                mark_price=NAN,
                index_price=NAN,
                funding_time=millis_text(item, "fundingTime") if item.get("fundingTime") else 0,
            )

    def _open_interest(self, channel: str, arg: dict, message: dict, data: list, ts_recv: int) -> None:
        for item in _items(data):
            self.emit(
                "open_interest",
                _inst_id(item, arg),
                millis_text(item, "ts"),
                open_interest=decimal(item, "oi"),
                open_interest_value=decimal_or_nan(item, "oiUsd"),
            )

    def _liquidations(self, channel: str, arg: dict, message: dict, data: list, ts_recv: int) -> None:
        for item in _items(data):
            inst_id = _inst_id(item, arg)
            for detail in _items(array(item, "details")):
                self.emit(
                    "liquidation",
                    inst_id,
                    millis_text(detail, "ts"),
                    side=side_from_word(detail.get("side"), "buy", "sell", "liquidation 'side'"),
                    price=decimal(detail, "bkPx"),
                    amount=decimal(detail, "sz"),
                    order_id="",
                    status="",
                )

    def _no_records(self, channel: str, arg: dict, message: dict, data: list, ts_recv: int) -> None:
        """A known channel the data model has no kind for (mark-price)."""

    # ---- REST ------------------------------------------------------------------------------

    def parse_open_interest(self, body: bytes, ts_recv: int) -> str | None:
        """``GET /api/v5/public/open-interest``: ``{"code":"0","data":[{instId, oi, oiCcy, ts...}]}``."""
        reply = decode_json(body)
        if not isinstance(reply, dict):
            raise ParseError(f"open-interest body: expected a JSON object, got {type(reply).__name__}")
        if reply.get("code") != "0":
            raise ParseError(f"open-interest body is an OKX error: code {reply.get('code')}: {reply.get('msg')}")
        self._open_interest("open-interest", {}, reply, array(reply, "data"), ts_recv)
        return None


def _items(data: list) -> list[Item]:
    for item in data:
        if not isinstance(item, dict):
            raise ParseError(f"a data entry is a JSON object, got {type(item).__name__}")
    return data


def _inst_id(item: Item, arg: dict) -> str:
    return text(item, "instId") if "instId" in item else text(arg, "instId")


def _prev_seq_id(item: Item) -> int:
    """``prevSeqId`` (0 when absent; a snapshot's ``-1`` also means "none" and becomes 0)."""
    value = item.get("prevSeqId")
    if value is None or value == -1:
        return 0
    return integer_value(value, "field 'prevSeqId'")


def _best(levels: list) -> tuple[float, float]:
    if not levels:
        return NAN, NAN
    lv = decimal_level(levels[0])
    return lv.price, lv.amount
