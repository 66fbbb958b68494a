"""The REST client against a real loopback HTTP server (aiohttp): snapshots through the
book builder's scheduler, open-interest polling, instruments, weight, 429/418, retries."""

from __future__ import annotations

import asyncio

import orjson
import pytest

from marketprism_fast.books.scheduler import SnapshotScheduler
from marketprism_fast.config import Backoff, VenueConfig
from marketprism_fast.errors import TransportError
from marketprism_fast.parser import make_parser
from marketprism_fast.symbols import SymbolMetadata
from marketprism_fast.transport.rest import RestClient

from .helpers import corpus_dir, read_lines
from .wsserver import HttpServer, wait_for

FAST = Backoff(initial_seconds=0.02, max_seconds=0.1)


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 60))


def ok(body: bytes, weight: int = 5) -> tuple:
    return (200, {"X-MBX-USED-WEIGHT-1M": str(weight), "Content-Type": "application/json"}, body)


def test_snapshots_served_from_the_scheduler_into_the_parser():
    snapshot = b'{"lastUpdateId":1027024,"E":1589436922972,"T":1589436922959,"bids":[["4.00000000","431.00000000"]],"asks":[["4.00000200","12.00000000"]]}'

    async def scenario():
        server = await HttpServer().start()
        server.scripts["/fapi/v1/depth"] = [ok(snapshot, weight=20)]
        client = RestClient("binance_usdm", VenueConfig(rest_url=server.url, symbols=["BTCUSDT"], reconnect=FAST))
        parser = make_parser("binance_usdm")
        scheduler = SnapshotScheduler.for_venue("binance_usdm")
        scheduler.request("BTCUSDT")
        scheduler.request("ETHUSDT")
        task = asyncio.get_running_loop().create_task(client.run_snapshots(scheduler, parser))
        await wait_for(lambda: client.stats()["snapshots"] == 2, what="two snapshots")
        task.cancel()
        await client.close()
        await server.close()
        return parser, client, server

    parser, client, server = run(scenario())
    assert sorted(p for _, p in server.hits) == ["/fapi/v1/depth?symbol=BTCUSDT&limit=1000", "/fapi/v1/depth?symbol=ETHUSDT&limit=1000"]
    rows = [r for b in parser.take() for r in b.rows()]
    assert {r["raw_symbol"] for r in rows} == {"BTCUSDT", "ETHUSDT"}
    assert all(r["is_snapshot"] == 1 and r["update_id"] == 1027024 for r in rows)
    assert client.stats()["used_weight"] == 20 and client.stats()["requests"] == 2


def test_open_interest_polled_per_symbol():
    async def scenario():
        server = await HttpServer().start()
        server.scripts["/fapi/v1/openInterest"] = [ok(b'{"openInterest":"10659.509","symbol":"BTCUSDT","time":1589437530011}')]
        config = VenueConfig(rest_url=server.url, symbols=["BTCUSDT"], open_interest_poll_seconds=0.05, reconnect=FAST)
        client = RestClient("binance_usdm", config)
        parser = make_parser("binance_usdm")
        task = asyncio.get_running_loop().create_task(client.run_open_interest(parser))
        await wait_for(lambda: parser.stats()["records"]["open_interest"] >= 3, what="three polls")
        task.cancel()
        await client.close()
        await server.close()
        return parser

    rows = [r for b in run(scenario()).take() for r in b.rows()]
    assert rows[0]["raw_symbol"] == "BTCUSDT" and rows[0]["open_interest"] == 10659.509


def test_instruments_loaded_into_metadata():
    bodies = [orjson.loads(line)["body"].encode() for line in read_lines(corpus_dir() / "binance_usdm" / "binance_usdm.cf_2021-07-22.refdata.jsonl.zst")]

    async def scenario():
        server = await HttpServer().start()
        server.scripts["/fapi/v1/exchangeInfo"] = [ok(bodies[0], weight=1)]
        client = RestClient("binance_usdm", VenueConfig(rest_url=server.url, symbols=["BTCUSDT"], reconnect=FAST))
        metadata = SymbolMetadata()
        loaded = await client.refresh_instruments(metadata)
        await client.close()
        await server.close()
        return loaded, metadata

    loaded, metadata = run(scenario())
    assert loaded == 1
    from marketprism_fast.venues import normalize_symbol as normalize

    assert normalize("binance_usdm", "BTCUSDT", metadata).resolved


