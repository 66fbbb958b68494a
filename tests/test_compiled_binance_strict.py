"""The compiled Binance parser against the reference parser on what the corpus does not hold:
unusual but valid JSON, values of the wrong type, invalid JSON, and random damage to real
frames. Verdicts (parsed / skipped / malformed), stats and records must be the reference's.

Shapes follow Binance's WebSocket market-stream documentation (spot, USD-M and COIN-M
futures): raw ``{"e":...}`` events, combined ``{"stream":..,"data":..}`` frames, the
``!markPrice@arr`` event arrays, and the ``{"result":null,"id":1}`` acknowledgements.
Corpus parity (every recorded frame) is in test_compiled_binance.py.
"""

from __future__ import annotations

import pytest

from tests.test_compiled_okx import TS, CompiledParity, assert_same_as_reference
from tests.test_compiled_okx import pytest_generate_tests  # noqa: F401  (parametrizes)

TRADE = (
    b'{"e":"trade","E":1672515782136,"s":"BNBBTC","t":12345,"p":"0.001","q":"100","T":1672515782136,'
    b'"m":true,"M":true}'
)
AGG_TRADE = (
    b'{"e":"aggTrade","E":1672515782136,"s":"BNBBTC","a":12345,"p":"0.001","q":"100","f":100,"l":105,'
    b'"T":1672515782136,"m":true,"M":true}'
)
SPOT_BOOK_TICKER = b'{"u":400900217,"s":"BNBUSDT","b":"25.35190000","B":"31.21000000","a":"25.36520000","A":"40.66000000"}'
DEPTH = (
    b'{"e":"depthUpdate","E":1672515782136,"T":1672515782130,"s":"BTCUSDT","U":157,"u":160,"pu":149,'
    b'"b":[["0.0024","10"]],"a":[["0.0026","100"]]}'
)
KLINE = (
    b'{"e":"kline","E":1672515782136,"s":"BNBBTC","k":{"t":1672515780000,"T":1672515839999,"s":"BNBBTC",'
    b'"i":"1m","f":100,"L":200,"o":"0.0010","c":"0.0020","h":"0.0025","l":"0.0015","v":"1000","n":100,'
    b'"x":false,"q":"1.0000","V":"500","Q":"0.500","B":"123456"}}'
)
MARK_PRICE = (
    b'{"e":"markPriceUpdate","E":1562305380000,"s":"BTCUSDT","p":"11794.15000000","P":"11784.62659091",'
    b'"i":"11784.25641265","r":"0.00038167","T":1562306400000}'
)
# COIN-M's bookTicker: "e" after "u", and members of longer names ("ps"), which the one-pass
# reader skips as letter() ignores them
COINM_BOOK_TICKER = (
    b'{"u":167006084895,"e":"bookTicker","s":"BCHUSD_PERP","ps":"BCHUSD","b":"427.84","B":"24",'
    b'"a":"427.90","A":"669","T":1626916403864,"E":1626916403871}'
)
FORCE_ORDER = (
    b'{"e":"forceOrder","E":1568014460893,"o":{"s":"BTCUSDT","S":"SELL","o":"LIMIT","f":"IOC","q":"0.014",'
    b'"p":"9910","ap":"9910","X":"FILLED","l":"0.014","z":"0.014","T":1568014460893}}'
)


def combined(stream: bytes, data: bytes) -> bytes:
    return b'{"stream":"' + stream + b'","data":' + data + b"}"


def with_field(event: bytes, member: bytes) -> bytes:
    """The event with one more member at its end (a later duplicate key wins)."""
    return event[:-1] + b"," + member + b"}"


