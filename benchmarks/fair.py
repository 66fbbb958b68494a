"""The decode table against the fair contenders, each contender in its own process.

    .venv/bin/python benchmarks/fair.py                     # every workload, 2 rounds
    .venv/bin/python benchmarks/fair.py -k okx --rounds 1    # a subset
    .venv/bin/python benchmarks/fair.py --markdown t.md
    .venv/bin/python benchmarks/fair.py --interleaved       # one process per workload, passes interleaved

Workload by workload, every contender runs its benchmark of that workload
(``test_bench_decode.py``: the equivalence check, then the timed rounds) in a fresh process
pinned to one core, one right after the other; the order of the contenders alternates between
rounds, so a slow stretch of the shared machine does not land on one contender only. A
workload's ratio is compiled frames/s over the contender's, each the median of its rounds.

``--interleaved``: one process per workload instead; there, after the equivalence check,
the contenders' timed units (whole passes over the workload, about 0.2 s) alternate
(compiled, msgspec, ..., then the next round), and each ratio is the median over rounds of compiled/contender within the round:
what a slow moment of the machine does to one pass it does to its neighbours too. The
10th-90th percentile of those per-round ratios is reported as the spread. Times there are
the process's CPU time (single-threaded work, no I/O): slices that other processes take from
a shared core are not counted.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parent
REPO = BENCHMARKS.parent
FAIR = ("compiled", "msgspec", "orjson", "pysimdjson", "cryptofeed")
TIMES_MSGSPEC_GOAL = 6.0
CRYPTOFEED_WORKLOADS = ("aggTrade",)
UNIT_SECONDS = 0.2  # --interleaved: one timed unit of a contender (whole passes)  # contenders/cryptofeed_binance.py


def node_ids(keyword: str | None) -> dict[str, dict[str, str]]:
    """{workload: {contender: pytest node id}} of the fair contenders' decode benchmarks."""
    command = [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
               str(BENCHMARKS / "test_bench_decode.py")] + (["-k", keyword] if keyword else [])
    listing = subprocess.run(command, cwd=REPO, capture_output=True, text=True).stdout
    out: dict[str, dict[str, str]] = {}
    for line in listing.splitlines():
        if "[" not in line or not line.startswith("benchmarks/"):
            continue
        params = line[line.index("[") + 1 : -1].split("-")
        contender = next((p for p in params if p in FAIR), None)
        workload = next((p for p in params if p not in FAIR and p not in ("legacy", "reference")), None)
        if contender == "cryptofeed" and workload not in CRYPTOFEED_WORKLOADS:
            continue  # skipped there anyway; spare the process
        if contender and workload:
            out.setdefault(workload, {})[contender] = line
    return out


def run_one(node: str) -> list[dict]:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "run.json"
        command = [sys.executable, "-m", "pytest", node, "--benchmark-only", f"--benchmark-json={out}",
                   "-p", "no:cacheprovider", "-q"]
        subprocess.run(command, cwd=REPO, stdout=subprocess.DEVNULL, check=False)
        if not out.exists():
            return []
        return [b["extra_info"] for b in json.loads(out.read_text())["benchmarks"] if b["extra_info"]]


def interleaved(workload: str, rounds: int) -> list[dict]:
    """Child process: this workload's contenders, checked, then timed pass by pass in turn."""
    import time

    sys.path.insert(0, str(BENCHMARKS))
    from contenders.corpus import WORKLOADS, load
    from contenders.normalized import differences
    from test_bench_decode import BINANCE_CONTENDERS, _MSGSPEC_BY_VENUE

    from contenders.project import CompiledContender

    spec = WORKLOADS[workload]
    work = load(spec)
    candidates = list(BINANCE_CONTENDERS) if spec.venue.startswith("binance_") else [_MSGSPEC_BY_VENUE[spec.venue]]
    expected = CompiledContender(work.venue).decode_all(work.chunks)
    contenders = [CompiledContender(work.venue)]
    for kind in candidates:
        if kind.name not in FAIR or kind.name == "compiled":
            continue
        if getattr(kind, "workloads", None) is not None and workload not in kind.workloads:
            continue
        if getattr(kind, "requires", None):
            try:
                __import__(kind.requires)
            except ImportError:
                continue
        contender = kind(work.venue)
        found = differences(expected, contender.decode_all(work.chunks))
        assert not found, f"{contender.name} decodes {workload} differently: {found[:3]}"
        contenders.append(contender)
    out: dict[str, list[float]] = {c.name: [] for c in contenders}
    passes: dict[str, int] = {}
    for c in contenders:  # warm-up, and passes per timed unit (about UNIT_SECONDS)
        start = time.process_time()
        c.run(work.chunks)
        passes[c.name] = max(1, round(UNIT_SECONDS / (time.process_time() - start)))
    for _ in range(rounds):
        for c in contenders:
            n = passes[c.name]
            start = time.process_time()
            for _ in range(n):
                c.run(work.chunks)
            out[c.name].append(n * len(work.frames) / (time.process_time() - start))
    return [{"workload": workload, "contender": name, "frames": len(work.frames), "rates": rates,
             "frames_per_s": statistics.median(rates)} for name, rates in out.items()]