@pytest.mark.parametrize("status", [429, 418])
def test_throttling_pauses_for_retry_after_then_succeeds(status):
    async def scenario():
        server = await HttpServer().start()
        server.scripts["/api/v3/depth"] = [(status, {"Retry-After": "0.4"}, b'{"code":-1003}'), ok(b'{"lastUpdateId":1,"bids":[],"asks":[]}')]
        client = RestClient("binance_spot", VenueConfig(rest_url=server.url, symbols=["BTCUSDT"], reconnect=FAST))
        body, _ = await client.snapshot("BTCUSDT")
        await client.close()
        await server.close()
        return body, client.stats(), server.hits

    body, stats, hits = run(scenario())
    assert body.startswith(b'{"lastUpdateId":1')
    assert stats["throttled"] == 1 and stats["requests"] == 2 and stats["retries"] == 1
    assert hits[1][0] - hits[0][0] >= 0.4  # Retry-After respected


def test_server_errors_retried_a_bounded_number_of_times():
    async def scenario():
        server = await HttpServer().start()
        server.scripts["/api/v3/depth"] = [(503, {}, b"busy")]
        client = RestClient("binance_spot", VenueConfig(rest_url=server.url, symbols=["BTCUSDT"], rest_retries=2, reconnect=FAST))
        with pytest.raises(TransportError, match="failed after 3 attempts: HTTP 503"):
            await client.snapshot("BTCUSDT")
        await client.close()
        await server.close()
        return server.hits, client.stats()

    hits, stats = run(scenario())
    assert len(hits) == 3 and stats["errors"] == 3


def test_a_client_error_is_not_retried():
    async def scenario():
        server = await HttpServer().start()
        server.scripts["/api/v3/depth"] = [(400, {}, b'{"code":-1121,"msg":"Invalid symbol."}')]
        client = RestClient("binance_spot", VenueConfig(rest_url=server.url, symbols=["NOPE"], reconnect=FAST))
        with pytest.raises(TransportError, match="HTTP 400"):
            await client.snapshot("NOPE")
        await client.close()
        await server.close()
        return server.hits

    assert len(run(scenario())) == 1


def test_timeouts_are_bounded():
    async def scenario():
        server = await HttpServer().start()
        server.delay = 2.0
        server.scripts["/api/v3/depth"] = [ok(b"{}")]
        client = RestClient("binance_spot", VenueConfig(rest_url=server.url, symbols=["BTCUSDT"], rest_timeout_seconds=0.2,
                                                        rest_retries=1, reconnect=FAST))
        with pytest.raises(TransportError, match="failed after 2 attempts"):
            await client.snapshot("BTCUSDT")
        await client.close()
        await server.close()
        return server.hits

    assert len(run(scenario())) == 2


def test_weight_budget_waits_for_the_next_minute_when_spent():
    async def scenario():
        server = await HttpServer().start()
        server.scripts["/api/v3/depth"] = [ok(b"{}", weight=5990)]
        client = RestClient("binance_spot", VenueConfig(rest_url=server.url, symbols=["BTCUSDT"], reconnect=FAST))
        await client.snapshot("BTCUSDT")
        second = asyncio.get_running_loop().create_task(client.snapshot("BTCUSDT"))
        await wait_for(lambda: client.stats()["budget_waits"] == 1, what="the client waiting for the next minute")
        waiting = not second.done() and len(server.hits) == 1
        second.cancel()
        await client.close()
        await server.close()
        return waiting, client.stats()

    waiting, stats = run(scenario())
    assert waiting and stats["used_weight"] == 5990

