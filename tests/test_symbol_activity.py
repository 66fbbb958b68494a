"""The per-symbol "last record" ages: set per batch from the compiled parser's instrument
codes, read at scrape time, NaN for a symbol with no record yet."""

from __future__ import annotations

import math

import orjson

from marketprism_fast.instruments import InstrumentRegistry
from marketprism_fast.parser import make_parser
from marketprism_fast.pipeline.activity import SymbolActivity
from marketprism_fast.service.metrics import collect_status

TS = 1_700_000_000_000_000_000


def trade(symbol: str, trade_id: int) -> bytes:
    data = {"e": "trade", "E": 1_700_000_000_000, "s": symbol, "t": trade_id, "p": "1.5", "q": "2", "T": 1_700_000_000_000, "m": True, "M": True}
    return orjson.dumps({"stream": f"{symbol.lower()}@trade", "data": data})


def parsed(parser, frames: list[bytes]):
    parser.feed_many(frames, TS)
    return parser.take()


def test_ages_follow_the_symbols_that_produce() -> None:
    registry = InstrumentRegistry("binance_spot")
    parser = make_parser("binance_spot", registry)
    activity = SymbolActivity(registry)
    activity.saw(parsed(parser, [trade("BTCUSDT", 1), trade("ETHUSDT", 2)]), now=1000.0)
    activity.saw(parsed(parser, [trade("BTCUSDT", 3)]), now=1060.0)
    ages = activity.ages(["BTCUSDT", "ETHUSDT", "XRPUSDT"], now=1070.0)
    assert ages["BTCUSDT"] == 10.0
    assert ages["ETHUSDT"] == 70.0
    assert math.isnan(ages["XRPUSDT"])  # configured, never seen


def test_instruments_beyond_the_first_array_are_tracked() -> None:
    registry = InstrumentRegistry("binance_spot")
    parser = make_parser("binance_spot", registry)
    activity = SymbolActivity(registry)
    symbols = [f"S{i:03d}USDT" for i in range(200)]
    activity.saw(parsed(parser, [trade(s, i) for i, s in enumerate(symbols)]), now=500.0)
    activity.saw(parsed(parser, [trade(symbols[-1], 1000)]), now=530.0)
    ages = activity.ages(symbols, now=540.0)
    assert ages[symbols[0]] == 40.0 and ages[symbols[150]] == 40.0 and ages[symbols[-1]] == 10.0


def test_the_metric_has_one_series_per_configured_symbol() -> None:
    status = {"venues": {"okx": {"symbols": {"BTC-USDT": {"last_record_age_seconds": 3.5}, "ETH-USDT": {"last_record_age_seconds": math.nan}}}}}
    (family,) = [m for m in collect_status(status) if m.name == "marketprism_symbol_last_record_age_seconds"]
    values = {s.labels["symbol"]: s.value for s in family.samples}
    assert values["BTC-USDT"] == 3.5 and math.isnan(values["ETH-USDT"])
    assert {s.labels["venue"] for s in family.samples} == {"okx"}


def test_the_reference_parsers_batches_are_noted_by_symbol() -> None:
    registry = InstrumentRegistry("binance_spot")
    parser = make_parser("binance_spot", registry, implementation="reference")
    activity = SymbolActivity(registry)
    batches = parsed(parser, [trade("BTCUSDT", 1), trade("ETHUSDT", 2)])
    assert batches and all(b.instrument_codes() is None for b in batches)  # built from columns
    activity.saw(batches, now=1000.0)
    activity.saw(parsed(parser, [trade("ETHUSDT", 3)]), now=1045.0)
    ages = activity.ages(["BTCUSDT", "ETHUSDT", "XRPUSDT"], now=1050.0)
    assert ages["BTCUSDT"] == 50.0
    assert ages["ETHUSDT"] == 5.0
    assert math.isnan(ages["XRPUSDT"])
