"""End to end: the venue simulator over loopback WebSocket, through the node's transport and
parser, the batcher and the fan-out, into ClickHouse + NATS JetStream + Redis, servers
included, on this machine.

Run: ``MPF_BENCH_CPU=none .venv/bin/python -m pytest benchmarks/test_bench_end_to_end.py -s -p no:cacheprovider``
(``MPF_E2E_SECONDS``, default 60: how long the feed runs). The simulator (a process of its
own, ``contenders/sim_sender.py``) sends the real trade and bookTicker frames of
binance_spot hbt_2024-08-08 as fast as the client's flow control lets it. Measured:

* frames/s received over the whole window and per 10 s slice (sustained or not);
* nothing lost: after the feed stops and the pipeline drains, ClickHouse holds exactly the
  rows the parser produced, per kind, NATS acknowledged every batch, no sink dropped one;
* RSS of this process sampled every second (first vs last third of the window);
* latency from receive to acknowledged write: for every row written, the time its sink's
  ``write`` returned minus the row's ``ts_recv``; p50/p99 per sink.

Targets (issue): ≥ 500 k frames/s for 60 s, nothing lost, RSS flat, p99 ≤ flush interval +
50 ms. The result is printed, met or not.
"""

from __future__ import annotations

import asyncio
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import zstandard

from marketprism_fast.config import ClickHouseSinkConfig, NatsSinkConfig, RedisSinkConfig, SpoolConfig, VenueConfig
from marketprism_fast.parser import make_parser
from marketprism_fast.pipeline.batcher import Batcher
from marketprism_fast.pipeline.fanout import FanOut
from marketprism_fast.pipeline.identity import BatchIds
from marketprism_fast.sinks.clickhouse.sink import ClickHouseSink
from marketprism_fast.sinks.nats import NatsSink
from marketprism_fast.sinks.redis import RedisSink
from tests import servers

HERE = Path(__file__).resolve().parent
CORPUS = Path(os.environ.get("MPF_CORPUS", HERE.parents[1] / "shared" / "corpus"))
SESSION = "binance_spot/binance_spot.hbt_2024-08-08_btcusdt.frames.jsonl.zst"
SECONDS = float(os.environ.get("MPF_E2E_SECONDS", "60"))
FLUSH_INTERVAL = 1.0
TARGET_FRAMES_PER_S = 500_000


