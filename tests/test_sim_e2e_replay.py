"""Every corpus session replayed through the simulator and the real transport: the records equal
``normalize``'s parse of the frames the simulator reports as sent (all columns but ts_recv; REST
snapshot rows aside), and every maintained book verifies: no gaps, OKX checksums hold, Deribit
change ids chain, and Binance's top of book equals bookTicker wherever the update ids match
(REST snapshots come from the session's own recorded snapshots, fetched by the REST client)."""

from __future__ import annotations

import asyncio
import bisect
import json
from collections import defaultdict

import pytest

from marketprism_fast.books.builder import BookBuilder
from marketprism_fast.books.scheduler import SnapshotScheduler
from marketprism_fast.config import Backoff, VenueConfig
from marketprism_fast.parser import make_parser
from marketprism_fast.sim import Simulator
from marketprism_fast.transport.rest import RestClient
from marketprism_fast.transport.ws import VenueTransport

from .helpers import corpus_dir, read_lines
from .simclient import wait_for
from .test_sim_replay import sessions

FAST = Backoff(initial_seconds=0.05, max_seconds=0.2)
CONTINUES = {  # a day file that carries on from the previous one: replay that one first
    ("binance_spot", "hbt_2024-08-09_btcusdt"): "hbt_2024-08-08_btcusdt",
    ("binance_usdm", "hbt_2024-07-19_btcusdt"): "hbt_2024-07-18_btcusdt",
}


def channels_of(venue: str, keys: list[str]) -> list[str]:
    """The simulator's routing keys as the transport's configured channels."""
    if venue != "okx":
        return keys
    return [f"{k.partition(':')[0]}:instType={k.partition(':')[2]}" if k.startswith("liquidation-orders:") else k for k in keys]


def comparable(batches) -> list[str]:
    rows = []
    for b in batches:
        for r in b.rows():
            if b.kind.name == "book_delta" and r["is_snapshot"] and r["ts_event"] == r["ts_recv"]:
                continue  # a REST snapshot row: taken when the node asked, not a WS frame
            if r["ts_event"] == r.pop("ts_recv"):
                r["ts_event"] = None
            r["kind"] = b.kind.name
            rows.append(json.dumps(r, sort_keys=True, default=str))
    return sorted(rows)


