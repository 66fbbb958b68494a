"""Each injected fault, observed by a plain client over loopback and counted by the simulator."""

from __future__ import annotations

import asyncio

import aiohttp
import orjson
import pytest

from marketprism_fast.sim import Simulator

from .simclient import connect, wait_for

STREAM = "btcusdt@depth@100ms"


def run(coro, timeout: float = 30.0):
    return asyncio.run(asyncio.wait_for(coro, timeout))


async def depth_client(sim: Simulator):
    return await connect(sim.ws_url("binance_usdm") + "/stream?streams=" + STREAM)


def test_disconnect_drops_without_close_frame_and_counts():
    async def scenario():
        async with Simulator(["binance_usdm"]) as sim:
            a, b = await depth_client(sim), await depth_client(sim)
            await wait_for(lambda: len(sim.server("binance_usdm").connections) == 2, what="two connections")
            assert sim.faults("binance_usdm").disconnect() == 2
            await asyncio.wait_for(asyncio.gather(a.closed.wait(), b.closed.wait()), 5)
            assert a.close_frame is None and b.close_frame is None  # a network failure, not a close
            c = await depth_client(sim)  # reconnecting works
            await wait_for(lambda: len(sim.server("binance_usdm").connections) == 1, what="reconnected")
            assert not c.closed.is_set()
            assert sim.sent("binance_usdm")["faults"]["disconnect"] == 2

    run(scenario())


def test_graceful_disconnect_sends_going_away():
    async def scenario():
        async with Simulator(["okx"]) as sim:
            c = await connect(sim.ws_url("okx") + "/ws/v5/public")
            await wait_for(lambda: len(sim.server("okx").connections) == 1, what="connected")
            sim.faults("okx").disconnect(graceful=True)
            await asyncio.wait_for(c.closed.wait(), 5)
            assert c.close_frame == 1001

    run(scenario())


def test_stall_silences_open_connections_only():
    async def scenario():
        async with Simulator(["binance_usdm"], settings={"binance_usdm": {"ping_interval": 0.05}}) as sim:
            sim.generate("binance_usdm", rate=500, symbols=["BTCUSDT"])
            stalled = await connect(sim.ws_url("binance_usdm") + "/stream?streams=" + STREAM, auto_pong=False)
            await stalled.recv()
            assert sim.faults("binance_usdm").stall() == 1
            # the stalled connection gets nothing more: no data, no pings, and it is not closed
            fresh = await depth_client(sim)
            await fresh.recv()
            count, pings = len(stalled.received), stalled.pings
            for _ in range(50):  # fifty frames on the fresh connection...
                await fresh.recv()
            assert len(stalled.received) - count <= 1 and stalled.pings == pings  # ...none (bar one in flight) on the stalled one
            assert not stalled.closed.is_set()
            assert sim.sent("binance_usdm")["faults"]["stall"] == 1
            assert sim.faults("binance_usdm").resume() == 1
            await stalled.recv()

    run(scenario())


def test_refused_reconnects_then_accepted():
    async def scenario():
        async with Simulator(["deribit"]) as sim:
            url = sim.ws_url("deribit") + "/ws/api/v2"
            sim.faults("deribit").refuse(2)
            for _ in range(2):
                with pytest.raises(Exception):
                    await connect(url)
            await connect(url)
            sim.faults("deribit").refuse(None, status=502)
            for _ in range(3):
                with pytest.raises(Exception):
                    await connect(url)
            sim.faults("deribit").accept()
            await connect(url)
            sent = sim.sent("deribit")
            assert sent["faults"]["refused"] == 5 and sent["events"]["refused"] == 5
            assert sent["events"]["connections"] == 2

    run(scenario())


