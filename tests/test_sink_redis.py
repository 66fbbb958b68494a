"""The Redis sink against a real redis-server: the latest record per (kind, venue, symbol),
and a Redis outage that neither stalls nor disturbs the other sinks."""

from __future__ import annotations

import asyncio
from pathlib import Path

import orjson
import pytest

from marketprism_fast.config import ClickHouseSinkConfig, RedisSinkConfig, SpoolConfig
from marketprism_fast.pipeline.fanout import FanOut
from marketprism_fast.pipeline.identity import BatchIds
from marketprism_fast.records import kind as kind_of
from marketprism_fast.sinks.clickhouse.sink import ClickHouseSink
from marketprism_fast.sinks.redis import RedisSink, redis_key
from tests.sink_checks import assert_tables_hold_exactly, async_wait_until, native_client
from tests.sink_data import corpus_batches, expected_by_kind, row_key, synthetic_batch, synthetic_batches

REDIS_KINDS = ("quote", "ticker", "trade", "funding_rate", "open_interest", "book_snapshot")


def latest(batches) -> dict[str, dict]:
    """What the cache must hold: the last row of each (kind, venue, symbol), in batch order."""
    out: dict[str, dict] = {}
    for b in batches:
        if b.kind.name in REDIS_KINDS:
            for row in b.rows():
                out[redis_key("mpf", b.kind.name, b.exchange, row["symbol"])] = {"kind": b.kind.name, **row}
    return out


async def cache(url: str, keys) -> dict[str, dict]:
    import redis.asyncio as redis

    client = redis.Redis.from_url(url)
    try:
        values = await client.mget(list(keys))
        ttls = [await client.ttl(k) for k in keys]
    finally:
        await client.aclose()
    assert all(0 < t <= 300 for t in ttls), ttls
    return {k: orjson.loads(v) for k, v in zip(keys, values) if v is not None}


def same_record(got: dict, want: dict) -> bool:
    """JSON null stands for NaN (floats and padded levels)."""
    nan = float("nan")
    got = {k: (nan if v is None else [nan if x is None else x for x in v] if isinstance(v, list) else v) for k, v in got.items()}
    names = tuple(want)
    return row_key(got, names) == row_key(want, names)


@pytest.mark.corpus
def test_the_cache_holds_the_latest_record_of_every_kind_and_symbol(redis_url: str) -> None:
    batches = corpus_batches() + synthetic_batches(n=200, per_kind=2)
    want = latest(batches)
    assert {k.split(":")[1] for k in want} == set(REDIS_KINDS)

    async def main() -> dict:
        sink = RedisSink(RedisSinkConfig(enabled=True, url=redis_url))
        await sink.start()
        await sink.write(batches)
        await sink.close()
        assert sink.health().state == "ok" and sink.keys_written >= len(want)
        return await cache(redis_url, want)

    got = asyncio.run(main())
    assert set(got) == set(want)
    for key, record in want.items():
        assert same_record(got[key], record), key


def test_redis_stopped_and_restarted_is_reported_catches_up_and_never_holds_up_clickhouse(
    private_redis, clickhouse_native: str, tmp_path: Path
) -> None:
    redis_server = private_redis
    database = "mpf_redis_outage"
    client = native_client(clickhouse_native)
    client.execute(f"DROP DATABASE IF EXISTS {database}")
    client.disconnect()
    ids = BatchIds("redis-outage")
    rounds = [synthetic_batches(n=300, ids=ids) for _ in range(2)] + [[]]
    redis_sink = RedisSink(RedisSinkConfig(enabled=True, url=redis_server.url))
    clickhouse = ClickHouseSink(ClickHouseSinkConfig(enabled=True, url=clickhouse_native, database=database, spool=SpoolConfig(directory=str(tmp_path / "spool"))))

    async def main() -> None:
        fanout = FanOut([redis_sink, clickhouse])
        await fanout.start()
        fanout.submit(rounds[0])
        await async_wait_until(lambda: redis_sink.counters.batches_written >= 6, "the first round cached")
        redis_server.stop()
        fanout.submit(rounds[1])
        # ClickHouse takes the second round while Redis is down; Redis is reported stale.
        await async_wait_until(lambda: clickhouse.counters.batches_written == 2 * len(rounds[0]), "ClickHouse written")
        await async_wait_until(lambda: fanout.stats()["redis"]["state"] == "degraded", "Redis reported")
        stats = fanout.stats()["redis"]
        assert "redis not answering" in stats["detail"] and stats["keys_waiting"] > 0 and stats["errors"] >= 1
        redis_server.start()
        # Batches keep coming; the first write after the backoff sends every kept key.
        seed = 100
        while redis_sink.health().state != "ok":
            extra = synthetic_batch(kind_of("quote"), 50, seed, ids)
            seed += 1
            rounds[2].append(extra)
            fanout.submit([extra])
            await asyncio.sleep(0.1)
        await async_wait_until(lambda: clickhouse.counters.batches_written == sum(map(len, rounds)), "ClickHouse written")
        await fanout.drain(30)

    asyncio.run(main())
    want = latest(rounds[0] + rounds[1] + rounds[2])
    got = asyncio.run(cache(redis_server.url, want))
    assert set(got) == set(want)
    for key, record in want.items():
        assert same_record(got[key], record), key
    assert_tables_hold_exactly(clickhouse_native, database, expected_by_kind(rounds[0] + rounds[1] + rounds[2]))
