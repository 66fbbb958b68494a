"""Every corpus session replayed through the simulator and the real transport: the records equal
``normalize``'s parse of the frames the simulator reports as sent (all columns but ts_recv; REST
snapshot rows aside), and every maintained book verifies: no gaps, OKX checksums hold, Deribit
change ids chain, and Binance's top of book equals bookTicker wherever the update ids match
(REST snapshots come from the session's own recorded snapshots, fetched by the REST client)."""

from __future__ import annotations

import asyncio
import bisect
import numpy as np
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


def by_kind(batches) -> dict[str, dict[str, np.ndarray]]:
    """Each kind's rows as columns, in arrival order, without ts_recv and without REST snapshot
    rows (taken when the node asked, not frames); where a venue has no event time, ts_event is
    the receive time and is left out too."""
    out: dict[str, dict[str, list[np.ndarray]]] = {}
    for b in batches:
        if not b.n:
            continue
        cols = b.columns()
        keep = np.ones(b.n, dtype=bool)
        if b.kind.name == "book_delta":
            keep &= ~((cols["is_snapshot"] != 0) & (cols["ts_event"] == cols["ts_recv"]))
        no_event_time = cols["ts_event"] == cols["ts_recv"]
        ts_event = np.where(no_event_time, 0, cols["ts_event"])
        parts = out.setdefault(b.kind.name, {})
        for name, values in cols.items():
            if name in ("ts_recv", "frame"):
                continue
            parts.setdefault(name, []).append((ts_event if name == "ts_event" else values)[keep])
    return {kind: {n: np.concatenate(v) for n, v in parts.items()} for kind, parts in out.items()}


def assert_same_records(got_batches, want_batches) -> None:
    got, want = by_kind(got_batches), by_kind(want_batches)
    assert sorted(got) == sorted(want)
    for kind in want:
        assert sorted(got[kind]) == sorted(want[kind]), kind
        for name, values in want[kind].items():
            mine = got[kind][name]
            assert len(mine) == len(values), f"{kind}: {len(mine)} rows, expected {len(values)}"
            if values.dtype.kind == "f":
                same = (mine == values) | (np.isnan(mine) & np.isnan(values))
            else:
                same = mine == values
            assert bool(np.all(same)), f"{kind}.{name} differs at row {int(np.argmin(same))}"


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
            # snapshot pacing is not under test here: a budget that never makes a request wait
            scheduler = SnapshotScheduler(capacity=1000, refill_per_second=1000.0, request_weight=1) if binance else None
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
            pump_once()
            for t in tasks:
                t.cancel()
            stats = transport.stats()
            await transport.close()
            await rest.close()
            return collected, derived, offline, want, sent, stats, builder

    collected, derived, offline, want, sent, tstats, builder = asyncio.run(asyncio.wait_for(scenario(), 150))
    assert sent["frames"] > 0 and all(c["reconnects"] == 0 for c in tstats)
    assert len(tstats) == 1  # one connection: the frames arrive in the order they were sent
    assert_same_records(collected, offline.take())
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
    ids_of = {sym: [u for u, _ in series] for sym, series in tops.items()}
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
            at = bisect.bisect_right(ids_of[sym], uid) - 1
            if tuple(float(x) for x in best) == series[at][1]:
                matches += 1
            else:
                mismatches += 1
    return {"matches": matches, "mismatches": mismatches}
