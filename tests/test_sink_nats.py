"""The NATS JetStream sink and the NATS -> ClickHouse consumer against real servers: batches
read back from the stream with pyarrow alone, and every fault ending with ClickHouse holding
each parsed row exactly once."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pyarrow as pa
import pytest

from marketprism_fast.config import ClickHouseSinkConfig, Config, NatsSinkConfig, SinksConfig, SpoolConfig
from marketprism_fast.pipeline.fanout import FanOut
from marketprism_fast.pipeline.identity import BatchIds, id_text
from marketprism_fast.records import kind as kind_of
from marketprism_fast.sinks.consumer import ConsumerStats, consume
from marketprism_fast.sinks.nats import NatsSink, legacy_messages
from tests.helpers import REPO
from tests.sink_checks import assert_tables_hold_exactly, async_wait_until, table_counts
from tests.sink_data import corpus_batches, expected_by_kind, multiset, rows_by_kind, synthetic_batch, synthetic_batches


def nats_config(url: str, spool: Path, **options) -> NatsSinkConfig:
    return NatsSinkConfig(enabled=True, url=url, spool=SpoolConfig(directory=str(spool)), **options)


async def stream_messages(url: str, stream: str, subject: str = ">") -> list:
    """Every message in the stream (raw bytes and headers), in stream order."""
    import nats

    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        info = await js.stream_info(stream)
        out = []
        for seq in range(info.state.first_seq, info.state.last_seq + 1):
            out.append(await js.get_msg(stream, seq))
        return out
    finally:
        await nc.close()


def run(coro):
    return asyncio.run(coro)


async def publish(sink: NatsSink, batches, body=None) -> None:
    fanout = FanOut([sink])
    await fanout.start()
    try:
        fanout.submit(batches)
        if body is not None:
            await body(fanout)
        await async_wait_until(lambda: sink.counters.batches_written >= len(batches), "every batch published")
    finally:
        await fanout.drain(30.0)


@pytest.mark.corpus
def test_every_kind_reads_back_from_the_stream_with_pyarrow_alone(nats_url: str, tmp_path: Path) -> None:
    stream = "MPF_ROUNDTRIP"
    batches = corpus_batches() + synthetic_batches(n=300)
    sink = NatsSink(nats_config(nats_url, tmp_path / "spool", stream=stream, batch_subject_prefix="rt.batch"))
    run(publish(sink, batches))
    messages = run(stream_messages(nats_url, stream))
    assert len(messages) == len(batches)
    by_id = {id_text(b.id): b for b in batches}
    for msg in messages:
        table = pa.ipc.open_stream(msg.data).read_all()  # nothing but the bytes
        meta = {k.decode(): v.decode() for k, v in table.schema.metadata.items()}
        batch = by_id[msg.headers["Nats-Msg-Id"]]
        assert msg.subject == f"rt.batch.{batch.kind.name}.{batch.exchange}"
        assert meta["batch_id"] == id_text(batch.id) and meta["kind"] == batch.kind.name and meta["exchange"] == batch.exchange
        assert meta["schema_version"] == "1" and int(meta["rows"]) == table.num_rows == len(batch)
        ts = batch.column("ts_event")
        assert (int(meta["ts_event_min"]), int(meta["ts_event_max"])) == (int(ts.min()), int(ts.max()))
        assert table.column_names == list(batch.kind.column_names)
        rows = table.to_pylist()
        for row in rows:  # timestamps come back as datetimes: their ns, as the contract has them
            for c in batch.kind.columns:
                if c.type == "ts":
                    row[c.name] = None
        expected = batch.rows()
        for row in expected:
            for c in batch.kind.columns:
                if c.type == "ts":
                    row[c.name] = None
        assert multiset(rows, batch.kind.column_names) == multiset(expected, batch.kind.column_names), batch
        for c in batch.kind.columns:
            if c.type == "ts":
                assert table.column(c.name).cast(pa.int64()).to_pylist() == batch.column(c.name).tolist()


def test_a_batch_larger_than_max_payload_goes_as_parts_and_comes_back_whole(nats_url: str, tmp_path: Path, clickhouse_native: str) -> None:
    stream = "MPF_PARTS"
    batch = synthetic_batch(kind_of("book_delta"), 60_000)  # ~3 MB of Arrow: over 1 MB max_payload
    sink = NatsSink(nats_config(nats_url, tmp_path / "spool", stream=stream, batch_subject_prefix="parts.batch"))
    run(publish(sink, [batch]))
    messages = run(stream_messages(nats_url, stream))
    assert len(messages) > 1
    assert [m.headers["Nats-Msg-Id"] for m in messages] == [id_text(batch.id)] + [f"{id_text(batch.id)}.{i}" for i in range(1, len(messages))]
    tables = [pa.ipc.open_stream(m.data).read_all() for m in messages]
    assert sum(t.num_rows for t in tables) == len(batch)
    assert {t.schema.metadata[b"parts"] for t in tables} == {str(len(messages)).encode()}
    config = consumer_config(nats_url, clickhouse_native, stream, "parts.batch", "mpf_parts")
    drop(clickhouse_native, "mpf_parts")
    run(consume_until(config, {"book_delta": len(batch)}, clickhouse_native, "mpf_parts"))
    assert_tables_hold_exactly(clickhouse_native, "mpf_parts", expected_by_kind([batch]))


def test_legacy_subjects_carry_the_old_collectors_names() -> None:
    batch = synthetic_batch(kind_of("trade"), 3)
    (subject, payload), *_ = legacy_messages(batch)
    import orjson

    row = batch.rows()[0]
    message = orjson.loads(payload)
    assert subject == f"market.okx.{row['symbol']}.trade"
    assert message["exchange_name"] == "okx" and message["symbol_name"] == row["symbol"]
    assert message["trade_id"] == row["trade_id"] and message["is_buyer_maker"] == (row["side"] == -1)
    assert message["timestamp"].endswith("Z")


# ---- the consumer and the faults -----------------------------------------------------------


def drop(url: str, database: str) -> None:
    from tests.sink_checks import native_client

    client = native_client(url)
    client.execute(f"DROP DATABASE IF EXISTS `{database}`")
    client.disconnect()


def consumer_config(nats_url: str, clickhouse_url: str, stream: str, prefix: str, database: str, **nats_options) -> Config:
    return Config(
        sinks=SinksConfig(
            nats=NatsSinkConfig(url=nats_url, stream=stream, batch_subject_prefix=prefix, **nats_options),
            clickhouse=ClickHouseSinkConfig(url=clickhouse_url, database=database),
        )
    )


async def consume_until(config: Config, rows: dict[str, int], clickhouse_url: str, database: str, consumers: int = 1) -> list[ConsumerStats]:
    """Run ``consumers`` consumers until ClickHouse holds ``rows`` per kind, then stop them."""
    stop = asyncio.Event()
    stats = [ConsumerStats() for _ in range(consumers)]
    tasks = [asyncio.create_task(consume(config, stop=stop, stats=s)) for s in stats]
    try:
        await async_wait_until(
            lambda: all(t.done() is False for t in tasks) and table_counts(clickhouse_url, database) == rows,
            f"ClickHouse to hold {rows}", timeout=90,
        )
    finally:
        stop.set()
        await asyncio.gather(*tasks)
    return stats


def test_nats_restarted_mid_run_loses_and_duplicates_nothing(private_nats, clickhouse_native: str, tmp_path: Path) -> None:
    server = private_nats
    ids = BatchIds("nats-restart")
    first, second = synthetic_batches(n=1000, ids=ids), synthetic_batches(n=1000, ids=ids)
    sink = NatsSink(nats_config(server.url, tmp_path / "spool", ack_timeout_seconds=1.0))

    async def body(fanout: FanOut) -> None:
        await async_wait_until(lambda: sink.counters.batches_written == len(first), "the first batches published")
        server.stop()
        fanout.submit(second)
        await async_wait_until(lambda: sink.health().state == "down" and len(sink.spool_store) > 0, "NATS seen down, batches spooled")
        server.start()
        await async_wait_until(lambda: sink.counters.batches_written == len(first) + len(second), "the spool published")

    run(publish(sink, first, body))
    assert sink.counters.batches_written == len(first) + len(second) and len(sink.spool_store) == 0
    drop(clickhouse_native, "mpf_nats_restart")
    config = consumer_config(server.url, clickhouse_native, "MARKETPRISM", "mpf.batch", "mpf_nats_restart")
    run(consume_until(config, rows_by_kind(first + second), clickhouse_native, "mpf_nats_restart"))
    assert_tables_hold_exactly(clickhouse_native, "mpf_nats_restart", expected_by_kind(first + second))


def test_a_lost_ack_is_published_again_with_the_same_id_and_stored_once(private_nats, clickhouse_native: str, tmp_path: Path) -> None:
    server = private_nats
    batches = synthetic_batches(n=1000, ids=BatchIds("lost-ack"))
    sink = NatsSink(nats_config(server.url, tmp_path / "spool", ack_timeout_seconds=0.5))

    async def main() -> None:
        await sink.start()
        # Connected first: a start that timed out on a loaded machine leaves the sink down,
        # and a down sink spools instead of publishing (its reconnect would then meet the
        # frozen server, and no ack would ever be missed).
        await async_wait_until(lambda: sink.health().state == "ok", "the sink connected, its stream ensured")
        # The server freezes after taking the message: its ack comes too late (lost) ...
        server.process.send_signal(signal.SIGSTOP)
        try:
            task = asyncio.create_task(sink.write(batches[:1]))
            await async_wait_until(lambda: sink.ack_retries >= 1, "an ack given up on and the batch published again")
        finally:
            server.process.send_signal(signal.SIGCONT)
        await task
        await sink.write(batches[1:])
        await async_wait_until(lambda: len(sink.spool_store) == 0 and sink.counters.batches_written == len(batches), "all published")
        await sink.close()

    run(main())
    # ... and the stream keeps one message per batch: the repeats were dropped by Nats-Msg-Id.
    messages = run(stream_messages(server.url, "MARKETPRISM"))
    assert sorted(m.headers["Nats-Msg-Id"] for m in messages) == sorted(id_text(b.id) for b in batches)
    drop(clickhouse_native, "mpf_lost_ack")
    config = consumer_config(server.url, clickhouse_native, "MARKETPRISM", "mpf.batch", "mpf_lost_ack")
    run(consume_until(config, rows_by_kind(batches), clickhouse_native, "mpf_lost_ack"))
    assert_tables_hold_exactly(clickhouse_native, "mpf_lost_ack", expected_by_kind(batches))


def test_closing_while_the_spool_is_written_back_delivers_and_counts_each_batch_once(private_nats, tmp_path: Path) -> None:
    # ``close`` drains the spool while the write-back task is draining it too: the two must
    # take turns, or the entry both see as the oldest is delivered and counted twice.
    server = private_nats
    batches = synthetic_batches(n=200, per_kind=20, ids=BatchIds("close-drain"))
    sink = NatsSink(nats_config(server.url, tmp_path / "spool"))

    async def main() -> None:
        server.stop()
        await sink.start()
        await sink.write(batches)  # NATS down: every batch spooled
        assert len(sink.spool_store) == len(batches)
        server.start()
        await async_wait_until(lambda: sink.counters.batches_written > 0, "the write-back under way")
        await sink.close(timeout=60)

    run(main())
    assert len(sink.spool_store) == 0
    assert sink.counters.batches_written == len(batches)
    assert sum(sink.counters.rows_written.values()) == sum(len(b) for b in batches)
    assert sink.published_messages - sink.duplicate_acks == len(batches)


class InFlightNatsSink(NatsSink):
    """The real NATS sink, noting how many spooled batches it was delivering at once."""

    def __init__(self, config) -> None:
        super().__init__(config)
        self.in_flight = 0
        self.most_in_flight = 0

    async def _deliver(self, batch, uncertain):
        if uncertain:  # a write-back
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            return await super()._deliver(batch, uncertain)
        finally:
            if uncertain:
                self.in_flight -= 1


def test_a_sink_started_while_nats_is_down_spools_and_writes_back_several_batches_at_once(private_nats, tmp_path: Path) -> None:
    # The write-back overlaps acks as ``write`` does: one round trip per spooled batch may
    # never catch up with what keeps arriving behind the spool (new batches queue after it
    # to keep the order). Each batch is still delivered and counted once.
    server = private_nats
    batches = synthetic_batches(n=100, ids=BatchIds("start-down"))
    sink = InFlightNatsSink(nats_config(server.url, tmp_path / "spool"))

    async def main() -> None:
        server.stop()
        await asyncio.wait_for(sink.start(), 30)  # gives up on the server, does not wait for it
        assert sink.health().state == "down"
        await sink.write(batches)
        assert len(sink.spool_store) == len(batches)
        server.start()
        await async_wait_until(lambda: len(sink.spool_store) == 0 and sink.counters.batches_written == len(batches), "the spool published once NATS answers")
        await sink.close()

    run(main())
    assert sum(sink.counters.rows_written.values()) == sum(len(b) for b in batches)
    assert sink.published_messages - sink.duplicate_acks == len(batches)
    assert 1 < sink.most_in_flight <= sink.concurrency


def test_a_consumer_waiting_for_nats_ends_when_stopped(private_nats, clickhouse_native: str) -> None:
    server = private_nats
    config = consumer_config(server.url, clickhouse_native, "MARKETPRISM", "mpf.batch", "mpf_consumer_down")

    warnings: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            warnings.append(record.getMessage())

    async def main() -> ConsumerStats:
        server.stop()
        stop, stats = asyncio.Event(), ConsumerStats()
        task = asyncio.create_task(consume(config, stop=stop, stats=stats))
        # the first connect gives up and says so (it used to wait for the server forever)
        await async_wait_until(lambda: any("not answering" in w for w in warnings), "the consumer to report NATS down")
        stop.set()
        return await asyncio.wait_for(task, 30)

    handler = Collect(logging.WARNING)
    consumer_log = logging.getLogger("marketprism_fast.sinks.consumer")
    consumer_log.addHandler(handler)
    try:
        stats = run(main())
    finally:
        consumer_log.removeHandler(handler)
    assert stats.rows_inserted == 0


CONSUMER_SCRIPT = textwrap.dedent(
    """
    import asyncio, os, signal, sys
    from marketprism_fast.config import ClickHouseSinkConfig, Config, NatsSinkConfig, SinksConfig
    from marketprism_fast.sinks.consumer import consume

    config = Config(sinks=SinksConfig(
        nats=NatsSinkConfig(url=sys.argv[1], consumer_ack_wait_seconds=2.0),
        clickhouse=ClickHouseSinkConfig(url=sys.argv[2], database=sys.argv[3]),
    ))

    def die_before_the_ack(batch):
        print("inserted", batch.kind.name, len(batch), flush=True)
        os.kill(os.getpid(), signal.SIGKILL)

    asyncio.run(consume(config, on_inserted=die_before_the_ack))
    """
)


def test_a_consumer_killed_between_insert_and_ack_leaves_each_row_once(private_nats, clickhouse_native: str, tmp_path: Path) -> None:
    server = private_nats
    database = "mpf_consumer_kill"
    drop(clickhouse_native, database)
    batches = synthetic_batches(n=1000, ids=BatchIds("consumer-kill"))
    run(publish(NatsSink(nats_config(server.url, tmp_path / "spool")), batches))
    process = subprocess.run(
        [sys.executable, "-c", CONSUMER_SCRIPT, server.url, clickhouse_native, database],
        cwd=REPO, capture_output=True, text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert process.returncode == -signal.SIGKILL, process.stderr[-2000:]
    kind_name, rows = process.stdout.split()[1:3]
    assert table_counts(clickhouse_native, database) == {kind_name: int(rows)}  # inserted, never acknowledged
    config = consumer_config(server.url, clickhouse_native, "MARKETPRISM", "mpf.batch", database, consumer_ack_wait_seconds=2.0)
    (stats,) = run(consume_until(config, rows_by_kind(batches), clickhouse_native, database))
    assert stats.redelivered >= 1 and stats.already_written >= 1  # the redelivered batch was found, not inserted again
    assert_tables_hold_exactly(clickhouse_native, database, expected_by_kind(batches))


def test_consumers_sharing_the_durable_write_each_batch_once(private_nats, clickhouse_native: str, tmp_path: Path) -> None:
    server = private_nats
    database = "mpf_two_consumers"
    drop(clickhouse_native, database)
    batches = synthetic_batches(n=500, per_kind=4, ids=BatchIds("two"))
    run(publish(NatsSink(nats_config(server.url, tmp_path / "spool")), batches))
    config = consumer_config(server.url, clickhouse_native, "MARKETPRISM", "mpf.batch", database, consumer_fetch_messages=2)
    stats = run(consume_until(config, rows_by_kind(batches), clickhouse_native, database, consumers=2))
    assert sum(s.messages for s in stats) >= len(batches)
    assert all(s.messages for s in stats), [s.messages for s in stats]  # both took part
    assert_tables_hold_exactly(clickhouse_native, database, expected_by_kind(batches))


def test_an_existing_stream_is_checked_and_given_the_batch_subjects(private_nats, tmp_path: Path) -> None:
    import nats

    async def main() -> list[str]:
        nc = await nats.connect(private_nats.url)
        js = nc.jetstream()
        await js.add_stream(name="MARKETPRISM", subjects=["other.>"], duplicate_window=30.0)
        sink = NatsSink(nats_config(private_nats.url, tmp_path / "spool"))
        await sink.start()
        await sink.write([synthetic_batch(kind_of("trade"), 10)])
        await sink.close()
        info = await js.stream_info("MARKETPRISM")
        await nc.close()
        assert sink.counters.batches_written == 1 and info.state.messages == 1
        return list(info.config.subjects)

    assert asyncio.run(main()) == ["other.>", "mpf.batch.>"]


def test_consume_with_an_unreadable_config_exits_2_with_one_line(tmp_path: Path, capsys) -> None:
    import argparse

    from marketprism_fast.sinks.consumer import add_parser, main

    parser = argparse.ArgumentParser(prog="marketprism_fast")
    add_parser(parser.add_subparsers(dest="command"))
    bad = tmp_path / "bad.yaml"
    bad.write_text("sinks:\n  nats:\n    urll: nats://x\n")
    for path in (str(tmp_path / "missing.yaml"), str(bad)):
        assert main(parser.parse_args(["consume", "--config", path])) == 2
        err = capsys.readouterr().err
        assert err.startswith("consume: ") and len(err.strip().splitlines()) == 1, err
