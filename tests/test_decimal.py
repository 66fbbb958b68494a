"""Decimal text -> float64 must equal Python's float(text), bit for bit, on every path."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings, strategies as st

from marketprism_fast import parser as parsers
from marketprism_fast.instruments import InstrumentRegistry

_parse = pytest.importorskip("marketprism_fast._parse", reason="the compiled core is not built")

digits = st.text(alphabet="0123456789", min_size=1, max_size=40)


@st.composite
def json_decimals(draw) -> str:
    """JSON-grammar decimals: signs, leading zeros in fractions, long mantissas, exponents."""
    sign = draw(st.sampled_from(["", "-"]))
    integer = draw(st.one_of(st.just("0"), digits.filter(lambda d: d[0] != "0")))
    frac = draw(st.one_of(st.just(""), digits.map(lambda d: "." + d)))
    exp = draw(
        st.one_of(
            st.just(""),
            st.tuples(st.sampled_from("eE"), st.sampled_from(["", "+", "-"]), st.integers(0, 400)).map(
                lambda t: f"{t[0]}{t[1]}{t[2]}"
            ),
        )
    )
    return sign + integer + frac + exp


def _same(a: float, b: float) -> bool:
    return a.hex() == b.hex()


@given(json_decimals())
@settings(max_examples=1000)
def test_decimal_text_converts_like_float(text: str) -> None:
    assert _same(_parse.float_from_text(text), float(text))


@given(st.floats(allow_nan=False, allow_infinity=False))
@settings(max_examples=800)
def test_shortest_repr_round_trips(value: float) -> None:
    text = repr(value)
    if "inf" in text or "nan" in text:
        return
    assert _same(_parse.float_from_text(text), value)


@pytest.mark.parametrize(
    "text",
    [
        "0.1", "0.3", "1e23", "8.14000000", "0.00000001", "61837.63000000", "0.30000000000000004",
        "9007199254740993", "9007199254740992.5", "123456789012345678901234567890",
        "2.2250738585072011e-308", "4.9e-324", "1.7976931348623157e308", "1e400", "-0.0",
        "0.000000000000000000000000000001", "12345678901234567890.123", "1.00000000000000011102230246251565",
    ],
)
def test_hard_cases(text: str) -> None:
    assert _same(_parse.float_from_text(text), float(text))


@pytest.mark.parametrize("text", ["", "-", ".5", "5.", "01", "-01.5", "1e", "1e+", "1.5.2", "0x10", "1_000", " 1", "nan", "inf"])
def test_not_json_decimals_are_rejected(text: str) -> None:
    with pytest.raises(ValueError):
        _parse.float_from_text(text)


@given(json_decimals(), json_decimals())
@settings(max_examples=300)
def test_decimal_texts_in_frames_convert_like_float(price: str, amount: str) -> None:
    """Binance decimal texts through whole frames, trade and book paths."""
    parser = parsers.make_parser("binance_usdm", InstrumentRegistry("binance_usdm"), implementation="compiled")
    trade = f'{{"e":"trade","E":1,"T":2,"s":"BTCUSDT","t":7,"p":"{price}","q":"{amount}","m":false}}'
    depth = (
        f'{{"stream":"btcusdt@depth","data":{{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":1,"u":2,"pu":0,'
        f'"b":[["{price}","{amount}"]],"a":[]}}}}'
    )
    if not all(math.isfinite(float(t)) and float(t) >= 0 for t in (price, amount)):
        # beyond the double range, or a negative price or amount: no value Binance sends
        assert parser.feed(trade.encode(), 0) == 2
        assert parser.feed(depth.encode(), 0) == 2
        assert parser.take() == []
        return
    assert parser.feed(trade.encode(), 0) == 0
    assert parser.feed(depth.encode(), 0) == 0
    trades, deltas = parser.take()
    for batch in (trades, deltas):
        assert _same(float(batch.column("price")[0]), float(price))
        assert _same(float(batch.column("amount")[0]), float(amount))


@given(json_decimals(), json_decimals())
@settings(max_examples=300)
def test_number_tokens_in_frames_convert_like_float(price: str, amount: str) -> None:
    """Bare JSON number tokens (Deribit sends numbers) through whole frames; a token beyond
    the double range is not JSON a strict decoder accepts, and neither is a decimal text
    where Binance sends texts."""
    parser = parsers.make_parser("deribit", InstrumentRegistry("deribit"), implementation="compiled")
    quote = (
        '{"jsonrpc":"2.0","method":"subscription","params":{"channel":"quote.BTC-PERPETUAL","data":'
        f'{{"timestamp":1,"instrument_name":"BTC-PERPETUAL","best_bid_price":{price},"best_bid_amount":{amount},'
        f'"best_ask_price":{amount},"best_ask_amount":{price}}}}}}}'
    )
    binance = parsers.make_parser("binance_usdm", InstrumentRegistry("binance_usdm"), implementation="compiled")
    bare_trade = f'{{"e":"trade","E":1,"T":2,"s":"BTCUSDT","t":7,"p":{price},"q":{amount},"m":false}}'
    assert binance.feed(bare_trade.encode(), 0) == 2
    if not (math.isfinite(float(price)) and math.isfinite(float(amount))) or float(price) < 0 or float(amount) < 0:
        # beyond the double range, or a negative amount (each value is an amount once here)
        assert parser.feed(quote.encode(), 0) == 2
        assert parser.take() == []
        return
    assert parser.feed(quote.encode(), 0) == 0
    (quotes,) = parser.take()
    assert _same(float(quotes.column("bid_price")[0]), float(price))
    assert _same(float(quotes.column("bid_amount")[0]), float(amount))
    assert _same(float(quotes.column("ask_price")[0]), float(amount))


def _long_mantissas(seed: int, count: int) -> list[str]:
    """Decimals of 15-19 digits (many above 2**53: the Eisel-Lemire path), and the exact
    midpoints between neighbouring doubles with their decimal neighbours (ties to even)."""
    import random
    from fractions import Fraction

    rnd = random.Random(seed)
    out: list[str] = []

    def written(num: int, k: int) -> str:
        s = str(num)
        if not k:
            return s
        s = s.rjust(k + 1, "0")
        return s[:-k] + "." + s[-k:]

    while len(out) < count:
        nd = rnd.randint(15, 19)
        digits = str(rnd.randrange(10 ** (nd - 1), 10**nd))
        out.append(written(int(digits), rnd.randint(0, nd - 1)))
        x = rnd.choice([rnd.uniform(1e-4, 1.0), rnd.uniform(1.0, 1e6), rnd.uniform(1e15, 1e19)])
        mid = (Fraction(x) + Fraction(math.nextafter(x, math.inf))) / 2
        k = mid.denominator.bit_length() - 1  # mid = num / 2**k = num * 5**k / 10**k
        num = mid.numerator * 5**k
        if len(str(num)) <= 19 and k <= 19:
            out += [written(num - 1, k), written(num, k), written(num + 1, k)]
    return out


def test_long_mantissas_convert_like_float() -> None:
    texts = _long_mantissas(7, 20_000)
    for text in texts + ["-" + t for t in texts[:2000]] + [t + "e" + str(e) for t, e in zip(texts, range(-30, 60))]:
        assert _same(_parse.float_from_text(text), float(text)), text


def test_long_mantissas_in_frames_convert_like_float() -> None:
    """The scanners' own fast conversions (level texts, number tokens, decimal texts)."""
    texts = _long_mantissas(11, 400)
    binance = parsers.make_parser("binance_usdm", InstrumentRegistry("binance_usdm"), implementation="compiled")
    deribit = parsers.make_parser("deribit", InstrumentRegistry("deribit"), implementation="compiled")
    for price, amount in zip(texts, texts[1:]):
        trade = f'{{"e":"trade","E":1,"T":2,"s":"BTCUSDT","t":7,"p":"{price}","q":"{amount}","m":false}}'
        depth = (
            f'{{"stream":"btcusdt@depth","data":{{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":1,"u":2,"pu":0,'
            f'"b":[["{price}","{amount}"]],"a":[]}}}}'
        )
        quote = (
            '{"jsonrpc":"2.0","method":"subscription","params":{"channel":"quote.BTC-PERPETUAL","data":'
            f'{{"timestamp":1,"instrument_name":"BTC-PERPETUAL","best_bid_price":{price},"best_bid_amount":{amount},'
            f'"best_ask_price":{amount},"best_ask_amount":{price}}}}}}}'
        )
        assert binance.feed(trade.encode(), 0) == 0
        assert binance.feed(depth.encode(), 0) == 0
        assert deribit.feed(quote.encode(), 0) == 0
        trades, deltas = binance.take()
        (quotes,) = deribit.take()
        for batch, p, a in ((trades, "price", "amount"), (deltas, "price", "amount"), (quotes, "bid_price", "bid_amount")):
            assert _same(float(batch.column(p)[0]), float(price))
            assert _same(float(batch.column(a)[0]), float(amount))