@pytest.mark.corpus
@pytest.mark.parametrize("venue,session", sessions(), ids=[f"{v}-{s}" for v, s in sessions()])
def test_replay_through_the_transport_equals_normalize_and_books_verify(venue, session):
    root = corpus_dir() / venue
    paths = [root / f"{venue}.{session}.frames.jsonl.zst"]
    if (venue, session) in CONTINUES:
        paths.insert(0, root / f"{venue}.{CONTINUES[venue, session]}.frames.jsonl.zst")
    lines = [line for p in paths for line in read_lines(p)]
    binance = venue.startswith("binance")

    async def scenario():
        async with Simulator([venue]) as sim:
            replay = sim.load_replay(venue, [str(p) for p in paths])
            channels = channels_of(venue, replay.keys())
            config = VenueConfig(ws_url=sim.ws_url(venue), rest_url=sim.rest_url(venue), symbols=["X"], kinds=[],
                                 channels=channels, subscribe_messages_per_second=100.0, reconnect=FAST,
                                 watchdog_seconds=60.0)
            parser = make_parser(venue, book_markers=True)
            scheduler = SnapshotScheduler.for_venue(venue) if binance else None
            builder = BookBuilder(venue, parser.instruments, depth=5, quotes=True, scheduler=scheduler)
            transport = VenueTransport(venue, config, parser)
            rest = RestClient(venue, config)
            collected, derived = [], []

            def pump_once() -> None:
                for batch in parser.take():
                    collected.append(batch)
                    if batch.kind.name == "book_delta":
                        builder.apply(batch)
                for batch in builder.take():
                    if batch.kind.name == "quote":
                        derived.append(batch)

            async def pump() -> None:
                while True:
                    pump_once()
                    await asyncio.sleep(0.005)

            loop = asyncio.get_running_loop()
            tasks = [loop.create_task(pump())]
            if scheduler is not None:
                tasks.append(loop.create_task(rest.run_snapshots(scheduler, parser)))
            await transport.start()
            await wait_for(lambda: len(sim.server(venue).subscribed_keys()) == len(channels), 20, what="every stream subscribed")
            # Binance books sync on a REST snapshot fetched while the stream runs: replay at a pace
            # (each session in about four seconds) so that the snapshot arrives as it would live
            span = (replay.items[-1].ts_recv - replay.items[0].ts_recv) / 1e9 if replay.items else 0.0
            await replay.run(speed=max(1.0, span / 4.0) if binance else None)
            sent = sim.sent(venue)
            offline = make_parser(venue, book_markers=True)
            for i in sent["indices"]:
                offline.feed(lines[i], 0)
            want = offline.stats()["records"]
            await wait_for(lambda: parser.stats()["parsed"] - rest.stats()["snapshots"] >= len(sent["indices"]), 60,
                           what=f"{len(sent['indices'])} frames parsed")
            if binance:  # the REST snapshots are paced by the scheduler: let every book sync
                await wait_for(lambda: builder.stats()["symbols"] > 0 and not builder.out_of_sync, 60, what="every book synced")
                await asyncio.sleep(0.05)
            pump_once()
            for t in tasks:
                t.cancel()
            stats = transport.stats()
            await transport.close()
            await rest.close()
            return collected, derived, offline, want, sent, stats, builder

    collected, derived, offline, want, sent, tstats, builder = asyncio.run(asyncio.wait_for(scenario(), 150))
    assert sent["frames"] > 0 and all(c["reconnects"] == 0 for c in tstats)
    assert comparable(collected) == comparable(offline.take())
    book = builder.stats()
    assert book["gaps"] == {} and book["checksum_failures"] == 0 and book["crossed"] == 0
    if any(b.kind.name == "book_delta" and b.n for b in collected):
        assert book["applied"] > 0
    if binance:
        checked = top_of_book_matches(collected, derived)
        assert checked["mismatches"] == 0, checked
        expected_matches = any(b.kind.name == "quote" and b.n for b in collected) and any(b.kind.name == "book_delta" for b in collected)
        if expected_matches and session.startswith("hbt"):
            assert checked["matches"] > 0


def top_of_book_matches(collected, derived) -> dict:
    """bookTicker rows against the builder's top of book after the depth event with the same id."""
    depth_ids = defaultdict(set)
    for b in collected:
        if b.kind.name == "book_delta":
            for sym, uid, snap in zip(b.column("raw_symbol"), b.column("update_id"), b.column("is_snapshot")):
                if not snap:
                    depth_ids[str(sym)].add(int(uid))
    tops = defaultdict(list)  # symbol -> [(update_id, best)] as derived by the builder, in order
    for b in derived:
        cols = [b.column(c) for c in ("raw_symbol", "update_id", "bid_price", "bid_amount", "ask_price", "ask_amount")]
        for sym, uid, *best in zip(*cols):
            tops[str(sym)].append((int(uid), tuple(float(x) for x in best)))
    matches = mismatches = 0
    for b in collected:
        if b.kind.name != "quote":
            continue
        cols = [b.column(c) for c in ("raw_symbol", "update_id", "bid_price", "bid_amount", "ask_price", "ask_amount")]
        for sym, uid, *best in zip(*cols):
            sym, uid = str(sym), int(uid)
            series = tops.get(sym)
            if uid not in depth_ids[sym] or not series or series[0][0] > uid:
                continue
            ids = [u for u, _ in series]
            at = bisect.bisect_right(ids, uid) - 1
            if tuple(float(x) for x in best) == series[at][1]:
                matches += 1
            else:
                mismatches += 1
    return {"matches": matches, "mismatches": mismatches}
