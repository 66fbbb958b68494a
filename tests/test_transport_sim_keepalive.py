"""Keep-alive both ways against the venue simulator: a client that stays silent is dropped by
the simulator (its timers shortened), the transport's connections are not; and Binance's
connection lifetime is met by a replacement that loses and repeats nothing."""

from __future__ import annotations

import asyncio
import json

import picows
import pytest

from marketprism_fast.config import Backoff, VenueConfig
from marketprism_fast.parser import make_parser
from marketprism_fast.sim.simulator import Simulator
from marketprism_fast.transport.ws import VenueTransport

from .wsserver import wait_for

FAST = Backoff(initial_seconds=0.05, max_seconds=0.2)

CASES = {
    # venue: (simulator settings, transport config, the silent client's path and first message,
    #         the close reason, the transport counter that proves it kept the connection alive)
    "binance_spot": ({"ping_interval": 0.2, "pong_timeout": 0.6}, {"symbols": ["BTCUSDT"], "kinds": ["trade"]},
                     "/ws", None, "no pong", "pings"),
    "okx": ({"idle_timeout": 1.5}, {"symbols": ["BTC-USDT"], "kinds": ["trade"], "heartbeat_seconds": 1},
            "/ws/v5/public", None, "idle", "pongs"),
    "deribit": ({"min_heartbeat": 1.0}, {"symbols": ["BTC-PERPETUAL"], "kinds": ["trade"], "heartbeat_seconds": 1},
                "/ws/api/v2", b'{"jsonrpc":"2.0","id":1,"method":"public/set_heartbeat","params":{"interval":1}}',
                "no test response", "test_requests"),
}


class Silent(picows.WSListener):
    """Answers nothing (no PONG, no text pong, no public/test)."""

    def __init__(self) -> None:
        super().__init__()
        self.closed = asyncio.Event()

    def on_ws_disconnected(self, transport) -> None:
        self.closed.set()


@pytest.mark.parametrize("venue", list(CASES))
def test_silent_client_dropped_and_transport_kept(venue):
    settings, extra, path, first, reason, counter = CASES[venue]

    async def scenario():
        async with Simulator([venue], settings={venue: settings}) as sim:
            server = sim.server(venue)
            transport = VenueTransport(venue, VenueConfig(ws_url=sim.ws_url(venue), reconnect=FAST, **extra), make_parser(venue))
            await transport.start()
            silent_transport, silent = await picows.ws_connect(Silent, sim.ws_url(venue) + path, enable_auto_pong=False)
            if first is not None:
                silent_transport.send(picows.WSMsgType.TEXT, first)
            await asyncio.wait_for(silent.closed.wait(), 10)
            # the transport answered at least three times meanwhile and was never dropped
            await wait_for(lambda: transport.stats()[0][counter] >= 3, what=f"three {counter}")
            stats = transport.stats()[0]
            await transport.close()
            return server.events, stats

    events, stats = asyncio.run(asyncio.wait_for(scenario(), 60))
    assert events.get(reason) == 1  # the silent client, only
    assert stats["reconnects"] == 0 and stats["state"] == "open"


def test_binance_lifetime_met_by_a_replacement_without_loss_or_repeats():
    async def scenario():
        async with Simulator(["binance_spot"], settings={"binance_spot": {"max_lifetime": 2.0}}) as sim:
            server = sim.server("binance_spot")
            parser = make_parser("binance_spot")
            config = VenueConfig(ws_url=sim.ws_url("binance_spot"), symbols=["BTCUSDT"], kinds=["trade"],
                                 max_connection_age_seconds=2.0, reconnect=FAST)
            transport = VenueTransport("binance_spot", config, parser)
            await transport.start()
            await wait_for(lambda: server.subscribed_keys() == ["btcusdt@trade"], what="subscribed")
            sent = 0
            while transport.stats()[0]["rollovers"] < 2:
                sent += 1
                frame = json.dumps({"stream": "btcusdt@trade", "data": {"e": "trade", "E": sent, "s": "BTCUSDT", "t": sent, "p": "1.5",
                                    "q": "2", "T": sent, "m": True, "M": True}}, separators=(",", ":")).encode()
                server.publish("btcusdt@trade", frame, "trade")
                await asyncio.sleep(0.002)
            await wait_for(lambda: parser.stats()["records"]["trade"] >= sent, what="every trade")
            stats = transport.stats()[0]
            await transport.close()
            return parser, stats, server.events, sent

    parser, stats, events, sent = asyncio.run(asyncio.wait_for(scenario(), 60))
    ids = [int(t) for b in parser.take() for t in b.column("trade_id")]
    assert stats["rollovers"] == 2 and stats["reconnects"] == 0
    assert "lifetime" not in events  # replaced before the venue's limit
    assert ids == list(range(1, sent + 1))  # each trade once, in order, none lost
