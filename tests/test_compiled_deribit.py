"""The compiled Deribit parser against the reference parser (the oracle), frame for frame.

Same checks as test_compiled_okx.py (whose helpers these are): every corpus frame, every
prefix of real frames, random damage, and the message types the corpus lacks (trades with
liquidations, quotes, perpetual and future tickers, chart.trades, perpetual, grouped books).
"""

from __future__ import annotations

import pytest

from marketprism_fast.parser import compiled_available
from tests.test_compiled_okx import (  # noqa: F401  (pytest_generate_tests parametrizes the class)
    TS,
    CompiledParity,
    assert_same_as_reference,
    pytest_generate_tests,
)

VENUE = "deribit"

pytestmark = pytest.mark.skipif(not compiled_available(), reason="the compiled core is not built")


def _notification(channel: str, data: str) -> bytes:
    return f'{{"jsonrpc":"2.0","method":"subscription","params":{{"channel":"{channel}","data":{data}}}}}'.encode()


TRADES = _notification(
    "trades.BTC-PERPETUAL.100ms",
    '[{"trade_seq":1,"trade_id":"283151421","timestamp":1700000015102,"tick_direction":1,'
    '"price":36514.5,"mark_price":36513.87,"instrument_name":"BTC-PERPETUAL","index_price":36507.21,'
    '"direction":"sell","amount":2500.0},{"trade_seq":2,"trade_id":283151422,"timestamp":1700000015102,'
    '"price":36514.0,"liquidation":"M","instrument_name":"BTC-PERPETUAL","direction":"sell","amount":10.0},'
    '{"trade_id":"3","timestamp":1,"price":1e1,"liquidation":"MT","instrument_name":"BTC-PERPETUAL",'
    '"direction":"buy","amount":-0}]',
)
# Only what the one-pass trade reader takes (plain numbers), so that it is the one tested:
# an integer id, a member holding containers, a repeated key (the last counts).
PLAIN_TRADES = _notification(
    "trades.BTC-PERPETUAL.100ms",
    '[{"trade_seq":1,"trade_id":"283151421","timestamp":1700000015102,"price":36514.5,'
    '"instrument_name":"BTC-PERPETUAL","direction":"sell","amount":2500.0,"block":{"x":[1,{"y":null}]}},'
    '{"trade_id":7,"timestamp":1700000015103,"price":36514,"liquidation":"T","instrument_name":"BTC-PERPETUAL",'
    '"direction":"buy","amount":10,"liquidation":"MT"},'
    '{"trade_id":"8","timestamp":1700000015104,"price":-0.5,"liquidation":null,"instrument_name":"ETH-PERPETUAL",'
    '"direction":"buy","amount":0}]',
)
BOOK = _notification(
    "book.BTC-PERPETUAL.100ms",
    '{"type":"change","timestamp":1700000015200,"prev_change_id":100,"instrument_name":"BTC-PERPETUAL",'
    '"change_id":101,"bids":[["delete",36500.0,0.0],["new",36499.5,1200.0]],"asks":[["change",36515,2.5e3]]}',
)
TICKER = _notification(
    "ticker.BTC-PERPETUAL.100ms",
    '{"timestamp":1623060194301,"stats":{"volume_usd":1.6e9,"volume":47012.14,"price_change":-1.29,'
    '"low":35900.0,"high":37600.5},"state":"open","settlement_price":36400.86,"open_interest":1.1e9,'
    '"min_price":35800.0,"max_price":36900.0,"mark_price":36303.37,"last_price":36302.5,'
    '"interest_value":2.1e-3,"instrument_name":"BTC-PERPETUAL","index_price":36298.77,'
    '"funding_8h":0.00004,"estimated_delivery_price":36298.77,"current_funding":0.0,'
    '"best_bid_price":36302.5,"best_bid_amount":5000.0,"best_ask_price":36303.0,"best_ask_amount":0.0,'
    '"greeks":{"delta":0.5,"gamma":[1,{"x":null}]}}',
)
# A ticker as Deribit sends it: plain numbers only, so that the one-pass reader is the one tested
# (greeks a flat object of numbers, walked by fast_skip; unread numbers checked, not converted)
PLAIN_TICKER = _notification(
    "ticker.BTC-31DEC21-34000-P.raw",
    '{"underlying_price":32749.6,"underlying_index":"BTC-31DEC21","timestamp":1626993754148,"stats":'
    '{"volume":null,"price_change":null,"low":null,"high":null},"state":"open","settlement_price":0.24,'
    '"open_interest":4.6,"min_price":0.165,"max_price":0.329,"mark_price":0.23341173,"mark_iv":80.02,'
    '"last_price":0.229,"interest_rate":0.0,"instrument_name":"BTC-31DEC21-34000-P","index_price":32208.37,'
    '"greeks":{"vega":85.23008,"theta":-21.13017,"rho":-94.97157,"gamma":0.00002,"delta":-0.42245},'
    '"estimated_delivery_price":32208.37,"bid_iv":79.67,"best_bid_price":0.2325,"best_bid_amount":1.5,'
    '"best_ask_price":0.236,"best_ask_amount":8.4,"ask_iv":81.02}',
)
OTHER_CHANNELS = (
    TRADES,
    PLAIN_TRADES,
    BOOK,
    TICKER,
    _notification(
        "quote.BTC-PERPETUAL",
        '{"timestamp":1,"instrument_name":"BTC-PERPETUAL","best_bid_price":1.5,"best_bid_amount":null,'
        '"best_ask_price":2,"best_ask_amount":0}',
    ),
    _notification(
        "chart.trades.BTC-PERPETUAL.1",
        '{"volume":0.05,"tick":1554373800000,"open":5000.5,"low":4999,"high":5001,"cost":0.5,"close":5000}',
    ),
    _notification("perpetual.BTC-PERPETUAL.100ms", '{"timestamp":1,"interest":0.004999,"index_price":7872.88}'),
    _notification(
        "book.BTC-PERPETUAL.none.10.100ms",
        '{"timestamp":1,"instrument_name":"BTC-PERPETUAL","change_id":5,"bids":[[36500.0,10]],"asks":[]}',
    ),
)


