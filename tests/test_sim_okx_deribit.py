"""The simulator's OKX and Deribit sides, driven by a plain WebSocket/HTTP client over loopback:
subscribe replies and errors, keep-alive both ways, REST endpoints and their rate limits."""

from __future__ import annotations

import asyncio

import aiohttp
import orjson
import pytest

from marketprism_fast.sim import Simulator

from .simclient import connect, wait_for


def run(coro, timeout: float = 30.0):
    return asyncio.run(asyncio.wait_for(coro, timeout))


# ---- OKX -------------------------------------------------------------------------------------
def test_okx_subscribe_replies_errors_and_routing():
    async def scenario():
        async with Simulator(["okx"]) as sim:
            c = await connect(sim.ws_url("okx") + "/ws/v5/public")
            c.send({"op": "subscribe", "args": [{"channel": "trades", "instId": "BTC-USDT"}, {"channel": "nope", "instId": "X"},
                                                {"channel": "liquidation-orders", "instType": "SWAP"}]})
            ok = await c.recv_json()
            assert ok["event"] == "subscribe" and ok["arg"] == {"channel": "trades", "instId": "BTC-USDT"} and ok["connId"]
            err = await c.recv_json()
            assert err["event"] == "error" and err["code"] == "60018" and "nope" in err["msg"]
            assert (await c.recv_json())["arg"] == {"channel": "liquidation-orders", "instType": "SWAP"}
            c.send(b"not json")
            assert (await c.recv_json())["code"] == "60012"
            c.send({"op": "dance", "args": []})
            assert (await c.recv_json())["code"] == "60012"
            server = sim.server("okx")
            assert sorted(server.subscribed_keys()) == ["liquidation-orders:SWAP", "trades:BTC-USDT"]
            frame = b'{"arg":{"channel":"trades","instId":"BTC-USDT"},"data":[]}'
            assert server.publish("trades:BTC-USDT", frame, "trade") == 1
            assert await c.recv() == frame
            c.send({"op": "unsubscribe", "args": [{"channel": "trades", "instId": "BTC-USDT"}]})
            assert (await c.recv_json())["event"] == "unsubscribe"
            assert server.subscribed_keys() == ["liquidation-orders:SWAP"]

    run(scenario())


def test_okx_request_and_connection_limits():
    async def scenario():
        settings = {"okx": {"max_requests_per_hour": 2, "max_connects_per_second": 2}}
        async with Simulator(["okx"], settings=settings) as sim:
            url = sim.ws_url("okx") + "/ws/v5/public"
            c = await connect(url)
            for _ in range(3):
                c.send({"op": "subscribe", "args": [{"channel": "tickers", "instId": "BTC-USDT"}]})
            assert [(await c.recv_json()).get("code") for _ in range(3)] == [None, None, "60014"]
            await connect(url)
            with pytest.raises(Exception):
                await connect(url)  # a third connection within the same second
            assert sim.sent("okx")["events"]["rejected_429"] == 1

    run(scenario())


def test_okx_idle_connection_closed_and_pinging_client_kept():
    async def scenario():
        async with Simulator(["okx"], settings={"okx": {"idle_timeout": 0.5}}) as sim:
            url = sim.ws_url("okx") + "/ws/v5/public"
            pinging = await connect(url)
            silent = await connect(url)
            pongs = 0
            while not silent.closed.is_set():
                pinging.send("ping")  # the documented keep-alive: text ping, text pong
                assert await pinging.recv() == b"pong"
                pongs += 1
                await asyncio.sleep(0.1)
            assert silent.close_frame == 4004
            for _ in range(8):  # well past the idle timeout again
                pinging.send("ping")
                assert await pinging.recv() == b"pong"
                await asyncio.sleep(0.1)
            assert not pinging.closed.is_set()
            assert sim.sent("okx")["events"]["idle"] == 1
            assert sim.sent("okx")["control"]["pong"] >= pongs + 8

    run(scenario())


