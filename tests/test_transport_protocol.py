"""Venue client protocols: stream names per kind, subscribe messages equal to the requests
recorded from the venues, limits with config overrides, sharding by endpoint."""

from __future__ import annotations

import orjson
import pytest

from marketprism_fast.config import VenueConfig
from marketprism_fast.errors import ConfigurationError
from marketprism_fast.transport.protocol import protocol_for
from marketprism_fast.transport.ws import shard

from .helpers import corpus_dir, read_lines

ALL_KINDS = ["trade", "book_delta", "quote", "ticker", "kline", "funding_rate", "open_interest", "liquidation"]


@pytest.mark.parametrize("venue,symbol,expected", [
    ("binance_spot", "BTCUSDT", ["btcusdt@trade", "btcusdt@depth@100ms", "btcusdt@bookTicker", "btcusdt@ticker", "btcusdt@kline_1m"]),
    ("binance_usdm", "BTCUSDT", ["btcusdt@trade", "btcusdt@depth@100ms", "btcusdt@bookTicker", "btcusdt@ticker", "btcusdt@kline_1m",
                                 "btcusdt@markPrice", "btcusdt@forceOrder"]),
    ("okx", "BTC-USDT-SWAP", ["trades:BTC-USDT-SWAP", "books:BTC-USDT-SWAP", "bbo-tbt:BTC-USDT-SWAP", "tickers:BTC-USDT-SWAP",
                              "candle1m:BTC-USDT-SWAP", "funding-rate:BTC-USDT-SWAP", "open-interest:BTC-USDT-SWAP",
                              "liquidation-orders:instType=SWAP"]),
    ("okx", "BTC-USDT", ["trades:BTC-USDT", "books:BTC-USDT", "bbo-tbt:BTC-USDT", "tickers:BTC-USDT", "candle1m:BTC-USDT"]),
    ("deribit", "BTC-PERPETUAL", ["trades.BTC-PERPETUAL.raw", "book.BTC-PERPETUAL.raw", "quote.BTC-PERPETUAL", "ticker.BTC-PERPETUAL.raw",
                                  "chart.trades.BTC-PERPETUAL.1", "perpetual.BTC-PERPETUAL.raw"]),
])
def test_streams_per_kind(venue, symbol, expected):
    assert protocol_for(venue).all_streams(VenueConfig(symbols=[symbol], kinds=ALL_KINDS)) == expected


# The kind a stream's frames are recorded as, where a kind rides on another kind's stream.
_CARRIED_BY = {"book_snapshot": "book_delta", ("deribit", "liquidation"): "trade", ("deribit", "open_interest"): "ticker"}


def _kind_of(venue: str, stream: str) -> str:
    from marketprism_fast.venues.binance.protocol import stream_kind
    from marketprism_fast.venues.deribit.protocol import channel_kind as deribit_kind
    from marketprism_fast.venues.okx.protocol import channel_kind as okx_kind

    if venue.startswith("binance"):
        return stream_kind(stream)
    if venue == "okx":
        return okx_kind(stream.partition(":")[0])
    return deribit_kind(stream)


@pytest.mark.parametrize("venue,symbols", [
    ("binance_spot", ["BTCUSDT"]), ("binance_usdm", ["BTCUSDT"]), ("binance_coinm", ["BTCUSD_PERP"]),
    ("okx", ["BTC-USDT-SWAP", "BTC-USDT", "BTC-USD-240329", "BTC-USD-240329-60000-C"]),
    ("deribit", ["BTC-PERPETUAL", "BTC-29MAR24"]),
])
@pytest.mark.parametrize("depth_interval_ms", [0, 100, 1000])
def test_every_stream_the_client_asks_for_maps_back_to_its_kind(venue, symbols, depth_interval_ms):
    """The stream -> kind table the simulator serves by is the one the client's names follow."""
    p = protocol_for(venue)
    config = VenueConfig(symbols=symbols, kinds=ALL_KINDS, depth_interval_ms=depth_interval_ms)
    asked = 0
    for symbol in symbols:
        for kind in [*ALL_KINDS, "book_snapshot"]:
            for stream in p.streams(symbol, kind, config):
                expected = _CARRIED_BY.get((venue, kind), _CARRIED_BY.get(kind, kind))
                assert _kind_of(venue, stream) == expected, (stream, kind)
                asked += 1
    assert asked >= 5


def test_binance_depth_speed_from_config():
    p = protocol_for("binance_usdm")
    assert p.streams("BTCUSDT", "book_delta", VenueConfig(symbols=["X"], depth_interval_ms=0)) == ["btcusdt@depth@0ms"]
    assert p.streams("BTCUSDT", "book_delta", VenueConfig(symbols=["X"], depth_interval_ms=1000)) == ["btcusdt@depth"]
    assert protocol_for("binance_spot").streams("BTCUSDT", "book_delta", VenueConfig(symbols=["X"], depth_interval_ms=0)) == ["btcusdt@depth@100ms"]


