"""The performance-regression gate (benchmarks/gate.py) catches a slower parser.

The gate compares ratios measured in one run (compiled parser CPU time / ``json.loads`` CPU
time on the same frames) with the committed baseline. Here it runs twice on the two cheapest
workloads: with a slowdown injected per frame it must fail and name the workloads; with the
real parser it must pass. The real run's margin (30 %) is far above the ratio's spread
between runs (a few per cent), and the injected slowdown triples the ratio.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from .helpers import corpus_dir

REPO = Path(__file__).resolve().parents[1]
GATE = [sys.executable, str(REPO / "benchmarks" / "gate.py"), "--only", "binance_trade,binance_bookticker", "--rounds", "5"]

pytestmark = pytest.mark.corpus


@pytest.fixture(autouse=True)
def _needs_corpus() -> None:
    corpus_dir()  # skips with a message where the corpus is absent


def test_gate_fails_on_a_slowed_parser() -> None:
    run = subprocess.run([*GATE, "--inject-slowdown"], capture_output=True, text=True, timeout=300)
    assert run.returncode == 1, run.stdout + run.stderr
    assert "binance_trade" in run.stderr and "REGRESSED" in run.stdout


def test_gate_passes_on_the_real_parser() -> None:
    run = subprocess.run(GATE, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "gate: passed" in run.stdout
