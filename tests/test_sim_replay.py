"""Replaying every corpus session through the simulator to a plain client subscribed to all of
its streams: the client receives exactly the frames the simulator reports as sent, those are
every data line of the capture (control lines are answered by the simulator, not replayed),
byte for byte, in order; recorded snapshots and refdata are served on the REST endpoints."""

from __future__ import annotations

import asyncio
import json
from collections import Counter

import aiohttp
import orjson
import pytest

from marketprism_fast.sim import Simulator
from marketprism_fast.sim.replay import sibling

from .helpers import corpus_dir, read_lines
from .simclient import connect, wait_for

VENUES = ("binance_spot", "binance_usdm", "binance_coinm", "okx", "deribit")
WS_PATHS = {"okx": "/ws/v5/public", "deribit": "/ws/api/v2"}


def run(coro, timeout: float = 120.0):
    return asyncio.run(asyncio.wait_for(coro, timeout))


def sessions() -> list[tuple[str, str]]:
    from .helpers import CORPUS

    out = []
    for venue in VENUES:
        for p in sorted((CORPUS / venue).glob("*.frames.jsonl.zst")):
            out.append((venue, p.name[len(venue) + 1 : -len(".frames.jsonl.zst")]))
    return out or [("binance_spot", "absent")]


def manifest_lines() -> dict[str, int]:
    manifest = json.loads((corpus_dir() / "MANIFEST.json").read_text())
    return {f["path"]: f["lines"] for f in manifest["files"]}


async def subscribed_client(sim: Simulator, venue: str, keys: list[str]):
    """A plain client subscribed to ``keys`` the way the venue documents it."""
    url = sim.ws_url(venue)
    if venue.startswith("binance"):
        return await connect(url + "/stream?streams=" + "/".join(keys))
    client = await connect(url + WS_PATHS[venue])
    if venue == "okx":
        args = []
        for key in keys:
            channel, _, target = key.partition(":")
            args.append({"channel": channel, "instType" if channel == "liquidation-orders" else "instId": target})
        client.send({"op": "subscribe", "args": args})
    else:
        client.send({"jsonrpc": "2.0", "id": 1, "method": "public/subscribe", "params": {"channels": keys}})
    return client


@pytest.mark.corpus
@pytest.mark.parametrize("venue,session", sessions(), ids=[f"{v}-{s}" for v, s in sessions()])
def test_replay_sends_every_data_frame_once_in_order(venue, session):
    root = corpus_dir() / venue
    frames_path = root / f"{venue}.{session}.frames.jsonl.zst"
    lines = read_lines(frames_path)
    assert len(lines) == manifest_lines()[f"{venue}/{frames_path.name}"]

    async def scenario():
        async with Simulator([venue]) as sim:
            replay = sim.load_replay(venue, [str(frames_path)])
            client = await subscribed_client(sim, venue, replay.keys())
            assert await replay.wait_subscribed(10), "the client's subscriptions did not arrive"
            replies = len(client.received)
            await replay.run(speed=None)
            sent = sim.sent(venue)
            await wait_for(lambda: len(client.received) - replies >= sent["deliveries"], 60, "every frame delivered")
            await asyncio.sleep(0)
            return replay, sent, client.received[replies:]

    replay, sent, received = run(scenario())
    data_lines = [i for i, line in enumerate(lines) if replay.server.protocol.route(line, orjson.loads(line)) is not None]
    assert sent["indices"] == data_lines == [item.index for item in replay.items]
    assert sent["frames"] == sent["deliveries"] == len(data_lines) > 0
    assert sent["frames"] + sum(replay.skipped.values()) == replay.lines == len(lines)
    # subscription replies of the client's own may interleave only before the data
    data = [f for f in received if not f.startswith((b'{"event"', b'{"jsonrpc":"2.0","id"', b'{"result"'))]
    assert data == [lines[i] for i in data_lines]
    by_kind = Counter()
    for (key, kind), n in replay.expected().items():
        by_kind[kind] += n
    assert sent["by_kind"] == dict(by_kind)
    assert sent["unrouted"] == 0


@pytest.mark.corpus
def test_paced_replay_keeps_the_recorded_order():
    path = corpus_dir() / "okx" / "okx.cf_2022-05-13.frames.jsonl.zst"

    async def scenario():
        async with Simulator(["okx"]) as sim:
            replay = sim.load_replay("okx", [str(path)])
            client = await subscribed_client(sim, "okx", replay.keys())
            await replay.wait_subscribed(10)
            replies = len(client.received)
            await replay.run(speed=100.0)  # an 11 s session at 100x
            await wait_for(lambda: len(client.received) - replies >= len(replay.items), 30, "every frame")
            return replay, client.received[replies:]

    replay, received = run(scenario())
    assert received == [item.frame for item in replay.items]
    stamps = [item.ts_recv for item in replay.items]
    assert stamps == sorted(stamps)


@pytest.mark.corpus
def test_recorded_snapshots_and_refdata_served():
    path = corpus_dir() / "binance_spot" / "binance_spot.cf_2021-04-17.frames.jsonl.zst"
    snapshots = read_lines(corpus_dir() / "binance_spot" / "binance_spot.cf_2021-04-17.snapshots.jsonl.zst")
    refdata = [orjson.loads(line) for line in read_lines(corpus_dir() / "binance_spot" / "binance_spot.cf_2021-04-17.refdata.jsonl.zst")]
    assert sibling(str(path), "snapshots") is not None

    async def scenario():
        async with Simulator(["binance_spot"]) as sim:
            replay = sim.load_replay("binance_spot", [str(path)])
            symbols = sorted(replay.snapshots)
            base = sim.rest_url("binance_spot")
            bodies = {}
            async with aiohttp.ClientSession() as http:
                for symbol in symbols:
                    async with http.get(base + "/api/v3/depth", params={"symbol": symbol, "limit": "1000"}) as r:
                        assert r.status == 200
                        bodies[symbol] = await r.read()
                async with http.get(base + "/api/v3/exchangeInfo") as r:
                    info = await r.read()
            return symbols, bodies, info

    symbols, bodies, info = run(scenario())
    assert len(symbols) == 10
    assert sorted(bodies.values()) == sorted(snapshots)
    assert info.decode() in [r["body"] for r in refdata]