VALID = (
    TRADE,
    AGG_TRADE,
    SPOT_BOOK_TICKER,
    DEPTH,
    KLINE,
    MARK_PRICE,
    FORCE_ORDER,
    combined(b"bnbbtc@trade", TRADE),
    # keys in another order, whitespace, unknown members holding containers
    b'{ "data" : {"q":"100", "x":[1,{"y":null}], "p":"0.001","T":1,"t":7,"s":"BNBBTC","m":false,"e":"trade"},'
    b' "stream" : "bnbbtc@trade" }',
    # an escaped symbol and event type
    b'{"e":"tr\\u0061de","E":1,"s":"BNB\\u0042TC","t":1,"p":"1","q":"2","T":1,"m":false}',
    with_field(TRADE, b'"p":"0.002"'),  # the last of equal keys counts, as a decoded object keeps
    # a level with elements past the amount, a container among them
    DEPTH.replace(b'[["0.0024","10"]]', b'[["0.0024","10",{"x":[]}],["0.0023","0",7]]'),
    DEPTH.replace(b'"pu":149', b'"pu":-1'),  # the first event after a reset
    DEPTH.replace(b'"b":[["0.0024","10"]],"a":[["0.0026","100"]]', b'"b":[],"a":[]'),
    KLINE.replace(b',"q":"1.0000","V":"500","Q":"0.500"', b""),  # the optional volumes absent
    MARK_PRICE.replace(b'"r":"0.00038167","T":1562306400000', b'"r":""'),  # delivery contracts
    FORCE_ORDER.replace(b'"X":"FILLED",', b""),
    combined(b"!markPrice@arr", b"[" + MARK_PRICE + b"," + MARK_PRICE.replace(b"BTCUSDT", b"ETHUSDT") + b"]"),
    b"[" + MARK_PRICE + b"]",
    b"[]",
    with_field(SPOT_BOOK_TICKER, b'"e":null'),  # a null type is no type
    b'{"result":null,"id":1}',
    b'{"error":{"code":2,"msg":"Invalid request: unknown variant"},"id":3}',
    combined(b"btcusdt@depth5", b'{"lastUpdateId":160,"bids":[["0.0024","10"]],"asks":[]}'),  # not read
    b'{"e":"outboundAccountPosition","E":1}',
    b'{"e":5,"s":"X"}',
    b'{"u":1,"s":"BNBUSDT","b":"1"}',  # a partial spot bookTicker is not one
    combined(b"x", b"[" + b'{"e":"x"},' * 2 + b'{"e":"y"}]'),
    # the compact single-record shapes, the way the one-pass readers take them
    TRADE.replace(b',"M":true', b"").replace(b'"m":true', b'"m":false'),  # m last
    combined(b"bnbbtc@aggTrade", AGG_TRADE),
    combined(b"bnbusdt@bookTicker", SPOT_BOOK_TICKER),
    b'{"e":"bookTicker","u":400900217,"s":"BNBUSDT","b":"25.35190000","B":"31.21000000","a":"25.36520000",'
    b'"A":"40.66000000","T":1568014460891,"E":1568014460893}',
    b'{"A":"40.66","a":"25.3","B":"31.2","b":"25.1","s":"BNBUSDT","u":400900217,"x":null}',  # spot, any order
    with_field(TRADE, b'"p":"0.002","q":"-0"'),
    with_field(TRADE, b'"t":18446744073709551615'),  # 20 digits: still an id
    TRADE.replace(b'"p":"0.001"', b'"p":"123456789012345678901.5"'),  # beyond the exact fast path
    COINM_BOOK_TICKER,
    combined(b"bchusd_perp@bookTicker", COINM_BOOK_TICKER),
    COINM_BOOK_TICKER.replace(b'"ps":"BCHUSD"', b'"ps":[1,{"x":2}]'),  # a container: the general path
    COINM_BOOK_TICKER.replace(b'"ps":"BCHUSD"', b'"ps":1.5e3,"pss":null'),
    COINM_BOOK_TICKER.replace(b'"e":"bookTicker",', b""),  # spot-like: no type, an event time
    with_field(COINM_BOOK_TICKER, b'"e":"bookTicker"'),  # the type twice
    with_field(AGG_TRADE, b'"ps":"BNB"'),
    with_field(TRADE, b'"ee":"aggTrade"'),
    # depthUpdate: the one-pass reader (depth_fast), and what it leaves to the general path
    combined(b"btcusdt@depth@100ms", DEPTH),
    DEPTH.replace(b'"pu":149', b'"pu":-1'),
    DEPTH.replace(b'"pu":149,', b""),  # spot sends none
    DEPTH.replace(b'"pu":149', b'"pu":null'),
    DEPTH.replace(b'"pu":149', b'"pux":-5,"xpu":[1],"ps":"BTC"'),
    DEPTH.replace(b'"U":157', b'"U":15700000000000000000'),  # 20 digits
    DEPTH.replace(b'[["0.0024","10"]]', b'[["0.0024","10",{"x":1}],["0.0023","1e1"]]'),
    DEPTH.replace(b'[["0.0024","10"]]', b"[]").replace(b'[["0.0026","100"]]', b"[ ]"),
    with_field(DEPTH, b'"b":[["1","2"]]'),  # the last of equal keys is read
    with_field(DEPTH, b'"pu":7'),
    with_field(DEPTH, b'"e":"depthUpdate"'),  # the type twice
)

