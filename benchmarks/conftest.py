"""Benchmark session setup: one pinned core, the shared results of this run, the summary table.

Benchmarks are not part of the default test run (``pytest tests/``). Run them with
``.venv/bin/python -m pytest benchmarks/ --benchmark-only`` or ``benchmarks/report.py``.
``MPF_BENCH_CPU`` picks the core to pin to (default 0; ``none`` leaves the affinity alone).
"""

from __future__ import annotations

import os
import platform
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from contenders import summary  # noqa: E402

RESULTS = pytest.StashKey[list]()
PINNED = pytest.StashKey[str]()


def _pin(config: pytest.Config) -> str:
    wanted = os.environ.get("MPF_BENCH_CPU", "0")
    if wanted == "none" or not hasattr(os, "sched_setaffinity"):
        return "not pinned"
    try:
        os.sched_setaffinity(0, {int(wanted)})
    except (OSError, ValueError) as err:
        return f"not pinned ({err})"
    return f"pinned to CPU {wanted}"


def pytest_configure(config: pytest.Config) -> None:
    config.stash[RESULTS] = []
    config.stash[PINNED] = _pin(config)


def pytest_report_header(config: pytest.Config) -> str:
    return f"benchmarks: {config.stash[PINNED]}, nproc {os.cpu_count()}, {platform.processor() or platform.machine()}"


def pytest_benchmark_update_machine_info(config: pytest.Config, machine_info: dict) -> None:
    machine_info["affinity"] = config.stash[PINNED]
    machine_info["nproc"] = os.cpu_count()


def pytest_benchmark_update_json(config: pytest.Config, benchmarks: list, output_json: dict) -> None:
    """Give every compiled decode entry its ratios to the other contenders of its workload."""
    rows = [b["extra_info"] for b in output_json["benchmarks"]]
    grouped = summary.by_workload(rows)
    for row in rows:
        if row.get("suite") == "decode" and row["contender"] == "compiled":
            row.update(summary.ratios(grouped[row["workload"]]))


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    rows = config.stash.get(RESULTS, [])
    if rows:
        terminalreporter.write_sep("=", "side by side (this run)")
        terminalreporter.write_line("\n".join(summary.report(rows)))


@pytest.fixture(scope="session")
def bench_results(pytestconfig: pytest.Config) -> list[dict]:
    """The ``extra_info`` rows of this run's decode and memory benchmarks, in run order."""
    return pytestconfig.stash[RESULTS]
