"""The simulator's Binance side, driven by a plain WebSocket/HTTP client over loopback:
raw, combined and live-subscribed streams, replies, limits, server pings, REST weights."""

from __future__ import annotations

import asyncio

import aiohttp
import orjson
import pytest

from marketprism_fast.sim import Simulator

from .simclient import connect, wait_for

TRADE = b'{"stream":"btcusdt@trade","data":{"e":"trade","E":1,"s":"BTCUSDT","t":1,"p":"1.5","q":"2","T":1,"m":true,"M":true}}'


def run(coro, timeout: float = 30.0):
    return asyncio.run(asyncio.wait_for(coro, timeout))


def test_raw_combined_and_live_subscriptions_route_and_wrap():
    async def scenario():
        async with Simulator(["binance_spot"]) as sim:
            server = sim.server("binance_spot")
            raw = await connect(sim.ws_url("binance_spot") + "/ws/btcusdt@trade")
            combined = await connect(sim.ws_url("binance_spot") + "/stream?streams=btcusdt@trade/ethusdt@trade")
            live = await connect(sim.ws_url("binance_spot") + "/ws")
            live.send({"method": "SUBSCRIBE", "params": ["ethusdt@trade"], "id": 7})
            assert await live.recv_json() == {"result": None, "id": 7}
            await wait_for(lambda: len(server.routes.get("btcusdt@trade", [])) == 2, what="both subscribed")
            assert server.publish("btcusdt@trade", TRADE, "trade") == 2
            assert server.publish("ethusdt@trade", TRADE.replace(b"btcusdt", b"ethusdt"), "trade") == 2
            assert server.publish("xrpusdt@trade", TRADE, "trade") == 0  # nobody subscribed
            assert (await raw.recv()).startswith(b'{"e":"trade"')  # raw stream: the payload alone
            assert orjson.loads(await combined.recv())["stream"] == "btcusdt@trade"
            assert orjson.loads(await combined.recv())["stream"] == "ethusdt@trade"
            assert (await live.recv()).startswith(b'{"e":"trade"')
            live.send({"method": "LIST_SUBSCRIPTIONS", "id": 8})
            assert await live.recv_json() == {"result": ["ethusdt@trade"], "id": 8}
            live.send({"method": "UNSUBSCRIBE", "params": ["ethusdt@trade"], "id": 9})
            assert await live.recv_json() == {"result": None, "id": 9}
            assert server.publish("ethusdt@trade", TRADE, "trade") == 1  # the combined client only
            sent = sim.sent("binance_spot")
            assert sent["by_stream"] == {"btcusdt@trade": {"trade": 1}, "ethusdt@trade": {"trade": 2}}
            assert sent["frames"] == 3 and sent["deliveries"] == 5 and sent["unrouted"] == 1
            assert raw.received == [TRADE[TRADE.index(b'"data":') + 7 : -1]]

    run(scenario())


def test_bad_requests_get_the_documented_errors():
    async def scenario():
        async with Simulator(["binance_usdm"]) as sim:
            c = await connect(sim.ws_url("binance_usdm") + "/ws")
            c.send(b"{not json")
            assert (await c.recv_json())["error"]["code"] == 3
            c.send({"method": "SUBSCRIBE", "params": ["a@trade"], "id": -1})
            assert (await c.recv_json())["error"]["code"] == 2
            c.send({"method": "FLY", "params": [], "id": 4})
            reply = await c.recv_json()
            assert reply["error"]["code"] == 2 and reply["id"] == 4
            assert sim.sent("binance_usdm")["control"]["error"] == 3

    run(scenario())


def test_unknown_path_refused():
    async def scenario():
        async with Simulator(["binance_spot"]) as sim:
            with pytest.raises(Exception):
                await connect(sim.ws_url("binance_spot") + "/nope")
            assert sim.sent("binance_spot")["events"]["rejected_404"] == 1

    run(scenario())


def test_stream_limit_per_connection():
    async def scenario():
        async with Simulator(["binance_spot"], settings={"binance_spot": {"max_streams": 2}}) as sim:
            url = sim.ws_url("binance_spot")
            with pytest.raises(Exception):
                await connect(url + "/stream?streams=a@trade/b@trade/c@trade")
            c = await connect(url + "/stream?streams=a@trade/b@trade")
            c.send({"method": "SUBSCRIBE", "params": ["c@trade"], "id": 1})
            reply = await c.recv_json()
            assert reply["error"]["code"] == 2 and "at most 2" in reply["error"]["msg"]
            assert sim.server("binance_spot").subscribed_keys() == ["a@trade", "b@trade"]

    run(scenario())


def test_incoming_message_rate_limit_drops_the_connection():
    async def scenario():
        async with Simulator(["binance_spot"]) as sim:  # spot: 5 incoming messages per second
            c = await connect(sim.ws_url("binance_spot") + "/ws")
            for i in range(6):
                c.send({"method": "LIST_SUBSCRIPTIONS", "id": i})
            await asyncio.wait_for(c.closed.wait(), 5)
            assert c.close_frame == 1008
            assert sim.sent("binance_spot")["events"]["message rate limit"] == 1

    run(scenario())


