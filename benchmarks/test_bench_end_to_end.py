"""End to end: the venue simulator over loopback WebSocket, through the node's transport and
parser, the batcher and the fan-out, into ClickHouse + NATS JetStream + Redis, servers
included, on this machine.

Run: ``MPF_BENCH_CPU=none .venv/bin/python -m pytest benchmarks/test_bench_end_to_end.py -s -p no:cacheprovider``
(``MPF_E2E_SECONDS``, default 60: how long the feed runs; ``MPF_E2E_RATES``, default ``0``:
comma-separated feed rates in frames/s, one run each, 0 for as fast as the node takes;
``MPF_E2E_BATCH_ROWS``, default 100000: the batcher's ``batch_rows``).
The simulator (a process of its own, ``contenders/sim_sender.py``) sends the real trade and
bookTicker frames of binance_spot hbt_2024-08-08, as fast as the client's flow control lets
it or paced at the given rate. Measured:

* frames/s received over the whole window and per 10 s slice (sustained or not);
* nothing lost: after the feed stops, the sinks catch up (what a lagging sink spooled is
  written back; the time it takes is reported) and the pipeline drains; then ClickHouse
  holds exactly the rows the parser produced, per kind, NATS acknowledged every batch, no
  sink dropped one;
* RSS of this process sampled every second (first vs last third of the window), and the
  CPU seconds of this process and of each server;
* latency from receive to acknowledged write: for every row written, the time its sink's
  ``write`` returned minus the row's ``ts_recv``, counted in a fixed histogram (1 % wide
  bins, so the measurement itself takes no memory per row); p50/p99 per sink;
* with ``MPF_E2E_TRACEMALLOC=1``, the Python allocations that grew most between the end of
  the first third and the end of the window (where memory goes, if it does).

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


RATES = [float(x) for x in os.environ.get("MPF_E2E_RATES", "0").split(",") if x.strip()]
TRACEMALLOC = os.environ.get("MPF_E2E_TRACEMALLOC") == "1"
BATCH_ROWS = int(os.environ.get("MPF_E2E_BATCH_ROWS", "100000"))
CATCH_UP_SECONDS = 300.0

# Latency histogram: bin i holds latencies in [10**(i/BINS_PER_DECADE - 1), ...) ms, i.e.
# from 0.1 ms up, 1 % wide; bin 0 also takes anything smaller.
BINS_PER_DECADE = 230
LATENCY_BINS = BINS_PER_DECADE * 8  # 0.1 ms .. 10**7 ms


class LatencyHistogram:
    def __init__(self) -> None:
        self.counts = np.zeros(LATENCY_BINS, dtype=np.int64)

    def add(self, ms: np.ndarray) -> None:
        i = np.floor((np.log10(np.maximum(ms, 1e-3)) + 1) * BINS_PER_DECADE).astype(np.int64)
        np.clip(i, 0, LATENCY_BINS - 1, out=i)
        self.counts += np.bincount(i, minlength=LATENCY_BINS)

    @property
    def total(self) -> int:
        return int(self.counts.sum())

    def percentile(self, q: float) -> float:
        cumulative = np.cumsum(self.counts)
        i = int(np.searchsorted(cumulative, q / 100 * cumulative[-1]))
        return 10 ** ((i + 1) / BINS_PER_DECADE - 1)  # the bin's upper edge


class Timed:
    """A sink as it is, plus the receive-to-acknowledged latency of every row it writes."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.name = inner.name
        self.overflow = inner.overflow
        self.latency = LatencyHistogram()

    async def start(self) -> None:
        await self.inner.start()

    async def write(self, batches) -> None:
        await self.inner.write(batches)
        now = time.time_ns()
        for b in batches:
            self.latency.add((now - np.asarray(b.column("ts_recv"), dtype=np.int64)) / 1e6)

    def spool_nowait(self, batch) -> bool:
        """Overflow to the sink's own spool (the fan-out's ``spool`` policy). Rows that take this
        way are written back by the sink itself, outside ``write``: they are counted in the
        report (spooled batches), not in the latency histogram."""
        return self.inner.spool_nowait(batch)

    async def close(self) -> None:
        await self.inner.close()

    def health(self):
        return self.inner.health()

    def stats(self) -> dict:
        return self.inner.stats()


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize()


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its reaped children, from /proc."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return sum(int(x) for x in fields[11:15]) / os.sysconf("SC_CLK_TCK")


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


@pytest.mark.parametrize("rate", RATES, ids=lambda r: f"rate{int(r)}")
def test_end_to_end_simulator_to_clickhouse_nats_redis(frames_file, tmp_path: Path, capsys, rate: float) -> None:
    from marketprism_fast.transport.ws import VenueTransport

    path, per_cycle = frames_file
    with servers.managed(servers.ManagedClickHouse, all_cpus=True) as ch, servers.managed(servers.ManagedNats, all_cpus=True) as nats_server, servers.managed(servers.ManagedRedis, all_cpus=True) as redis_server:
        repeat = max(1, int(SECONDS * 2_000_000 / per_cycle))  # more than can be received in the window
        command = [sys.executable, str(HERE / "contenders" / "sim_sender.py"), str(path), str(repeat)]
        if rate > 0:
            command.append(str(rate))
        sender = subprocess.Popen(command, stdout=subprocess.PIPE)
        server_pids = {"clickhouse": ch.process.pid, "nats": nats_server.process.pid, "redis": redis_server.process.pid, "simulator": sender.pid}
        try:
            port = int(sender.stdout.readline())
            result = asyncio.run(run(f"ws://127.0.0.1:{port}", ch, nats_server, redis_server, tmp_path, VenueTransport, server_pids))
        finally:
            sender.kill()
            sender.wait()
    result["rate"] = rate
    lines = report(result)
    with capsys.disabled():
        print("\n" + "\n".join(lines))
    assert result["clickhouse_rows"] == result["parsed_rows"], "rows lost or duplicated on the way to ClickHouse"
    assert result["nats_batches"] == result["batches"]