def interleaved_table(rows: list[dict]) -> list[str]:
    lines = [
        "| workload | frames | compiled | ns/frame | × msgspec (10-90 %) | × orjson | × pysimdjson | × cryptofeed |",
        "|---|---:|---:|---:|---|---|---|---|",
    ]
    missed = []
    by: dict[str, dict[str, dict]] = {}
    for r in rows:
        by.setdefault(r["workload"], {})[r["contender"]] = r
    for workload, contenders in by.items():
        compiled = contenders["compiled"]

        def times(name: str) -> str:
            r = contenders.get(name)
            if r is None:
                return "–"
            ratios = sorted(c / o for c, o in zip(compiled["rates"], r["rates"]))
            lo, hi = ratios[len(ratios) // 10], ratios[-1 - len(ratios) // 10]
            med = statistics.median(ratios)
            if name == "msgspec" and med < TIMES_MSGSPEC_GOAL:
                missed.append(f"{workload} {med:.1f}×")
            return f"{med:.1f}× ({lo:.1f}–{hi:.1f})"

        rate = compiled["frames_per_s"]
        lines.append(
            f"| {workload} | {compiled['frames']:,} | {rate / 1e6:.2f} M/s | {1e9 / rate:.0f} | {times('msgspec')} "
            f"| {times('orjson')} | {times('pysimdjson')} | {times('cryptofeed')} |"
        )
    lines.append("")
    lines.append(f"below {TIMES_MSGSPEC_GOAL:.0f}× msgspec (median): " + (", ".join(missed) if missed else "none"))
    return lines


def table(rows: list[dict]) -> list[str]:
    rates: dict[str, dict[str, list[float]]] = {}
    facts: dict[str, dict] = {}
    for r in rows:
        rates.setdefault(r["workload"], {}).setdefault(r["contender"], []).append(r["frames_per_s"])
        facts.setdefault(r["workload"], r)
    lines = [
        "| workload | frames | compiled | ns/frame | msgspec | orjson | pysimdjson | cryptofeed | × msgspec | × orjson "
        "| × pysimdjson | × cryptofeed |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    missed = []
    for workload, by in rates.items():
        med = {name: statistics.median(values) for name, values in by.items()}
        compiled = med.get("compiled")

        def cell(name: str) -> str:
            v = med.get(name)
            return "–" if v is None else (f"{v / 1e6:.2f} M/s" if v >= 1e6 else f"{v / 1e3:.1f} k/s")

        def times(name: str) -> str:
            v = med.get(name)
            return "–" if v is None or compiled is None else f"{compiled / v:.1f}×"

        if compiled and "msgspec" in med and compiled / med["msgspec"] < TIMES_MSGSPEC_GOAL:
            missed.append(f"{workload} {compiled / med['msgspec']:.1f}×")
        ns = f"{1e9 / compiled:.0f}" if compiled else "–"
        lines.append(
            f"| {workload} | {facts[workload]['frames']:,} | {cell('compiled')} | {ns} | {cell('msgspec')} "
            f"| {cell('orjson')} | {cell('pysimdjson')} | {cell('cryptofeed')} | {times('msgspec')} | {times('orjson')} "
            f"| {times('pysimdjson')} | {times('cryptofeed')} |"
        )
    lines.append("")
    lines.append(f"below {TIMES_MSGSPEC_GOAL:.0f}× msgspec: " + (", ".join(missed) if missed else "none"))
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-k", dest="keyword", help="only workloads matching this pytest -k expression")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--markdown", type=Path)
    parser.add_argument("--json", type=Path, help="keep every process's rows here")
    parser.add_argument("--interleaved", action="store_true", help="one process per workload, passes interleaved")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        pin = os.environ.get("MPF_BENCH_CPU", "0")
        if pin != "none":
            os.sched_setaffinity(0, {int(pin)})
        print(json.dumps(interleaved(args.child, args.rounds)))
        return 0
    if args.interleaved:
        rows = []
        for workload in node_ids(args.keyword):
            print(f"{workload} (load {os.getloadavg()[0]:.2f})", flush=True)
            done = subprocess.run([sys.executable, __file__, "--child", workload, "--rounds", str(args.rounds)],
                                  cwd=REPO, capture_output=True, text=True)
            if done.returncode:
                print(done.stderr[-2000:], file=sys.stderr)
                continue
            rows += json.loads(done.stdout.strip().splitlines()[-1])
        if args.json:
            args.json.write_text(json.dumps(rows, indent=1))
        text = "\n".join(interleaved_table(rows))
        print(text)
        if args.markdown:
            args.markdown.write_text(text + "\n")
        return 0
    rows: list[dict] = []
    for workload, nodes in node_ids(args.keyword).items():
        for i in range(args.rounds):
            order = FAIR if i % 2 == 0 else tuple(reversed(FAIR))
            print(f"{workload} round {i + 1} (load {os.getloadavg()[0]:.2f})", flush=True)
            for name in order:
                if name in nodes:
                    rows += run_one(nodes[name])
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    text = "\n".join(table(rows))
    print(text)
    if args.markdown:
        args.markdown.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
