"""scripts/setup.sh: a no-op when everything is current, a rebuild when a Cython source changed.

The test run starts after scripts/test.sh ran the set-up, so everything is current here. The
real set-up is run once (a no-op, nothing rebuilt under the running tests); what a change
would do is asked with ``--check``, which decides exactly as a run does and does nothing.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.helpers import REPO

SETUP = REPO / "scripts" / "setup.sh"


def setup(*args: str) -> str:
    result = subprocess.run(["bash", str(SETUP), *args], cwd=REPO, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@pytest.fixture
def current() -> None:
    if not (REPO / ".venv" / ".setup-build").exists():
        pytest.skip("the tree was not set up by scripts/setup.sh (no .venv/.setup-build)")
    if "compiled core: current" not in setup("--check"):
        pytest.skip("the set-up is not current (run scripts/setup.sh first)")


def test_a_second_set_up_does_nothing_and_says_how_long_it_took(current) -> None:
    out = setup()
    assert "installing" not in out and "building" not in out, out
    assert out.strip().splitlines()[-1].startswith("setup: compiled core ready (") and out.strip().endswith(" s)")


def test_a_touched_pyx_makes_the_next_set_up_rebuild(current) -> None:
    source = REPO / "marketprism_fast" / "_book.pyx"
    before = source.stat()
    try:
        os.utime(source)  # touched: newer than its module
        assert "compiled core: to build" in setup("--check")
    finally:
        os.utime(source, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert "compiled core: current" in setup("--check")


@pytest.mark.parametrize("suffix", [".pyx", ".pxi", ".pxd"])
def test_a_new_cython_source_anywhere_in_the_package_makes_it_rebuild(current, suffix: str) -> None:
    # e.g. an extension added under a subpackage (transport/_listener.pyx)
    probe = REPO / "marketprism_fast" / "offline" / f"_setup_probe{suffix}"
    try:
        probe.write_text("# probe\n")
        assert "compiled core: to build" in setup("--check")
    finally:
        probe.unlink()
    assert "compiled core: current" in setup("--check")


def test_a_changed_dependency_list_reinstalls(current, tmp_path: Path) -> None:
    pyproject = REPO / "pyproject.toml"
    original = pyproject.read_bytes()
    stat = pyproject.stat()
    try:
        pyproject.write_bytes(original + b"\n# probe\n")
        out = setup("--check")
        assert "dependencies: to install" in out and "compiled core: to build" in out
    finally:
        pyproject.write_bytes(original)
        os.utime(pyproject, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert "dependencies: current" in setup("--check")
