"""The ClickHouse sink against a real ClickHouse 18.16: every kind back column for column,
and no row lost or written twice through outages, kills and restarts of the server and of
the writing process (tests/servers.py starts the servers)."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from marketprism_fast.config import ClickHouseSinkConfig, Overflow, SpoolConfig
from marketprism_fast.pipeline.fanout import FanOut
from marketprism_fast.pipeline.identity import BatchIds
from marketprism_fast.sinks.clickhouse.sink import ClickHouseSink
from marketprism_fast.sinks.clickhouse.writer import ClickHouseWriter
from tests.helpers import REPO
from tests.sink_checks import assert_tables_hold_exactly, native_client
from tests.sink_data import corpus_batches, expected_by_kind, synthetic_batch, synthetic_batches
from marketprism_fast.records import KINDS, kind as kind_of


def config(url: str, database: str, spool: Path, **spool_options) -> ClickHouseSinkConfig:
    return ClickHouseSinkConfig(
        enabled=True, url=url, database=database, insert_timeout_seconds=10.0,
        spool=SpoolConfig(directory=str(spool), **spool_options),
    )


@pytest.fixture
def database(request) -> str:
    return "mpf_sink_" + re.sub(r"\W", "_", request.node.name.lower())[:40]


def drop(url: str, database: str) -> None:
    client = native_client(url)
    client.execute(f"DROP DATABASE IF EXISTS `{database}`")
    client.disconnect()


def run_sink(sink: ClickHouseSink, body) -> None:
    async def main() -> None:
        fanout = FanOut([sink])
        await fanout.start()
        try:
            await body(fanout)
        finally:
            await fanout.drain(30.0)

    asyncio.run(main())


def spool_empty_and_up(sink: ClickHouseSink) -> bool:
    return sink.health().state == "ok" and len(sink.spool_store) == 0


async def until(condition, what: str, timeout: float = 60.0) -> None:
    from tests.sink_checks import async_wait_until

    await async_wait_until(condition, what, timeout)


@pytest.mark.corpus
def test_every_kind_reads_back_from_clickhouse_18_16_column_for_column(clickhouse_native: str, database: str, tmp_path: Path) -> None:
    drop(clickhouse_native, database)
    batches = corpus_batches() + synthetic_batches(n=500)
    assert {b.kind.name for b in batches} == {k.name for k in KINDS}
    sink = ClickHouseSink(config(clickhouse_native, database, tmp_path / "spool"))

    async def body(fanout: FanOut) -> None:
        fanout.submit(batches)
        await until(lambda: sum(sink.counters.rows_written.values()) == sum(map(len, batches)), "every row written")

    run_sink(sink, body)
    assert sink.stats()["server_version"].startswith("18.16")
    assert_tables_hold_exactly(clickhouse_native, database, expected_by_kind(batches))
    # Each row carries its batch's id; a synthetic batch over midnight went in as two parts.
    client = native_client(clickhouse_native)
    ids = dict(client.execute(f"SELECT _batch_id, count() FROM `{database}`.trades GROUP BY _batch_id"))
    assert ids == {b.id: len(b) for b in batches if b.kind.name == "trade"}
    parts = client.execute(f"SELECT partition, count() FROM system.parts WHERE database = '{database}' AND table = 'quotes' AND active GROUP BY partition ORDER BY partition")
    assert [p for p, _ in parts] == ["20211011", "20211012"] or len(parts) == 2
    client.disconnect()
    drop(clickhouse_native, database)


def test_a_retry_with_the_check_inserts_nothing_twice(clickhouse_native: str, database: str) -> None:
    drop(clickhouse_native, database)
    writer = ClickHouseWriter(ClickHouseSinkConfig(url=clickhouse_native, database=database))
    batch = synthetic_batch(kind_of("trade"), 1000)  # rows on two UTC days: two pieces
    assert writer.insert(batch) == 1000
    assert writer.insert(batch, check=True) == 0  # both pieces found
    assert writer.skipped_pieces == 2
    # Only one piece there (as after a failure between the two inserts): the other goes in.
    client = native_client(clickhouse_native)
    client.execute(f"ALTER TABLE `{database}`.trades DROP PARTITION 20211012")
    assert writer.insert(batch, check=True) == sum(1 for t in batch.column("ts_event") if t >= 1_633_996_800_000_000_000)
    assert client.execute(f"SELECT count(), uniqExact(trade_id) FROM `{database}`.trades") == [(1000, 1000)]
    client.disconnect()
    writer.disconnect()
    drop(clickhouse_native, database)


def test_clickhouse_stopped_mid_run_then_restarted_loses_and_duplicates_nothing(private_clickhouse, tmp_path: Path) -> None:
    server = private_clickhouse
    ids = BatchIds("stop-test")
    first, second = synthetic_batches(n=2000, ids=ids), synthetic_batches(n=2000, ids=ids)
    for b in second:
        b  # distinct ids, same rows: the table must hold each batch's rows once each
    sink = ClickHouseSink(config(server.native_url, "mpf", tmp_path / "spool"))

    async def body(fanout: FanOut) -> None:
        fanout.submit(first)
        await until(lambda: sink.counters.batches_written == len(first), "the first batches written")
        server.stop()
        fanout.submit(second)
        await until(lambda: len(sink.spool_store) == len(second), "the second batches spooled")
        assert sink.health().state == "down"
        assert fanout.stats()["clickhouse"]["spool_files"] == len(second)
        server.start()
        await until(lambda: spool_empty_and_up(sink), "the spool written back")

    run_sink(sink, body)
    assert_tables_hold_exactly(server.native_url, "mpf", expected_by_kind(first + second))


def test_clickhouse_killed_during_an_insert_loses_and_duplicates_nothing(private_clickhouse, tmp_path: Path) -> None:
    server = private_clickhouse
    ids = BatchIds("kill-test")
    batches = [synthetic_batch(kind_of(name), 100_000, seed, ids) for seed in range(4) for name in ("book_delta", "trade")]
    sink = ClickHouseSink(config(server.native_url, "mpf", tmp_path / "spool"))
    killed = []

    async def body(fanout: FanOut) -> None:
        await until(lambda: sink.health().state == "ok", "connected")
        fanout.submit(batches)
        # SIGKILL the server while one of our inserts is running on it.
        http = server.server

        def inserting() -> bool:
            try:
                return int(http.query("SELECT count() FROM system.processes WHERE query_id LIKE 'mpf-%'").strip()) > 0
            except Exception:
                return False

        await until(inserting, "an insert running", timeout=60)
        server.kill()
        killed.append(sink.counters.batches_written)
        await until(lambda: sink.health().state == "down", "the sink noticing")
        server.start()
        await until(lambda: spool_empty_and_up(sink) and sink.counters.batches_written == len(batches), "everything written")

    run_sink(sink, body)
    assert killed and killed[0] < len(batches)
    assert_tables_hold_exactly(server.native_url, "mpf", expected_by_kind(batches))


WRITER_SCRIPT = textwrap.dedent(
    """
    import asyncio, sys
    from marketprism_fast.config import ClickHouseSinkConfig, SpoolConfig
    from marketprism_fast.sinks.clickhouse.sink import ClickHouseSink
    from marketprism_fast.pipeline.identity import BatchIds
    from tests.sink_data import synthetic_batches

    async def main():
        sink = ClickHouseSink(ClickHouseSinkConfig(url=sys.argv[1], database="mpf", spool=SpoolConfig(directory=sys.argv[2])))
        await sink.start()
        await sink.write(synthetic_batches(n=3000, ids=BatchIds("writer")))
        print("spooled", len(sink.spool_store), flush=True)
        await asyncio.Event().wait()  # hold on until killed

    asyncio.run(main())
    """
)


def test_the_writer_killed_with_batches_spooled_writes_them_after_a_restart(private_clickhouse, tmp_path: Path) -> None:
    server = private_clickhouse
    url = server.native_url
    server.stop()  # down: every batch goes to the spool
    spool = tmp_path / "spool"
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER_SCRIPT, url, str(spool)], cwd=REPO, stdout=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    try:
        line = writer.stdout.readline()
        assert line.split() == ["spooled", str(len(KINDS))], line
        writer.send_signal(signal.SIGKILL)
        assert writer.wait(timeout=30) == -signal.SIGKILL
    finally:
        if writer.poll() is None:
            writer.kill()
    assert len(list(spool.glob("*.arrow"))) == len(KINDS)
    server.start()
    # A new process over the same spool: writes every batch back, once.
    sink = ClickHouseSink(config(url, "mpf", spool))

    async def body(fanout: FanOut) -> None:
        await until(lambda: spool_empty_and_up(sink), "the spool written back")

    run_sink(sink, body)
    assert not list(spool.glob("*.arrow"))
    expected = expected_by_kind(synthetic_batches(n=3000))
    assert_tables_hold_exactly(url, "mpf", expected)


def test_a_queue_overflowing_into_the_spool_is_counted_and_written_back(private_clickhouse, tmp_path: Path, caplog) -> None:
    server = private_clickhouse
    server.stop()
    ids = BatchIds("overflow")
    batches = [synthetic_batch(kind_of("trade"), 200, seed, ids) for seed in range(20)]
    sink = ClickHouseSink(config(server.native_url, "mpf", tmp_path / "spool"))
    sink.overflow = Overflow(max_queue_batches=4, policy="spool")

    async def body(fanout: FanOut) -> None:
        lane = lambda: fanout.stats()["clickhouse"]  # noqa: E731
        # 8 at once (before the sink's task runs): 4 stay queued, 4 overflow to the disk thread.
        fanout.submit(batches[:8])
        assert (lane()["backlog_batches"], lane()["overflow_spooled_batches"], lane()["dropped_batches"]) == (4, 4, 0)
        await until(lambda: lane()["backlog_batches"] == 0 and len(sink.spool_store) == 8, "all spooled")
        fanout.submit(batches[8:])  # 12 at once: the 8 oldest to disk
        assert (lane()["backlog_batches"], lane()["overflow_spooled_batches"], lane()["dropped_batches"]) == (4, 12, 0)
        await until(lambda: lane()["backlog_batches"] == 0 and len(sink.spool_store) == 20, "the rest spooled")
        server.start()
        await until(lambda: spool_empty_and_up(sink) and sink.counters.batches_written == 20, "everything written")

    run_sink(sink, body)
    assert "spooled the oldest" in caplog.text and "overflow.policy=spool" in caplog.text
    assert_tables_hold_exactly(server.native_url, "mpf", expected_by_kind(batches))


def test_a_full_spool_drops_by_its_policy_counted_and_logged(tmp_path: Path, caplog) -> None:
    from marketprism_fast.sinks.spool import Spool

    batches = [synthetic_batch(kind_of("quote"), 300, seed) for seed in range(6)]
    size = len(__import__("marketprism_fast.sinks.arrow", fromlist=["x"]).ipc_bytes(
        __import__("marketprism_fast.sinks.arrow", fromlist=["x"]).to_table(batches[0])))
    oldest = Spool(SpoolConfig(directory=str(tmp_path / "a"), max_bytes=size * 3 + size // 2, on_full="drop_oldest"))
    newest = Spool(SpoolConfig(directory=str(tmp_path / "b"), max_bytes=size * 3 + size // 2, on_full="drop_newest"))
    assert [oldest.put(b) for b in batches] == [True] * 6
    assert [newest.put(b) for b in batches] == [True, True, True, False, False, False]
    assert oldest.dropped_batches == newest.dropped_batches == 3
    kept = lambda spool: [spool.read(e).id for e in list(spool._entries)]  # noqa: E731,SLF001
    assert kept(oldest) == [b.id for b in batches[3:]]
    assert kept(newest) == [b.id for b in batches[:3]]
    assert caplog.text.count("spool full") == 6 and "on_full=drop_oldest" in caplog.text and "on_full=drop_newest" in caplog.text
    # The spool survives a new process: same files, same order, the sequence continues.
    again = Spool(SpoolConfig(directory=str(tmp_path / "a"), max_bytes=size * 10))
    assert kept(again) == [b.id for b in batches[3:]]
    again.put(batches[0])
    assert kept(again)[-1] == batches[0].id
