"""Sinks side by side, rows/s, on real servers started for this module (every core theirs).

Run: ``.venv/bin/python -m pytest benchmarks/test_bench_sinks.py`` (not in the default test
run; ``MPF_BENCH_CPU=none`` leaves the client unpinned too). Batches of 10 k and 100 k
synthetic trade rows (five symbols, unique trade ids). Contenders, per sink:

* ClickHouse 18.16: the sink's writer (native protocol, numpy columns, lz4) against a
  row-wise ``INSERT`` of one dict per record (how the old services wrote; the dicts are
  built before the clock starts, which favours the old path). And book_snapshot rows (2 k
  and 20 k, 20 levels): the writer against itself with the level arrays left to the
  driver's own per-row ``Array`` writer.
* NATS JetStream: one Arrow IPC message per batch, acknowledged, against one awaited JSON
  message per record (the old collector). The per-record path runs at 10 k rows only; its
  rate does not depend on the batch.
* Redis: the sink (latest value per symbol, one pipelined round trip) against one ``SET``
  per record, awaited.

Each contender runs ``ROUNDS`` rounds; the table shows the median round as rows/s and each
sink's ratio to its baseline, all from this one run.
"""

from __future__ import annotations

import asyncio
import functools
import statistics
import time
from pathlib import Path

import orjson
import pytest

from marketprism_fast.batch import Batch
from marketprism_fast.config import ClickHouseSinkConfig, NatsSinkConfig, RedisSinkConfig, SpoolConfig
from marketprism_fast.pipeline.identity import BatchIds
from marketprism_fast.records import kind as kind_of
from marketprism_fast.sinks.clickhouse import native
from marketprism_fast.sinks.clickhouse.writer import ClickHouseWriter
from marketprism_fast.sinks.nats import NatsSink
from marketprism_fast.sinks.redis import RedisSink
from tests import servers
from tests.sink_data import synthetic_batch

ROUNDS = 3
SIZES = (10_000, 100_000)
RESULTS: list[dict] = []
IDS = BatchIds("bench")


def fresh(batch: Batch) -> Batch:
    """The same rows under a new batch id (a new batch for the sinks)."""
    copy = Batch.from_columns(batch.kind, batch.exchange, batch.columns())
    IDS.assign(copy)
    return copy


def day_batch(kind: str, n: int, seed: int) -> Batch:
    """``n`` synthetic ``kind`` rows within one UTC day (one part per insert, as in steady state)."""
    columns = synthetic_batch(kind_of(kind), n, seed=seed).columns()
    for name in ("ts_event", "ts_recv"):
        columns[name] = columns[name] + 3_600 * 1_000_000_000
    batch = Batch.from_columns(kind, "okx", columns)
    IDS.assign(batch)
    return batch


def trade_batch(n: int) -> Batch:
    return day_batch("trade", n, seed=1)


def measure(sink: str, contender: str, rows: int, run, baseline: str, repeat: int = 1) -> dict:
    """The median of ROUNDS calls of ``run``, which handles ``rows`` rows ``repeat`` times."""
    times = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    median = statistics.median(times) / repeat
    row = {"suite": "sinks", "sink": sink, "contender": contender, "rows": rows, "seconds": median,
           "rows_per_s": rows / median, "baseline": baseline}
    RESULTS.append(row)
    return row


@pytest.fixture(scope="module")
def loop():
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


@pytest.fixture(scope="module")
def report(request):
    yield
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    lines = ["", "| sink | batch rows | contender | rows/s | × baseline |", "|---|---:|---|---:|---:|"]
    for row in RESULTS:
        bases = [r for r in RESULTS if r["sink"] == row["sink"] and r["contender"] == row["baseline"]]
        # the same batch size, else (per-record NATS runs at 10 k only) the baseline's one run
        base = next((r for r in bases if r["rows"] == row["rows"]), bases[0] if bases else None)
        ratio = f"{row['rows_per_s'] / base['rows_per_s']:.1f}" if base else "–"
        lines.append(f"| {row['sink']} | {row['rows']:,} | {row['contender']} | {row['rows_per_s']:,.0f} | {ratio} |")
    if reporter is not None:
        reporter.write_sep("=", "sinks side by side (this run)")
        reporter.write_line("\n".join(lines))