class Timed:
    """A sink as it is, plus the receive-to-acknowledged latency of every row it writes."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.name = inner.name
        self.overflow = inner.overflow
        self.latencies: list[np.ndarray] = []

    async def start(self) -> None:
        await self.inner.start()

    async def write(self, batches) -> None:
        await self.inner.write(batches)
        now = time.time_ns()
        for b in batches:
            self.latencies.append((now - np.asarray(b.column("ts_recv"), dtype=np.int64)) / 1e6)

    async def close(self) -> None:
        await self.inner.close()

    def health(self):
        return self.inner.health()

    def stats(self) -> dict:
        return self.inner.stats()


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize()


@pytest.fixture(scope="module")
def frames_file(tmp_path_factory) -> tuple[Path, int]:
    path = CORPUS / SESSION
    if not path.exists():
        pytest.skip(f"corpus not found at {CORPUS}")
    lines = zstandard.ZstdDecompressor().decompressobj().decompress(path.read_bytes()).split(b"\n")
    chosen = [line for line in lines if b"@trade" in line or b"@bookTicker" in line]
    out = tmp_path_factory.mktemp("e2e") / "frames.jsonl"
    out.write_bytes(b"\n".join(chosen) + b"\n")
    return out, len(chosen)


def test_end_to_end_simulator_to_clickhouse_nats_redis(frames_file, tmp_path: Path, capsys) -> None:
    from marketprism_fast.transport.ws import VenueTransport

    path, per_cycle = frames_file
    with servers.managed(servers.ManagedClickHouse, all_cpus=True) as ch, servers.managed(servers.ManagedNats, all_cpus=True) as nats_server, servers.managed(servers.ManagedRedis, all_cpus=True) as redis_server:
        repeat = max(1, int(SECONDS * 2_000_000 / per_cycle))  # more than can be received in the window
        sender = subprocess.Popen([sys.executable, str(HERE / "contenders" / "sim_sender.py"), str(path), str(repeat)], stdout=subprocess.PIPE)
        try:
            port = int(sender.stdout.readline())
            result = asyncio.run(run(f"ws://127.0.0.1:{port}", ch, nats_server, redis_server, tmp_path, VenueTransport))
        finally:
            sender.kill()
            sender.wait()
    lines = report(result)
    with capsys.disabled():
        print("\n" + "\n".join(lines))
    assert result["clickhouse_rows"] == result["parsed_rows"], "rows lost or duplicated on the way to ClickHouse"
    assert result["nats_batches"] == result["batches"]


async def run(url, ch, nats_server, redis_server, tmp: Path, VenueTransport) -> dict:
    parser = make_parser("binance_spot", capacity=65536)
    clickhouse = Timed(ClickHouseSink(ClickHouseSinkConfig(url=ch.native_url, database="e2e", spool=SpoolConfig(directory=str(tmp / "ch")))))
    nats = Timed(NatsSink(NatsSinkConfig(url=nats_server.url, spool=SpoolConfig(directory=str(tmp / "nats")))))
    redis = Timed(RedisSink(RedisSinkConfig(url=redis_server.url)))
    fanout = FanOut([clickhouse, nats, redis])
    await fanout.start()
    batcher = Batcher({"binance_spot": parser}, fanout.submit, flush_interval=FLUSH_INTERVAL, batch_rows=100_000, ids=BatchIds("e2e"))
    batching = asyncio.create_task(batcher.run())
    transport = VenueTransport("binance_spot", VenueConfig(ws_url=url, symbols=["BTCUSDT"], kinds=["trade", "quote"]), parser)
    await transport.start()
    samples = []  # (t, frames, rss)
    t0 = time.monotonic()
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    while time.monotonic() - t0 < SECONDS:
        await asyncio.sleep(1.0)
        samples.append((time.monotonic() - t0, transport.stats()[0]["frames"], rss_bytes()))
    await transport.close()
    wall = time.monotonic() - t0
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    batching.cancel()
    try:
        await batching
    except asyncio.CancelledError:
        pass
    drained = await fanout.drain(120.0)
    stats = fanout.stats()
    from tests.sink_checks import table_counts

    counts = table_counts(ch.native_url, "e2e")
    parsed = parser.stats().get("records", {})
    return {
        "wall": wall, "cpu": (cpu1.ru_utime + cpu1.ru_stime) - (cpu0.ru_utime + cpu0.ru_stime),
        "frames": samples[-1][1] if samples else 0, "samples": samples, "drained": drained,
        "parsed_rows": sum(parsed.values()) if isinstance(parsed, dict) else batcher.rows, "batcher_rows": batcher.rows,
        "batches": batcher.batches, "clickhouse_rows": sum(counts.values()), "counts": counts,
        "nats_batches": stats["nats"]["batches_written"], "stats": stats,
        "latency": {s.name: np.concatenate(s.latencies) if s.latencies else np.zeros(0) for s in (clickhouse, nats, redis)},
    }


def report(r: dict) -> list[str]:
    samples = r["samples"]
    rate = r["frames"] / r["wall"] if r["wall"] else 0.0
    slices = []
    for i in range(10, len(samples) + 1, 10):
        t_prev, f_prev = (samples[i - 11][0], samples[i - 11][1]) if i > 10 else (0.0, 0)
        t, f = samples[i - 1][0], samples[i - 1][1]
        slices.append((f - f_prev) / (t - t_prev))
    third = max(len(samples) // 3, 1)
    rss_first = max(s[2] for s in samples[:third]) / 2**20
    rss_last = max(s[2] for s in samples[-third:]) / 2**20
    lines = [
        "| what | measured | target |", "|---|---:|---:|",
        f"| frames/s over {r['wall']:.0f} s | {rate:,.0f} | ≥ {TARGET_FRAMES_PER_S:,} |",
        f"| frames/s per 10 s slice | {', '.join(f'{x / 1e3:.0f}k' for x in slices)} | sustained |",
        f"| client CPU per frame | {r['cpu'] / max(r['frames'], 1) * 1e9:.0f} ns | |",
        f"| rows parsed / in ClickHouse | {r['parsed_rows']:,} / {r['clickhouse_rows']:,} | equal |",
        f"| batches / acknowledged by NATS | {r['batches']:,} / {r['nats_batches']:,} | equal |",
        f"| RSS max, first third / last third | {rss_first:.0f} MB / {rss_last:.0f} MB | flat |",
    ]
    for name, lat in r["latency"].items():
        if len(lat):
            lines.append(f"| {name}: receive → acknowledged, p50 / p99 | {np.percentile(lat, 50):.0f} ms / {np.percentile(lat, 99):.0f} ms | p99 ≤ {FLUSH_INTERVAL * 1000 + 50:.0f} ms |")
    dropped = {k: v["dropped_batches"] for k, v in r["stats"].items()}
    lines.append(f"| dropped batches per sink | {dropped} | 0 |")
    return lines