VALID = (
    *OTHER_CHANNELS,
    # JSON the fast path does not expect, and escapes
    b' {"params":{"data":{"timestamp":1,"interest":1,"index_price":null},"channel":'
    b'"perpetual.BTC-PERPETUAL.raw"},"method":"subscription","jsonrpc":"2.0"} ',
    BOOK.replace(b'"change"', b'"\\u0063hange"').replace(b'"BTC-PERPETUAL"', b'"BTC-\\u00e9"'),
    BOOK.replace(b'"type":"change"', b'"type":"snapshot"').replace(b'"prev_change_id":100,', b""),
    BOOK.replace(b'[["change",36515,2.5e3]]', b"[]").replace(
        b'[["delete",36500.0,0.0],["new",36499.5,1200.0]]', b"[ ]"
    ),  # nothing changed: a marker row when asked for
    BOOK.replace(b'["delete",36500.0,0.0]', b'["delete",36500.0,0.0e+0]'),
    BOOK.replace(b'"book.', b'"unknown.'),
    TRADES.replace(b'"liquidation":"M"', b'"liquidation":null'),
    PLAIN_TRADES.replace(b'"liquidation":"MT"', b'"liquidation":"M"'),
    TICKER.replace(b'"stats":{', b'"stats":null,"x":{'),
    TICKER.replace(b'"current_funding":0.0,', b'"funding_8h_x":"text",'),
    TICKER.replace(b'"funding_8h":0.00004', b'"funding_8h":"not read without current_funding"').replace(
        b'"current_funding":0.0,', b""
    ),
    b'{"jsonrpc":"2.0","id":1,"result":["trades.BTC-PERPETUAL.100ms"],"usIn":1,"usOut":2,"usDiff":1}',
    b'{"jsonrpc":"2.0","method":"heartbeat","params":{"type":"test_request"}}',
    b'{"jsonrpc":"2.0","method":"heartbeat","params":{"type":"heartbeat"}}',
    b'{"jsonrpc":"2.0","id":8,"error":{"code":10028,"message":"too_many_requests"}}',
    b'{"jsonrpc":"2.0","id":8,"error":"plain text"}',
    b'{"jsonrpc":"2.0","method":"announcement","params":{}}',
    PLAIN_TICKER,
    PLAIN_TICKER.replace(b'"vega":85.23008', b'"vega":8.523008e1'),  # not a quick number: skip_container
    PLAIN_TICKER.replace(b'"vega":85.23008', b'"vega":{"x":[1]}'),
    PLAIN_TICKER.replace(b'"vega":85.23008', b'"vega":-0,"v":true,"w":"t","z":null'),
    PLAIN_TICKER.replace(b'"greeks":{"vega"', b'"greeks":{},"g":{"vega"'),
    PLAIN_TICKER.replace(b'"mark_iv":80.02', b'"mark_iv":12345678901234567890.5'),  # 22 digits, unread
    PLAIN_TICKER.replace(b'"mark_iv":80.02', b'"mark_iv":8.002E1'),
)