def test_okx_rest_instruments_books_open_interest_and_429():
    async def scenario():
        settings = {"okx": {"rest_rates": {"books": (2, 60.0)}}}
        async with Simulator(["okx"], settings=settings) as sim:
            sim.generate("okx", rate=10, symbols=["BTC-USDT", "BTC-USDT-SWAP"])
            base = sim.rest_url("okx")
            async with aiohttp.ClientSession() as http:
                async with http.get(base + "/api/v5/public/instruments", params={"instType": "SWAP"}) as r:
                    body = orjson.loads(await r.read())
                    assert r.status == 200 and [d["instId"] for d in body["data"]] == ["BTC-USDT-SWAP"]
                async with http.get(base + "/api/v5/public/instruments") as r:
                    assert r.status == 400 and orjson.loads(await r.read())["code"] == "51000"
                async with http.get(base + "/api/v5/market/books", params={"instId": "BTC-USDT", "sz": "5"}) as r:
                    book = orjson.loads(await r.read())["data"][0]
                    assert r.status == 200 and len(book["bids"]) == len(book["asks"]) == 5
                async with http.get(base + "/api/v5/market/books", params={"instId": "", "sz": "5"}) as r:
                    assert orjson.loads(await r.read())["code"] == "51001"
                async with http.get(base + "/api/v5/market/books", params={"instId": "BTC-USDT"}) as r:
                    assert r.status == 429 and orjson.loads(await r.read())["code"] == "50011"
                async with http.get(base + "/api/v5/public/open-interest", params={"instType": "SWAP", "instId": "BTC-USDT-SWAP"}) as r:
                    assert orjson.loads(await r.read())["data"][0]["instId"] == "BTC-USDT-SWAP"

    run(scenario())



def test_okx_subscription_snapshot_is_generated_and_sent_once_and_rest_snapshots_are_not_frames():
    """The snapshot a books subscription begins with goes to that subscriber only: one frame
    generated, one sent, one delivery; a REST book snapshot served is counted as a request,
    not as a generated frame."""
    async def scenario():
        async with Simulator(["okx"]) as sim:
            gen = sim.generate("okx", rate=10, symbols=["BTC-USDT"])
            gen.pause()  # no stream frames: only what a subscription itself sends
            c = await connect(sim.ws_url("okx") + "/ws/v5/public")
            c.send({"op": "subscribe", "args": [{"channel": "books", "instId": "BTC-USDT"}]})
            assert (await c.recv_json())["event"] == "subscribe"
            snapshot = await c.recv_json()
            assert snapshot["action"] == "snapshot" and snapshot["arg"]["channel"] == "books"
            sent = sim.sent("okx")
            assert (gen.generated, sent["frames"], sent["deliveries"]) == (1, 1, 1)
            assert sent["by_kind"] == {"book_delta": 1}
            async with aiohttp.ClientSession() as http:
                async with http.get(sim.rest_url("okx") + "/api/v5/market/books", params={"instId": "BTC-USDT"}) as r:
                    assert r.status == 200
            assert gen.generated == 1 and gen.snapshot_requests == {"BTC-USDT": 1}

    run(scenario())