@pytest.mark.corpus
@pytest.mark.parametrize("venue,session", [("okx", "cf_2022-05-13"), ("okx", "cf_2022-02-27"), ("deribit", "cf_2021-04-17"),
                                           ("deribit", "cf_2021-07-22")])
def test_subscribe_messages_equal_the_recorded_requests(venue, session):
    p = protocol_for(venue)
    for line in read_lines(corpus_dir() / venue / f"{venue}.{session}.sent.jsonl.zst"):
        entry = orjson.loads(line)
        if entry["kind"] != "send":
            continue
        recorded = orjson.loads(entry["payload"])
        if venue == "okx":
            streams = [f"{a['channel']}:{a['instId']}" for a in recorded["args"]]
            ours = p.subscribe_messages(streams)
        else:
            ours = p.subscribe_messages(recorded["params"]["channels"], first_id=recorded["id"])
        assert len(ours) == 1 and orjson.loads(ours[0]) == recorded


def test_messages_split_at_the_per_message_limit():
    p = protocol_for("binance_spot")
    streams = [f"s{i}@trade" for i in range(450)]
    messages = [orjson.loads(m) for m in p.subscribe_messages(streams, first_id=5)]
    assert [len(m["params"]) for m in messages] == [200, 200, 50]
    assert [m["id"] for m in messages] == [5, 6, 7] and [s for m in messages for s in m["params"]] == streams
    assert orjson.loads(p.unsubscribe_messages(["a@trade"])[0]) == {"method": "UNSUBSCRIBE", "params": ["a@trade"], "id": 1}


def test_documented_limits_and_overrides():
    spot, usdm = protocol_for("binance_spot"), protocol_for("binance_usdm")
    assert (spot.limits.streams_per_connection, spot.limits.subscribe_messages_per_second) == (1024, 5.0)
    assert (usdm.limits.streams_per_connection, usdm.limits.subscribe_messages_per_second) == (200, 10.0)
    assert spot.limits.max_connection_age_seconds == 24 * 3600
    assert protocol_for("okx").limits.max_connection_age_seconds is None
    eff = spot.effective_limits(VenueConfig(symbols=["X"], streams_per_connection=10, subscribe_messages_per_second=2.0,
                                            connect_attempts_per_minute=7, max_connection_age_seconds=60.0))
    assert (eff.streams_per_connection, eff.subscribe_messages_per_second, eff.connect_attempts_per_minute,
            eff.max_connection_age_seconds, eff.streams_per_subscribe_message) == (10, 2.0, 7, 60.0, 10)


def test_shards_follow_endpoints_and_urls():
    p = protocol_for("okx")
    config = VenueConfig(ws_url="ws://127.0.0.1:9", symbols=["A-USDT", "B-USDT", "C-USDT"], kinds=["trade", "kline"], streams_per_connection=2)
    shards = shard(p, config, p.all_streams(config), p.effective_limits(config))
    assert shards == [("ws://127.0.0.1:9/ws/v5/public", ["trades:A-USDT", "trades:B-USDT"]),
                      ("ws://127.0.0.1:9/ws/v5/public", ["trades:C-USDT"]),
                      ("ws://127.0.0.1:9/ws/v5/business", ["candle1m:A-USDT", "candle1m:B-USDT"]),
                      ("ws://127.0.0.1:9/ws/v5/business", ["candle1m:C-USDT"])]
    # a URL that names a path is used as given; the default is the venue's public endpoint
    assert p.ws_url(VenueConfig(ws_url="ws://h:1/custom", symbols=["X"]), "trades:X") == "ws://h:1/custom"
    assert p.ws_url(VenueConfig(symbols=["X"]), "trades:X") == "wss://ws.okx.com:8443/ws/v5/public"
    assert protocol_for("binance_spot").ws_url(VenueConfig(symbols=["X"]), "x@trade") == "wss://stream.binance.com:9443/stream"


def test_keepalive_per_venue():
    config = VenueConfig(symbols=["X"], heartbeat_seconds=15)
    assert protocol_for("binance_spot").keepalive(config).text_ping is None
    okx = protocol_for("okx").keepalive(config)
    assert (okx.text_ping, okx.text_pong, okx.idle_seconds) == (b"ping", b"pong", 15.0)
    deribit = protocol_for("deribit").keepalive(config)
    assert orjson.loads(deribit.on_open[0])["params"] == {"interval": 15}
    assert orjson.loads(deribit.test_reply)["method"] == "public/test"


def test_unknown_venue():
    with pytest.raises(ConfigurationError, match="unknown venue 'kraken'"):
        protocol_for("kraken")
