"""One measurement of one contender, in this process only; prints one JSON line.

    python benchmarks/compare/workers.py '{"section": "decode", "contender": "legacy", "workload": "trade"}'

The comparison runner (``run.py``) starts one process per (section, contender, case), so no
contender inherits another's heap, caches or JIT state, and a contender that cannot run
(not installed, not for this venue) ends its own process with a ``skipped`` reason instead
of a number. Sections:

* ``decode``: frames -> records, real corpus frames held in memory (``contenders/``);
* ``book``: order-book updates, the real BTCUSDT depth messages on their REST snapshot;
* ``encode``: one sink's encoding of decoded records (what leaves the process per sink);
* ``memory``: bytes per held trade record (resident set delta and the records' own size).
"""

from __future__ import annotations

import gc
import json
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHMARKS = HERE.parent
sys.path.insert(0, str(BENCHMARKS))
sys.path.insert(0, str(BENCHMARKS.parent))

PAGE = os.sysconf("SC_PAGE_SIZE")
# Every contender is single-threaded: OpenBLAS's worker threads (numpy's) would only spin,
# and their CPU time would be counted as the contender's (process CPU time).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


class Skipped(Exception):
    """This contender does not run this case; the message says why (one line)."""


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE


def peak_rss_bytes() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


# ---------------------------------------------------------------------------- contenders


def decode_contender(name: str, venue: str, workload: str):
    """A decode contender of ``contenders/`` by its short name, or Skipped (why)."""
    from contenders.project import CompiledContender, compiled_venues

    if name == "compiled":
        if venue not in compiled_venues():
            raise Skipped(f"no compiled parser for {venue} in this build")
        return CompiledContender(venue)
    if name == "legacy":
        from contenders.legacy_binance import LegacyContender

        if venue not in LegacyContender.venues:
            raise Skipped(f"the old design decoded Binance only, not {venue}")
        return LegacyContender(venue)
    if name == "msgspec":
        if venue == "okx":
            from contenders.msgspec_okx import OkxMsgspecContender as cls
        elif venue == "deribit":
            from contenders.msgspec_deribit import DeribitMsgspecContender as cls
        else:
            from contenders.msgspec_binance import MsgspecContender as cls
        return cls(venue)
    if name == "cryptofeed":
        try:
            import cryptofeed  # noqa: F401
        except ImportError:
            raise Skipped("cryptofeed is not installed (pip install '.[bench]'); skipped") from None
        try:
            from contenders.cryptofeed_binance import CryptofeedContender
        except ImportError:
            raise Skipped("no cryptofeed contender in benchmarks/contenders in this checkout") from None
        if venue not in CryptofeedContender.venues or workload not in CryptofeedContender.workloads:
            raise Skipped(f"cryptofeed's own handlers turn only {', '.join(sorted(CryptofeedContender.workloads))} "
                          f"of {', '.join(sorted(CryptofeedContender.venues))} into these records offline")
        return CryptofeedContender(venue)
    raise Skipped(f"unknown decode contender {name!r}")


def _workload(name: str, max_frames: int | None):
    from contenders.corpus import CHUNK_FRAMES, WORKLOADS, CorpusMissing, load

    try:
        work = load(WORKLOADS[name])
    except CorpusMissing as exc:
        raise Skipped(f"corpus absent: {exc}") from None
    if max_frames and len(work.frames) > max_frames:
        work.frames = work.frames[:max_frames]
        work.chunks = [work.frames[i : i + CHUNK_FRAMES] for i in range(0, len(work.frames), CHUNK_FRAMES)]
    return work


def _timed_passes(run, seconds: float, min_passes: int = 3) -> list[float]:
    """CPU seconds of this process per pass of ``run()``: a warm-up pass, then passes until
    ``seconds`` of CPU time are spent. CPU time, not wall time: on a shared machine another
    job's turn on the core does not land in the figure (every contender is single-threaded)."""
    run()
    times: list[float] = []
    deadline = time.process_time() + seconds
    while len(times) < min_passes or time.process_time() < deadline:
        start = time.process_time()
        run()
        times.append(time.process_time() - start)
        if len(times) >= 500:
            break
    return times


