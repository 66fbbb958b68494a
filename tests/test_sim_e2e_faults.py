"""Faults injected by the simulator, survived by the real transport: disconnect, silent stall,
refused reconnects, a sequence gap, malformed frames, slow and 429ing REST. Each is counted on
both sides; every trade the simulator sent is ingested exactly once (compared by key), and a
gap resyncs that symbol alone while the other books stay in sync.

The harness is the node's ingest path in small: transport -> parser; sealed book_delta batches
-> BookBuilder, whose scheduler's requests the REST client serves (Binance), or whose gaps
resubscribe that symbol's book (OKX, Deribit: a subscription starts with a snapshot)."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from marketprism_fast.books.builder import BookBuilder
from marketprism_fast.books.scheduler import SnapshotScheduler
from marketprism_fast.config import Backoff, VenueConfig
from marketprism_fast.parser import make_parser
from marketprism_fast.sim import Simulator
from marketprism_fast.transport.rest import RestClient
from marketprism_fast.transport.ws import VenueTransport

from .simclient import wait_for

FAST = Backoff(initial_seconds=0.05, max_seconds=0.2)
SYMBOLS = {"binance_usdm": ["BTCUSDT", "ETHUSDT"], "okx": ["BTC-USDT-SWAP", "ETH-USDT-SWAP"]}


class Node:
    def __init__(self, sim: Simulator, venue: str, **overrides) -> None:
        self.venue = venue
        self.sim = sim
        self.server = sim.server(venue)
        self.server.keep_sent = True
        self.symbols = SYMBOLS[venue]
        self.gen = sim.generate(venue, rate=800, symbols=self.symbols)
        self.config = VenueConfig(ws_url=sim.ws_url(venue), rest_url=sim.rest_url(venue), symbols=self.symbols,
                                  kinds=["trade", "book_delta", "quote"], reconnect=FAST, **overrides)
        self.parser = make_parser(venue)
        self.scheduler = SnapshotScheduler.for_venue(venue) if venue.startswith("binance") else None
        self.builder = BookBuilder(venue, self.parser.instruments, depth=5, scheduler=self.scheduler)
        self.transport = VenueTransport(venue, self.config, self.parser)
        self.rest = RestClient(venue, self.config)
        self.trades: list[tuple[str, str]] = []
        self.resubscribed: Counter = Counter()
        self.tasks: list[asyncio.Task] = []

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self.tasks.append(loop.create_task(self._pump()))
        if self.scheduler is not None:
            self.tasks.append(loop.create_task(self.rest.run_snapshots(self.scheduler, self.parser)))
        await self.transport.start()
        await wait_for(self.synced, 20, what="every book in sync")

    async def _pump(self) -> None:
        """The batcher: sealed batches to the book builder, trades kept by key; OKX gaps resubscribe."""
        while True:
            for batch in self.parser.take():
                if batch.kind.name == "book_delta":
                    self.builder.apply(batch)
                elif batch.kind.name == "trade":
                    self.trades.extend(zip(batch.column("raw_symbol"), batch.column("trade_id")))
            if self.scheduler is None:
                lost = [s for s in self.builder.out_of_sync if s not in self.resubscribed or self.resubscribed[s] < self.builder.stats()["gaps"].get(s, 0)]
                if lost:
                    self.resubscribed.update(lost)
                    await self.transport.resubscribe(lost)
            await asyncio.sleep(0.005)

    def synced(self) -> bool:
        return all(not self.builder.needs_snapshot(s) for s in self.symbols)

    def connection(self) -> dict:
        return self.transport.stats()[0]

    def sent_trades(self) -> Counter:
        offline = make_parser(self.venue)
        for key, kind, frame in list(self.server.sent_log):
            if kind == "trade":
                offline.feed(frame, 0)
        return Counter((str(s), str(t)) for b in offline.take() for s, t in zip(b.column("raw_symbol"), b.column("trade_id")))

    async def settle(self) -> None:
        """Stop the generator and wait until every trade sent so far is ingested."""
        self.gen.pause()
        want = sum(self.sent_trades().values())
        await wait_for(lambda: len(self.trades) >= want, 20, what=f"{want} trades ingested")

    async def run_for(self, trades: int) -> None:
        self.gen.resume()
        target = len(self.trades) + trades
        await wait_for(lambda: len(self.trades) >= target, 20, what=f"{trades} more trades")

    async def close(self) -> None:
        for t in self.tasks:
            t.cancel()
        await self.transport.close()
        await self.rest.close()

    def assert_every_trade_once(self) -> None:
        got = Counter((str(s), str(t)) for s, t in self.trades)
        assert max(got.values()) == 1, "a trade was ingested twice"
        assert got == self.sent_trades()


def run(scenario, venue: str, settings: dict | None = None, **overrides):
    async def main():
        async with Simulator([venue], settings={venue: settings or {}}) as sim:
            node = Node(sim, venue, **overrides)
            await node.start()
            try:
                await node.run_for(20)
                await scenario(sim, node)
                await node.run_for(20)
                await node.settle()
                await wait_for(node.synced, 20, what="books back in sync")
                node.assert_every_trade_once()
                return node
            finally:
                await node.close()

    return asyncio.run(asyncio.wait_for(main(), 90))


def test_disconnect_is_survived_without_loss_or_repeats():
    async def scenario(sim, node):
        await node.settle()
        assert sim.faults("binance_usdm").disconnect() == 1
        node.gen.resume()
        await wait_for(lambda: node.connection()["reconnects"] == 1 and node.connection()["state"] == "open", what="reconnected")

    node = run(scenario, "binance_usdm")
    assert node.sim.sent("binance_usdm")["faults"]["disconnect"] == 1
    assert node.sim.sent("binance_usdm")["events"]["connections"] == 2


def test_silent_stall_tripped_by_the_watchdog():
    async def scenario(sim, node):
        assert sim.faults("binance_usdm").stall() == 1
        await wait_for(lambda: node.connection()["reconnects"] >= 1 and node.connection()["state"] == "open", what="watchdog reconnect")

    node = run(scenario, "binance_usdm", watchdog_seconds=0.5)
    assert node.connection()["watchdog_trips"] >= 1
    assert node.sim.sent("binance_usdm")["faults"]["stall"] == 1
    # updates generated while stalled were never sent: the books saw a gap and resynced
    assert node.builder.stats()["out_of_sync"] == []


def test_refused_reconnects_then_back():
    async def scenario(sim, node):
        await node.settle()
        sim.faults("binance_usdm").refuse(3)
        sim.faults("binance_usdm").disconnect()
        node.gen.resume()
        await wait_for(lambda: sim.sent("binance_usdm")["faults"].get("refused", 0) == 3, what="three refusals")
        await wait_for(lambda: node.connection()["state"] == "open" and node.connection()["reconnects"] >= 1, what="reconnected")

    node = run(scenario, "binance_usdm")
    assert node.sim.sent("binance_usdm")["events"]["refused"] == 3


@pytest.mark.parametrize("venue", ["binance_usdm", "okx"])
def test_a_gap_resyncs_that_symbol_alone(venue):
    gapped, other = SYMBOLS[venue]
    key = {"binance_usdm": f"{gapped.lower()}@depth@100ms", "okx": f"books:{gapped}"}[venue]

    async def scenario(sim, node):
        before = dict(node.gen.snapshot_requests)
        sim.faults(venue).gap(key)
        await wait_for(lambda: node.builder.stats()["gaps"].get(gapped, 0) == 1, what=f"the {gapped} gap")
        await wait_for(node.synced, what="resynced")
        if venue == "binance_usdm":  # the resync fetched that symbol's snapshot alone
            assert node.gen.snapshot_requests[gapped] == before[gapped] + 1
            assert node.gen.snapshot_requests[other] == before[other]
        else:  # that symbol's book subscribed afresh
            assert node.resubscribed == Counter({gapped: 1})

    node = run(scenario, venue)
    assert node.builder.stats()["gaps"] == {gapped: 1}
    assert node.sim.sent(venue)["faults"]["gap"] == 1
    assert node.connection()["reconnects"] == 0


def test_malformed_frames_counted_and_skipped():
    async def scenario(sim, node):
        faults = sim.faults("binance_usdm")
        faults.corrupt(2, "truncate")
        assert faults.inject_malformed("garbage") == 1
        await wait_for(lambda: node.parser.stats()["malformed"] == 3, what="three malformed frames")

    node = run(scenario, "binance_usdm")
    assert node.parser.stats()["malformed"] == 3
    assert node.connection()["reconnects"] == 0
    faults = node.sim.sent("binance_usdm")["faults"]
    assert faults["corrupt_truncate"] == 2 and faults["malformed_garbage"] == 1


def test_slow_and_429ing_rest_during_a_resync():
    async def scenario(sim, node):
        faults = sim.faults("binance_usdm")
        faults.throttle(1, retry_after=1)
        faults.slow_rest(3.0, count=1)
        faults.gap("btcusdt@depth@100ms")
        await wait_for(lambda: node.builder.stats()["gaps"].get("BTCUSDT", 0) == 1, what="the gap")
        await wait_for(node.synced, 20, what="resynced through a 429 and a timeout")

    node = run(scenario, "binance_usdm", rest_timeout_seconds=0.5, rest_retries=3)
    rest = node.rest.stats()
    assert rest["throttled"] == 1 and rest["errors"] >= 1  # the 429, then the timed-out request
    counts = node.sim.sent("binance_usdm")["faults"]
    assert counts["rest_429"] == 1 and counts["rest_slow"] == 1
