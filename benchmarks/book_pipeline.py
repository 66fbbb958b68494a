"""Parse + book builder against parse alone, on the same frames, interleaved in one process.

    .venv/bin/python benchmarks/book_pipeline.py            # pinned to CPU 0 (MPF_BENCH_CPU)
    .venv/bin/python benchmarks/book_pipeline.py --alone    # the builder alone, µs per message

Workloads (real sessions, frames held in memory):

* ``okx_books``: every ``books``/``books-l2-tbt`` frame of okx cf_2022-05-13 and cf_2022-02-27
  (snapshots, updates, acks; ~4.3 levels per update), the set 5 times over. Checksums
  verified on every update.
* ``usdm_depth_0ms``: the depth@0ms frames of binance_usdm hbt_2024-08-08 (BTCUSDT, ~68 levels
  per message) from its REST snapshot on, the snapshot fed first.

A *pass* is the parser over the whole workload in chunks of 2048 frames (one parser per mode
for the whole run, as a node keeps it): ``feed_many`` then ``take()``; with books, the
book_delta batch goes through
``BookBuilder.apply`` (a 20-level book_snapshot row after every applied message) and
``builder.take()``. Passes alternate parse-only / parse+books; the reported ratio is the
median of the per-pair ratios (rate with books / rate without), so that a slow moment of the
shared machine hits both sides of a pair.

By default the builder is fresh for every pass: a USD-M book must start from the REST
snapshot fed first (a builder that has seen the stream drops a replay of it as old). A fresh
builder's output buffers are new memory in every pass (~800 page faults a pass on
okx_books), which a node's long-lived builder pays once. okx_books can also be measured
through one builder kept across passes (every repetition opens with its snapshots, so the
kept builder resyncs and verifies every checksum again): ``measure(..., kept=True)``,
reported beside the fresh one as the steady state a running node sees. Times are the process's CPU time
(``time.process_time``): the work is single-threaded and does no I/O, and CPU time does not
count the slices another process takes from a shared core.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import orjson
import zstandard

sys.path.insert(0, str(Path(__file__).resolve().parent))

from contenders.corpus import CHUNK_FRAMES, CORPUS, CorpusMissing, channel, session_frames  # noqa: E402

from marketprism_fast.books import BookBuilder  # noqa: E402
from marketprism_fast.instruments import InstrumentRegistry  # noqa: E402
from marketprism_fast.parser import make_parser  # noqa: E402

TS_RECV = 1_723_161_600_000_000_000


@dataclass
class Pipeline:
    name: str
    venue: str
    frames: list[bytes]
    snapshots: list[tuple[bytes, str]]  # (REST body, raw symbol) fed before the frames
    replayable: bool = False  # a builder kept across passes stays in sync (every pass resyncs)
    messages: int = 0  # book messages in the workload (counted on a books pass)

    def __post_init__(self) -> None:
        # one parser per mode for the whole run, as a node keeps it (its buffers are reused)
        self.registry = InstrumentRegistry(self.venue)
        self.parsers = {
            books: make_parser(self.venue, self.registry, implementation="compiled", capacity=65536, book_markers=books)
            for books in (False, True)
        }

    def builder(self) -> BookBuilder:
        return BookBuilder(self.venue, self.registry, depth=20, every_update=True)

    def run(self, books: bool, kept: BookBuilder | None = None) -> float:
        """One pass (CPU seconds); with books, through ``kept`` or else a fresh builder (a
        Binance book syncs on the snapshot fed first)."""
        parser = self.parsers[books]
        builder = (kept or self.builder()) if books else None
        handled = _handled(builder) if builder is not None else 0
        chunks = [self.frames[i : i + CHUNK_FRAMES] for i in range(0, len(self.frames), CHUNK_FRAMES)]
        start = time.process_time()
        for body, symbol in self.snapshots:
            parser.feed_snapshot(body, TS_RECV, symbol)
        for chunk in chunks:
            parser.feed_many(chunk, TS_RECV)
            batches = parser.take()
            if builder is not None:
                for batch in batches:
                    if batch.kind.name == "book_delta":
                        builder.apply(batch)
                builder.take()
        seconds = time.process_time() - start
        if builder is not None:
            stats = builder.stats()
            self.messages = _handled(builder) - handled
            assert stats["checksum_failures"] == 0 and not stats["gaps"] and not stats["out_of_sync"], stats
        return seconds


def _handled(builder: BookBuilder) -> int:
    """Book messages the builder has handled so far (applied or dropped)."""
    stats = builder.stats()
    return stats["applied"] + stats["dropped"]


def _lines(path: Path) -> list[bytes]:
    if not path.exists():
        raise CorpusMissing(f"{path} not found (set MPF_CORPUS)")
    data = zstandard.ZstdDecompressor().decompressobj().decompress(path.read_bytes())
    return [line for line in data.split(b"\n") if line]


OKX_REPEAT = 5


def okx_books() -> Pipeline:
    """Both sessions' book frames, the whole set 5 times over (each session opens with its
    snapshots, so every repetition resyncs and the seqId chain holds)."""
    is_books = channel("books")
    frames = [f for s in ("cf_2022-05-13", "cf_2022-02-27") for f in session_frames("okx", s) if is_books(f)]
    return Pipeline("okx_books", "okx", frames * OKX_REPEAT, [], replayable=True)


def usdm_depth() -> Pipeline:
    session = "hbt_2024-08-08_btcusdt"
    body = _lines(CORPUS / "binance_usdm" / f"binance_usdm.{session}.snapshots.jsonl.zst")[0]
    last_update_id = orjson.loads(body)["lastUpdateId"]
    frames = []
    for frame in session_frames("binance_usdm", session):
        if b'"e":"depthUpdate"' in frame and orjson.loads(frame)["data"]["u"] >= last_update_id:
            frames.append(frame)
    return Pipeline("usdm_depth_0ms", "binance_usdm", frames, [(body, "BTCUSDT")])


def measure(pipeline: Pipeline, pairs: int = 15, kept: bool = False) -> dict:
    """Interleaved pairs of passes; ``kept``: every books pass through one builder (made
    before the warm-up), as a running node keeps it (replayable workloads only)."""
    if kept and not pipeline.replayable:
        raise ValueError(f"{pipeline.name}: a builder kept across passes would not stay in sync")
    builder = pipeline.builder() if kept else None
    pipeline.run(False)  # warm-up (and page in the frames)
    pipeline.run(True, builder)
    ratios, parse_rates, book_rates = [], [], []
    for i in range(pairs):
        order = (False, True) if i % 2 == 0 else (True, False)
        seconds = {books: pipeline.run(books, builder) for books in order}
        parse_rates.append(len(pipeline.frames) / seconds[False])
        book_rates.append(len(pipeline.frames) / seconds[True])
        ratios.append(seconds[False] / seconds[True])
    ratios.sort()
    return {
        "workload": pipeline.name,
        "builder": "kept" if kept else "fresh",
        "frames": len(pipeline.frames),
        "messages": pipeline.messages,
        "parse_frames_per_s": statistics.median(parse_rates),
        "books_frames_per_s": statistics.median(book_rates),
        "ratio_median": statistics.median(ratios),
        "ratio_low": ratios[len(ratios) // 10],
        "ratio_high": ratios[-1 - len(ratios) // 10],
        "books_us_per_message": 1e6 * (1 / statistics.median(book_rates) - 1 / statistics.median(parse_rates))
        * len(pipeline.frames) / max(pipeline.messages, 1),
    }


def book_delta_batches(pipeline: Pipeline) -> list[list]:
    """The workload parsed once (its REST snapshots first), chunk by chunk: each chunk's
    book_delta batches."""
    parser = make_parser(pipeline.venue, pipeline.registry, implementation="compiled", capacity=65536, book_markers=True)
    batches = []
    for body, symbol in pipeline.snapshots:
        parser.feed_snapshot(body, TS_RECV, symbol)
    for i in range(0, len(pipeline.frames), CHUNK_FRAMES):
        parser.feed_many(pipeline.frames[i : i + CHUNK_FRAMES], TS_RECV)
        batches.append([b for b in parser.take() if b.kind.name == "book_delta"])
    return batches


def build_books(pipeline: Pipeline, batches: list[list]) -> int:
    """A fresh builder (20-level snapshot after every update) applies every chunk's
    book_delta batches and takes its output after each chunk, as a node does; returns the
    book messages it handled (a checksum failure or a gap is an error)."""
    builder = BookBuilder(pipeline.venue, pipeline.registry, depth=20, every_update=True)
    for chunk in batches:
        for batch in chunk:
            builder.apply(batch)
        builder.take()
    stats = builder.stats()
    assert stats["checksum_failures"] == 0 and not stats["gaps"], stats
    return stats["applied"] + stats["dropped"]


def books_alone(pipeline: Pipeline, rounds: int = 20) -> float:
    """µs per book message of the builder alone: the workload parsed once, its book_delta
    batches held; a fresh builder per round applies them all (and takes its output); the best
    round's CPU time."""
    batches = book_delta_batches(pipeline)
    best = float("inf")
    messages = 0
    for _ in range(rounds):
        start = time.process_time()
        messages = build_books(pipeline, batches)
        best = min(best, time.process_time() - start)
    return 1e6 * best / max(messages, 1)