def _pass_seconds(times: list[float]) -> float:
    """The figure a rate is computed from: the fastest pass. Every pass does the same work, so
    what makes one slower is the machine (another tenant's cache and memory traffic on a
    shared host, which CPU time does not exclude); the fastest is the work's own cost, for
    every contender alike (``timeit`` reports the minimum for the same reason)."""
    return min(times)


# ---------------------------------------------------------------------------- sections


def decode(case: dict) -> dict:
    from contenders.corpus import WORKLOADS

    spec = WORKLOADS[case["workload"]]
    contender = decode_contender(case["contender"], spec.venue, spec.name)
    work = _workload(spec.name, case.get("max_frames"))
    outputs = [contender.decode(chunk) for chunk in work.chunks]  # also the warm-up
    columns = contender.columns(outputs)
    records = sum(len(next(iter(cols.values()), [])) for cols in columns.values())
    del outputs, columns
    gc.collect()
    times = _timed_passes(lambda: contender.run(work.chunks), case.get("seconds", 1.0))
    best = _pass_seconds(times)
    frames = len(work.frames)
    return {
        "venue": spec.venue, "frames": frames, "records": records, "passes": len(times),
        "frames_per_s": frames / best, "us_per_frame": best / frames * 1e6,
        "records_per_s": records / best, "mean_frame_bytes": work.mean_bytes,
    }


def book(case: dict) -> dict:
    """Level updates on the real usdm BTCUSDT depth messages, best bid/ask read after each message."""
    import numpy as np
    import pytest

    from contenders.corpus import CORPUS

    try:
        import test_bench_book
    except ImportError as exc:
        raise Skipped(f"benchmarks/test_bench_book.py not importable: {exc}") from None
    test_bench_book.CORPUS = CORPUS  # the corpus where the other workloads find it ($MPF_CORPUS)
    corpus_workload = test_bench_book.corpus_workload
    try:
        work = corpus_workload()
    except pytest.skip.Exception as exc:
        raise Skipped(str(exc)) from None
    limit = case.get("max_messages") or work.messages
    name = case["contender"]
    if name == "compiled":
        from marketprism_fast._book import DeltaRows, LevelBook

        starts = work.starts[: limit + 1]
        end = int(starts[-1])
        rows = DeltaRows(work.side[:end], work.price[:end], work.amount[:end])
        messages, levels = len(starts) - 1, end

        def run() -> None:
            b = LevelBook()
            b.apply(work.seed, 0, work.seed.n)
            b.apply_messages(rows, starts, np.empty((messages, 4)))

    elif name == "legacy":
        from decimal import Decimal

        # The old collector's book: Decimal keys (the venue's price text), dict per side,
        # best prices by max/min over the keys after each message.
        to_dec = {}
        def dec(x: float) -> Decimal:
            d = to_dec.get(x)
            if d is None:
                d = to_dec[x] = Decimal(repr(x))
            return d
        msgs = work.python_messages[:limit]
        dmsgs = [[(s, dec(p), dec(a)) for s, p, a in m] for m in msgs]
        dseed = [(s, dec(p), dec(a)) for s, p, a in work.python_seed]
        zero = Decimal(0)

        def run() -> None:
            bids: dict = {}
            asks: dict = {}
            for s, p, a in dseed:
                (bids if s == 1 else asks)[p] = a
            for m in dmsgs:
                for s, p, a in m:
                    side = bids if s == 1 else asks
                    if a == zero:
                        side.pop(p, None)
                    else:
                        side[p] = a
                best = (max(bids) if bids else None, min(asks) if asks else None)  # noqa: F841

        messages, levels = len(dmsgs), sum(map(len, dmsgs))
    else:
        raise Skipped(f"unknown book contender {name!r}")
    times = _timed_passes(run, case.get("seconds", 1.0))
    best = _pass_seconds(times)
    return {"messages": messages, "levels": levels, "messages_per_s": messages / best,
            "levels_per_s": levels / best, "us_per_message": best / messages * 1e6}