INVALID = (
    TRADE.replace(b'"p":"0.001"', b'"p":0.001'),  # a decimal is sent as text
    TRADE.replace(b'"p":"0.001"', b'"p":""'),
    TRADE.replace(b'"t":12345', b'"t":"12345"'),  # an id is an integer
    TRADE.replace(b'"t":12345', b'"t":-1'),
    TRADE.replace(b'"T":1672515782136', b'"T":1.5'),
    TRADE.replace(b',"m":true', b""),  # buyer-is-maker is required
    TRADE.replace(b'"m":true', b'"m":1'),
    TRADE.replace(b'"s":"BNBBTC"', b'"s":""'),
    TRADE.replace(b'"M":true', b'"M":1e400'),  # beyond the double range, even unread
    TRADE.replace(b'"BNBBTC"', b'"BNB\x01BTC"'),  # a control character in a string
    TRADE.replace(b'"BNBBTC"', b'"BNB\xffBTC"'),  # not UTF-8
    TRADE.replace(b'"e":"trade"', b'"e":["trade"]'),
    DEPTH.replace(b'[["0.0024","10"]]', b'[["0.0024"]]'),  # a level is [price, amount, ...]
    DEPTH.replace(b'[["0.0024","10"]]', b'["0.0024","10"]'),
    DEPTH.replace(b'"pu":149', b'"pu":-2'),
    DEPTH.replace(b'[["0.0024","10"]]', b'[["0.0024","10",]]'),
    with_field(SPOT_BOOK_TICKER, b'"E":null'),
    KLINE.replace(b'"x":false,', b""),
    MARK_PRICE.replace(b'"p":"11794.15000000"', b'"p":""'),
    FORCE_ORDER.replace(b'"S":"SELL"', b'"S":"sell"'),
    FORCE_ORDER.replace(b'"X":"FILLED"', b'"X":1'),
    b'{"stream":"bnbbtc@trade"}',
    b'{"stream":7,"data":' + TRADE + b"}",
    combined(b"bnbbtc@trade", b"7"),
    combined(b"x", b"[" + TRADE + b',{"e":"y"}]'),  # known and unknown events mixed
    b"[7]",
    b"7",
    b"",
    with_field(TRADE, b'"p":"0.002","p":"x"'),  # the last of equal keys is read
    with_field(TRADE, b'"""":1'),
    with_field(TRADE, b'"T":9223372036855'),  # beyond the int64 nanosecond range
    with_field(TRADE, b'"e":"aggTrade"'),  # now an aggTrade without its id
    with_field(SPOT_BOOK_TICKER, b'"u":1.5'),
    TRADE.replace(b'"m":true,"M":true}', b'"m":true}x'),
    with_field(COINM_BOOK_TICKER, b'"e":"trade"'),  # the last type counts: a trade without its id
    COINM_BOOK_TICKER.replace(b'"e":"bookTicker"', b'"e":"bookTicker ""'),
    COINM_BOOK_TICKER.replace(b'"ps":"BCHUSD"', b'"ps":01'),  # unread, still a number token
    COINM_BOOK_TICKER.replace(b'"ps":"BCHUSD"', b'"ps":1e400'),
    COINM_BOOK_TICKER.replace(b'"b":"427.84"', b'"b":427.84'),
    DEPTH.replace(b'"pu":149', b'"pu":-1.5'),
    DEPTH.replace(b'"pu":149', b'"pu":-10'),
    DEPTH.replace(b'"pu":149', b'"pu":-1e0'),
    DEPTH.replace(b'"E":1672515782136', b'"E":-1'),
    DEPTH.replace(b'"u":160', b'"u":"160"'),
    DEPTH.replace(b'"s":"BTCUSDT"', b'"s":""'),
    DEPTH.replace(b'"s":"BTCUSDT",', b""),
    DEPTH.replace(b'[["0.0026","100"]]', b'[["0.0026","-100"]]'),  # a negative amount
    DEPTH.replace(b'[["0.0026","100"]]', b'[["0.0026","1e400"]]'),  # the bids written, then a failure
    DEPTH.replace(b'[["0.0026","100"]]', b'[["0.0026",100]]'),
    DEPTH.replace(b'"a":', b'"x":'),
)


class TestBinanceSpot(CompiledParity):
    venue = "binance_spot"
    valid_frames = VALID
    invalid_frames = INVALID
    # every recorded frame against the reference: test_compiled_binance.py
    test_every_corpus_frame_parses_as_the_reference_does = None
    test_without_metadata_symbols_come_out_as_the_reference_names_them = None


