"""Synthetic streams: every kind of every venue, parsed by the project's own parser without a
malformed frame; the books they make verify with the project's BookBuilder (OKX checksums and
seqId chain, Deribit change ids, Binance U/u/pu against a REST snapshot) and Binance top of book
equals bookTicker wherever the update ids match."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import orjson
import pytest

from marketprism_fast.books.builder import BookBuilder
from marketprism_fast.parser import make_parser
from marketprism_fast.sim import Simulator
from marketprism_fast.sim.generate import SimBook, okx_checksum

from .simclient import connect

BINANCE_STREAMS = ["depth@100ms", "bookTicker", "trade", "aggTrade", "ticker", "kline_1m"]
FUTURES_STREAMS = BINANCE_STREAMS + ["markPrice@1s", "forceOrder"]
CASES = {
    "binance_spot": ("BTCUSDT", BINANCE_STREAMS, {"trade", "book_delta", "quote", "ticker", "kline"}),
    "binance_usdm": ("BTCUSDT", FUTURES_STREAMS, {"trade", "book_delta", "quote", "ticker", "kline", "funding_rate", "liquidation"}),
    "binance_coinm": ("BTCUSD_PERP", FUTURES_STREAMS, {"trade", "book_delta", "quote", "ticker", "kline", "funding_rate", "liquidation"}),
    "okx": ("BTC-USDT-SWAP", None, {"trade", "book_delta", "quote", "ticker", "kline", "funding_rate", "open_interest", "liquidation"}),
    "deribit": ("BTC-PERPETUAL", None, {"trade", "book_delta", "quote", "ticker", "kline", "funding_rate", "open_interest", "liquidation"}),
}
OKX_ARGS = [("books", "instId"), ("trades", "instId"), ("tickers", "instId"), ("bbo-tbt", "instId"),
            ("candle1m", "instId"), ("funding-rate", "instId"), ("open-interest", "instId")]
DERIBIT_CHANNELS = ["book.{}.raw", "trades.{}.raw", "ticker.{}.raw", "quote.{}", "perpetual.{}.raw", "chart.trades.{}.1"]
FRAMES = 1500


def run(coro, timeout: float = 60.0):
    return asyncio.run(asyncio.wait_for(coro, timeout))


async def subscribe_everything(sim: Simulator, venue: str, symbol: str, streams):
    url = sim.ws_url(venue)
    if venue.startswith("binance"):
        return await connect(url + "/stream?streams=" + "/".join(f"{symbol.lower()}@{s}" for s in streams))
    client = await connect(url + ("/ws/v5/public" if venue == "okx" else "/ws/api/v2"))
    if venue == "okx":
        # books5 on another instrument: one builder book per instrument takes one book channel
        args = [{"channel": c, field: symbol} for c, field in OKX_ARGS] + [
            {"channel": "liquidation-orders", "instType": "SWAP"}, {"channel": "books5", "instId": "ETH-USDT-SWAP"}]
        client.send({"op": "subscribe", "args": args})
    else:
        client.send({"jsonrpc": "2.0", "id": 1, "method": "public/subscribe",
                     "params": {"channels": [c.format(symbol) for c in DERIBIT_CHANNELS]}})
    return client


async def collect(client, n: int) -> list[bytes]:
    out = []
    while len(out) < n:
        out.append(await client.recv(10))
    return out


@pytest.mark.parametrize("venue", list(CASES))
def test_every_kind_parses_and_books_verify(venue):
    symbol, streams, kinds = CASES[venue]

    async def scenario():
        async with Simulator([venue]) as sim:
            sim.generate(venue, rate=4000, symbols=[symbol])
            client = await subscribe_everything(sim, venue, symbol, streams)
            frames = await collect(client, FRAMES)
            rest = None
            if venue.startswith("binance"):
                prefix = {"binance_spot": "/api/v3", "binance_usdm": "/fapi/v1", "binance_coinm": "/dapi/v1"}[venue]
                async with aiohttp.ClientSession() as http:
                    async with http.get(sim.rest_url(venue) + prefix + "/depth", params={"symbol": symbol, "limit": "1000"}) as r:
                        rest = await r.read()
                    oi = None
                    if venue != "binance_spot":
                        async with http.get(sim.rest_url(venue) + prefix + "/openInterest", params={"symbol": symbol}) as r:
                            oi = await r.read()
                frames += await collect(client, FRAMES)
                rest = (rest, oi)
            return frames, rest, sim.sent(venue)

    frames, rest, sent = run(scenario())
    parser = make_parser(venue, book_markers=True)
    builder = BookBuilder(venue, every_update=True)
    matches = 0
    if venue.startswith("binance"):
        snapshot, oi = rest
        # the REST snapshot first: earlier events are covered by it, the first later one straddles it
        assert parser.feed_snapshot(snapshot, time.time_ns(), symbol) == 0
        if oi is not None:
            assert parser.feed_open_interest(oi, time.time_ns()) == 0
        tops: dict[int, tuple[float, float, float, float]] = {}
        for frame in frames:
            assert parser.feed(frame, time.time_ns()) == 0, frame[:200]
            data = orjson.loads(frame)["data"]
            if "b" in data and "B" in data and "u" in data and data.get("e", "bookTicker") == "bookTicker":
                tops[data["u"]] = (float(data["b"]), float(data["B"]), float(data["a"]), float(data["A"]))
            for batch in parser.take():
                if batch.kind.name == "book_delta":
                    builder.apply(batch)
            if data.get("e") == "depthUpdate" and data["u"] in tops and not builder.needs_snapshot(symbol):
                book = builder.book(symbol)
                if builder.stats()["applied"] > 0:
                    assert book.best() == tops[data["u"]], f"top of book at u={data['u']}"
                    matches += 1
        stats = parser.stats()
    else:
        for frame in frames:
            parser.feed(frame, time.time_ns())
        stats = parser.stats()
        for batch in parser.take():
            if batch.kind.name == "book_delta":
                builder.apply(batch)
    assert stats["malformed"] == 0
    produced = {k for k, n in stats["records"].items() if n}
    if venue.startswith("binance_") and venue != "binance_spot":
        kinds = kinds | {"open_interest"}
    assert produced >= kinds, f"missing kinds: {kinds - produced}"
    book_stats = builder.stats()
    assert book_stats["applied"] > 100
    assert book_stats["gaps"] == {} and book_stats["checksum_failures"] == 0 and book_stats["crossed"] == 0
    assert book_stats["out_of_sync"] == []
    if venue.startswith("binance"):
        assert matches > 50  # the oracle was exercised, and held every time
    assert sent["by_kind"]["book_delta"] > 0


def test_okx_checksum_matches_the_documented_example_shape():
    # interleaving: bid1:bidSz1:ask1:askSz1:...; a missing side's level is left out
    bids = [("3366.1", "7"), ("3366", "6")]
    asks = [("3366.8", "9")]
    import zlib

    expected = zlib.crc32(b"3366.1:7:3366.8:9:3366:6")
    expected = expected - (1 << 32) if expected >= 1 << 31 else expected
    assert okx_checksum(bids, asks) == expected


def test_sim_book_never_crosses_and_reports_each_level_once():
    import random

    book = SimBook(random.Random(3), 100_000, levels=20)
    for _ in range(5000):
        changes = book.step()
        assert len({(side, price) for side, price, _ in changes}) == len(changes)
        assert max(book.bids) < min(book.asks)
