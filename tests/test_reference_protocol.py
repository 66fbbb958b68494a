"""The reference parsers as ``Parser``s: batches, frame numbers, counters, atomicity, strictness."""

from __future__ import annotations

import logging
import math

import numpy as np
import pytest

from marketprism_fast import parser as parsers
from marketprism_fast.errors import ConfigurationError
from marketprism_fast.instruments import InstrumentRegistry
from marketprism_fast.parser import SKIP_REASONS, FrameStatus, Parser
from marketprism_fast.records import KIND_NAMES, KIND_ORDER, VENUES, kind
from marketprism_fast.parser import reference_parser as make_parser
from marketprism_fast.reference import ReferenceParser

TS = 1_618_677_372_000_000_000

DEPTH = (
    b'{"stream":"busdtry@depth@100ms","data":{"e":"depthUpdate","E":1618677372122,"s":"BUSDTRY","U":10166139,'
    b'"u":10166140,"b":[["8.13000000","1.5"]],"a":[["8.14000000","107821.20000000"],["8.15000000","0"]]}}'
)
BOOK_TICKER = b'{"stream":"swrvbusd@bookTicker","data":{"u":64830107,"s":"SWRVBUSD","b":"2.272","B":"218.408","a":"2.277","A":"1.192"}}'
AGG_TRADE = (
    b'{"stream":"swrvbusd@aggTrade","data":{"e":"aggTrade","E":1618677373912,"s":"SWRVBUSD","a":749094,'
    b'"p":"2.27600000","q":"21.96300000","f":1,"l":1,"T":1618677373912,"m":false,"M":true}}'
)
ACK = b'{"result":null,"id":1}'


@pytest.mark.parametrize("venue", VENUES)
def test_every_venue_has_a_reference_parser_meeting_the_protocol(venue: str) -> None:
    parser = make_parser(venue)
    assert isinstance(parser, Parser) and isinstance(parser, ReferenceParser)
    assert parser.venue == venue and parser.instruments.venue == venue
    chosen = parsers.make_parser(venue, implementation="reference")
    assert isinstance(chosen, ReferenceParser) and chosen.venue == venue


def test_wrong_venue_or_registry_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError):
        make_parser("kraken")
    with pytest.raises(ConfigurationError):
        make_parser("okx", InstrumentRegistry("deribit"))


def test_take_gives_one_batch_per_kind_in_contract_order_with_every_column() -> None:
    parser = make_parser("binance_spot")
    for frame in (BOOK_TICKER, AGG_TRADE, DEPTH):
        assert parser.feed(frame, TS) == FrameStatus.PARSED
    batches = parser.take()
    assert [b.kind.name for b in batches] == ["trade", "book_delta", "quote"]
    assert [KIND_ORDER[b.kind.name] for b in batches] == sorted(KIND_ORDER[b.kind.name] for b in batches)
    for batch in batches:
        assert batch.exchange == "binance_spot"
        for column in batch.kind.columns:
            values = batch.column(column.name)
            assert values.dtype == column.dtype, column.name
            assert len(values) == len(batch)
        assert batch.frame.dtype == np.uint32
        for hidden in batch.kind.hidden_text:
            assert batch.column(hidden).tolist() == [""] * len(batch)  # texts are kept for OKX only
    assert parser.take() == []


def test_frames_are_numbered_by_feed_call_whatever_their_outcome() -> None:
    parser = make_parser("binance_spot")
    outcomes = [
        parser.feed(ACK, TS),  # 0
        parser.feed(BOOK_TICKER, TS),  # 1
        parser.feed(b"{", TS),  # 2
        parser.feed_snapshot(b'{"lastUpdateId":5,"bids":[["1.0","2.0"]],"asks":[]}', TS, "SWRVBUSD"),  # 3
        parser.feed(DEPTH, TS + 1),  # 4
        parser.feed(AGG_TRADE, TS + 2),  # 5
    ]
    assert outcomes == [FrameStatus.SKIPPED, FrameStatus.PARSED, FrameStatus.MALFORMED] + [FrameStatus.PARSED] * 3
    frames = {b.kind.name: b.frame.tolist() for b in parser.take()}
    assert frames == {"trade": [5], "book_delta": [3, 4, 4, 4], "quote": [1]}
    stats = parser.stats()
    assert stats["frames"] == 6 and stats["parsed"] == 4 and stats["malformed"] == 1
    assert stats["skipped"] == {reason: int(reason == "ack") for reason in SKIP_REASONS}
    assert stats["records"] == {name: {"trade": 1, "book_delta": 4, "quote": 1}.get(name, 0) for name in KIND_NAMES}
    assert stats["test_requests"] == 0


