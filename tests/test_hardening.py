"""Hostile input: the input limits (``limits.py``) enforced identically by the compiled and
the reference parser, ``feed*`` never raising for any frame, bounded memory (instruments,
books, rows per frame), and values no venue sends (non-finite, negative) refused.

Every input is fed to both parsers (``assert_same_as_reference``: same status per frame,
same stats, same records); the expected verdict is asserted on top of that.
"""

from __future__ import annotations

import logging

import numpy as np
import pytest

from marketprism_fast._book import DeltaRows, LevelBook
from marketprism_fast.books.builder import BookBuilder
from marketprism_fast.errors import ConfigurationError, LimitExceeded
from marketprism_fast.instruments import InstrumentRegistry
from marketprism_fast.limits import MAX_DECIMAL_CHARS, MAX_DEPTH, MAX_TEXT_BYTES, InputLimits, limit_reason
from marketprism_fast.parser import FrameStatus, compiled_available, make_parser
from tests.test_compiled_okx import assert_same_as_reference, replay

pytestmark = pytest.mark.skipif(not compiled_available(), reason="the compiled core is not built")

TS = 1_650_000_000_000_000_000
IMPLEMENTATIONS = ("compiled", "reference")
PARSED, SKIPPED, MALFORMED = int(FrameStatus.PARSED), int(FrameStatus.SKIPPED), int(FrameStatus.MALFORMED)


def binance_trade(price: bytes = b'"0.001"', amount: bytes = b'"100"', symbol: bytes = b'"BNBBTC"') -> bytes:
    return (
        b'{"e":"trade","E":1672515782136,"s":' + symbol + b',"t":12345,"p":' + price + b',"q":' + amount
        + b',"T":1672515782136,"m":true,"M":true}'
    )


def binance_depth(bids: bytes = b'[["0.0024","10"]]') -> bytes:
    return (
        b'{"e":"depthUpdate","E":1672515782136,"T":1672515782130,"s":"BTCUSDT","U":157,"u":160,"pu":149,'
        b'"b":' + bids + b',"a":[["0.0026","100"]]}'
    )


def okx_trade(px: bytes = b'"42219.9"', sz: bytes = b'"0.12060306"', inst: bytes = b'"BTC-USDT"') -> bytes:
    return (
        b'{"arg":{"channel":"trades","instId":"BTC-USDT"},"data":[{"instId":' + inst + b','
        b'"tradeId":"130639474","px":' + px + b',"sz":' + sz + b',"side":"buy","ts":"1630048897897"}]}'
    )


def deribit(channel: bytes, data: bytes) -> bytes:
    return b'{"jsonrpc":"2.0","method":"subscription","params":{"channel":"' + channel + b'","data":' + data + b"}}"


def deribit_trade(price: bytes = b"36514.5", amount: bytes = b"2500.0", name: bytes = b'"BTC-PERPETUAL"') -> bytes:
    return deribit(
        b"trades.BTC-PERPETUAL.100ms",
        b'[{"trade_seq":1,"trade_id":"283151421","timestamp":1700000015102,"price":' + price
        + b',"instrument_name":' + name + b',"direction":"sell","amount":' + amount + b"}]",
    )


BINANCE_SNAPSHOT = b'{"lastUpdateId":1027024,"bids":[["4.00000000","431.00000000"]],"asks":[["4.00000200","12.00000000"]]}'
BINANCE_OPEN_INTEREST = b'{"openInterest":"10659.509","symbol":"BTCUSDT","time":1589437530011}'
OKX_OPEN_INTEREST = (
    b'{"code":"0","msg":"","data":[{"instType":"SWAP","instId":"BTC-USDT-SWAP","oi":"5000","oiCcy":"555.55",'
    b'"oiUsd":"50000","ts":"1597026383085"}]}'
)


def verdicts(venue: str, frames: list, **kw) -> list[int]:
    """Both parsers agree on every frame (statuses, stats, records); the statuses."""
    assert_same_as_reference(venue, frames, [TS] * len(frames), **kw)
    parser = make_parser(venue, implementation="compiled")
    return [int(parser.feed(f, TS)) for f in frames]


def long_decimal(chars: int) -> bytes:
    return b'"1.' + b"0" * (chars - 2) + b'"'


def escaped_text(decoded_bytes: int) -> bytes:
    """A JSON string of ``decoded_bytes`` bytes once unescaped, its first character escaped."""
    return b'"\\u0041' + b"B" * (decoded_bytes - 1) + b'"'