@pytest.fixture(scope="module")
def clickhouse():
    with servers.managed(servers.ManagedClickHouse, all_cpus=True) as server:
        yield server


@pytest.fixture(scope="module")
def nats_server():
    with servers.managed(servers.ManagedNats, all_cpus=True) as server:
        yield server


@pytest.fixture(scope="module")
def redis_server():
    with servers.managed(servers.ManagedRedis, all_cpus=True) as server:
        yield server


@pytest.mark.parametrize("rows", SIZES)
def test_clickhouse_native_columnar_vs_rowwise_dicts(rows: int, clickhouse, report) -> None:
    from clickhouse_driver import Client

    writer = ClickHouseWriter(ClickHouseSinkConfig(url=clickhouse.native_url, database="bench"))
    writer.connect()
    batch = trade_batch(rows)
    measure("clickhouse", "native columnar (sink)", rows, lambda: writer.insert(fresh(batch)), "row-wise dicts")
    dicts = batch.rows()
    for d in dicts:
        d["_batch_id"] = 1
    names = ", ".join(f"`{n}`" for n in list(batch.kind.column_names) + ["_batch_id"])
    client = Client(host="127.0.0.1", port=clickhouse.ports[1])
    measure("clickhouse", "row-wise dicts", rows, lambda: client.execute(f"INSERT INTO bench.trades ({names}) VALUES", dicts), "row-wise dicts")
    client.disconnect()
    writer.disconnect()


class DriverLevelsWriter(ClickHouseWriter):
    """The sink's writer with book levels (``Array(Float64)``) handed to clickhouse-driver's
    own column writer, which writes them row by row (how the sink wrote them before)."""

    def _encoded(self, batch: Batch, bid: int):
        columns = super()._encoded(batch, bid)
        for i, column in enumerate(batch.kind.columns):
            if column.type == "f8[]":
                columns[i] = functools.partial(lambda _server_type, c: native.driver_values(batch, c), c=column)
        return columns


@pytest.mark.parametrize("rows", (2_000, 20_000))
def test_clickhouse_book_snapshot_levels_whole_vs_driver_rows(rows: int, clickhouse, report) -> None:
    """book_snapshot rows (4 level arrays of 20) through the sink's writer: levels encoded
    whole (offsets, then the values as they lie) against the driver's per-row Array writer."""
    batch = day_batch("book_snapshot", rows, seed=2)  # 20 levels a side
    contenders = {
        "levels whole (sink)": ClickHouseWriter(ClickHouseSinkConfig(url=clickhouse.native_url, database="bench_books")),
        "levels by the driver": DriverLevelsWriter(ClickHouseSinkConfig(url=clickhouse.native_url, database="bench_books")),
    }
    for name, writer in contenders.items():
        writer.connect()
        measure("clickhouse book_snapshot", name, rows, lambda: writer.insert(fresh(batch)), "levels by the driver")
        writer.disconnect()


def kline_batch(n: int) -> Batch:
    """``n`` compiled klines of BTCUSDT over six intervals (the texts in the buffer's arena)."""
    from marketprism_fast.parser import make_parser

    intervals = (b"1m", b"5m", b"15m", b"1h", b"4h", b"1d")
    parser = make_parser("binance_usdm", implementation="compiled", capacity=65536)
    parser.feed_many([
        b'{"e":"kline","E":1672515782136,"s":"BTCUSDT","k":{"t":1672515780000,"T":1672515839999,"s":"BTCUSDT","i":"'
        + intervals[i % 6] + b'","f":100,"L":200,"o":"1.0","c":"2.0","h":"2.5","l":"1.5","v":"1000","n":' + str(i).encode()
        + b',"x":false,"q":"1.0","V":"500","Q":"0.5","B":"0"}}'
        for i in range(n)
    ], 1)
    (batch,) = [b for b in parser.take() if b.kind.name == "kline"]
    return batch


