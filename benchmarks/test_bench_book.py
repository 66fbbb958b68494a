"""Order-book throughput: the compiled engine against a ``sortedcontainers.SortedDict`` book.

Run: ``.venv/bin/python -m pytest benchmarks/test_bench_book.py`` (not part of the default
test run). The unit is a *20-level update*: one message changing 20 price levels, after which
the best bid and ask are read. Workloads:

* ``synthetic``: a 1000-level book per side on a 0.01 grid; each level change lands a
  geometric distance from its side's touch (mean ~12 ticks), 30 % of them remove a level.
* ``corpus``: the real depth messages of binance_usdm hbt_2024-08-08 (BTCUSDT, ~68 levels per
  message) on its REST snapshot, counted per level change as well.

``test_side_by_side`` times both books on the same messages in one run and records the ratio;
``test_engine_against_price_ladder`` and ``..._on_usdm_depth`` time the engine against a plain
dense price ladder (``price_ladder.pyx``) on the synthetic and the corpus messages.
Times are CPU time (``time.process_time``: single-threaded work, no I/O), so that slices
taken by other processes on a shared core are not counted.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import numpy as np
import orjson
import pytest
import zstandard
from sortedcontainers import SortedDict

from marketprism_fast._book import DeltaRows, LevelBook, TopBuffer

LEVELS_PER_MESSAGE = 20
TARGET_MESSAGES_PER_SECOND = 2_000_000
CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"


class Workload:
    def __init__(self, side: np.ndarray, price: np.ndarray, amount: np.ndarray, starts: np.ndarray,
                 seed_rows: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
        self.rows = DeltaRows(side, price, amount)
        self.side, self.price, self.amount = side, price, amount
        self.seed_arrays = seed_rows
        self.starts = starts
        self.seed = DeltaRows(*seed_rows)
        self.messages = len(starts) - 1
        self.levels = len(side)
        # the same messages as Python lists, for the SortedDict book
        bounds = starts.tolist()
        triples = list(zip(side.tolist(), price.tolist(), amount.tolist()))
        self.python_messages = [triples[a:b] for a, b in zip(bounds[:-1], bounds[1:])]
        self.python_seed = list(zip(*(c.tolist() for c in seed_rows)))


def synthetic(messages: int, seed: int = 7) -> Workload:
    rng = np.random.default_rng(seed)
    n = messages * LEVELS_PER_MESSAGE
    touch = 10_000  # ticks
    side = rng.choice(np.array([1, -1], dtype=np.int8), n)
    distance = rng.geometric(0.08, n) - 1
    ticks = np.where(side == 1, touch - 1 - distance, touch + 1 + distance)
    price = np.array([float(f"{t / 100:.2f}") for t in ticks.tolist()])  # as parsed from decimal text
    amount = rng.integers(1, 1000, n).astype(np.float64)
    amount[rng.random(n) < 0.3] = 0.0
    starts = np.arange(0, n + 1, LEVELS_PER_MESSAGE, dtype=np.int64)
    seed_side = np.repeat(np.array([1, -1], dtype=np.int8), 1000)
    seed_ticks = np.concatenate([touch - 1 - np.arange(1000), touch + 1 + np.arange(1000)])
    seed_price = np.array([float(f"{t / 100:.2f}") for t in seed_ticks.tolist()])
    return Workload(side, price, amount, starts, (seed_side, seed_price, np.full(2000, 5.0)))


def corpus_workload() -> Workload:
    stem = CORPUS / "binance_usdm" / "binance_usdm.hbt_2024-08-08_btcusdt"
    if not Path(f"{stem}.frames.jsonl.zst").exists():
        pytest.skip(f"corpus not found at {CORPUS}")

    def lines(path: str) -> list[bytes]:
        return zstandard.ZstdDecompressor().decompressobj().decompress(Path(path).read_bytes()).split(b"\n")

    snapshot = orjson.loads(lines(f"{stem}.snapshots.jsonl.zst")[0])
    side, price, amount, starts = [], [], [], [0]
    for line in lines(f"{stem}.frames.jsonl.zst"):
        if b"depthUpdate" not in line:
            continue
        data = orjson.loads(line)["data"]
        if data["u"] < snapshot["lastUpdateId"]:
            continue
        for key, s in (("b", 1), ("a", -1)):
            for p, q in data[key]:
                side.append(s)
                price.append(float(p))
                amount.append(float(q))
        starts.append(len(side))
    seed = [(1, float(p), float(q)) for p, q in snapshot["bids"]] + [(-1, float(p), float(q)) for p, q in snapshot["asks"]]
    return Workload(
        np.array(side, dtype=np.int8), np.array(price), np.array(amount), np.array(starts, dtype=np.int64),
        (np.array([s for s, _, _ in seed], dtype=np.int8), np.array([p for _, p, _ in seed]), np.array([q for _, _, q in seed])),
    )


# ---------------------------------------------------------------- the two books

def run_engine(work: Workload) -> float:
    """Seconds to apply every message with best bid/ask written after each."""
    book = LevelBook()
    book.apply(work.seed, 0, work.seed.n)
    best = np.empty((work.messages, 4))
    start = time.process_time()
    book.apply_messages(work.rows, work.starts, best)
    return time.process_time() - start


def run_engine_top(work: Workload, depth: int = 20) -> float:
    """Seconds to apply every message with best bid/ask and the top ``depth`` levels copied after each."""
    book = LevelBook()
    book.apply(work.seed, 0, work.seed.n)
    best = np.empty((work.messages, 4))
    top = TopBuffer(depth, capacity=work.messages)
    start = time.process_time()
    book.apply_messages(work.rows, work.starts, best, top)
    return time.process_time() - start


def price_ladder():
    """The plain price-ladder prototype (``price_ladder.pyx``), compiled on first use."""
    import pyximport

    pyximport.install(setup_args={"include_dirs": np.get_include()}, language_level=3, inplace=False)
    from price_ladder import PriceLadder

    return PriceLadder


SYNTHETIC_GRID = (0.0, 0.01, 20_001)  # (lowest price, tick, slots): the synthetic workload's prices < 200


def ladder_grid(work: Workload, tick: float) -> tuple[float, float, int]:
    """A dense grid of ``tick`` over every price the workload (its seed included) holds."""
    prices = np.concatenate([work.price, work.seed_arrays[1]])
    low, high = float(prices.min()), float(prices.max())
    return low, tick, int((high - low) / tick + 0.5) + 1


def run_ladder(work: Workload, depth: int = 0, grid: tuple[float, float, int] = SYNTHETIC_GRID) -> float:
    """The same messages on a dense price ladder over ``grid`` (every price of the workload on it)."""
    ladder = price_ladder()(*grid)
    seed_rows = work.seed_arrays
    ladder.apply_messages(*seed_rows, np.array([0, len(seed_rows[0])], dtype=np.int64), np.empty((1, 4)))
    best = np.empty((work.messages, 4))
    top = np.empty((work.messages, 4 * depth)) if depth else None
    start = time.process_time()
    ladder.apply_messages(work.side, work.price, work.amount, work.starts, best, top)
    return time.process_time() - start


def run_sorted_dict(work: Workload) -> float:
    bids, asks = SortedDict(), SortedDict()
    for s, p, a in work.python_seed:
        (bids if s == 1 else asks)[p] = a
    best = []
    start = time.process_time()
    for message in work.python_messages:
        for s, p, a in message:
            levels = bids if s == 1 else asks
            if a == 0.0:
                levels.pop(p, None)
            else:
                levels[p] = a
        best.append((bids.peekitem(-1) if bids else None, asks.peekitem(0) if asks else None))
    return time.process_time() - start


def best_of(runner, work: Workload, rounds: int) -> float:
    return min(runner(work) for _ in range(rounds))


# ---------------------------------------------------------------- benchmarks

@pytest.fixture(scope="module")
def synthetic_work() -> Workload:
    return synthetic(200_000)


@pytest.fixture(scope="module")
def corpus_work() -> Workload:
    return corpus_workload()


def record(benchmark, work: Workload, seconds: float) -> None:
    benchmark.extra_info["messages_per_s"] = round(work.messages / seconds)
    benchmark.extra_info["levels_per_s"] = round(work.levels / seconds)


def test_engine_synthetic(benchmark, synthetic_work: Workload) -> None:
    seconds = benchmark.pedantic(run_engine, args=(synthetic_work,), rounds=5, iterations=1)
    record(benchmark, synthetic_work, benchmark.stats.stats.min)
    assert seconds > 0


def test_sorted_dict_synthetic(benchmark) -> None:
    work = synthetic(20_000)
    benchmark.pedantic(run_sorted_dict, args=(work,), rounds=3, iterations=1)
    record(benchmark, work, benchmark.stats.stats.min)


def test_engine_corpus(benchmark, corpus_work: Workload) -> None:
    benchmark.pedantic(run_engine, args=(corpus_work,), rounds=5, iterations=1)
    record(benchmark, corpus_work, benchmark.stats.stats.min)


def test_sorted_dict_corpus(benchmark, corpus_work: Workload) -> None:
    benchmark.pedantic(run_sorted_dict, args=(corpus_work,), rounds=3, iterations=1)
    record(benchmark, corpus_work, benchmark.stats.stats.min)


def test_side_by_side(synthetic_work: Workload, corpus_work: Workload, capsys) -> None:
    """Both books on the same messages in one run: throughput and ratio."""
    lines = []
    for name, work, sorted_work in (
        ("synthetic 20-level", synthetic_work, synthetic(20_000)),
        ("corpus usdm BTCUSDT", corpus_work, corpus_work),
    ):
        engine = work.messages / best_of(run_engine, work, 5)
        sorted_dict = sorted_work.messages / best_of(run_sorted_dict, sorted_work, 3)
        per_message = work.levels / work.messages
        lines.append(
            f"{name}: engine {engine / 1e6:.2f} M msg/s ({engine * per_message / 1e6:.1f} M levels/s), "
            f"SortedDict {sorted_dict / 1e3:.0f} k msg/s, ratio {engine / sorted_dict:.0f}x"
        )
        if name.startswith("synthetic"):
            synthetic_rate, synthetic_ratio = engine, engine / sorted_dict
    with capsys.disabled():
        print("\n" + "\n".join(lines))
    assert synthetic_ratio >= 10
    assert synthetic_rate >= TARGET_MESSAGES_PER_SECOND, lines[0]


def engine_against_ladder(work: Workload, pairs: int = 9, grid: tuple[float, float, int] = SYNTHETIC_GRID) -> dict:
    """Engine and price ladder on the same messages, interleaved: medians of rates and ratios."""
    out = {}
    for label, engine, ladder in (
        ("best", run_engine, lambda w: run_ladder(w, 0, grid)),
        ("top20", run_engine_top, lambda w: run_ladder(w, 20, grid)),
    ):
        rates, ladder_rates, ratios = [], [], []
        for _ in range(pairs):
            e = engine(work)
            p = ladder(work)
            rates.append(work.messages / e)
            ladder_rates.append(work.messages / p)
            ratios.append(p / e)
        out[label] = (statistics.median(rates), statistics.median(ladder_rates), statistics.median(ratios))
    return out


def show_against_ladder(name: str, result: dict, capsys) -> None:
    """One line per measure: both books' rates (M msg/s) and times (µs per message), the ratio."""
    lines = [
        f"{name}, {label}: engine {e / 1e6:.2f} M msg/s ({1e6 / e:.3f} us/msg), "
        f"price ladder {p / 1e6:.2f} M msg/s ({1e6 / p:.3f} us/msg), engine/ladder {100 * r:.0f} %"
        for label, (e, p, r) in result.items()
    ]
    with capsys.disabled():
        print("\n" + "\n".join(lines))