class TestBinanceUsdm(TestBinanceSpot):
    venue = "binance_usdm"


class TestBinanceCoinm(TestBinanceSpot):
    venue = "binance_coinm"


# ---- depthUpdate: the one-pass level reader against the general path ----------------------------

# Level texts the one-pass reader converts eight digits at a time, those it leaves to its
# byte loop, and those the general path must judge: each as a bid price, a bid amount and an
# ask amount, in a frame of several levels, whatever the verdict, as the reference parses it.
LEVEL_TEXTS = (
    "0", "-0", "0.0", "-0.000", "1", "7.", ".5", "00.1", "01", "0.10", "1e5", "1E5", "1.5e-3", "+1", "-1.5",
    "61800.30", "1234567", "12345678", "123456789", "0.1234567", "0.12345678", "1234567.1234567",
    "12345678.12345678", "9007199254740993", "90071992547409.93", "1234567890123456789",
    "12345678901234567890", "0.00000000000000000001", "123456789012345678901.5", "1.7976931348623159e308",
    "61824.00000000", "2.37550000", "99999999.99999999", "0x10", "1_0", "1 ", " 1", "", "-", "--1", "1..2",
    "1.2.3", "١", "NaN", "inf",
)


def depth_with_levels(bids: bytes, asks: bytes) -> bytes:
    return DEPTH.replace(b'[["0.0024","10"]]', bids).replace(b'[["0.0026","100"]]', asks)


def level_text_frames() -> list[bytes]:
    frames = []
    for text in LEVEL_TEXTS:
        t = text.encode()
        frames.append(depth_with_levels(b'[["61800.30","0.006"],["' + t + b'","1.5"]]', b'[["61800.40","2"]]'))
        frames.append(depth_with_levels(b'[["1","' + t + b'"],["2","3"]]', b'[["4","5"]]'))
        frames.append(depth_with_levels(b'[["1","2"]]', b'[["61800.40","' + t + b'"]]'))  # near the frame's end
    return frames


LEVEL_SHAPES = (
    depth_with_levels(b'[["1","2"],["3","4"]]', b"[]"),
    depth_with_levels(b"[]", b'[["1","2"]]'),
    depth_with_levels(b'[["1","2"] ,["3","4"]]', b'[["5","6"]]'),  # whitespace: the general path
    depth_with_levels(b'[[ "1","2"]]', b'[["5","6" ]]'),
    depth_with_levels(b'[["1","2"],]', b'[["5","6"]]'),
    depth_with_levels(b'[["1","2"]', b'[["5","6"]]'),
    depth_with_levels(b'[["1","2","3"]]', b'[["5","6"],["7"]]'),
    depth_with_levels(b'[["1",2]]', b'[["5","6"]]'),
    depth_with_levels(b'[["1\\u0030","2"]]', b'[["5","6"]]'),  # an escape in a level text
    depth_with_levels(b'[["1","2"]]', b'[["5","6"]]').replace(b'"BTCUSDT"', b'"BTC\\u0055SDT"'),
    # the asks before the bids: rows still bids first
    DEPTH.replace(b'"b":[["0.0024","10"]],"a":[["0.0026","100"]]', b'"a":[["0.0026","100"]],"b":[["0.0024","10"]]'),
    with_field(DEPTH, b'"a":[["9","9"]]'),  # the asks twice
    DEPTH.replace(b'"b":[["0.0024","10"]],', b""),  # no bids
    depth_with_levels(b"[" + b",".join(b'["%d.%02d","0.%03d"]' % (61000 + i, i % 100, i) for i in range(400)) + b"]",
                      b'[["1","2"]]'),
)


@pytest.mark.parametrize("venue", ["binance_spot", "binance_usdm"])
@pytest.mark.parametrize("frame", level_text_frames() + list(LEVEL_SHAPES))
@pytest.mark.parametrize("book_markers", [False, True], ids=["records", "with-markers"])
def test_depth_levels_one_pass_and_general_path_agree(venue: str, frame: bytes, book_markers: bool) -> None:
    assert_same_as_reference(venue, [frame], [TS], book_markers=book_markers)


def test_depth_levels_one_pass_batch_agrees() -> None:
    """Valid and failing depth frames in one batch: a failing frame's rows never stay."""
    frames = level_text_frames() + list(LEVEL_SHAPES)
    assert_same_as_reference("binance_usdm", frames, [TS] * len(frames))