# ---- item 1: the five disagreements --------------------------------------------------------------


@pytest.mark.parametrize(
    "venue, make",
    [
        ("binance_spot", lambda d: binance_trade(price=d)),
        ("binance_usdm", lambda d: binance_depth(b"[[" + d + b',"1"]]')),
        ("okx", lambda d: okx_trade(px=d)),
    ],
    ids=["binance-trade", "binance-depth", "okx-trade"],
)
def test_decimal_text_length_limit_is_the_same_in_both_parsers(venue, make) -> None:
    at_limit, past_limit = long_decimal(MAX_DECIMAL_CHARS), long_decimal(MAX_DECIMAL_CHARS + 1)
    assert verdicts(venue, [make(at_limit), make(past_limit)]) == [PARSED, MALFORMED]
    # escaped, the limit counts the unescaped characters
    escaped = b'"\\u0031' + at_limit[2:]  # "1" written as \u0031: 405 bytes, 400 characters
    assert verdicts(venue, [make(escaped)]) == [PARSED]


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
def test_decimal_text_limit_in_rest_bodies(impl: str) -> None:
    big = long_decimal(MAX_DECIMAL_CHARS + 1)
    parser = make_parser("binance_usdm", implementation=impl)
    assert parser.feed_snapshot(BINANCE_SNAPSHOT, TS, "BTCUSDT") == PARSED
    assert parser.feed_snapshot(BINANCE_SNAPSHOT.replace(b'"431.00000000"', big), TS, "BTCUSDT") == MALFORMED
    assert parser.feed_open_interest(BINANCE_OPEN_INTEREST, TS) == PARSED
    assert parser.feed_open_interest(BINANCE_OPEN_INTEREST.replace(b'"10659.509"', big), TS) == MALFORMED
    okx = make_parser("okx", implementation=impl)
    assert okx.feed_open_interest(OKX_OPEN_INTEREST, TS) == PARSED
    assert okx.feed_open_interest(OKX_OPEN_INTEREST.replace(b'"5000"', big), TS) == MALFORMED
    assert parser.stats()["limits"]["max_decimal_chars"] == 2
    assert okx.stats()["limits"]["max_decimal_chars"] == 1


@pytest.mark.parametrize(
    "venue, make",
    [
        ("binance_spot", lambda s: binance_trade(symbol=s)),
        ("okx", lambda s: okx_trade(inst=s)),
        ("deribit", lambda s: deribit_trade(name=s)),
    ],
)
def test_escaped_instrument_names_follow_the_text_limit_in_both_parsers(venue, make) -> None:
    frames = [make(escaped_text(300)), make(escaped_text(MAX_TEXT_BYTES)), make(escaped_text(MAX_TEXT_BYTES + 1))]
    assert verdicts(venue, frames) == [PARSED, PARSED, MALFORMED]
    plain = make(b'"' + b"C" * (MAX_TEXT_BYTES + 1) + b'"')
    assert verdicts(venue, [plain]) == [MALFORMED]


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
def test_open_interest_symbol_follows_the_text_limit(impl: str) -> None:
    parser = make_parser("binance_usdm", implementation=impl)
    for size, want in ((300, PARSED), (MAX_TEXT_BYTES + 1, MALFORMED)):
        body = BINANCE_OPEN_INTEREST.replace(b'"BTCUSDT"', escaped_text(size))
        assert parser.feed_open_interest(body, TS) == want


def test_long_escaped_texts_that_are_only_compared_have_no_limit() -> None:
    """A channel name is compared with the venue's words, never stored: any length."""
    okx = [
        b'{"arg":{"channel":"' + b"\\u0041" * 90 + b'","instId":"BTC-USDT"},"data":[]}',
        b'{"arg":{"channel":"' + b"\\u0041" * 700 + b'","instId":"BTC-USDT"},"data":[]}',
        okx_trade().replace(b'"channel":"trades"', b'"channel":"\\u0074rades"'),
    ]
    assert verdicts("okx", okx) == [SKIPPED, SKIPPED, PARSED]
    long_channel = b"trades.BTC-PERPETUAL." + b"\\u0041" * 700
    frames = [deribit(long_channel, deribit_trade()[deribit_trade().index(b'"data":') + 7 : -2])]
    assert verdicts("deribit", frames) == [PARSED]