def test_server_pings_drop_a_silent_client_and_keep_one_that_pongs():
    async def scenario():
        settings = {"binance_usdm": {"ping_interval": 0.1, "pong_timeout": 0.4}}
        async with Simulator(["binance_usdm"], settings=settings) as sim:
            url = sim.ws_url("binance_usdm") + "/ws/btcusdt@trade"
            answering = await connect(url)
            silent = await connect(url, auto_pong=False)
            await asyncio.wait_for(silent.closed.wait(), 10)
            assert silent.pings >= 1 and silent.close_frame == 1008
            server = sim.server("binance_usdm")
            first = server.history[0]
            await wait_for(lambda: first.received["pong"] >= 5, what="five pongs from the answering client")
            assert not answering.closed.is_set()
            events = sim.sent("binance_usdm")["events"]
            assert events["no pong"] == 1
            conns = sim.sent("binance_usdm")["connections"]
            assert [c["close_reason"] for c in conns] == ["", "no pong"]
            assert conns[0]["received"]["pong"] >= 5

    run(scenario())


def test_connection_lifetime():
    async def scenario():
        async with Simulator(["binance_spot"], settings={"binance_spot": {"max_lifetime": 0.3}}) as sim:
            c = await connect(sim.ws_url("binance_spot") + "/ws")
            await asyncio.wait_for(c.closed.wait(), 10)
            assert c.close_frame == 1000
            assert sim.sent("binance_spot")["events"]["lifetime"] == 1

    run(scenario())


def test_rest_depth_weights_headers_429_then_418():
    async def scenario():
        settings = {"binance_spot": {"weight_limit": 60}}
        async with Simulator(["binance_spot"], settings=settings) as sim:
            sim.generate("binance_spot", rate=10, symbols=["BTCUSDT"])
            base = sim.rest_url("binance_spot")
            async with aiohttp.ClientSession() as http:
                async def get(path):
                    async with http.get(base + path) as r:
                        return r.status, r.headers, await r.read()

                status, headers, body = await get("/api/v3/depth?symbol=BTCUSDT&limit=100")
                assert status == 200 and headers["X-MBX-USED-WEIGHT-1M"] == "5"
                book = orjson.loads(body)
                assert len(book["bids"]) == len(book["asks"]) == 60 and book["lastUpdateId"] > 0
                status, headers, _ = await get("/api/v3/depth?symbol=BTCUSDT&limit=500")
                assert status == 200 and headers["X-MBX-USED-WEIGHT-1M"] == "30"
                status, headers, body = await get("/api/v3/depth?symbol=BTCUSDT&limit=1000")  # 30 + 50 > 60
                assert status == 429 and int(headers["Retry-After"]) >= 1
                assert orjson.loads(body)["code"] == -1003
                status, headers, _ = await get("/api/v3/depth?symbol=BTCUSDT&limit=5")  # no back-off: banned
                assert status == 418 and int(headers["Retry-After"]) >= 1
                status, _, _ = await get("/api/v3/exchangeInfo")
                assert status == 418
            events = sim.sent("binance_spot")["events"]
            assert events["rest_throttled"] == 1 and events["rest_banned"] == 1

    run(scenario())


@pytest.mark.parametrize("venue,prefix,weights", [
    ("binance_usdm", "/fapi/v1", (2, 5, 10, 20)),
    ("binance_coinm", "/dapi/v1", (2, 5, 10, 20)),
])
def test_futures_rest_endpoints(venue, prefix, weights):
    symbol = "BTCUSDT" if venue == "binance_usdm" else "BTCUSD_PERP"

    async def scenario():
        async with Simulator([venue]) as sim:
            sim.generate(venue, rate=10, symbols=[symbol])
            base = sim.rest_url(venue)
            used = 0
            async with aiohttp.ClientSession() as http:
                for limit, weight in zip((50, 100, 500, 1000), weights):
                    async with http.get(f"{base}{prefix}/depth", params={"symbol": symbol, "limit": str(limit)}) as r:
                        used += weight
                        assert r.status == 200 and r.headers["X-MBX-USED-WEIGHT-1M"] == str(used)
                async with http.get(f"{base}{prefix}/openInterest", params={"symbol": symbol}) as r:
                    assert r.status == 200
                    assert orjson.loads(await r.read())["symbol"] == symbol
                async with http.get(f"{base}{prefix}/exchangeInfo") as r:
                    info = orjson.loads(await r.read())
                    assert [s["symbol"] for s in info["symbols"]] == [symbol]
                async with http.get(f"{base}{prefix}/depth", params={"symbol": ""}) as r:
                    assert r.status == 400 and orjson.loads(await r.read())["code"] == -1102
            assert sim.sent(venue)["rest"][f"{prefix}/depth"] == 5

    run(scenario())
