"""Performance-regression gate: decode and book-builder speed as ratios measured in one run, against a baseline.

    .venv/bin/python benchmarks/gate.py                    # compare with benchmarks/gate_baseline.json
    .venv/bin/python benchmarks/gate.py --update-baseline  # write this run's ratios as the baseline

For each workload (real recorded frames of one venue and kind), the compiled parser's CPU
time per frame is divided by the CPU time of a fixed reference on the same frames in the same
process: the standard library's ``json.loads`` of every frame. Both scan the same bytes, so
the ratio moves with the parser's code and hardly with the machine's speed or load; rounds
are interleaved (parser, reference, parser, ...) and the median of the per-round ratios is
kept. A workload fails when its ratio is more than ``--margin`` (default 30 %) above the
baseline's; the exit status is then 1 and the failing rows say by how much.

The ``books_*`` workloads gate the book builder the same way: its CPU time applying the
book_delta batches of a recorded session (parsed beforehand, as ``book_pipeline.py --alone``
does: a fresh builder, a 20-level snapshot after every update, OKX checksums verified) over
``json.loads`` of those sessions' frames, per frame.

Refreshing the baseline is legitimate when the reference itself changed (a new Python), when
the machine class changed, or when a change made the parser faster (lock the gain in). It is
not legitimate to make a red gate green: find the regression instead. Commit the new
``gate_baseline.json`` in its own commit saying why. The ratio is not quite machine-free: the
same code measured on an Intel Xeon and an AMD EPYC guest differs by up to 30 % per workload,
so the committed baseline holds, per workload, the higher ratio of the machine classes CI
runs on (merge a new class's ``--update-baseline`` output by hand, keeping the maximum).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from contenders.corpus import CorpusMissing, corpus_available, session_frames  # noqa: E402

from marketprism_fast.parser import make_parser  # noqa: E402

BASELINE = HERE / "gate_baseline.json"
CHUNK = 2048
TS_RECV = 1_723_161_600_000_000_000
FRAMES_PER_WORKLOAD = 20_000


@dataclass(frozen=True)
class Workload:
    name: str
    venue: str
    session: str
    needle: bytes  # a frame belongs to the workload when it contains this ("" = every frame)


WORKLOADS = (
    Workload("binance_trade", "binance_usdm", "hbt_2024-08-08_btcusdt", b'"e":"trade"'),
    Workload("binance_bookticker", "binance_usdm", "hbt_2024-08-08_btcusdt", b'"e":"bookTicker"'),
    Workload("binance_depth", "binance_usdm", "hbt_2024-08-08_btcusdt", b'"e":"depthUpdate"'),
    Workload("binance_spot_mixed", "binance_spot", "hbt_2024-08-08_btcusdt", b""),
    Workload("okx_mixed", "okx", "cf_2022-02-27", b""),
    Workload("deribit_mixed", "deribit", "cf_2021-04-17", b""),
)


@dataclass(frozen=True)
class BookWorkload:
    name: str
    pipeline: str  # the book_pipeline.py workload: okx_books, usdm_depth


BOOK_WORKLOADS = (BookWorkload("books_okx", "okx_books"), BookWorkload("books_usdm_depth", "usdm_depth"))


def frames_of(w: Workload) -> list[bytes]:
    frames = [f for f in session_frames(w.venue, w.session) if w.needle in f]
    if not frames:
        raise CorpusMissing(f"no frames for workload {w.name}")
    while len(frames) < FRAMES_PER_WORKLOAD:  # small sets repeated, like the benchmarks do
        frames = frames + frames
    return frames[:FRAMES_PER_WORKLOAD]


def parse_compiled(venue: str, slowed: bool) -> Callable[[list[bytes]], None]:
    parser = make_parser(venue, implementation="compiled")
    if slowed:
        # The gate's own self-test: the same parser with extra work per frame (a copy and a
        # hash of every frame, one Python call per frame), as a regression would add.
        def run(frames: list[bytes]) -> None:
            feed = parser.feed
            for frame in frames:
                hash(bytes(bytearray(frame)))
                feed(frame, TS_RECV)
            parser.take()

        return run

    def run(frames: list[bytes]) -> None:
        for i in range(0, len(frames), CHUNK):
            parser.feed_many(frames[i : i + CHUNK], TS_RECV)
            parser.take()

    return run


def parse_reference(frames: list[bytes]) -> None:
    loads = json.loads
    for frame in frames:
        loads(frame)


def books_compiled(w: BookWorkload, slowed: bool) -> tuple[Callable[[list[bytes]], None], list[bytes]]:
    """The builder over the workload's book_delta batches (parsed here, once), and the
    workload's frames. ``slowed`` (the self-test): the batches applied by two more fresh
    builders too, three times the work, as a regression would add."""
    import book_pipeline

    pipeline = getattr(book_pipeline, w.pipeline)()
    batches = book_pipeline.book_delta_batches(pipeline)

    def run(frames: list[bytes]) -> None:
        for _ in range(3 if slowed else 1):
            book_pipeline.build_books(pipeline, batches)

    return run, pipeline.frames[:FRAMES_PER_WORKLOAD]


def cpu_ns(fn: Callable[[list[bytes]], None], frames: list[bytes]) -> int:
    start = time.thread_time_ns()
    fn(frames)
    return time.thread_time_ns() - start


def measure(w: Workload | BookWorkload, rounds: int, slowed: bool) -> dict:
    if isinstance(w, BookWorkload):
        ours_fn, frames = books_compiled(w, slowed)
    else:
        frames = frames_of(w)
        ours_fn = parse_compiled(w.venue, slowed)
    ours_fn(frames)  # warm: interned symbols, grown buffers, caches
    parse_reference(frames)
    ratios, ours, theirs = [], [], []
    for _ in range(rounds):
        a = cpu_ns(ours_fn, frames)
        b = cpu_ns(parse_reference, frames)
        ours.append(a)
        theirs.append(b)
        ratios.append(a / b)
    n = len(frames)
    return {
        "ratio": statistics.median(ratios),
        "ns_per_frame": statistics.median(ours) / n,
        "reference_ns_per_frame": statistics.median(theirs) / n,
        "spread": (max(ratios) - min(ratios)) / statistics.median(ratios),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=7, help="interleaved rounds per workload (default 7)")
    ap.add_argument("--margin", type=float, default=0.30, help="allowed regression of a ratio (default 0.30 = 30 %%)")
    ap.add_argument("--baseline", type=Path, default=BASELINE)
    ap.add_argument("--update-baseline", action="store_true", help="write this run's ratios as the baseline")
    ap.add_argument("--only", default="", help="comma-separated workload names")
    ap.add_argument("--inject-slowdown", action="store_true", help=argparse.SUPPRESS)  # the gate's self-test
    args = ap.parse_args(argv)
    if not corpus_available():
        print("gate: the corpus is not at ../shared/corpus (or MPF_CORPUS); nothing to measure", file=sys.stderr)
        return 2
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    wanted = {s for s in args.only.split(",") if s}
    known = [w.name for w in (*WORKLOADS, *BOOK_WORKLOADS)]
    if unknown := sorted(wanted - set(known)):
        print(f"gate: --only names no workload {', '.join(unknown)} (workloads: {', '.join(known)})", file=sys.stderr)
        return 2
    workloads = [w for w in (*WORKLOADS, *BOOK_WORKLOADS) if not wanted or w.name in wanted]
    baseline = json.loads(args.baseline.read_text())["ratios"] if args.baseline.exists() else {}
    results, failed = {}, []
    print(f"{'workload':<20} {'ns/frame':>9} {'json ns':>9} {'ratio':>7} {'baseline':>9} {'change':>8}  verdict")
    for w in workloads:
        r = measure(w, args.rounds, args.inject_slowdown)
        results[w.name] = r
        base = baseline.get(w.name)
        if base is None:
            change, verdict = "", "new"
        else:
            delta = r["ratio"] / base - 1
            change = f"{delta:+.0%}"
            verdict = "ok" if delta <= args.margin else f"REGRESSED by {delta:.0%} (allowed {args.margin:.0%})"
            if delta > args.margin:
                failed.append(w.name)
        base_text = f"{base:.4f}" if base is not None else "-"
        print(
            f"{w.name:<20} {r['ns_per_frame']:>9.0f} {r['reference_ns_per_frame']:>9.0f} {r['ratio']:>7.4f} "
            f"{base_text:>9} {change:>8}  {verdict}",
            flush=True,
        )
    if args.update_baseline:
        args.baseline.write_text(
            json.dumps(
                {
                    "about": "compiled parser CPU time / json.loads CPU time on the same frames (benchmarks/gate.py)",
                    "python": sys.version.split()[0],
                    "ratios": {k: round(v["ratio"], 5) for k, v in results.items()},
                },
                indent=2,
            )
            + "\n"
        )
        print(f"gate: baseline written to {args.baseline}")
        return 0
    if failed:
        print(f"gate: FAILED: {', '.join(failed)} regressed beyond {args.margin:.0%}", file=sys.stderr)
        return 1
    print(f"gate: passed ({len(workloads)} workloads within {args.margin:.0%} of the baseline)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
