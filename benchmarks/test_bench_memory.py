"""Bytes per held trade record: the compiled buffer against Python records.

Every trade frame of the ``trade`` workload is decoded and held (nothing released). The
timed unit is that fill; the figure that matters is memory:

* compiled: ``parser.buffer("trade").nbytes_per_row()`` — every storage column (trade_id
  included, as arena bytes) per row in use;
* msgspec: deep ``sys.getsizeof`` of the per-column lists, per record;
* legacy: deep ``sys.getsizeof`` of the list of pydantic models, per record.

Shared objects (cached ints, the instrument strings) count once, not per record. The check
that each contender's records equal the compiled parser's lives in test_bench_decode.py.
"""

from __future__ import annotations

import pytest

from contenders.corpus import TS_RECV, WORKLOADS, CorpusMissing, Workload, load
from contenders.legacy_binance import LegacyContender
from contenders.memory import deep_size
from contenders.msgspec_binance import MsgspecContender, kind_rows
from contenders.project import CompiledContender, compiled_venues

ROUNDS = 3


@pytest.fixture(scope="module")
def trades() -> Workload:
    try:
        return load(WORKLOADS["trade"])
    except CorpusMissing as err:
        pytest.skip(f"corpus absent: {err}")


def record(benchmark, results: list[dict], contender: str, records: int, bytes_per_record: float, method: str) -> None:
    info = {"suite": "memory", "contender": contender, "records": records,
            "bytes_per_record": bytes_per_record, "method": method}
    benchmark.group = "memory: trade records held"
    benchmark.extra_info.update(info)
    results.append(info)


def test_memory_compiled(benchmark, trades: Workload, bench_results) -> None:
    if trades.venue not in compiled_venues():
        pytest.skip(f"no complete compiled parser for {trades.venue}")

    def hold():
        contender = CompiledContender(trades.venue)
        contender.parser.feed_many(trades.frames, TS_RECV)
        return contender.parser.buffer("trade")

    buffer = benchmark.pedantic(hold, rounds=ROUNDS, iterations=1)
    assert buffer.size == len(trades.frames)
    record(benchmark, bench_results, "compiled", buffer.size, buffer.nbytes_per_row(),
           f"buffer.nbytes_per_row() (rows in use; capacity {buffer.capacity:,} rows)")


def test_memory_msgspec(benchmark, trades: Workload, bench_results) -> None:
    rows = benchmark.pedantic(lambda: kind_rows(MsgspecContender(trades.venue).decode(trades.frames), "trade"),
                              rounds=ROUNDS, iterations=1)
    assert len(rows) == len(trades.frames)
    record(benchmark, bench_results, "msgspec", len(rows), deep_size(rows.lists) / len(rows),
           "deep sys.getsizeof of the column lists")


def test_memory_legacy(benchmark, trades: Workload, bench_results) -> None:
    models = benchmark.pedantic(lambda: LegacyContender(trades.venue).decode(trades.frames),
                                rounds=ROUNDS, iterations=1)
    assert len(models) == len(trades.frames)
    record(benchmark, bench_results, "legacy", len(models), deep_size(models) / len(models),
           "deep sys.getsizeof of the pydantic models")
