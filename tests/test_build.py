"""The build: the compiled core must be present where it is required, and its column
layout must be the one records.py defines."""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from marketprism_fast import parser as parsers
from marketprism_fast.records import KINDS, iter_storage_constants


def test_compiled_core_is_built_where_required() -> None:
    if os.environ.get("MPF_REQUIRE_COMPILED") != "1":
        pytest.skip("MPF_REQUIRE_COMPILED is not set (only CI and scripts/test.sh require the build)")
    assert parsers.compiled_available()
    from marketprism_fast import _book, _parse  # noqa: F401

    assert {"binance_spot", "binance_usdm", "binance_coinm"} <= _parse.COMPILED_VENUES


def test_storage_constants_are_dense_per_kind() -> None:
    constants = dict(iter_storage_constants())
    for i, kind in enumerate(KINDS):
        assert constants[f"K_{kind.name.upper()}"] == i
        indices = [constants[f"{kind.name.upper()}_{c.name.upper()}"] for c in kind.storage]
        assert indices == list(range(len(kind.storage)))
    # the four common storage columns come first, in the order the compiled core writes them
    for kind in KINDS:
        assert [c.name for c in kind.storage[:4]] == ["instrument", "frame", "ts_event", "ts_recv"]


def test_compiled_buffers_follow_the_record_model() -> None:
    _parse = pytest.importorskip("marketprism_fast._parse", reason="the compiled core is not built")
    parser = parsers.make_parser("binance_spot", implementation="compiled")
    for kind in KINDS:
        if kind.name == "book_snapshot":
            continue
        buffer = parser.buffer(kind.name)
        assert [c.name for c in buffer.storage] == [c.name for c in kind.storage]


REPO = Path(__file__).resolve().parent.parent


def test_a_build_from_the_sdist_has_the_compiled_core(tmp_path: Path) -> None:
    """The sdist carries every source the compiled core is built from (a .pyx includes .pxi
    and .h files), no build products, and an extension builds and imports from it."""
    egg_base = tmp_path / "egg-info"  # not the tree's: setuptools would reuse its list of files
    egg_base.mkdir()
    subprocess.run(
        [sys.executable, "setup.py", "-q", "egg_info", "--egg-base", str(egg_base), "sdist", "-d", str(tmp_path)],
        cwd=REPO, check=True, capture_output=True,
    )
    (archive,) = tmp_path.glob("marketprism_fast-*.tar.gz")
    with tarfile.open(archive) as tar:
        names = tar.getnames()
        tar.extractall(tmp_path, filter="data")
    root = tmp_path / archive.name.removesuffix(".tar.gz")
    shipped = {Path(n).relative_to(root.name).as_posix() for n in names if n != root.name}
    sources = {
        p.relative_to(REPO).as_posix()
        for suffix in ("pyx", "pxi", "pxd", "h", "pyi")
        for p in (REPO / "marketprism_fast").rglob(f"*.{suffix}")
    }
    assert sources and not sources - shipped, f"missing from the sdist: {sorted(sources - shipped)}"
    assert not [n for n in shipped if n.endswith((".so", ".c"))], "build products in the sdist"

    # the book engine includes .pxi files and a C header: the most the smallest build proves
    env = dict(os.environ, MPF_ONLY="_book", PYTHONPATH=str(root))
    subprocess.run([sys.executable, "setup.py", "-q", "build_ext", "--inplace"], cwd=root, env=env, check=True, capture_output=True)
    loaded = subprocess.run(
        [sys.executable, "-c", "import marketprism_fast._book as b; print(b.__file__)"],
        cwd=root, env=env, check=True, capture_output=True, text=True,
    ).stdout.strip()
    assert Path(loaded).is_relative_to(root), loaded


@pytest.mark.parametrize("value", ["x", "0", "-2", "1.5"])
def test_a_bad_build_job_count_stops_the_build_in_one_line(value: str) -> None:
    """MPF_BUILD_JOBS is read before anything is generated or built: a bad value changes nothing."""
    result = subprocess.run(
        [sys.executable, "setup.py", "--name"], cwd=REPO,
        env={**os.environ, "MPF_BUILD_JOBS": value}, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [f"MPF_BUILD_JOBS must be a whole number of jobs >= 1, got {value!r}"]
