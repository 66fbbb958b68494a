"""The performance-regression gate (benchmarks/gate.py) catches a slower parser and a slower
book builder.

The gate compares ratios measured in one run (compiled parser CPU time, or the book
builder's, / ``json.loads`` CPU time on the same frames) with the committed baseline. Here it
runs twice on the two cheapest parse workloads and once more on the OKX book workload: with
a slowdown injected (per frame; for the books, two more builders doing the same work) it
must fail and name the workloads; with the real parser and builder it must pass. The real run's margin (30 %) is far above the ratio's spread
between runs (a few per cent), and the injected slowdown triples the ratio.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from .helpers import corpus_dir

REPO = Path(__file__).resolve().parents[1]
GATE = [sys.executable, str(REPO / "benchmarks" / "gate.py"), "--rounds", "5", "--only"]
PARSE_WORKLOADS = "binance_trade,binance_bookticker"
BOOK_WORKLOADS = "books_okx"

pytestmark = pytest.mark.corpus


@pytest.fixture(autouse=True)
def _needs_corpus() -> None:
    corpus_dir()  # skips with a message where the corpus is absent


@pytest.mark.parametrize("workloads", [PARSE_WORKLOADS, BOOK_WORKLOADS], ids=["parser", "book_builder"])
def test_gate_fails_on_a_slowed_parser_or_builder(workloads: str) -> None:
    run = subprocess.run([*GATE, workloads, "--inject-slowdown"], capture_output=True, text=True, timeout=300)
    assert run.returncode == 1, run.stdout + run.stderr
    assert workloads.split(",")[0] in run.stderr and "REGRESSED" in run.stdout


@pytest.mark.parametrize("workloads", [PARSE_WORKLOADS, BOOK_WORKLOADS], ids=["parser", "book_builder"])
def test_gate_passes_on_the_real_parser_and_builder(workloads: str) -> None:
    run = subprocess.run([*GATE, workloads], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "gate: passed" in run.stdout


def test_gate_refuses_a_workload_it_does_not_have() -> None:
    """A misspelt ``--only`` is an error naming it, not a pass over nothing."""
    run = subprocess.run([*GATE, "books_okx,books_okz"], capture_output=True, text=True, timeout=300)
    assert run.returncode == 2, run.stdout + run.stderr
    assert "books_okz" in run.stderr and "gate: passed" not in run.stdout