INVALID = (
    BOOK.replace(b"1200.0]", b"1200.]"),  # bad number grammar just before a level's end
    BOOK.replace(b"1200.0]", b"1e400]"),  # beyond the double range
    BOOK.replace(b'"new",', b'"old",'),
    BOOK.replace(b'["change",36515,2.5e3]', b'["change",36515,2.5e3,1]'),
    BOOK.replace(b'["change",36515,2.5e3]', b'["change","36515",2.5e3]'),
    BOOK.replace(b'"change_id":101', b'"change_id":-0'),
    BOOK.replace(b'"change_id":101', b'"change_id":101.0'),
    BOOK.replace(b'"type":"change"', b'"type":"partial"'),
    TRADES.replace(b'"liquidation":"M"', b'"liquidation":"X"'),
    TRADES.replace(b'"direction":"sell"', b'"direction":"Sell"'),
    TRADES.replace(b'"trade_id":283151422', b'"trade_id":-5'),
    TRADES.replace(b'"amount":2500.0', b'"amount":"2500.0"'),
    # the first trades of a frame read, then one that is not a trade: nothing of the frame stays
    PLAIN_TRADES.replace(b'"amount":0}', b'"amount":null}'),
    PLAIN_TRADES.replace(b'"trade_id":"8"', b'"trade_id":""'),
    PLAIN_TRADES.replace(b'"direction":"buy","amount":0', b'"amount":0'),
    PLAIN_TRADES.replace(b'"liquidation":"MT"', b'"liquidation":"TM"'),
    PLAIN_TRADES.replace(b'"timestamp":1700000015104', b'"timestamp":"1700000015104"'),
    TICKER.replace(b'"stats":{', b'"stats":[],"x":{'),
    TICKER.replace(b'"delta":0.5', b'"delta":0.5e'),  # in a part nobody reads
    TICKER.replace(b'"delta":0.5', b'"delta":1e999'),
    TICKER.replace(b'"state":"open"', b'"state":"op\x7fen\x00"'),
    TICKER.replace(b'"state":"open"', b'"state":"\xc0\xaf"'),  # an overlong UTF-8 form
    _notification("chart.trades.BTC-PERPETUAL.", '{"volume":1,"tick":1,"open":1,"low":1,"high":1,"close":1}'),
    _notification("chart.trades.BTC-PERPETUAL", '{"volume":1,"tick":1,"open":1,"low":1,"high":1,"close":1}'),
    _notification("perpetual.BTC-PERPETUAL", '{"timestamp":1,"interest":1}'),
    b'{"jsonrpc":"2.0","params":{}}',
    b'{"jsonrpc":"2.0","method":"subscription","params":{"channel":"book.X.raw"}}',
    b"[]",
    PLAIN_TICKER.replace(b'"vega":85.23008', b'"vega":1e400'),  # beyond the double range, unread
    PLAIN_TICKER.replace(b'"vega":85.23008', b'"vega":085'),
    PLAIN_TICKER.replace(b'"vega":85.23008', b'"vega":85.'),
    PLAIN_TICKER.replace(b'"vega":85.23008', b'"vega":85,}'),
    PLAIN_TICKER.replace(b'"mark_iv":80.02', b'"mark_iv":-'),
    PLAIN_TICKER.replace(b'"mark_iv":80.02', b'"mark_iv":80.0.2'),
)


class TestDeribit(CompiledParity):
    venue = VENUE
    extra_frames = OTHER_CHANNELS
    valid_frames = VALID
    invalid_frames = INVALID


def test_test_requests_are_counted_for_the_transport_to_answer() -> None:
    frames = [b'{"jsonrpc":"2.0","method":"heartbeat","params":{"type":"test_request"}}'] * 3
    stats = assert_same_as_reference(VENUE, frames, [TS] * 3)
    assert stats["test_requests"] == 3 and stats["skipped"]["heartbeat"] == 3
