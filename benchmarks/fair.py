"""The decode table against the fair contenders, each contender in its own process.

    .venv/bin/python benchmarks/fair.py                     # every workload, 2 rounds
    .venv/bin/python benchmarks/fair.py -k okx --rounds 1    # a subset
    .venv/bin/python benchmarks/fair.py --markdown t.md

Workload by workload, every contender runs its benchmark of that workload
(``test_bench_decode.py``: the equivalence check, then the timed rounds) in a fresh process
pinned to one core, one right after the other; the order of the contenders alternates between
rounds, so a slow stretch of the shared machine does not land on one contender only. A
workload's ratio is compiled frames/s over the contender's, each the median of its rounds.
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
CRYPTOFEED_WORKLOADS = ("aggTrade",)  # contenders/cryptofeed_binance.py


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
    args = parser.parse_args(argv)
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