def test_engine_against_price_ladder(synthetic_work: Workload, capsys) -> None:
    """The engine against a plain dense price ladder, same messages, same run."""
    result = engine_against_ladder(synthetic_work)
    show_against_ladder("synthetic 20-level", result, capsys)
    assert result["best"][0] > 0


def test_engine_against_price_ladder_on_usdm_depth(corpus_work: Workload, capsys) -> None:
    """The same on the real USD-M depth messages (~68 levels each), the ladder spanning every
    price of the session on BTCUSDT's 0.1 tick: what the fastest book there is needs per
    message, to set beside the builder's budget in the parse + books target."""
    result = engine_against_ladder(corpus_work, grid=ladder_grid(corpus_work, 0.1))
    show_against_ladder("usdm depth", result, capsys)
    assert result["top20"][0] > 0 and result["top20"][1] > 0


def test_parse_and_books_against_parse_alone(capsys) -> None:
    """book_pipeline.py: parse + BookBuilder (a 20-level snapshot every update) over parse
    alone, interleaved pairs in this process, with a fresh builder per pass and (okx_books)
    one kept across passes, as a node keeps it (the issue's targets: >= 50 % on OKX books,
    >= 80 % on USD-M depth; reported, not asserted)."""
    import book_pipeline

    try:
        pipelines = [make() for make in (book_pipeline.okx_books, book_pipeline.usdm_depth)]
    except book_pipeline.CorpusMissing as err:
        pytest.skip(f"corpus absent: {err}")
    results = [book_pipeline.measure(p, kept=kept) for p in pipelines
               for kept in ((False, True) if p.replayable else (False,))]
    with capsys.disabled():
        for r in results:
            print(f"\n{r['workload']} ({r['builder']} builder): parse+books at {100 * r['ratio_median']:.0f} % of parse alone "
                  f"(10-90 %: {100 * r['ratio_low']:.0f}-{100 * r['ratio_high']:.0f} %), "
                  f"books add {r['books_us_per_message']:.2f} us per message")
    assert all(r["messages"] > 0 for r in results)
