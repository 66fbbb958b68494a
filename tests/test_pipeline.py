"""The batcher and the fan-out: batches on size or age with ids, bounded queues with their
overflow policy counted, a stalled sink that holds up neither the feed nor the other sinks,
and the null and JSON Lines sinks."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import orjson
import pytest

from marketprism_fast.config import JsonlSinkConfig, NatsSinkConfig, Overflow, SpoolConfig
from marketprism_fast.parser import make_parser
from marketprism_fast.pipeline.batcher import Batcher
from marketprism_fast.pipeline.fanout import FanOut
from marketprism_fast.pipeline.identity import BatchIds, content_id
from marketprism_fast.records import kind as kind_of
from marketprism_fast.sinks.base import Sink
from marketprism_fast.sinks.jsonl import JsonlSink
from marketprism_fast.sinks.nats import NatsSink
from marketprism_fast.sinks.null import NullSink
from marketprism_fast.writers import JsonLines
from tests.helpers import corpus_dir, read_lines
from tests.sink_checks import async_wait_until
from tests.sink_data import TS_BASE_NS, synthetic_batch

STATUS_KEYS = {
    "state", "detail", "backlog_batches", "backlog_rows", "spool_bytes", "spool_files", "last_success", "errors",
    "dropped_batches", "rows_written", "batches_written", "flush_seconds",
}  # fmt: skip


def frames(venue: str, session: str) -> list[bytes]:
    return read_lines(corpus_dir() / venue / f"{venue}.{session}.frames.jsonl.zst")


@pytest.mark.corpus
def test_the_batcher_takes_on_size_and_on_age_and_names_every_batch(implementation: str) -> None:
    parser = make_parser("binance_usdm", implementation=implementation)
    submitted = []
    batcher = Batcher({"binance_usdm": parser}, submitted.extend, flush_interval=1.0, batch_rows=2000, ids=BatchIds("node"))
    now = __import__("time").monotonic()
    for i, frame in enumerate(frames("binance_usdm", "cf_2021-04-17")):
        parser.feed(frame, TS_BASE_NS + i)
        if i % 50 == 0:
            batcher.poll(now)  # the clock stands still: only size can trigger
    if hasattr(parser, "pending_rows"):
        assert batcher.takes_by_size >= 1 and batcher.takes_by_age == 0
    before = len(submitted)
    batcher.poll(now + 1.0)  # a second later: age takes the rest
    assert batcher.takes_by_age == 1 and len(submitted) >= before
    assert batcher.poll(now + 1.5) == 0  # nothing new, nothing submitted
    records = parser.stats().get("records")
    assert all(b.id for b in submitted) and len({b.id for b in submitted}) == len(submitted)
    assert sum(map(len, submitted)) == batcher.rows
    if isinstance(records, dict):  # every parsed row went out in some batch, once
        assert batcher.rows == sum(records.values())


def test_batch_ids_differ_between_processes_and_content_ids_are_stable() -> None:
    a, b = BatchIds("node"), BatchIds("node")
    x, y = synthetic_batch(kind_of("trade"), 10, 1), synthetic_batch(kind_of("trade"), 10, 1)
    assert x.id != y.id  # two id generators (two runs) never collide by construction of the prefix
    assert content_id(x) == content_id(y)
    with pytest.raises(ValueError):
        x.assign_id(y.id)
    a, b  # noqa: B018


def test_drop_oldest_counts_every_dropped_batch_and_keeps_the_newest(caplog) -> None:
    sink = NullSink()
    batches = [synthetic_batch(kind_of("quote"), 10, seed) for seed in range(10)]

    async def main() -> dict:
        fanout = FanOut([sink], Overflow(max_queue_batches=4, policy="drop_oldest"))
        await fanout.start()
        fanout.submit(batches)  # all at once: the task has not run yet
        stats = fanout.stats()["null"]
        assert (stats["backlog_batches"], stats["backlog_rows"], stats["dropped_batches"]) == (4, 40, 6)
        await fanout.drain(10)
        return fanout.stats()["null"]

    stats = asyncio.run(main())
    assert STATUS_KEYS <= set(stats)
    assert stats["batches_written"] == 4 and stats["rows_written"] == {"quote": 40} and stats["dropped_batches"] == 6
    assert "dropped the oldest" in caplog.text and "overflow.policy=drop_oldest" in caplog.text


def test_a_stalled_sink_holds_up_neither_submit_nor_the_other_sinks(private_nats, tmp_path: Path) -> None:
    server = private_nats
    nats = NatsSink(NatsSinkConfig(url=server.url, ack_timeout_seconds=0.5, spool=SpoolConfig(directory=str(tmp_path / "spool"))))
    null = NullSink()
    batches = [synthetic_batch(kind_of("trade"), 100, seed) for seed in range(30)]
    assert isinstance(nats, Sink) and isinstance(null, Sink)

    async def main() -> None:
        fanout = FanOut([nats, null])
        await fanout.start()
        server.process.send_signal(signal.SIGSTOP)  # NATS takes the connection's bytes and never answers
        try:
            for i, batch in enumerate(batches):
                fanout.submit([batch])  # returns at once: no await anywhere in it
                await asyncio.sleep(0.01)
            await async_wait_until(lambda: null.counters.batches_written == len(batches), "the null sink fed")
            assert nats.counters.batches_written < len(batches)
            assert fanout.stats()["nats"]["backlog_batches"] + nats.counters.batches_written + len(nats.spool_store) <= len(batches)
        finally:
            server.process.send_signal(signal.SIGCONT)
        await async_wait_until(lambda: nats.counters.batches_written == len(batches), "NATS caught up", timeout=90)
        await fanout.drain(30)

    asyncio.run(main())


def test_the_jsonl_sink_writes_the_normalize_encoding(tmp_path: Path) -> None:
    batches = [synthetic_batch(kind_of(name), 50, 3) for name in ("trade", "book_snapshot", "kline")]
    path = tmp_path / "out" / "records.jsonl"

    async def main() -> None:
        sink = JsonlSink(JsonlSinkConfig(enabled=True, path=str(path)))
        fanout = FanOut([sink])
        await fanout.start()
        fanout.submit(batches)
        await fanout.drain(10)
        assert sink.health().state == "ok" and sink.counters.batches_written == 3

    asyncio.run(main())
    encoder = JsonLines()
    expected = [line for b in batches for line in encoder.lines(b)]
    got = path.read_text().splitlines()
    assert got == expected
    assert orjson.loads(got[0])["kind"] == "trade"


def test_make_sinks_builds_the_enabled_sinks_from_their_sections(tmp_path: Path) -> None:
    from marketprism_fast.config import SinksConfig
    from marketprism_fast.sinks import make_sinks

    assert make_sinks(SinksConfig()) == []
    sinks = make_sinks(SinksConfig(jsonl=JsonlSinkConfig(enabled=True, path=str(tmp_path / "x.jsonl")), null={"enabled": True}))
    assert [s.name for s in sinks] == ["jsonl", "null"]
    assert all(isinstance(s, Sink) for s in sinks)