def test_a_frame_that_fails_late_leaves_no_row_and_no_instrument() -> None:
    bad_last_level = DEPTH.replace(b'["8.15000000","0"]', b'["8.15000000","zero"]')
    parser = make_parser("binance_spot")
    assert parser.feed(bad_last_level, TS) == FrameStatus.MALFORMED
    assert parser.take() == []
    assert len(parser.instruments) == 0
    assert parser.stats()["records"]["book_delta"] == 0
    assert parser.feed(DEPTH, TS) == FrameStatus.PARSED
    assert len(parser.take()[0]) == 3


@pytest.mark.parametrize("wrap", [bytes, bytearray, memoryview, lambda b: b.decode()])
def test_frames_may_be_any_bytes_like_or_text(wrap) -> None:
    parser = make_parser("binance_spot")
    assert parser.feed(wrap(DEPTH), TS) == FrameStatus.PARSED
    assert len(parser.take()[0]) == 3


def test_malformed_frames_are_logged_with_the_reason(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="marketprism_fast"):
        make_parser("binance_spot").feed(DEPTH.replace(b'"u":10166140', b'"u":"10166140"'), TS)
    assert "malformed" in caplog.text and "'u'" in caplog.text


@pytest.mark.parametrize(
    "price_text",
    ["", " 1.5", "1.5 ", "1_000", "nan", "NaN", "inf", "0x10", "+1.5", "1.", ".5", "01.5", "1e", "--1", "١٢"],
)
def test_a_price_must_be_a_decimal_text(price_text: str) -> None:
    frame = AGG_TRADE.replace(b'"2.27600000"', ('"' + price_text + '"').encode())
    parser = make_parser("binance_spot")
    assert parser.feed(frame, TS) == FrameStatus.MALFORMED
    assert parser.take() == []


@pytest.mark.parametrize("price_text", ["0", "-0.0", "1e-7", "1E+3", "123456789012345678901234567890.5", "0.30000000000000004441"])
def test_decimal_texts_convert_exactly_as_float_does(price_text: str) -> None:
    parser = make_parser("binance_spot")
    frame = AGG_TRADE.replace(b'"2.27600000"', ('"' + price_text + '"').encode())
    assert parser.feed(frame, TS) == FrameStatus.PARSED
    (price,) = parser.take()[0].column("price").tolist()
    assert math.copysign(1, price) == math.copysign(1, float(price_text))
    assert price.hex() == float(price_text).hex()


@pytest.mark.parametrize(
    "frame",
    [
        AGG_TRADE.replace(b'"a":749094', b'"a":749094.0'),  # an id must be an integer token
        AGG_TRADE.replace(b'"a":749094', b'"a":-1'),
        AGG_TRADE.replace(b'"m":false', b'"m":0'),  # a flag must be a JSON boolean
        AGG_TRADE.replace(b'"T":1618677373912', b'"T":"1618677373912"'),
        AGG_TRADE.replace(b'"T":1618677373912', b'"T":true'),
        AGG_TRADE.replace(b'"s":"SWRVBUSD"', b'"s":""'),
        DEPTH.replace(b'["8.13000000","1.5"]', b'["8.13000000"]'),
        DEPTH.replace(b'"b":[["8.13000000","1.5"]]', b'"b":{"8.13":"1.5"}'),
        b'{"stream":"x@trade","data":"trade"}',
        b'{"stream":"x@trade"}',
        b"[1,2]",
        b"42",
        b"",
    ],
)
def test_binance_shape_errors_are_malformed(frame: bytes) -> None:
    parser = make_parser("binance_spot")
    assert parser.feed(frame, TS) == FrameStatus.MALFORMED
    assert parser.take() == []


@pytest.mark.parametrize(
    "venue,frame",
    [
        ("okx", b'{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"partial","data":[{"asks":[],"bids":[],"ts":"1"}]}'),
        ("okx", b'{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"update","data":[{"asks":[],"bids":[],"ts":"1","checksum":2147483648}]}'),
        ("okx", b'{"arg":{"channel":"trades","instId":"BTC-USDT"},"data":[{"instId":"BTC-USDT","tradeId":"1","px":"1","sz":"1","side":"BUY","ts":"1"}]}'),
        ("okx", b'{"arg":{"channel":"trades","instId":"BTC-USDT"},"data":[{"instId":"BTC-USDT","tradeId":"1","px":"1","sz":"1","side":"buy","ts":"01"}]}'),
        ("okx", b"ping"),
        ("deribit", b'{"jsonrpc":"2.0","method":"subscription","params":{"channel":"book.X.raw","data":{"type":"change","timestamp":1,"instrument_name":"X","change_id":2,"bids":[["new","1.5",2]],"asks":[]}}}'),
        ("deribit", b'{"jsonrpc":"2.0","method":"subscription","params":{"channel":"book.X.raw","data":{"type":"change","timestamp":1,"instrument_name":"X","change_id":2,"bids":[["add",1.5,2]],"asks":[]}}}'),
        ("deribit", b'{"jsonrpc":"2.0","method":"subscription","params":{"channel":"quote.X","data":{"timestamp":1,"instrument_name":"X","best_bid_price":true}}}'),
        ("deribit", b'{"jsonrpc":"2.0","method":"subscription","params":{"channel":"trades.X.raw","data":[{"trade_id":"1","timestamp":1,"price":1,"amount":1,"instrument_name":"X","direction":"buy","liquidation":"X"}]}}'),
        ("deribit", b'{"jsonrpc":"2.0","method":"subscription","params":{"channel":"ticker.X.raw"}}'),
        ("deribit", b'{"jsonrpc":"2.0"}'),
    ],
)
def test_okx_and_deribit_shape_errors_are_malformed(venue: str, frame: bytes) -> None:
    parser = make_parser(venue)
    assert parser.feed(frame, TS) == FrameStatus.MALFORMED
    assert parser.take() == []


