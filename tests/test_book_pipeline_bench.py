"""benchmarks/book_pipeline.py's own rules (its figures are reported, not asserted)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

import book_pipeline  # noqa: E402


def test_a_kept_builder_is_refused_where_a_replay_would_fall_out_of_sync() -> None:
    """A USD-M stream replayed through one builder would be dropped as old from its second
    pass on: measuring it through a kept builder is refused with a one-line error, before any
    pass runs (test_bench_book.py measures okx_books, which is replayable, through one)."""
    usdm = book_pipeline.Pipeline("usdm_depth_0ms", "binance_usdm", [], [])
    with pytest.raises(ValueError, match="usdm_depth_0ms: a builder kept across passes would not stay in sync"):
        book_pipeline.measure(usdm, pairs=1, kept=True)