def test_gap_drops_one_frame_of_that_stream():
    async def scenario():
        async with Simulator(["binance_usdm"]) as sim:
            sim.generate("binance_usdm", rate=500, symbols=["BTCUSDT", "ETHUSDT"])
            c = await connect(sim.ws_url("binance_usdm") + "/stream?streams=btcusdt@depth@100ms/ethusdt@depth@100ms")
            frames = [orjson.loads(await c.recv()) for _ in range(10)]
            sim.faults("binance_usdm").gap("btcusdt@depth@100ms")
            frames += [orjson.loads(await c.recv()) for _ in range(40)]
            return frames, sim.sent("binance_usdm")

    frames, sent = run(scenario())
    by_symbol: dict[str, list[dict]] = {}
    for f in frames:
        by_symbol.setdefault(f["data"]["s"], []).append(f["data"])
    breaks = {s: sum(1 for a, b in zip(ev, ev[1:]) if b["pu"] != a["u"]) for s, ev in by_symbol.items()}
    assert breaks == {"BTCUSDT": 1, "ETHUSDT": 0}
    assert sent["faults"]["gap"] == 1


@pytest.mark.parametrize("mode", ["truncate", "garbage", "empty"])
def test_corrupted_and_injected_malformed_frames(mode):
    async def scenario():
        async with Simulator(["okx"]) as sim:
            c = await connect(sim.ws_url("okx") + "/ws/v5/public")
            c.send({"op": "subscribe", "args": [{"channel": "trades", "instId": "BTC-USDT"}]})
            await c.recv()
            server = sim.server("okx")
            frame = b'{"arg":{"channel":"trades","instId":"BTC-USDT"},"data":[{"instId":"BTC-USDT","tradeId":"1","px":"1","sz":"1","side":"buy","ts":"1"}]}'
            sim.faults("okx").corrupt(1, mode)
            server.publish("trades:BTC-USDT", frame, "trade")
            server.publish("trades:BTC-USDT", frame, "trade")
            assert sim.faults("okx").inject_malformed(mode, template=frame) == 1
            got = [await c.recv() for _ in range(3)]
            return got, frame, sim.sent("okx")

    got, frame, sent = run(scenario())
    broken = {"truncate": frame[: len(frame) // 2], "garbage": b'{"this is not json', "empty": b""}[mode]
    assert got == [broken, frame, broken]
    assert sent["faults"][f"corrupt_{mode}"] == 1 and sent["faults"][f"malformed_{mode}"] == 1


def test_rest_faults_slow_failing_429_418():
    async def scenario():
        async with Simulator(["binance_usdm"]) as sim:
            sim.generate("binance_usdm", rate=10, symbols=["BTCUSDT"])
            faults = sim.faults("binance_usdm")
            url = sim.rest_url("binance_usdm") + "/fapi/v1/depth?symbol=BTCUSDT"
            async with aiohttp.ClientSession() as http:
                faults.slow_rest(5.0, count=1)
                with pytest.raises(asyncio.TimeoutError):
                    async with http.get(url, timeout=aiohttp.ClientTimeout(total=0.3)) as r:
                        await r.read()
                faults.fail_rest(503, count=1)
                async with http.get(url) as r:
                    assert r.status == 503
                faults.throttle(1, retry_after=7)
                async with http.get(url) as r:
                    assert r.status == 429 and r.headers["Retry-After"] == "7"
                    assert orjson.loads(await r.read())["code"] == -1003
                faults.throttle(1, retry_after=120, ban=True)
                async with http.get(url) as r:
                    assert r.status == 418 and r.headers["Retry-After"] == "120"
                async with http.get(url) as r:
                    assert r.status == 200  # every fault used up
            return sim.sent("binance_usdm")["faults"]

    counts = run(scenario())
    assert counts == {"rest_slow": 1, "rest_503": 1, "rest_429": 1, "rest_418": 1}


def test_stalled_connection_answers_no_ping():
    async def scenario():
        async with Simulator(["okx"]) as sim:
            c = await connect(sim.ws_url("okx") + "/ws/v5/public")
            await wait_for(lambda: len(sim.server("okx").connections) == 1, what="connected")
            rtt = await c.transport.measure_roundtrip_time(1)  # a WS ping answered while healthy
            assert rtt and rtt[0] >= 0
            sim.faults("okx").stall()
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(c.transport.measure_roundtrip_time(1), 0.5)
            assert sim.sent("okx")["connections"][0]["received"]["ping"] == 2

    run(scenario())
