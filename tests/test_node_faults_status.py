"""Faults injected by the simulator are survived by the running node and visible on /status
and /metrics: a disconnect, a silent stall, refused reconnects, malformed frames, a sequence
gap (resynced from a REST snapshot while REST answers 429 first). Every trade the node wrote
is written once (by key)."""

from __future__ import annotations

import asyncio
import json
import urllib.request

from marketprism_fast.config import config_from_data
from marketprism_fast.service.node import Node
from marketprism_fast.sim import generate
from marketprism_fast.sim.simulator import Simulator

from .helpers import until as wait_until

VENUE = "binance_usdm"
DEADLINE = 60.0


async def until(predicate, what: str, timeout: float = DEADLINE):
    return await wait_until(predicate, what, timeout, 0.05)


def http_get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as r:
        return r.read().decode()


async def status_of(node: Node) -> dict:
    text = await asyncio.get_running_loop().run_in_executor(None, http_get, node.http.url + "/status")
    return json.loads(text)


def test_faults_are_survived_counted_and_on_status(tmp_path):
    out = tmp_path / "records.jsonl"

    async def scenario():
        async with Simulator([VENUE]) as sim:
            sim.generate(VENUE, rate=400)
            symbol = generate.DEFAULT_SYMBOLS[VENUE][0]
            data = {
                "node": {"flush_interval_seconds": 0.2},
                "http": {"port": 0},
                "venues": {
                    VENUE: {
                        "symbols": [symbol],
                        "kinds": ["trade", "book_delta", "quote"],
                        "ws_url": sim.ws_url(VENUE),
                        "rest_url": sim.rest_url(VENUE),
                        "watchdog_seconds": 1.0,
                        "open_interest_poll_seconds": None,
                        "reconnect": {"initial_seconds": 0.05, "max_seconds": 0.2},
                    }
                },
                "sinks": {"jsonl": {"enabled": True, "path": str(out)}},
            }
            node = Node(config_from_data(data, {}))
            await node.start()
            faults = sim.faults(VENUE)
            try:
                def venue_status():
                    return node.status()["venues"][VENUE]

                def connection():
                    return venue_status()["connections"][0]

                await until(lambda: venue_status()["parser"]["records"].get("trade", 0) > 0, "first trades")
                await until(lambda: venue_status()["books"]["symbols"] >= 1 and not venue_status()["books"]["out_of_sync"], "a synced book")

                # a disconnect, then refused reconnects: survived, counted
                faults.refuse(2)
                assert faults.disconnect() == 1
                await until(lambda: connection()["reconnects"] >= 1 and connection()["state"] == "open", "reconnect after refusals")
                assert faults.counts["refused"] == 2

                # a silent stall: the watchdog reconnects
                before = connection()["reconnects"]
                assert faults.stall() >= 1
                await until(lambda: connection()["reconnects"] > before and connection()["state"] == "open", "watchdog reconnect")

                # malformed frames: counted, the feed goes on
                assert faults.inject_malformed("garbage") == 1
                await until(lambda: venue_status()["parser"]["malformed"] >= 1, "malformed counted")

                # a sequence gap on the depth stream, resynced through REST that answers 429 first
                await until(lambda: not venue_status()["books"]["out_of_sync"], "book in sync again after the reconnects")
                gaps_before = venue_status()["books"]["gaps"]
                faults.throttle(1, retry_after=1)
                faults.gap(f"{symbol.lower()}@depth@100ms")
                await until(lambda: venue_status()["books"]["gaps"] > gaps_before, "gap counted")
                await until(lambda: not venue_status()["books"]["out_of_sync"], "book back in sync after the gap")
                await until(lambda: venue_status()["rest"]["throttled"] >= 1, "429 counted")

                trades_before_stop = venue_status()["parser"]["records"]["trade"]
                status = await status_of(node)
                v = status["venues"][VENUE]
                assert v["connections"][0]["reconnects"] >= 2
                assert v["parser"]["malformed"] >= 1
                assert v["books"]["gaps"] >= 1 and v["books"]["snapshot_requests"] >= 2
                assert v["rest"]["throttled"] >= 1
                metrics = await asyncio.get_running_loop().run_in_executor(None, http_get, node.http.url + "/metrics")
                reconnect_lines = [line for line in metrics.splitlines() if line.startswith("marketprism_connection_reconnects_total{")]
                assert reconnect_lines and float(reconnect_lines[0].rsplit(" ", 1)[1]) >= 2
                assert any(line.startswith("marketprism_malformed_frames_total{") and not line.endswith(" 0.0") for line in metrics.splitlines())
            finally:
                assert await node.stop()
            return trades_before_stop

    trades_parsed = asyncio.run(asyncio.wait_for(scenario(), 180))
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    trade_ids = [r["trade_id"] for r in rows if r["kind"] == "trade"]
    assert len(trade_ids) >= trades_parsed > 0
    assert len(trade_ids) == len(set(trade_ids)), "a trade was written twice"
