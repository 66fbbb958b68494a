"""Every input a fuzz harness ever failed on (``fuzz/regressions/<harness>/``), replayed:
the compiled and the reference parser must now agree on it and neither may raise."""

from __future__ import annotations

import pytest

from fuzz.harness import HARNESSES, REGRESSIONS, run_one
from marketprism_fast.parser import compiled_available

pytestmark = pytest.mark.skipif(not compiled_available(), reason="the compiled core is not built")

CASES = [(h, p) for h in HARNESSES for p in sorted((REGRESSIONS / h).glob("*")) if p.is_file() and not p.name.startswith(".")]


@pytest.mark.parametrize("harness, path", CASES, ids=[f"{h}/{p.name}" for h, p in CASES])
def test_fuzz_regression_case(harness: str, path) -> None:
    run_one(harness, path.read_bytes())


def test_regression_folders_exist() -> None:
    assert all((REGRESSIONS / h).is_dir() for h in HARNESSES)