# ---- Deribit ---------------------------------------------------------------------------------
def test_deribit_json_rpc_subscribe_and_methods():
    async def scenario():
        async with Simulator(["deribit"]) as sim:
            sim.generate("deribit", rate=20, symbols=["BTC-PERPETUAL"])
            c = await connect(sim.ws_url("deribit") + "/ws/api/v2")
            c.send({"jsonrpc": "2.0", "id": 1, "method": "public/subscribe",
                    "params": {"channels": ["trades.BTC-PERPETUAL.raw", "bogus.channel"]}})
            reply = await c.recv_json()
            assert reply["id"] == 1 and reply["result"] == ["trades.BTC-PERPETUAL.raw"]
            note = await c.recv_json()
            assert note["method"] == "subscription" and note["params"]["channel"] == "trades.BTC-PERPETUAL.raw"
            c.send({"jsonrpc": "2.0", "id": 2, "method": "public/get_order_book", "params": {"instrument_name": "BTC-PERPETUAL", "depth": 3}})
            book = await c.recv_until(lambda f: b'"id":2' in f)
            result = orjson.loads(book)["result"]
            assert len(result["bids"]) == 3 and result["instrument_name"] == "BTC-PERPETUAL"
            c.send({"jsonrpc": "2.0", "id": 3, "method": "public/fly", "params": {}})
            error = orjson.loads(await c.recv_until(lambda f: b'"id":3' in f))
            assert error["error"]["code"] == -32601
            c.send({"jsonrpc": "2.0", "id": 4, "method": "public/set_heartbeat", "params": {"interval": 1}})
            error = orjson.loads(await c.recv_until(lambda f: b'"id":4' in f))
            assert error["error"]["code"] == -32602  # below the documented minimum of 10 s
            c.send({"jsonrpc": "2.0", "id": 5, "method": "public/unsubscribe", "params": {"channels": ["trades.BTC-PERPETUAL.raw"]}})
            assert orjson.loads(await c.recv_until(lambda f: b'"id":5' in f))["result"] == ["trades.BTC-PERPETUAL.raw"]
            assert sim.server("deribit").subscribed_keys() == []

    run(scenario())


def test_deribit_heartbeat_drops_a_silent_client_and_keeps_one_that_answers():
    async def scenario():
        async with Simulator(["deribit"], settings={"deribit": {"min_heartbeat": 0.2}}) as sim:
            url = sim.ws_url("deribit") + "/ws/api/v2"
            answering, silent = await connect(url), await connect(url)
            for c in (answering, silent):
                c.send({"jsonrpc": "2.0", "id": 1, "method": "public/set_heartbeat", "params": {"interval": 0.2}})
                assert (await c.recv_json())["result"] == "ok"
            answered = 0
            while answered < 8:
                note = await answering.recv_json()
                if note.get("method") == "heartbeat" and note["params"]["type"] == "test_request":
                    answering.send({"jsonrpc": "2.0", "id": 100 + answered, "method": "public/test", "params": {}})
                    answered += 1
            await asyncio.wait_for(silent.closed.wait(), 5)
            assert any(b"test_request" in f for f in silent.received)
            assert not answering.closed.is_set()
            assert sim.sent("deribit")["events"]["no test response"] == 1
            assert sim.sent("deribit")["control"]["test_request"] >= 9

    run(scenario())


def test_deribit_request_rate_and_rest():
    async def scenario():
        async with Simulator(["deribit"], settings={"deribit": {"rate": 0.001, "burst": 3}}) as sim:
            sim.generate("deribit", rate=10, symbols=["BTC-PERPETUAL"])
            c = await connect(sim.ws_url("deribit") + "/ws/api/v2")
            for i in range(4):
                c.send({"jsonrpc": "2.0", "id": i, "method": "public/test", "params": {}})
            replies = [await c.recv_json() for _ in range(4)]
            assert [r.get("error", {}).get("code") for r in replies] == [None, None, None, 10028]
            base = sim.rest_url("deribit")
            async with aiohttp.ClientSession() as http:
                async with http.get(base + "/api/v2/public/get_instruments", params={"currency": "BTC"}) as r:
                    assert [i["instrument_name"] for i in orjson.loads(await r.read())["result"]] == ["BTC-PERPETUAL"]
                async with http.get(base + "/api/v2/public/get_order_book", params={"instrument_name": "BTC-PERPETUAL", "depth": "2"}) as r:
                    assert len(orjson.loads(await r.read())["result"]["asks"]) == 2
                async with http.get(base + "/api/v2/public/get_order_book", params={"instrument_name": "BTC-PERPETUAL"}) as r:
                    assert r.status == 200
                async with http.get(base + "/api/v2/public/test") as r:
                    assert r.status == 429 and orjson.loads(await r.read())["error"]["code"] == 10028

    run(scenario())