@pytest.mark.parametrize("venue", ["binance_spot", "okx", "deribit"])
def test_nesting_depth_limit_is_the_same_in_both_parsers(venue: str) -> None:
    def nested(depth: int) -> bytes:  # the frame's own object is level 1
        inner = b"[" * (depth - 1) + b"]" * (depth - 1)
        if venue == "okx":
            return okx_trade().replace(b'"side":"buy"', b'"side":"buy","x":' + inner)
        if venue == "deribit":
            return deribit_trade().replace(b'"direction"', b'"x":' + inner[2:-2] + b',"direction"')
        return binance_trade().replace(b'"M":true', b'"M":true,"x":' + inner)

    # OKX and Deribit items sit 3 levels down: the nested member adds to that
    frames = [nested(d) for d in (20, MAX_DEPTH - 3, MAX_DEPTH - 2, MAX_DEPTH, MAX_DEPTH + 1, 1000, 1100)]
    statuses = verdicts(venue, frames)
    assert statuses[0] == PARSED and statuses[-2:] == [MALFORMED, MALFORMED]
    # exactly at the limit parses, one past it is malformed (measured on the whole frame)
    depths = [_depth(f) for f in frames]
    assert [s == PARSED for s in statuses] == [d <= MAX_DEPTH for d in depths]


def _depth(frame: bytes) -> int:
    depth = deepest = 0
    in_string = False
    escaped = False
    for ch in frame:
        if in_string:
            if escaped:
                escaped = False
            elif ch == 0x5C:
                escaped = True
            elif ch == 0x22:
                in_string = False
        elif ch == 0x22:
            in_string = True
        elif ch in b"[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in b"]}":
            depth -= 1
    return deepest


def test_depth_limit_names_itself_in_the_log(caplog) -> None:
    frame = binance_trade().replace(b'"M":true', b'"M":true,"x":' + b"[" * 80 + b"]" * 80)
    with caplog.at_level(logging.WARNING, logger="marketprism_fast"):
        for impl in IMPLEMENTATIONS:
            parser = make_parser("binance_spot", implementation=impl)
            assert parser.feed(frame, TS) == MALFORMED
            assert parser.stats()["limits"]["max_depth"] == 1
    lines = [r.getMessage() for r in caplog.records if "malformed" in r.getMessage()]
    assert len(lines) == 2 and all(limit_reason("max_depth", MAX_DEPTH) in line for line in lines)


def test_deribit_empty_channel_is_malformed_in_both_parsers() -> None:
    frame = b'{"jsonrpc":"2.0","method":"subscription","params":{"channel":"","data":{}}}'
    assert verdicts("deribit", [frame]) == [MALFORMED]


# ---- item 2: feed never raises -------------------------------------------------------------------


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
@pytest.mark.parametrize("venue", ["binance_spot", "okx", "deribit"])
def test_feed_never_raises_for_any_frame(impl: str, venue: str, caplog) -> None:
    parser = make_parser(venue, implementation=impl)
    odd = ['{"a":"\ud800"}', memoryview(b'{"a":1}')[::2], None, 123, 1.5, [b"{}"], object(), bytearray(b"{"), "\udcff"]
    with caplog.at_level(logging.WARNING, logger="marketprism_fast"):
        assert [parser.feed(f, TS) for f in odd] == [MALFORMED] * len(odd)
        assert parser.feed_snapshot("\ud800", TS, "BTCUSDT") == MALFORMED
        assert parser.feed_snapshot(None, TS, "BTCUSDT") == MALFORMED
        assert parser.feed_open_interest("\ud800", TS) == MALFORMED
        assert parser.feed_open_interest(42, TS) == MALFORMED
    assert parser.stats()["malformed"] == len(odd) + 4
    assert parser.stats()["frames"] == len(odd) + 4
    reasons = " ".join(r.getMessage() for r in caplog.records)
    assert "not a frame: expected bytes-like or str, got NoneType" in reasons
    assert "lone surrogate" in reasons


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
def test_strided_memoryview_is_read_as_its_bytes(impl: str) -> None:
    frame = binance_trade()
    spaced = bytes(b for c in frame for b in (c, 0x20))  # every other byte a space
    parser = make_parser("binance_spot", implementation=impl)
    assert parser.feed(memoryview(spaced)[::2], TS) == PARSED
    assert parser.feed(bytearray(frame), TS) == PARSED
    assert parser.feed(frame.decode(), TS) == PARSED


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
def test_ts_recv_of_the_wrong_type_is_a_type_error_in_both(impl: str) -> None:
    parser = make_parser("binance_spot", implementation=impl)
    for bad in (None, "1", 1.5):
        with pytest.raises(TypeError):
            parser.feed(binance_trade(), bad)
    with pytest.raises(OverflowError):
        parser.feed(binance_trade(), 2**63)
    with pytest.raises(TypeError):
        parser.feed_snapshot(BINANCE_SNAPSHOT, TS, None)
    assert parser.feed(binance_trade(), TS) == PARSED


