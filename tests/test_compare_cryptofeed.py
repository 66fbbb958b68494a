"""cryptofeed's end-to-end contender (benchmarks/contenders/cryptofeed_live.py) against the
simulator: its own FeedHandler, BinanceFutures feed and WS client over real loopback
WebSocket, no mocks. Every aggregate trade id and bookTicker update id the simulator wrote to
its connection reaches its callbacks exactly once; its symbol table and book snapshots come
from the simulator's REST side; SIGTERM ends it with its counters.

Skipped, saying so, where cryptofeed is not importable (it is an optional benchmark extra).
"""

from __future__ import annotations

import asyncio
import json
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

from marketprism_fast.sim import Simulator

from .helpers import until

pytest.importorskip("cryptofeed.exchanges.binance_futures",
                    reason="cryptofeed is not installed (pip install '.[bench]'): its end-to-end contender is not tested")

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))
# the contender's --progress file: a little-endian uint64 count of each of these kinds, in order
from contenders.cryptofeed_live import PROGRESS_KINDS  # noqa: E402

LIVE = REPO / "benchmarks" / "contenders" / "cryptofeed_live.py"
VENUE = "binance_usdm"
SYMBOLS = ["BTCUSDT", "ETHUSDT"]
# cryptofeed's channels and the Binance streams it subscribes to for them
CHANNELS = "trades,ticker,l2_book"
STREAMS = {f"{s.lower()}{suffix}" for s in SYMBOLS for suffix in ("@aggTrade", "@bookTicker", "@depth@100ms")}
FEED_SECONDS = 3.0
RATE = 600  # frames/s over the six streams


def sent_keys(sent_log: list) -> dict[str, list]:
    """Keys of every frame written to a connection, in order: trades (symbol, aggregate trade
    id), quotes (symbol, update id), book levels (symbol, update id, side, price)."""
    keys: dict[str, list] = {"trade": [], "quote": [], "book_delta": []}
    for _key, kind, frame in sent_log:
        event = orjson.loads(frame)["data"]
        if kind == "trade":
            assert event["e"] == "aggTrade"
            keys["trade"].append([event["s"], str(event["a"])])
        elif kind == "quote":
            keys["quote"].append([event["s"], event["u"]])
        else:
            for side, levels in ((1, event["b"]), (-1, event["a"])):
                keys["book_delta"] += [[event["s"], event["u"], side, float(price)] for price, _ in levels]
    return keys


async def counted_at_least(progress: Path, wanted: list[int], proc, timeout: float) -> None:
    """Wait, up to ``timeout`` seconds, until the contender's running counts reach ``wanted`` or
    it exits; returns either way (the caller compares the final records, which says the rest)."""
    size = 8 * len(PROGRESS_KINDS)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.returncode is None:
        data = progress.read_bytes() if progress.exists() else b""
        if len(data) == size and all(c >= w for c, w in zip(struct.unpack(f"<{len(PROGRESS_KINDS)}Q", data), wanted)):
            return
        await asyncio.sleep(0.05)


async def run_contender(tmp_path: Path) -> tuple[int, dict, dict, dict, dict]:
    keys_file = tmp_path / "keys.json"
    progress_file = tmp_path / "progress"
    async with Simulator([VENUE]) as sim:
        server = sim.server(VENUE)
        server.keep_sent = True
        generator = sim.generate(VENUE, rate=RATE, symbols=SYMBOLS)
        proc = await asyncio.create_subprocess_exec(
            sys.executable, str(LIVE), "--ws-url", sim.ws_url(VENUE), "--rest-url", sim.rest_url(VENUE),
            "--symbols", ",".join(SYMBOLS), "--channels", CHANNELS, "--keys", str(keys_file), "--progress", str(progress_file),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, cwd=REPO)
        try:
            await until(lambda: STREAMS <= set(server.subscribed_keys()) or proc.returncode is not None,
                        "cryptofeed's subscriptions", timeout=60)
            assert proc.returncode is None, (await proc.stderr.read()).decode()[-2000:]
            await asyncio.sleep(FEED_SECONDS)  # the feed runs for a fixed time: a measurement, not a wait
            generator.pause()
            await until(lambda: all(c.transport.underlying_transport.get_write_buffer_size() == 0
                                    for c in server.connections.values()), "the simulator's writes to be flushed")
            sent_so_far = sent_keys(server.sent_log)
            # the contender has counted as many trades and quotes as were sent (if it never does,
            # the comparison below shows what it missed)
            await counted_at_least(progress_file, [len(sent_so_far[k]) for k in PROGRESS_KINDS], proc, timeout=30)
            proc.send_signal(signal.SIGTERM)
            out, err = await asyncio.wait_for(proc.communicate(), 60)
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        sent = server.sent()
        expected = sent_keys(server.sent_log)
    lines = out.decode().strip().splitlines()
    assert lines, err.decode()[-2000:]
    counters = json.loads(lines[-1])
    return proc.returncode, counters, json.loads(keys_file.read_text()), expected, sent


def test_cryptofeed_feed_gets_every_trade_and_quote_the_simulator_sent(tmp_path: Path) -> None:
    status, counters, got, expected, sent = asyncio.run(asyncio.wait_for(run_contender(tmp_path), 180))
    assert status == 0, counters
    # one connection, its symbol table from exchangeInfo, one depth snapshot per symbol
    assert len(sent["connections"]) == 1
    assert sent["rest"]["/fapi/v1/exchangeInfo"] == 1
    assert sent["rest"]["/fapi/v1/depth"] == len(SYMBOLS) == counters["snapshots"]
    assert counters["symbols"] == {"BTCUSDT": "BTC-USDT-PERP", "ETHUSDT": "ETH-USDT-PERP"}
    # the same trade ids and quote update ids as sent, each once, in the order sent per symbol
    assert len(expected["trade"]) > 100 and len(expected["quote"]) > 100
    for kind in ("trade", "quote"):
        assert got[kind] == expected[kind], kind
        assert counters["records"][kind] == len(expected[kind])
    # book deltas: cryptofeed applies those after its snapshot; every level it handed on was sent
    assert counters["records"]["book_delta"] == len(got["book_delta"]) > 0
    assert {tuple(k) for k in got["book_delta"]} <= {tuple(k) for k in expected["book_delta"]}
    assert not counters["log"], counters["log"]  # no warning or error from cryptofeed itself


def test_a_progress_file_that_cannot_be_made_is_refused_in_one_line(tmp_path: Path) -> None:
    """--progress naming a place no file can be made: the contender stops before it connects
    anywhere, with one line naming the option, the path and why."""
    import subprocess

    path = tmp_path / "missing" / "progress"
    done = subprocess.run([sys.executable, str(LIVE), "--ws-url", "ws://127.0.0.1:9", "--rest-url", "http://127.0.0.1:9",
                           "--progress", str(path)], capture_output=True, text=True, timeout=60, cwd=REPO)
    assert done.returncode == 2
    last = done.stderr.strip().splitlines()[-1]
    assert last.endswith(f"--progress {path}: cannot make the progress file: No such file or directory"), done.stderr
