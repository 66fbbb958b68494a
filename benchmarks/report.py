"""Run the benchmark suite and print the side-by-side tables with the performance targets.

    .venv/bin/python benchmarks/report.py                      # run everything, print
    .venv/bin/python benchmarks/report.py -k "trade or depth"  # a subset (pytest -k)
    .venv/bin/python benchmarks/report.py --markdown out.md    # also write the tables
    .venv/bin/python benchmarks/report.py --from-json run.json # render an earlier run

The raw pytest-benchmark JSON of the run is kept (``--json``, default
``.benchmarks/report-<time>.json``). Order-book results (test_bench_book.py) are included
when they are in the run. Missed targets are flagged; ``--fail-on-miss`` turns them into a
non-zero exit status.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parent
REPO = BENCHMARKS.parent
sys.path.insert(0, str(BENCHMARKS))

from contenders import summary  # noqa: E402


def machine_facts() -> list[str]:
    facts = [f"nproc: {os.cpu_count()}", f"python: {platform.python_version()}"]
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return facts
    wanted = ("Model name", "CPU(s)", "Thread(s) per core", "Hypervisor vendor", "L2 cache", "L3 cache")
    for line in lscpu.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in wanted:
            facts.append(f"{key.strip()}: {value.strip()}")
    return facts


def run_suite(json_path: Path, pytest_args: list[str]) -> int:
    json_path.parent.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "pytest", str(BENCHMARKS), "--benchmark-only",
               f"--benchmark-json={json_path}", "-p", "no:cacheprovider", "-q", *pytest_args]
    print("$", " ".join(command), flush=True)
    return subprocess.run(command, cwd=REPO).returncode


def rows_of(json_path: Path) -> list[dict]:
    data = json.loads(json_path.read_text())
    return [{**bench["extra_info"], "name": bench["name"]} for bench in data["benchmarks"]]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-k", dest="keyword", help="run only benchmarks matching this pytest -k expression")
    parser.add_argument("--json", type=Path, help="where to keep the pytest-benchmark JSON of the run")
    parser.add_argument("--from-json", type=Path, help="render an earlier run's JSON instead of running")
    parser.add_argument("--markdown", type=Path, help="also write the tables (markdown) to this file")
    parser.add_argument("--fail-on-miss", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)

    status = 0
    if args.from_json:
        json_path = args.from_json
    else:
        json_path = args.json or REPO / ".benchmarks" / f"report-{time.strftime('%Y%m%d-%H%M%S')}.json"
        status = run_suite(json_path, ["-k", args.keyword] if args.keyword else [])
        if not json_path.exists():
            print(f"the run wrote no results ({json_path}); pytest exit status {status}", file=sys.stderr)
            return status or 1

    rows = rows_of(json_path)
    lines = [
        f"Run: {time.strftime('%Y-%m-%d %H:%M %Z', time.localtime(json_path.stat().st_mtime))}; results {json_path}",
        "",
        *(f"- {fact}" for fact in machine_facts()),
        "",
        *summary.report(rows),
    ]
    text = "\n".join(lines)
    print(text)
    if args.markdown:
        args.markdown.write_text(text + "\n")
    missed = [c for c in summary.checks(rows) if not c.met]
    if missed and args.fail_on_miss:
        return 1
    return status


if __name__ == "__main__":
    sys.exit(main())