# ---- item 3: memory bounds -----------------------------------------------------------------------


def test_frame_size_limit(caplog) -> None:
    limits = InputLimits(max_frame_bytes=300)
    small, big = binance_trade(), binance_trade().replace(b'"M":true', b'"M":true,"pad":"' + b"x" * 300 + b'"')
    for impl in IMPLEMENTATIONS:
        parser = make_parser("binance_spot", implementation=impl, limits=limits)
        with caplog.at_level(logging.WARNING, logger="marketprism_fast"):
            assert [parser.feed(small, TS), parser.feed(big, TS)] == [PARSED, MALFORMED]
            assert parser.feed_snapshot(BINANCE_SNAPSHOT + b" " * 300, TS, "BNBBTC") == MALFORMED
        assert parser.stats()["limits"]["max_frame_bytes"] == 2
    assert sum(limit_reason("max_frame_bytes", 300) in r.getMessage() for r in caplog.records) == 4


def test_rows_per_frame_limit() -> None:
    limits = InputLimits(max_rows_per_frame=4)
    levels = lambda n: b"[" + b",".join(b'["%d","1"]' % (i + 1) for i in range(n)) + b"]"  # noqa: E731
    frames = [binance_depth(levels(3)), binance_depth(levels(4)), binance_depth(levels(40))]
    for impl in IMPLEMENTATIONS:
        parser = make_parser("binance_usdm", implementation=impl, limits=limits)
        # each frame has one ask besides its bids
        assert [parser.feed(f, TS) for f in frames] == [PARSED, MALFORMED, MALFORMED]
        assert parser.stats()["limits"]["max_rows_per_frame"] == 2
        (deltas,) = parser.take()
        assert len(deltas) == 4
    okx_many = okx_trade().replace(b"}]}", b"}" + b',{"instId":"BTC-USDT","tradeId":"1","px":"1","sz":"1","side":"buy","ts":"1"}' * 4 + b"]}")
    for impl in IMPLEMENTATIONS:
        parser = make_parser("okx", implementation=impl, limits=limits)
        assert parser.feed(okx_many, TS) == MALFORMED
        assert parser.take() == []
    # the default allows any real message
    assert verdicts("binance_usdm", [binance_depth(levels(5000))]) == [PARSED]


def test_instrument_limit_refuses_with_a_counter_and_a_log_line(caplog) -> None:
    frames = [binance_trade(symbol=b'"AAA"'), binance_trade(symbol=b'"BBB"'), binance_trade(symbol=b'"CCC"'),
              binance_trade(symbol=b'"AAA"')]
    for impl in IMPLEMENTATIONS:
        registry = InstrumentRegistry("binance_spot", max_instruments=2)
        parser = make_parser("binance_spot", registry, implementation=impl)
        with caplog.at_level(logging.WARNING, logger="marketprism_fast"):
            assert [parser.feed(f, TS) for f in frames] == [PARSED, PARSED, MALFORMED, PARSED]
        assert registry.refused == 1 and len(registry) == 2 and registry.code_of("CCC") is None
        assert parser.stats()["limits"]["max_instruments"] == 1
    lines = [r.getMessage() for r in caplog.records if "max_instruments=2 reached" in r.getMessage()]
    assert len(lines) == 2 and "'CCC'" in lines[0]


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
def test_a_failed_frame_leaves_no_instrument_behind(impl: str) -> None:
    registry = InstrumentRegistry("okx", max_instruments=2)
    parser = make_parser("okx", registry, implementation=impl)
    bad = okx_trade(inst=b'"XXX-USDT"').replace(b'"side":"buy"', b'"side":"up"')
    assert parser.feed(bad, TS) == MALFORMED
    assert len(registry) == 0
    assert parser.feed(okx_trade(inst=b'"ETH-USDT"'), TS) == PARSED
    assert parser.feed(okx_trade(inst=b'"BTC-USDT"'), TS) == PARSED
    assert registry.refused == 0