@pytest.mark.parametrize("venue", ["okx", "deribit"])
def test_rest_bodies_a_venue_does_not_have_are_malformed_not_raised(venue: str) -> None:
    parser = make_parser(venue)
    assert parser.feed_snapshot(b'{"lastUpdateId":1,"bids":[],"asks":[]}', TS, "X") == FrameStatus.MALFORMED
    if venue == "deribit":
        assert parser.feed_open_interest(b'{"openInterest":"1","symbol":"X","time":1}', TS) == FrameStatus.MALFORMED
    assert parser.stats()["malformed"] == (1 if venue == "okx" else 2)


def test_json_number_tokens_keep_their_sign_even_for_integer_minus_zero() -> None:
    frame = (
        b'{"jsonrpc":"2.0","method":"subscription","params":{"channel":"quote.BTC-PERPETUAL","data":{"timestamp":1,'
        b'"instrument_name":"BTC-PERPETUAL","best_bid_price":-0,"best_bid_amount":0,"best_ask_price":-0.0,"best_ask_amount":7}}}'
    )
    parser = make_parser("deribit")
    assert parser.feed(frame, TS) == FrameStatus.PARSED
    (row,) = parser.take()[0].rows()
    assert [row[c].hex() for c in ("bid_price", "bid_amount", "ask_price", "ask_amount")] == [
        float(t).hex() for t in ("-0", "0", "-0.0", "7")
    ]


EMPTY_BOOK_MESSAGES = [
    ("okx", b'{"arg":{"channel":"books-l2-tbt","instId":"ZEN-USDT"},"action":"update","data":[{"asks":[],"bids":[],"ts":"1646003673584","checksum":-1809394259}]}',
     {"ts_event": 1646003673584000000, "is_snapshot": 0, "checksum": -1809394259, "update_id": 0}),
    ("deribit", b'{"jsonrpc":"2.0","method":"subscription","params":{"channel":"book.ETH-27AUG21-4000-P.raw","data":{"type":"snapshot","timestamp":1626993723632,"instrument_name":"ETH-27AUG21-4000-P","change_id":13167318455,"bids":[],"asks":[]}}}',
     {"ts_event": 1626993723632000000, "is_snapshot": 1, "checksum": 0, "update_id": 13167318455}),
    ("binance_usdm", b'{"e":"depthUpdate","E":1,"T":1,"s":"BTCUSDT","U":7,"u":9,"pu":6,"b":[],"a":[]}',
     {"ts_event": 1000000, "is_snapshot": 0, "checksum": 0, "update_id": 9}),
]


@pytest.mark.parametrize("venue,frame,message", EMPTY_BOOK_MESSAGES)
def test_a_book_message_without_levels_gives_a_marker_row_only_when_asked(venue: str, frame: bytes, message: dict) -> None:
    plain = make_parser(venue)
    assert plain.feed(frame, TS) == FrameStatus.PARSED
    assert plain.take() == []
    with_markers = make_parser(venue, book_markers=True)
    assert with_markers.feed(frame, TS) == FrameStatus.PARSED
    (batch,) = with_markers.take()
    (row,) = batch.rows()
    assert row["side"] == 0 and math.isnan(row["price"]) and math.isnan(row["amount"])
    assert {k: row[k] for k in message} == message and row["ts_recv"] == TS
    assert with_markers.stats()["records"]["book_delta"] == 0  # a marker is not a record


def test_markers_leave_messages_with_levels_alone() -> None:
    parser = make_parser("binance_spot", book_markers=True)
    assert parser.feed(DEPTH, TS) == FrameStatus.PARSED
    assert parser.take()[0].column("side").tolist() == [1, -1, -1]
