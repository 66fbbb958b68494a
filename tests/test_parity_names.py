"""Member names as a JSON decoder reads them, in both parsers: a name written with escapes is
the decoded name, of twin members the last one counts (plain or escaped), and an object may
hold any number of members. Each case is checked for parity and for the verdict itself."""

from __future__ import annotations

import random

import pytest

from fuzz import differential, mutate
from marketprism_fast.parser import compiled_available

pytestmark = pytest.mark.skipif(not compiled_available(), reason="the compiled core is not built")

PARSED, SKIPPED, MALFORMED = 0, 1, 2
TRADE = b'"e":"trade","E":1,"s":"BTCUSDT","t":1,"p":"1.5","q":"2","T":1,"m":true,"M":true'



def members(n: int) -> bytes:
    return b",".join(b'"x%d":%d' % (i, i) for i in range(n))


def price_of(frame: bytes) -> float:
    parser = differential._parsers("binance_spot", False)[1]
    parser.feed(frame, differential.TS)
    return float(parser.take()[0].column("price")[0])


CASES = [
    # escaped names
    ("binance_spot", b'{"e":"trade","E":1,"s":"BTCUSDT","t":1,"\\u0070":"1.5","q":"2","T":1,"m":true,"M":true}', PARSED),
    ("binance_spot", b'{"\\u0065":"trade","E":1,"s":"BTCUSDT","t":1,"p":"1.5","q":"2","T":1,"m":true,"M":true}', PARSED),
    ("binance_spot", b'{"stream":"btcusdt@trade","\\u0064ata":{' + TRADE + b"}}", PARSED),
    ("binance_usdm", b'{"e":"depthUpdate","E":1,"T":1,"s":"BTCUSDT","U":1,"u":2,"\\u0070u":0,"b":[["1","2"]],"a":[]}', PARSED),
    ("okx", b'{"\\u0061rg":{"ch\\u0061nnel":"trades","instId":"BTC-USDT"},"data":[{"instId":"BTC-USDT","tradeId":"1","px":"1","sz":"2","\\u0073ide":"buy","ts":"1"}]}', PARSED),
    ("okx", b'{"arg":{"channel":"tickers","inst\\u0049d":"BTC-USDT"},"d\\u0061ta":[{"instType":"SPOT","instId":"BTC-USDT","last":"1","lastSz":"1","askPx":"2","askSz":"1","bidPx":"1","bidSz":"1","open24h":"1","high24h":"1","low24h":"1","vol24h":"1","volCcy24h":"1","ts":"1"}]}', PARSED),
    ("deribit", b'{"jsonrpc":"2.0","method":"subscription","\\u0070arams":{"channel":"trades.BTC-PERPETUAL.raw","d\\u0061ta":[{"instrument_name":"BTC-PERPETUAL","timestamp":1,"price":1.5,"amount":2,"direction":"buy","trade_\\u0069d":"7"}]}}', PARSED),
    # twins: the last one counts, whichever is escaped
    ("binance_spot", b'{' + TRADE + b',"\\u0070":"x"}', MALFORMED),
    ("binance_spot", b'{"\\u0070":"x",' + TRADE + b"}", PARSED),
    ("binance_spot", b'{"e":"trade","E":1,"s":"BTCUSDT","t":1,"\\u0070":"9","p":"1.5","q":"2","T":1,"m":true,"M":true}', PARSED),
    ("okx", b'{"arg":{"channel":"trades","instId":"BTC-USDT"},"data":[{"instId":"BTC-USDT","tradeId":"1","px":"1","sz":"2","side":"buy","\\u0073ide":"up","ts":"1"}]}', MALFORMED),
    # many members
    ("binance_spot", b"{" + TRADE + b"," + members(300) + b"}", PARSED),
    ("binance_spot", b"{" + members(300) + b"," + TRADE + b"}", PARSED),
    ("binance_spot", b"{" + b",".join(b'"p":"%d"' % (i + 1) for i in range(300)) + b',"e":"trade","E":1,"s":"BTCUSDT","t":1,"q":"2","T":1,"m":true,"M":true}', PARSED),
    ("binance_spot", b'{"p":{"a":[1}},' + members(300) + b"," + TRADE + b"}", MALFORMED),
    ("okx", b'{"arg":{"channel":"trades","instId":"BTC-USDT"},"data":[{' + members(100) + b',"instId":"BTC-USDT","tradeId":"1","px":"1","sz":"2","side":"buy","ts":"1"}]}', PARSED),
    ("okx", b'{' + members(60) + b',"arg":{"channel":"trades","instId":"BTC-USDT"},"data":[{"instId":"BTC-USDT","tradeId":"1","px":"1","sz":"2","side":"buy","ts":"1"}]}', PARSED),
    ("deribit", b'{"jsonrpc":"2.0","method":"subscription",' + members(70) + b',"params":{"channel":"trades.BTC-PERPETUAL.raw","data":[{' + members(49) + b',"instrument_name":"BTC-PERPETUAL","timestamp":1,"price":1.5,"amount":2,"direction":"buy","trade_id":"7"}]}}', PARSED),
]


@pytest.mark.parametrize("venue, frame, status", CASES, ids=[f"{v}-{i}" for i, (v, _, _) in enumerate(CASES)])
def test_member_names_are_read_as_decoded_by_both_parsers(venue: str, frame: bytes, status: int) -> None:
    assert differential.check_frame(venue, frame) == status


def test_the_last_twin_gives_the_value() -> None:
    assert price_of(b'{' + TRADE + b',"\\u0070":"7"}') == 7.0
    assert price_of(b'{"\\u0070":"7",' + TRADE + b"}") == 1.5
    assert differential.check_frame("binance_spot", b'{' + TRADE + b',"\\u0070":"7"}') == PARSED


@pytest.mark.parametrize("count", [47, 48, 49, 254, 255, 256, 1000])
def test_objects_of_any_size_in_rest_bodies(count: int) -> None:
    body = b'{"lastUpdateId":5,' + members(count) + b',"bi\\u0064s":[["1","2"]],"asks":[["3","4"]]}'
    assert differential.check_rest("binance_spot", "snapshot", "BTCUSDT", body) == PARSED
    oi = b'{"code":"0",' + members(count) + b',"d\\u0061ta":[{"instType":"SWAP","instId":"BTC-USDT-SWAP","oi":"5","oiUsd":"5","\\u0074s":"1"}]}'
    assert differential.check_rest("okx", "open_interest", "", oi) == PARSED


def test_the_name_mutations_write_escapes_twins_and_padding() -> None:
    rng = random.Random(3)
    frame = b"{" + TRADE + b"}"
    out = [mutate._name_edit(frame, rng) for _ in range(300)]
    assert any(b"\\u" in o for o in out)
    assert any(o.count(b'"p":') + o.count(b'"\\u0070":') + o.count(b'"\\u0070":') >= 2 for o in out)
    assert any(o.count(b":") > 255 for o in out)