def pin() -> str:
    wanted = os.environ.get("MPF_BENCH_CPU", "0")
    if wanted == "none":
        return "not pinned"
    os.sched_setaffinity(0, {int(wanted)})
    return f"pinned to CPU {wanted}"


def main() -> None:
    print(pin(), "load", os.getloadavg())
    if "--alone" in sys.argv[1:]:
        for make in (okx_books, usdm_depth):
            pipeline = make()
            print(f"{pipeline.name}: books alone {books_alone(pipeline):.3f} µs per book message (best of 20, CPU time)")
        return
    for make in (okx_books, usdm_depth):
        pipeline = make()
        for kept in (False, True) if pipeline.replayable else (False,):
            report(measure(pipeline, kept=kept))


def report(r: dict) -> None:
    print(
        f"{r['workload']} ({r['builder']} builder): {r['frames']} frames, {r['messages']} book messages; "
        f"parse {r['parse_frames_per_s'] / 1e3:.0f} k/s, parse+books {r['books_frames_per_s'] / 1e3:.0f} k/s; "
        f"ratio {100 * r['ratio_median']:.0f} % (10-90 %: {100 * r['ratio_low']:.0f}-{100 * r['ratio_high']:.0f} %); "
        f"books add {r['books_us_per_message']:.2f} µs per message"
    )

if __name__ == "__main__":
    main()