short_numbers = st.one_of(
    # the tokens one 16-byte load holds: 1-15 bytes of digits, an optional point, a sign
    st.tuples(
        st.sampled_from(["", "-"]),
        st.text(alphabet="0123456789", min_size=1, max_size=9),
        st.one_of(st.just(""), st.text(alphabet="0123456789", min_size=0, max_size=9).map(lambda d: "." + d)),
    ).map("".join),
    # and whatever else number-like bytes make: second points, exponents, stray signs
    st.text(alphabet="0123456789.-+eE", min_size=1, max_size=17),
)


@given(short_numbers, st.sampled_from([",", "}", " ,", "x,"]))
@settings(max_examples=1500)
def test_short_number_tokens_are_judged_like_the_reference(token: str, after: str) -> None:
    """A number token with the rest of a frame behind it (the compiled scanner reads it from
    one 16-byte load there): the compiled parser takes or refuses the frame as the reference
    parser does, and the values it takes are the reference's to the bit."""
    frame = (
        '{"jsonrpc":"2.0","method":"subscription","params":{"channel":"quote.BTC-PERPETUAL","data":'
        f'{{"best_bid_price":{token}{after}"timestamp":1,"instrument_name":"BTC-PERPETUAL","best_bid_amount":2.5,'
        '"best_ask_price":3.25,"best_ask_amount":4}}}'
    ).encode()
    verdicts, values = [], []
    for implementation in ("compiled", "reference"):
        parser = parsers.make_parser("deribit", InstrumentRegistry("deribit"), implementation=implementation)
        verdicts.append(parser.feed(frame, 0))
        batches = parser.take()
        values.append([float(b.column("bid_price")[0]).hex() for b in batches])
    assert verdicts[0] == verdicts[1], (token, after, verdicts)
    assert values[0] == values[1], (token, after, values)
