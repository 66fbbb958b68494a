"""The simulator's own WS frame encoding (batched writes): every length form decodes in a
standard client, and pre-encoded runs go to every subscriber with their frames counted."""

from __future__ import annotations

import asyncio

from marketprism_fast.sim import Simulator
from marketprism_fast.sim.server import encode_text_frames

from .simclient import connect, wait_for


def test_frame_lengths_of_every_header_form_decode():
    payloads = [b"a" * n for n in (0, 1, 125, 126, 127, 65535, 65536, 200_000)]

    async def scenario():
        async with Simulator(["okx"]) as sim:
            c = await connect(sim.ws_url("okx") + "/ws/v5/public")
            c.send({"op": "subscribe", "args": [{"channel": "trades", "instId": "BTC-USDT"}]})
            await c.recv()
            server = sim.server("okx")
            assert server.publish_many([("trades:BTC-USDT", p, "trade", i) for i, p in enumerate(payloads)]) == len(payloads)
            got = [await c.recv() for _ in payloads]
            return got, sim.sent("okx")

    got, sent = asyncio.run(asyncio.wait_for(scenario(), 30))
    assert got == payloads
    assert sent["indices"] == list(range(len(payloads))) and sent["by_kind"] == {"trade": len(payloads)}


def test_publish_encoded_reaches_every_subscriber_counted():
    frame = b'{"stream":"btcusdt@trade","data":{"e":"trade","E":1,"s":"BTCUSDT","t":1,"p":"1","q":"1","T":1,"m":true,"M":true}}'
    buffer = encode_text_frames([frame] * 1000)

    async def scenario():
        async with Simulator(["binance_spot"]) as sim:
            url = sim.ws_url("binance_spot") + "/stream?streams=btcusdt@trade"
            a, b = await connect(url), await connect(url)
            server = sim.server("binance_spot")
            await wait_for(lambda: len(server.routes.get("btcusdt@trade", [])) == 2, what="two subscribers")
            for _ in range(20):
                assert server.publish_encoded("btcusdt@trade", buffer, 1000, "trade") == 2
                await server.drain()
            await wait_for(lambda: len(a.received) == len(b.received) == 20_000, what="every frame on both")
            return a.received, sim.sent("binance_spot")

    received, sent = asyncio.run(asyncio.wait_for(scenario(), 60))
    assert set(received) == {frame}
    assert sent["frames"] == 20_000 and sent["deliveries"] == 40_000