def _trade_frames(n: int) -> list[bytes]:
    """``n`` binance_usdm BTCUSDT trade frames (the real ones, repeated if need be)."""
    frames = _workload("trade", None).frames
    return (frames * (n // len(frames) + 1))[:n]


def encode(case: dict) -> dict:
    """One sink's encoding of the same decoded trades (decode excluded from the time)."""
    from contenders.corpus import CHUNK_FRAMES, TS_RECV

    n = case.get("records", 50_000)
    frames = _trade_frames(n)
    sink, name = case["sink"], case["contender"]
    if name == "compiled":
        from marketprism_fast.batch import Batch
        from marketprism_fast.parser import make_parser

        parser = make_parser("binance_usdm", implementation="compiled", capacity=max(n, CHUNK_FRAMES))
        parser.feed_many(frames, TS_RECV)
        batches: list[Batch] = [b for b in parser.take() if b.kind.name == "trade"]
        if sink == "clickhouse":
            import numpy as np

            from marketprism_fast.sinks.clickhouse import native

            # every column of the INSERT as the writer encodes it for the server's column types
            # (ClickHouse 18.16: no DateTime64, no LowCardinality); the batch id column too
            types = [c.clickhouse_type(datetime64=False, low_cardinality=False) for c in batches[0].kind.columns]

            def run() -> list:
                return [
                    [native.encode_column(b, c, t) for c, t in zip(b.kind.columns, types)]
                    + [np.full(len(b), 1, dtype=np.uint64)]
                    for b in batches
                ]
            size = None
        elif sink == "nats":
            from marketprism_fast.sinks import arrow

            run = lambda: [list(arrow.encode(b, max_bytes=1 << 20)) for b in batches]  # noqa: E731
            size = lambda out: sum(len(d) for parts in out for _, _, d in parts)  # noqa: E731
        elif sink == "redis":
            from marketprism_fast.config import RedisSinkConfig
            from marketprism_fast.sinks.redis import RedisSink

            redis = RedisSink(RedisSinkConfig(url="redis://127.0.0.1:9"))

            def run():
                for b in batches:
                    redis._collect(b)  # noqa: SLF001 - the latest value per key, as written
                out, redis._pending = redis._pending, {}
                return out

            size = lambda out: sum(len(v) for v in out.values())  # noqa: E731
        else:
            raise Skipped(f"unknown sink {sink!r}")
        records = sum(len(b) for b in batches)
    elif name == "legacy":
        from contenders.legacy_binance import LegacyContender, _contract_values

        models = LegacyContender("binance_usdm").decode(frames)
        if sink == "clickhouse":  # row dicts for the driver's row-wise INSERT, 1000 at a time
            run = lambda: [dict(_contract_values(m)) for m in models]  # noqa: E731
            size = None
        elif sink == "nats":  # one JSON message per record
            run = lambda: [m.model_dump_json().encode() for m in models]  # noqa: E731
            size = lambda out: sum(map(len, out))  # noqa: E731
        elif sink == "redis":  # one JSON value per record, each sent with its own SET
            run = lambda: [(f"legacy:trade:{m.exchange}:{m.symbol}", m.model_dump_json().encode()) for m in models]  # noqa: E731
            size = lambda out: sum(len(v) for _, v in out)  # noqa: E731
        else:
            raise Skipped(f"unknown sink {sink!r}")
        records = len(models)
    else:
        raise Skipped(f"unknown encode contender {name!r}")
    out = run()
    nbytes = size(out) if size else None
    del out
    times = _timed_passes(run, case.get("seconds", 1.0))
    best = _pass_seconds(times)
    return {"records": records, "records_per_s": records / best, "ns_per_record": best / records * 1e9,
            "bytes_out": nbytes, "bytes_per_record": (nbytes / records) if nbytes else None}


def memory(case: dict) -> dict:
    """Bytes per held trade: resident set after holding N decoded trades minus before."""
    from contenders.corpus import CHUNK_FRAMES, TS_RECV

    n = case.get("records", 100_000)
    frames = _trade_frames(n)
    name = case["contender"]
    if name == "compiled":
        from marketprism_fast.parser import make_parser

        parser = make_parser("binance_usdm", implementation="compiled")
        parser.feed_many(frames[:CHUNK_FRAMES], TS_RECV)
        parser.take()  # its own buffers exist before the first reading
        def decode_chunk(chunk: list[bytes]) -> list:
            parser.feed_many(chunk, TS_RECV)
            return parser.take()

        own_size = lambda held: sum(a.nbytes for b in held for a in b.storage.values()) + sum(  # noqa: E731
            b.arena.nbytes for b in held if b.arena is not None)
    elif name == "legacy":
        from contenders.legacy_binance import LegacyContender
        from contenders.memory import deep_size

        contender = LegacyContender("binance_usdm")
        contender.decode(frames[:CHUNK_FRAMES])
        decode_chunk = contender.decode
        own_size = lambda held: deep_size(held)  # noqa: E731
    else:
        raise Skipped(f"unknown memory contender {name!r}")
    gc.collect()
    before = rss_bytes()
    held: list = []
    for i in range(0, len(frames), CHUNK_FRAMES):  # held as a sink holds what it has not written
        held += decode_chunk(frames[i : i + CHUNK_FRAMES])
    gc.collect()
    after = rss_bytes()
    records = sum(len(b) for b in held) if name == "compiled" else len(held)
    return {"records": records, "rss_bytes_per_record": (after - before) / records,
            "own_bytes_per_record": own_size(held) / records, "peak_rss_bytes": peak_rss_bytes()}


def sinks(case: dict) -> dict:
    """Sink throughput: ``test_bench_sinks.py``'s measurements (each sink against its old
    per-record counterpart on the same server), called directly, servers started here."""
    import asyncio
    import tempfile

    try:
        import test_bench_sinks as bench
    except ImportError as exc:
        raise Skipped(f"benchmarks/test_bench_sinks.py not importable: {exc}") from None
    from tests import servers

    rows = case.get("rows", 10_000)
    bench.ROUNDS = case.get("rounds", bench.ROUNDS)
    bench.SIZES = (rows,)
    loop = asyncio.new_event_loop()
    with tempfile.TemporaryDirectory() as tmp:
        with servers.managed(servers.ManagedClickHouse, all_cpus=True) as ch:
            bench.test_clickhouse_native_columnar_vs_rowwise_dicts(rows, ch, None)
        with servers.managed(servers.ManagedNats, all_cpus=True) as nats:
            bench.test_jetstream_arrow_batches_vs_json_per_record(rows, nats, loop, Path(tmp), None)
        with servers.managed(servers.ManagedRedis, all_cpus=True) as redis:
            bench.test_redis_bulk_latest_vs_one_command_per_record(rows, redis, loop, None)
    loop.close()
    return {"results": list(bench.RESULTS)}


SECTIONS = {"decode": decode, "book": book, "encode": encode, "memory": memory, "sinks": sinks}


def main() -> int:
    case = json.loads(sys.argv[1])
    try:
        result = {"status": "ok", **SECTIONS[case["section"]](case)}
    except Skipped as exc:
        result = {"status": "skipped", "reason": " ".join(str(exc).split())}
    result["peak_rss_bytes"] = result.get("peak_rss_bytes") or peak_rss_bytes()
    print(json.dumps({**case, **result}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
