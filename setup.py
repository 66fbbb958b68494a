"""Build of the compiled core.

Release compiler directives live here and only here. ``MPF_DEBUG=1`` switches to a debug
build: bounds and wraparound checks on, line tracing on, no optimisation.
``MPF_BUILD_JOBS=n``: how many extensions are built at once (default: one per usable CPU).
``MPF_ONLY=_parse`` (comma separated) builds only the named extensions (``MPF_ONLY=-``: none,
as scripts/setup.sh does for the editable install before building in place).
"""

import importlib.util
import os
import sys
from pathlib import Path

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup

HERE = Path(__file__).parent
PKG = HERE / "marketprism_fast"
DEBUG = os.environ.get("MPF_DEBUG", "") == "1"


def build_jobs() -> int:
    """Extensions are translated and compiled side by side, one job per CPU this process may
    run on (``MPF_BUILD_JOBS=n`` overrides): on two cores a build from scratch takes about
    half as long."""
    wanted = os.environ.get("MPF_BUILD_JOBS", "")
    if wanted:
        if not wanted.isdigit() or int(wanted) < 1:
            raise SystemExit(f"MPF_BUILD_JOBS must be a whole number of jobs >= 1, got {wanted!r}")
        return int(wanted)
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


JOBS = build_jobs()

RELEASE_DIRECTIVES = {
    "language_level": 3,
    "boundscheck": False,
    "wraparound": False,
    "cdivision": True,
    "initializedcheck": False,
    "nonecheck": False,
    "infer_types": True,
    "embedsignature": True,
}
DEBUG_DIRECTIVES = dict(RELEASE_DIRECTIVES, boundscheck=True, wraparound=True, linetrace=True, profile=True)


def generate_columns_pxi() -> None:
    """Write _columns.pxi (kind ids and storage column indices) from records.py."""
    spec = importlib.util.spec_from_file_location("_mpf_records", PKG / "records.py")
    records = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = records  # dataclasses look their module up there
    spec.loader.exec_module(records)
    lines = ["# Generated from records.py by setup.py; do not edit.", "cdef enum:"]
    lines += [f"    {name} = {value}" for name, value in records.iter_storage_constants()]
    # Columns that may not be negative (records.NON_NEGATIVE_*), grouped by kind:
    # entries NONNEG_FROM[k] up to NONNEG_FROM[k + 1] are kind k's.
    entries = list(records.iter_non_negative())
    starts = [0] * (len(records.KINDS) + 1)
    for kind_id, _, _ in entries:
        starts[kind_id + 1] += 1
    for k in range(len(records.KINDS)):
        starts[k + 1] += starts[k]
    lines.append(f"cdef int[{len(entries)}] NONNEG_COL = {[col for _, col, _ in entries]}")
    lines.append(f"cdef bint[{len(entries)}] NONNEG_IS_PRICE = {[int(p) for _, _, p in entries]}")
    lines.append(f"cdef int[{len(starts)}] NONNEG_FROM = {starts}")
    text = "\n".join(lines) + "\n"
    target = PKG / "_columns.pxi"
    if not target.exists() or target.read_text() != text:
        target.write_text(text)


def extensions():
    macros = [("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")]
    if DEBUG:
        macros += [("CYTHON_TRACE_NOGIL", "1")]
        args = ["-O0", "-g"]
    else:
        args = ["-O3"]
    only = {s for s in os.environ.get("MPF_ONLY", "").split(",") if s}
    exts = []
    # Every .pyx of the package is an extension named after its path (marketprism_fast/a/_b.pyx
    # -> marketprism_fast.a._b); MPF_ONLY names them by their last part. The transport's listener
    # cimports picows (its .pxd ships in the wheel) and _parse.
    for src in sorted(PKG.rglob("*.pyx")):
        module = ".".join(src.relative_to(HERE).with_suffix("").parts)
        if only and src.stem not in only:
            continue
        exts.append(
            Extension(
                module,
                [str(src.relative_to(HERE))],
                include_dirs=[np.get_include(), str(PKG), str(HERE)],
                define_macros=macros,
                extra_compile_args=args,
            )
        )
    return cythonize(
        exts,
        compiler_directives=DEBUG_DIRECTIVES if DEBUG else RELEASE_DIRECTIVES,
        include_path=[str(HERE), str(PKG)],
        force=DEBUG,
        nthreads=JOBS if JOBS > 1 else 0,
    )


generate_columns_pxi()
setup(ext_modules=extensions(), options={"build_ext": {"parallel": JOBS}})