@pytest.mark.parametrize("rows", (2_000, 20_000))
def test_clickhouse_low_cardinality_interval_whole_vs_driver(rows: int, report) -> None:
    """A compiled kline batch's ``interval`` column as Native ``LowCardinality(String)`` bytes
    (servers from 19.3): the sink's dictionary encoding against the driver's column writer
    (a ``str`` per row), both into memory, 20 encodings a round."""
    from clickhouse_driver.bufferedwriter import BufferedWriter
    from clickhouse_driver.columns.service import write_column
    from clickhouse_driver.context import Context

    class Discard(BufferedWriter):
        def write_into_stream(self) -> None:
            self.position = 0

    context = Context()
    context.settings = {}
    context.client_settings = {
        "use_numpy": False, "strings_as_bytes": False, "strings_encoding": "utf-8", "input_format_null_as_default": False,
    }
    batch = kline_batch(rows)
    column = kind_of("kline").column("interval")

    def sink() -> None:
        for _ in range(20):
            native.encode_column(batch, column, "LowCardinality(String)")

    def driver() -> None:
        for _ in range(20):
            write_column(context, "interval", "LowCardinality(String)", native.driver_values(batch, column), Discard(1 << 20))

    for name, run in (("encoded whole (sink)", sink), ("the driver's writer", driver)):
        measure("clickhouse kline interval, LowCardinality", name, rows, run, "the driver's writer", repeat=20)


@pytest.mark.parametrize("rows", SIZES)
def test_jetstream_arrow_batches_vs_json_per_record(rows: int, nats_server, loop, tmp_path: Path, report) -> None:
    import nats

    sink = NatsSink(NatsSinkConfig(url=nats_server.url, stream="BENCH", spool=SpoolConfig(directory=str(tmp_path / "spool"))))
    loop.run_until_complete(sink._open())  # noqa: SLF001 - publish directly, no fan-out
    batch = trade_batch(rows)
    measure("nats", "Arrow batch messages (sink)", rows, lambda: loop.run_until_complete(sink._deliver(fresh(batch), False)), "json per record, awaited")
    loop.run_until_complete(sink._close_client())  # noqa: SLF001
    if rows != SIZES[0]:
        return
    dicts = batch.rows()

    async def per_record() -> None:
        nc = await nats.connect(nats_server.url)
        js = nc.jetstream()
        for i, d in enumerate(dicts):
            await js.publish(f"mpf.batch.trade.{d['exchange']}", orjson.dumps(d), headers={"Nats-Msg-Id": f"{time.time_ns()}-{i}"})
        await nc.close()

    measure("nats", "json per record, awaited", rows, lambda: loop.run_until_complete(per_record()), "json per record, awaited")


@pytest.mark.parametrize("rows", SIZES)
def test_redis_bulk_latest_vs_one_command_per_record(rows: int, redis_server, loop, report) -> None:
    import redis.asyncio as redis

    sink = RedisSink(RedisSinkConfig(url=redis_server.url, kinds=["trade"]))
    loop.run_until_complete(sink.start())
    batch = trade_batch(rows)
    measure("redis", "latest per symbol, pipelined (sink)", rows, lambda: loop.run_until_complete(sink.write([fresh(batch)])), "one SET per record")
    loop.run_until_complete(sink.close())
    dicts = batch.rows()

    async def per_record() -> None:
        client = redis.Redis.from_url(redis_server.url)
        for d in dicts:
            await client.set(f"mpf:trade:{d['exchange']}:{d['symbol']}", orjson.dumps(d), ex=300)
        await client.aclose()

    measure("redis", "one SET per record", rows, lambda: loop.run_until_complete(per_record()), "one SET per record")
