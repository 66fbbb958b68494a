"""``normalize`` end to end against the parser alone, side by side in one run on one capture.

    .venv/bin/python benchmarks/bench_normalize.py             # the largest session, one core
    .venv/bin/python benchmarks/bench_normalize.py --cpus all  # no pinning (Parquet's writer thread overlaps)
    .venv/bin/python benchmarks/bench_normalize.py --markdown t.md

Contenders, each over the same frames of the same capture file, in interleaved rounds (one
round runs every contender once, so that a load change on the shared machine hits them all):

* ``parse only``: the compiled parser fed the decompressed blocks of the capture from memory
  (lines split and fed in C, ``take()`` every chunk of frames, as normalize does): the ceiling;
* ``read + parse``: normalize with a writer that drops the batches (reading, decompressing, meta
  times, chunking: everything but the output);
* ``parquet``, ``jsonl``, ``csv``: ``normalize`` end to end into files (``Normalizer.run`` plus the
  writer's ``close``; process start and imports are not counted); ``jsonl > /dev/null``: the
  same text, not stored (what the encoding costs without the disk).

Reported per contender: median time, frames/s, records/s, the rate as a fraction of parse
only, and the fraction of the time spent outside the parser (1 - parse only / contender).
Memory: peak RSS of ``python -m marketprism_fast normalize --format parquet`` as a process, for
the capture and for ten concatenated copies of it. Targets (issue 9): Parquet >= 1/4 of the
parse-only rate; JSON Lines >= 400 k records/s on one core; peak RSS for ten copies within
1.5x of one copy. Targets are reported, not asserted (timings on a shared machine are noisy).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

BENCHMARKS = Path(__file__).resolve().parent
REPO = BENCHMARKS.parent
sys.path.insert(0, str(REPO))

from marketprism_fast.parser import make_parser  # noqa: E402
from marketprism_fast.offline.capture import iter_blocks  # noqa: E402
from marketprism_fast.offline.normalize import DEFAULT_CHUNK_FRAMES, NormalizeOptions, Normalizer  # noqa: E402
from marketprism_fast.offline.writers import make_writer  # noqa: E402

CORPUS = Path(os.environ.get("MPF_CORPUS", REPO.parent / "shared" / "corpus"))
SESSION = "binance_usdm/binance_usdm.hbt_2024-08-08_btcusdt"  # the largest session, depth-heavy
ROUNDS = 7
COPIES = 10
PARQUET_RATIO_TARGET = 0.25
JSONL_RECORDS_TARGET = 400_000
RSS_RATIO_TARGET = 1.5


class CorpusMissing(Exception):
    pass


def capture_path() -> Path:
    path = CORPUS / f"{SESSION}.frames.jsonl.zst"
    if not path.exists():
        raise CorpusMissing(f"no capture at {path} (set MPF_CORPUS)")
    return path


@dataclass
class Result:
    name: str
    frames: int
    records: int
    seconds: list[float] = field(default_factory=list)  # wall time
    cpu: list[float] = field(default_factory=list)  # CPU time of the process (every thread)

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    @property
    def cpu_median(self) -> float:
        return statistics.median(self.cpu)


class _Drop:
    def write(self, chunk) -> None:
        pass

    def close(self) -> None:
        pass

    def abort(self) -> None:
        pass


def parse_only(venue: str, blocks: list[bytes]) -> tuple[float, int, int]:
    """The compiled parser over in-memory blocks, chunked as normalize chunks."""
    from marketprism_fast.offline._lines import feed_lines

    parser = make_parser(venue, implementation="compiled")
    statuses = np.zeros(3, dtype=np.uint64)
    limit = np.iinfo(np.int64).max
    times = [np.zeros(b.count(b"\n"), dtype=np.int64) for b in blocks]
    frames = records = 0
    started = time.perf_counter()
    for block, ts in zip(blocks, times):
        n, i, pos = len(ts), 0, 0
        while i < n:
            k, pos = feed_lines(parser, block, pos, ts, i, min(n, i + DEFAULT_CHUNK_FRAMES), limit, statuses)
            i += k
            records += sum(len(b) for b in parser.take())
        frames += n
    return time.perf_counter() - started, frames, records


def end_to_end(venue: str, path: Path, fmt: str | None, scratch: Path) -> tuple[float, int, int]:
    options = NormalizeOptions(venue=venue, frames=(str(path),), implementation="compiled")
    out = scratch / "out"
    if fmt is None:
        writer = _Drop()
    elif fmt == "jsonl > /dev/null":
        writer = make_writer("jsonl", os.devnull, sys.stdout.buffer)
    else:
        out.mkdir(exist_ok=True)
        writer = make_writer(fmt, str(out / "records.jsonl") if fmt == "jsonl" else str(out), sys.stdout.buffer)
    started = time.perf_counter()
    summary = Normalizer(options).run(writer)
    writer.close()
    seconds = time.perf_counter() - started
    shutil.rmtree(out, ignore_errors=True)
    return seconds, summary.frames, sum(summary.records.values())


def peak_rss_mb(args: list[str]) -> float:
    """Peak resident memory of a child process running ``args`` (MB)."""
    proc = subprocess.Popen(args, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    err = proc.stderr.read().decode() if proc.stderr else ""
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{' '.join(args)} failed: {err}")
    return usage.ru_maxrss / 1024  # KiB on Linux


def measure(rounds: int = ROUNDS, copies: int = COPIES) -> dict:
    path = capture_path()
    venue = SESSION.split("/", 1)[0]
    import pyarrow.parquet  # noqa: F401  (imported before timing)

    blocks = list(iter_blocks(str(path)))
    contenders: list[tuple[str, object]] = [
        ("parse only", lambda d: parse_only(venue, blocks)),
        ("read + parse", lambda d: end_to_end(venue, path, None, d)),
        ("parquet", lambda d: end_to_end(venue, path, "parquet", d)),
        ("jsonl", lambda d: end_to_end(venue, path, "jsonl", d)),
        ("jsonl > /dev/null", lambda d: end_to_end(venue, path, "jsonl > /dev/null", d)),
        ("csv", lambda d: end_to_end(venue, path, "csv", d)),
    ]
    results: dict[str, Result] = {}
    with tempfile.TemporaryDirectory(prefix="mpf-bench-") as tmp:
        scratch = Path(tmp)
        for name, run in contenders:  # warm-up round (imports, page cache)
            run(scratch)
        for _ in range(rounds):
            for name, run in contenders:
                cpu = time.process_time()
                seconds, frames, records = run(scratch)  # type: ignore[operator]
                cpu = time.process_time() - cpu
                result = results.setdefault(name, Result(name, frames, records))
                result.seconds.append(seconds)
                result.cpu.append(cpu)
        long = scratch / "long.frames.jsonl.zst"
        long.write_bytes(path.read_bytes() * copies)
        command = [sys.executable, "-m", "marketprism_fast", "normalize", "--venue", venue, "--format", "parquet"]
        rss_one = peak_rss_mb(command + [str(path), "--out", str(scratch / "rss1")])
        rss_many = peak_rss_mb(command + [str(long), "--out", str(scratch / "rss10")])
    return {"results": results, "rss_one": rss_one, "rss_many": rss_many, "copies": copies, "path": path}


def report(measured: dict, pinned: str) -> list[str]:
    results: dict[str, Result] = measured["results"]
    base = results["parse only"]
    lines = [
        f"capture: {measured['path'].name} ({base.frames:,} frames, {base.records:,} records); {pinned}; "
        f"median of {len(base.seconds)} interleaved rounds",
        "",
        "Wall: elapsed time. CPU: the process's CPU time (all threads), steadier on a shared machine.",
        "",
        "| contender | wall s | frames/s | records/s | of parse-only rate | CPU s | frames/CPU-s | records/CPU-s | of parse-only (CPU) | CPU outside the parser |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results.values():
        ratio = base.median / r.median
        cpu_ratio = base.cpu_median / r.cpu_median
        lines.append(
            f"| {r.name} | {r.median:.3f} | {r.frames / r.median:,.0f} | {r.records / r.median:,.0f} | {ratio:.3f} | "
            f"{r.cpu_median:.3f} | {r.frames / r.cpu_median:,.0f} | {r.records / r.cpu_median:,.0f} | {cpu_ratio:.3f} | "
            f"{1 - cpu_ratio:.0%} |"
        )
    parquet_ratio = base.median / results["parquet"].median
    parquet_cpu_ratio = base.cpu_median / results["parquet"].cpu_median
    jsonl_rate = results["jsonl"].records / results["jsonl"].median
    jsonl_cpu_rate = results["jsonl"].records / results["jsonl"].cpu_median
    null_rate = results["jsonl > /dev/null"].records / results["jsonl > /dev/null"].median
    rss_ratio = measured["rss_many"] / measured["rss_one"]

    def verdict(ok: bool) -> str:
        return "met" if ok else "MISSED"

    lines += [
        "",
        f"peak RSS, normalize --format parquet: {measured['rss_one']:.0f} MB for one copy, "
        f"{measured['rss_many']:.0f} MB for {measured['copies']} concatenated copies ({rss_ratio:.2f}x)",
        "",
        "| target | wall | | CPU time | |",
        "|---|---:|---|---:|---|",
        f"| Parquet end to end >= {PARQUET_RATIO_TARGET} of the parse-only rate | {parquet_ratio:.3f} | "
        f"{verdict(parquet_ratio >= PARQUET_RATIO_TARGET)} | {parquet_cpu_ratio:.3f} | {verdict(parquet_cpu_ratio >= PARQUET_RATIO_TARGET)} |",
        f"| JSON Lines >= {JSONL_RECORDS_TARGET:,} records/s | {jsonl_rate:,.0f} | {verdict(jsonl_rate >= JSONL_RECORDS_TARGET)} | "
        f"{jsonl_cpu_rate:,.0f} | {verdict(jsonl_cpu_rate >= JSONL_RECORDS_TARGET)} |",
        f"| JSON Lines to /dev/null >= {JSONL_RECORDS_TARGET:,} records/s | {null_rate:,.0f} | "
        f"{verdict(null_rate >= JSONL_RECORDS_TARGET)} | | |",
        f"| Parquet peak RSS, {measured['copies']} copies / 1 copy <= {RSS_RATIO_TARGET} | {rss_ratio:.2f} | "
        f"{verdict(rss_ratio <= RSS_RATIO_TARGET)} | | |",
    ]
    return lines


def pin(cpus: str) -> str:
    if cpus == "all" or not hasattr(os, "sched_setaffinity"):
        return f"not pinned ({os.cpu_count()} CPUs)"
    os.sched_setaffinity(0, {int(cpus)})
    return f"pinned to CPU {cpus} (one core: Parquet's writer thread shares it)"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cpus", default=os.environ.get("MPF_BENCH_CPU", "0"), help="a CPU number to pin to, or 'all'")
    ap.add_argument("--rounds", type=int, default=ROUNDS)
    ap.add_argument("--markdown", metavar="PATH", help="also write the tables to PATH")
    args = ap.parse_args(argv)
    pinned = pin(args.cpus)
    try:
        measured = measure(args.rounds)
    except CorpusMissing as exc:
        print(f"skipped: {exc}", file=sys.stderr)
        return 0
    text = "\n".join(report(measured, pinned))
    print(text)
    if args.markdown:
        Path(args.markdown).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