async def run(url, ch, nats_server, redis_server, tmp: Path, VenueTransport, server_pids: dict[str, int]) -> dict:
    parser = make_parser("binance_spot", capacity=65536)
    clickhouse = Timed(ClickHouseSink(ClickHouseSinkConfig(url=ch.native_url, database="e2e", spool=SpoolConfig(directory=str(tmp / "ch")))))
    nats = Timed(NatsSink(NatsSinkConfig(url=nats_server.url, spool=SpoolConfig(directory=str(tmp / "nats")))))
    redis = Timed(RedisSink(RedisSinkConfig(url=redis_server.url)))
    fanout = FanOut([clickhouse, nats, redis])
    await fanout.start()
    batcher = Batcher({"binance_spot": parser}, fanout.submit, flush_interval=FLUSH_INTERVAL, batch_rows=BATCH_ROWS, ids=BatchIds("e2e"))
    batching = asyncio.create_task(batcher.run())
    transport = VenueTransport("binance_spot", VenueConfig(ws_url=url, symbols=["BTCUSDT"], kinds=["trade", "quote"]), parser)
    await transport.start()
    samples = []  # (t, frames, rss)
    if TRACEMALLOC:
        import tracemalloc

        tracemalloc.start(8)
    snapshot = None
    backlog_max = 0
    t0 = time.monotonic()
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    servers_cpu0 = {name: cpu_seconds(pid) for name, pid in server_pids.items()}
    while time.monotonic() - t0 < SECONDS:
        await asyncio.sleep(1.0)
        samples.append((time.monotonic() - t0, transport.stats()[0]["frames"], rss_bytes()))
        backlog_max = max([backlog_max] + [fanout.backlog(s.name)[1] for s in (clickhouse, nats, redis)])
        if TRACEMALLOC and snapshot is None and samples[-1][0] >= SECONDS / 3:
            snapshot = tracemalloc.take_snapshot()
    growth = []
    if TRACEMALLOC and snapshot is not None:
        growth = [str(s) for s in tracemalloc.take_snapshot().compare_to(snapshot, "traceback")[:8]]
        tracemalloc.stop()
    await transport.close()
    wall = time.monotonic() - t0
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    servers_cpu = {name: cpu_seconds(pid) - servers_cpu0[name] for name, pid in server_pids.items()}
    batching.cancel()
    try:
        await batching
    except asyncio.CancelledError:
        pass
    # Catch-up: what a lagging sink spooled is written back before anything is counted
    # (spooled rows are kept, not lost; this says how long the sinks needed to catch up).
    caught_up_at = time.monotonic()
    deadline = caught_up_at + CATCH_UP_SECONDS
    while time.monotonic() < deadline:
        if all(s["backlog_batches"] == 0 and s["spool_files"] == 0 for s in fanout.stats().values()):
            break
        await asyncio.sleep(0.2)
    catch_up = time.monotonic() - caught_up_at
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
        "latency": {s.name: s.latency for s in (clickhouse, nats, redis)},
        "servers_cpu": servers_cpu, "catch_up": catch_up, "growth": growth, "backlog_max": backlog_max,
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
    feed = f"paced at {r['rate']:,.0f} frames/s" if r["rate"] else "as fast as taken"
    lines = [
        "| what | measured | target |", "|---|---:|---:|",
        f"| feed | {feed}; batches at {BATCH_ROWS:,} rows or {FLUSH_INTERVAL:g} s | |",
        f"| frames/s over {r['wall']:.0f} s | {rate:,.0f} | ≥ {TARGET_FRAMES_PER_S:,} |",
        f"| frames/s per 10 s slice | {', '.join(f'{x / 1e3:.0f}k' for x in slices)} | sustained |",
        f"| client CPU per frame | {r['cpu'] / max(r['frames'], 1) * 1e9:.0f} ns | |",
        f"| CPU seconds: node / {' / '.join(r['servers_cpu'])} | {r['cpu']:.0f} / {' / '.join(f'{v:.0f}' for v in r['servers_cpu'].values())} | |",
        f"| most rows queued for one sink | {r['backlog_max']:,} | bounded |",
        f"| rows parsed / in ClickHouse | {r['parsed_rows']:,} / {r['clickhouse_rows']:,} | equal |",
        f"| sinks caught up (spools written back) after the feed stopped | {r['catch_up']:.1f} s | |",
        f"| batches / acknowledged by NATS | {r['batches']:,} / {r['nats_batches']:,} | equal |",
        f"| RSS max, first third / last third | {rss_first:.0f} MB / {rss_last:.0f} MB | flat |",
    ]
    for name, lat in r["latency"].items():
        if lat.total:
            lines.append(f"| {name}: receive → acknowledged, p50 / p99 | {lat.percentile(50):.0f} ms / {lat.percentile(99):.0f} ms | p99 ≤ {FLUSH_INTERVAL * 1000 + 50:.0f} ms |")
    dropped = {k: v["dropped_batches"] for k, v in r["stats"].items()}
    spooled = {k: v.get("overflow_spooled_batches", 0) for k, v in r["stats"].items()}
    lines.append(f"| dropped batches per sink | {dropped} | 0 |")
    lines.append(f"| batches spooled on overflow per sink | {spooled} | |")
    lines.extend(f"    {g}" for g in r["growth"])
    return lines
