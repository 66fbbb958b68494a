"""A reconnect that loses book updates resyncs the affected symbol alone: the book builder sees
the gap in Binance's update ids, its scheduler asks, the REST client fetches that symbol's
snapshot and the book is back in sync; a symbol whose updates continued is left alone."""

from __future__ import annotations

import asyncio
import json

from marketprism_fast.books.builder import BookBuilder
from marketprism_fast.books.scheduler import SnapshotScheduler
from marketprism_fast.config import Backoff, VenueConfig
from marketprism_fast.parser import make_parser
from marketprism_fast.transport.rest import RestClient
from marketprism_fast.transport.ws import VenueTransport

from .wsserver import HttpServer, WsServer, binance_reply, wait_for

FAST = Backoff(initial_seconds=0.02, max_seconds=0.1)


def depth(symbol: str, i: int) -> str:
    data = {"e": "depthUpdate", "E": 1700000000000 + i, "s": symbol, "U": 10 * i + 1, "u": 10 * (i + 1),
            "b": [[f"{100 - i % 5}.0", f"{i + 1}"]], "a": [[f"{101 + i % 5}.0", f"{i + 2}"]]}
    return json.dumps({"stream": f"{symbol.lower()}@depth@100ms", "data": data}, separators=(",", ":"))


def test_a_gap_after_reconnect_resyncs_that_symbol_alone():
    async def scenario():
        ws = await WsServer(binance_reply).start()
        http = await HttpServer().start()
        last_u = {"BTCUSDT": 0, "ETHUSDT": 0}  # the last update id the server sent, per symbol
        fetched = []

        def snapshot(request):
            symbol = request.query["symbol"]
            fetched.append(symbol)
            body = {"lastUpdateId": last_u[symbol], "bids": [["90.0", "1"]], "asks": [["110.0", "1"]]}
            return 200, {"X-MBX-USED-WEIGHT-1M": "50"}, json.dumps(body).encode()

        http.scripts["/api/v3/depth"] = snapshot
        config = VenueConfig(ws_url=ws.url, rest_url=http.url, symbols=["BTCUSDT", "ETHUSDT"], kinds=["book_delta"], reconnect=FAST)
        parser = make_parser("binance_spot")
        scheduler = SnapshotScheduler.for_venue("binance_spot")
        builder = BookBuilder("binance_spot", parser.instruments, depth=5, scheduler=scheduler)
        transport = VenueTransport("binance_spot", config, parser)
        rest = RestClient("binance_spot", config)
        loop = asyncio.get_running_loop()

        async def pump():  # the node's batcher: sealed book_delta batches into the builder
            while True:
                for batch in parser.take():
                    if batch.kind.name == "book_delta":
                        builder.apply(batch)
                await asyncio.sleep(0.005)

        state = {"i": 0, "skip_btc": False}

        async def stream():  # both symbols, one event each per tick
            while True:
                clients = [c for c in ws.open_clients() if c.received]
                if clients:
                    state["i"] += 1
                    i = state["i"]
                    for symbol in ("BTCUSDT", "ETHUSDT"):
                        if symbol == "BTCUSDT" and state["skip_btc"]:
                            continue  # sent to nobody: the gap
                        await clients[0].send(depth(symbol, i))
                        last_u[symbol] = 10 * (i + 1)
                    if state["skip_btc"]:
                        state["skip_btc"] = False
                await asyncio.sleep(0.005)

        tasks = [loop.create_task(pump()), loop.create_task(stream()), loop.create_task(rest.run_snapshots(scheduler, parser))]
        await transport.start()
        synced = lambda: all(not builder.needs_snapshot(s) for s in ("BTCUSDT", "ETHUSDT"))  # noqa: E731
        await wait_for(synced, what="both books in sync")
        assert sorted(fetched) == ["BTCUSDT", "ETHUSDT"]
        # drop the connection; while it is down BTCUSDT moves on (ETHUSDT's events wait)
        await ws.open_clients()[0].drop()
        state["skip_btc"] = True
        await wait_for(lambda: transport.stats()[0]["reconnects"] == 1 and transport.stats()[0]["state"] == "open")
        await wait_for(lambda: builder.stats()["gaps"].get("BTCUSDT", 0) == 1, what="the BTCUSDT gap")
        await wait_for(lambda: len(fetched) == 3 and synced(), what="BTCUSDT resynced")
        applied = builder.stats()["applied"]
        await wait_for(lambda: builder.stats()["applied"] > applied + 4, what="updates applied after the resync")
        for t in tasks:
            t.cancel()
        stats = builder.stats()
        await transport.close()
        await rest.close()
        await ws.close()
        await http.close()
        return fetched, stats

    fetched, stats = asyncio.run(asyncio.wait_for(scenario(), 60))
    assert fetched[2] == "BTCUSDT"  # the resync fetched that symbol alone
    assert stats["gaps"] == {"BTCUSDT": 1} and stats["out_of_sync"] == []