def test_instrument_limit_verdicts_agree_on_a_stream() -> None:
    """Many new symbols, some in frames that fail: the two parsers refuse the same frames."""
    frames = []
    for i in range(60):
        frame = okx_trade(inst=b'"S%d-USDT"' % i)
        frames.append(frame.replace(b'"side":"buy"', b'"side":"no"') if i % 3 == 0 else frame)
    statuses = {}
    for impl in IMPLEMENTATIONS:
        parser = make_parser("okx", InstrumentRegistry("okx", max_instruments=25), implementation=impl)
        statuses[impl], _ = replay(parser, frames, [TS] * len(frames))
        assert parser.instruments.refused == 60 - 20 - 25
    assert statuses["compiled"] == statuses["reference"]


def test_registry_limit_setting_is_checked() -> None:
    with pytest.raises(ConfigurationError):
        InstrumentRegistry("okx", max_instruments=0)
    with pytest.raises(ConfigurationError):
        InputLimits(max_frame_bytes=0)
    registry = InstrumentRegistry("okx", max_instruments=1)
    registry.intern("BTC-USDT")
    with pytest.raises(LimitExceeded) as info:
        registry.intern("ETH-USDT")
    assert info.value.limit == "max_instruments" and info.value.value == 1


def test_book_builder_caps_the_number_of_books(caplog) -> None:
    parser = make_parser("binance_usdm", implementation="compiled", book_markers=True)
    for i in range(5):
        parser.feed(binance_depth().replace(b'"BTCUSDT"', b'"SYM%d"' % i), TS)
    (deltas,) = parser.take()
    builder = BookBuilder("binance_usdm", parser.instruments, max_books=3)
    with caplog.at_level(logging.WARNING, logger="marketprism_fast"):
        builder.apply(deltas)
    assert builder.stats()["symbols"] == 3
    assert builder.stats()["books_refused"] == 2
    assert any("max_books=3 reached" in r.getMessage() for r in caplog.records)


# ---- item 4: values no venue sends ----------------------------------------------------------------


@pytest.mark.parametrize(
    "venue, frame",
    [
        ("binance_spot", binance_trade(price=b'"1e309"')),
        ("binance_spot", binance_trade(amount=b'"-1e309"')),
        ("binance_spot", binance_trade(price=b'"-0.5"')),
        ("binance_spot", binance_trade(amount=b'"-1"')),
        ("binance_usdm", binance_depth(b'[["1e400","1"]]')),
        ("binance_usdm", binance_depth(b'[["-1","1"]]')),
        ("binance_usdm", binance_depth(b'[["1","-0.1"]]')),
        ("binance_spot", b'{"u":1,"s":"BNBUSDT","b":"-25.3","B":"31.2","a":"25.3","A":"40.6"}'),
        ("binance_spot", b'{"u":1,"s":"BNBUSDT","b":"25.3","B":"1e999","a":"25.3","A":"40.6"}'),
        ("okx", okx_trade(px=b'"1e309"')),
        ("okx", okx_trade(px=b'"-42219.9"')),
        ("okx", okx_trade(sz=b'"-1"')),
        ("deribit", deribit_trade(amount=b"-2500.0")),
    ],
)
def test_non_finite_and_negative_values_are_malformed_in_both_parsers(venue: str, frame: bytes) -> None:
    assert verdicts(venue, [frame]) == [MALFORMED]


def test_values_the_venue_may_send_negative_still_parse() -> None:
    # Deribit combo instruments trade below zero; a funding rate and a price change may be negative
    assert verdicts("deribit", [deribit_trade(price=b"-12.5")]) == [PARSED]
    mark = (
        b'{"e":"markPriceUpdate","E":1562305380000,"s":"BTCUSDT","p":"11794.15","P":"11784.6",'
        b'"i":"11784.2","r":"-0.00038167","T":1562306400000}'
    )
    assert verdicts("binance_usdm", [mark, binance_trade(price=b'"-0"'), binance_trade(amount=b'"0"')]) == [PARSED] * 3


def test_level_book_apply_refuses_non_finite_rows_itself() -> None:
    good = DeltaRows(np.array([1, -1], np.int8), [10.0, 11.0], [1.0, 2.0])
    book = LevelBook()
    book.apply(good, 0, 2)
    for price, amount in ((float("nan"), 1.0), (float("inf"), 1.0), (9.0, float("nan")), (9.0, -1.0)):
        rows = DeltaRows(np.array([1, 1], np.int8), [9.5, price], [3.0, amount])
        with pytest.raises(ValueError, match="row 1"):
            book.apply(rows, 0, 2)
        assert book.best() == (10.0, 1.0, 11.0, 2.0)  # nothing applied, not even row 0
    marker = DeltaRows(np.array([0], np.int8), [float("nan")], [float("nan")])
    assert book.apply(marker, 0, 1) == 0
