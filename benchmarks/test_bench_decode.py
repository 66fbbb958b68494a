"""Decode throughput: frame -> normalized records, per contender, on real corpus frames.

Contenders (``contenders/``): ``compiled`` (the production hot path), ``msgspec`` (typed
Structs into lists; one contender per venue family), ``orjson`` and ``pysimdjson`` (general
parsers, dicts read by key; Binance), ``cryptofeed`` (its own Binance USD-M handlers; aggTrade
only), ``legacy`` (json + a pydantic model per
record with Decimals; Binance only) and the project's pure-Python ``reference`` parser. Before timing, each contender decodes the whole
workload once and its records must equal the compiled parser's value for value (floats bit
for bit), so none can win by doing less work.

Timing: ``benchmark.pedantic`` on one pinned core, several rounds, medians reported. A round
repeats the workload enough times to last about ``ROUND_SECONDS``. Targets are reported in
the summary (and flagged by ``report.py``), never asserted: the machine is shared.
"""

from __future__ import annotations

import time
from functools import lru_cache

import pytest

from contenders.base import Contender
from contenders.corpus import BINANCE_WORKLOADS, OTHER_WORKLOADS, CorpusMissing, Workload, WorkloadSpec, load
from contenders.cryptofeed_binance import CryptofeedContender
from contenders.dict_binance import OrjsonContender, SimdjsonContender
from contenders.legacy_binance import LegacyContender
from contenders.msgspec_binance import MsgspecContender
from contenders.msgspec_deribit import DeribitMsgspecContender
from contenders.msgspec_okx import OkxMsgspecContender
from contenders.normalized import Columns, differences, row_counts
from contenders.project import CompiledContender, ReferenceContender, compiled_venues
from contenders.summary import ratios

ROUND_SECONDS = 0.3
ROUNDS = 5
ROUNDS_WHEN_SLOW = 3  # rounds of a contender whose single pass takes over a second

# compiled last: by the time it runs, the others' results of the same workload are in, and
# its extra_info carries the ratios.
BINANCE_CONTENDERS = (
    LegacyContender, MsgspecContender, OrjsonContender, SimdjsonContender, CryptofeedContender, ReferenceContender,
    CompiledContender,
)
OTHER_CONTENDERS = ("msgspec", "reference", "compiled")
_MSGSPEC_BY_VENUE: dict[str, type[Contender]] = {"okx": OkxMsgspecContender, "deribit": DeribitMsgspecContender}
_PROJECT: dict[str, type[Contender]] = {"reference": ReferenceContender, "compiled": CompiledContender}


@lru_cache(maxsize=None)
def _workload(spec: WorkloadSpec) -> Workload:
    return load(spec)


@lru_cache(maxsize=None)
def _expected(spec: WorkloadSpec) -> Columns:
    workload = _workload(spec)
    return CompiledContender(workload.venue).decode_all(workload.chunks)


def workload_or_skip(spec: WorkloadSpec) -> Workload:
    try:
        return _workload(spec)
    except CorpusMissing as err:
        pytest.skip(f"corpus absent: {err}")


def checked_contender(spec: WorkloadSpec, contender_type: type[Contender]) -> Contender:
    """A contender whose output on the whole workload equals the compiled parser's."""
    only = getattr(contender_type, "workloads", None)
    if only is not None and spec.name not in only:
        pytest.skip(f"{contender_type.name} decodes only {', '.join(sorted(only))} into these records")
    requires = getattr(contender_type, "requires", None)
    if requires is not None:
        pytest.importorskip(requires, reason=f"{requires} is not installed (pip install .[bench])")
    if spec.venue not in compiled_venues():
        pytest.skip(f"no complete compiled parser for {spec.venue} (marketprism_fast._parse.COMPILED_VENUES)")
    workload = workload_or_skip(spec)
    contender = contender_type(workload.venue)
    found = differences(_expected(spec), contender.decode_all(workload.chunks))
    assert not found, f"{contender.name} decodes {spec.name} differently:\n" + "\n".join(found)
    return contender


def calibrated(contender: Contender, workload: Workload) -> tuple[int, int]:
    """(rounds, iterations per round); the single timed pass doubles as the warm-up."""
    start = time.perf_counter()
    contender.run(workload.chunks)
    one_pass = time.perf_counter() - start
    iterations = max(1, round(ROUND_SECONDS / one_pass))
    return (ROUNDS_WHEN_SLOW if one_pass > 1.0 else ROUNDS), iterations


def measure(benchmark, spec: WorkloadSpec, contender_type: type[Contender], results: list[dict]) -> None:
    contender = checked_contender(spec, contender_type)
    workload = _workload(spec)
    rounds, iterations = calibrated(contender, workload)
    benchmark.group = f"decode {spec.name}"
    benchmark.pedantic(contender.run, args=(workload.chunks,), rounds=rounds, iterations=iterations)
    median = benchmark.stats.stats.median
    counts = row_counts(_expected(spec))
    frames = len(workload.frames)
    info = {
        "suite": "decode",
        "workload": spec.name,
        "description": spec.description,
        "venue": spec.venue,
        "contender": contender.name,
        "tags": list(spec.tags),
        "frames": frames,
        "mean_bytes": workload.mean_bytes,
        "rows_per_frame": sum(counts.values()) / frames,
        "rows": counts,
        "rounds": rounds,
        "iterations": iterations,
        "median_s": median,
        "frames_per_s": frames / median,
        "ns_per_frame": median / frames * 1e9,
        "mb_per_s": workload.mean_bytes * frames / median / 1e6,
    }
    if contender.name == "compiled":
        same_workload = {r["contender"]: r for r in results if r.get("workload") == spec.name}
        info.update(ratios({**same_workload, "compiled": info}))
    benchmark.extra_info.update(info)
    results.append(info)


def _name(contender_type: type[Contender]) -> str:
    return contender_type.name


@pytest.mark.parametrize("contender_type", BINANCE_CONTENDERS, ids=_name)
@pytest.mark.parametrize("spec", BINANCE_WORKLOADS, ids=lambda s: s.name)
def test_decode_binance(benchmark, spec: WorkloadSpec, contender_type: type[Contender], bench_results) -> None:
    measure(benchmark, spec, contender_type, bench_results)


@pytest.mark.parametrize("contender_name", OTHER_CONTENDERS)
@pytest.mark.parametrize("spec", OTHER_WORKLOADS, ids=lambda s: s.name)
def test_decode_other_venues(benchmark, spec: WorkloadSpec, contender_name: str, bench_results) -> None:
    contender_type = _MSGSPEC_BY_VENUE[spec.venue] if contender_name == "msgspec" else _PROJECT[contender_name]
    measure(benchmark, spec, contender_type, bench_results)
