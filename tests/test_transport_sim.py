"""The real transport against the venue simulator: each corpus session with a recorded
subscription is replayed; the transport subscribes the session's streams, and the records
the venue's parser holds equal, row for row (all columns but ``ts_recv``), the records of the
frames the simulator reports as sent, parsed offline. Keep-alive runs both ways meanwhile."""

from __future__ import annotations

import asyncio
import json

import orjson
import pytest

from marketprism_fast.config import Backoff, VenueConfig
from marketprism_fast.parser import make_parser
from marketprism_fast.sim.simulator import Simulator
from marketprism_fast.transport.ws import VenueTransport

from .helpers import corpus_dir, read_lines
from .wsserver import wait_for

FAST = Backoff(initial_seconds=0.05, max_seconds=0.2)
SESSIONS = [
    ("binance_spot", "cf_2021-04-17"),
    ("binance_usdm", "cf_2021-07-22"),
    ("binance_coinm", "cf_2021-07-21"),
    ("okx", "cf_2022-05-13"),
    ("okx", "cf_2022-02-27"),
    ("deribit", "cf_2021-07-22"),
]


def recorded_streams(venue: str, sent_path) -> list[str]:
    """The streams a session subscribed, in this project's spelling (see transport/protocol.py)."""
    out: dict[str, None] = {}
    for line in read_lines(sent_path):
        entry = orjson.loads(line)
        if entry["kind"] == "connect" and "streams=" in entry["url"]:
            out.update(dict.fromkeys(entry["url"].split("streams=", 1)[1].split("/")))
        if entry["kind"] != "send" or not entry["payload"]:
            continue
        msg = orjson.loads(entry["payload"])
        if venue.startswith("binance") and msg.get("method") == "SUBSCRIBE":
            out.update(dict.fromkeys(msg["params"]))
        elif venue == "okx" and msg.get("op") == "subscribe":
            out.update(dict.fromkeys(f"{a['channel']}:{a['instId']}" for a in msg["args"]))
        elif venue == "deribit" and msg.get("method") == "public/subscribe":
            out.update(dict.fromkeys(msg["params"]["channels"]))
    return list(out)


def comparable(batches) -> list[str]:
    rows = []
    for b in batches:
        for r in b.rows():
            if r["ts_event"] == r.pop("ts_recv"):
                r["ts_event"] = None
            r["kind"] = b.kind.name
            rows.append(json.dumps(r, sort_keys=True, default=str))
    return sorted(rows)


@pytest.mark.corpus
@pytest.mark.parametrize("venue,session", SESSIONS, ids=[f"{v}-{s}" for v, s in SESSIONS])
def test_replayed_session_reaches_the_parser_whole(venue, session):
    root = corpus_dir() / venue
    frames_path = root / f"{venue}.{session}.frames.jsonl.zst"
    streams = recorded_streams(venue, root / f"{venue}.{session}.sent.jsonl.zst")
    assert streams
    lines = read_lines(frames_path)

    async def scenario():
        async with Simulator([venue]) as sim:
            parser = make_parser(venue)
            config = VenueConfig(ws_url=sim.ws_url(venue), rest_url=sim.rest_url(venue), symbols=["X"], kinds=[], channels=streams,
                                 subscribe_messages_per_second=100.0, heartbeat_seconds=10, reconnect=FAST)
            transport = VenueTransport(venue, config, parser)
            replay = sim.load_replay(venue, [str(frames_path)])
            await transport.start()
            server = sim.server(venue)
            await wait_for(lambda: len(server.subscribed_keys()) == len(streams), what="every stream subscribed")
            await wait_for(lambda: transport.stats()[0]["state"] == "open")
            await replay.run(speed=None)
            sent = sim.sent(venue)
            expected = make_parser(venue)
            for i in sent["indices"]:
                expected.feed(lines[i], 0)
            want = expected.stats()["records"]
            await wait_for(lambda: parser.stats()["records"] == want, what=f"records {want}")
            stats = transport.stats()
            await transport.close()
            return parser, expected, sent, stats

    parser, expected, sent, stats = asyncio.run(asyncio.wait_for(scenario(), 120))
    assert sent["frames"] > 0 and sum(parser.stats()["records"].values()) > 100
    assert comparable(parser.take()) == comparable(expected.take())
    assert all(c["reconnects"] == 0 for c in stats)
    assert parser.stats()["malformed"] == 0


@pytest.mark.corpus
def test_rest_client_against_the_simulator_with_faults():
    """Snapshots and instruments from the simulator's Binance USD-M REST (a replayed session's
    bodies); a 429 with Retry-After, two 500s and one answer slower than the timeout are all
    survived within the retry budget and counted."""
    from marketprism_fast.symbols import SymbolMetadata
    from marketprism_fast.transport.rest import RestClient

    root = corpus_dir() / "binance_usdm"
    frames_path = root / "binance_usdm.cf_2021-07-22.frames.jsonl.zst"
    symbol = read_lines(root / "binance_usdm.cf_2021-07-22.snapshots.meta.tsv.zst")[0].split(b"symbol=")[1].split(b"&")[0].decode()

    async def scenario():
        async with Simulator(["binance_usdm"]) as sim:
            sim.load_replay("binance_usdm", [str(frames_path)])
            config = VenueConfig(rest_url=sim.rest_url("binance_usdm"), symbols=[symbol], rest_timeout_seconds=0.5, rest_retries=3,
                                 reconnect=FAST)
            rest = RestClient("binance_usdm", config)
            metadata = SymbolMetadata()
            await rest.refresh_instruments(metadata)
            faults = sim.faults("binance_usdm")
            out = {}
            faults.throttle(1, retry_after=1)
            out["throttled"] = await rest.snapshot(symbol)
            faults.fail_rest(500, 2)
            out["failed"] = await rest.snapshot(symbol)
            faults.slow_rest(2.0, 1)
            out["slow"] = await rest.snapshot(symbol)
            stats = rest.stats()
            await rest.close()
            return metadata, out, stats, sim.sent("binance_usdm")["faults"]

    metadata, out, stats, faults = asyncio.run(asyncio.wait_for(scenario(), 60))
    from marketprism_fast.venues import normalize_symbol

    assert normalize_symbol("binance_usdm", symbol, metadata).resolved
    for body, _ in out.values():
        assert orjson.loads(body)["lastUpdateId"] > 0
    assert stats["throttled"] == 1 and stats["snapshots"] == 3 and stats["retries"] == 4  # 1 throttle + 2 failures + 1 timeout
    assert faults.get("rest_429") == 1 and faults.get("rest_500") == 2 and faults.get("rest_slow") == 1
