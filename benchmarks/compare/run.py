"""The migration comparison: the new path against the old design (and msgspec, cryptofeed)
side by side in one run, each contender in its own process; a Markdown report with charts.

    .venv/bin/python benchmarks/compare/run.py                 # the full comparison
    .venv/bin/python benchmarks/compare/run.py --quick         # a subset, under two minutes
    .venv/bin/python benchmarks/compare/run.py --smoke         # the smallest run (the test's)
    .venv/bin/python benchmarks/compare/run.py --out DIR       # report.md, img/*.png, results.json there
    .venv/bin/python benchmarks/compare/run.py --update-docs   # also docs/benchmarks.md + docs/img/
    python -m marketprism_fast bench [--quick] [--out DIR]     # the same, from the command line

Sections, in order: decode per venue and kind (``workers.py decode``), book updates, batch
encoding per sink, memory per held record, sink throughput, end to end over loopback
WebSocket into ClickHouse + NATS + Redis (``e2e.py``, RSS sampled; cryptofeed's own feed
against the same simulator, counted in its callbacks: it has no sink), the same faults
injected into each contender's run. On a terminal a progress line shows what runs.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(HERE))

import report  # noqa: E402

DECODE_CONTENDERS = ("compiled", "legacy", "msgspec", "cryptofeed")
# End to end and under faults; cryptofeed's run says "skipped" and why where it is not importable.
E2E_CONTENDERS = ("new", "legacy", "cryptofeed")


@dataclass(frozen=True)
class Plan:
    name: str
    decode_workloads: tuple[str, ...]
    decode_seconds: float
    decode_max_frames: int | None
    book_seconds: float
    book_messages: int | None  # the first N depth messages (None: all 6.5 k)
    encode_records: int
    memory_records: int
    sink_rows: int | None  # None: no sink-throughput section
    e2e_seconds: float | None  # None: no end-to-end section
    fault_seconds: float | None
    fault_rate: float = 300.0  # frames/s: the old collector keeps up with it (depth levels included)
    e2e_contenders: tuple[str, ...] = E2E_CONTENDERS
    decode_contenders: tuple[str, ...] = DECODE_CONTENDERS
    encode_sinks: tuple[str, ...] = ("clickhouse", "nats", "redis")


PLANS = {
    "full": Plan("full", ("trade", "aggTrade", "bookTicker", "depth30", "depth_usdm_0ms", "mixed_spot_hbt", "mixed_usdm_cf",
                          "okx_trades", "okx_books30", "okx_tickers", "deribit_trades", "deribit_book", "deribit_ticker"),
                 decode_seconds=1.5, decode_max_frames=100_000, book_seconds=2.0, book_messages=None, encode_records=100_000,
                 memory_records=200_000, sink_rows=100_000, e2e_seconds=30.0, fault_seconds=30.0),
    # quick leaves out the sink-throughput and fault runs (each fault run alone takes ~30 s)
    "quick": Plan("quick", ("trade", "aggTrade", "depth30", "okx_trades", "deribit_book"),
                  decode_seconds=0.3, decode_max_frames=20_000, book_seconds=0.3, book_messages=1_000, encode_records=20_000,
                  memory_records=50_000, sink_rows=None, e2e_seconds=5.0, fault_seconds=None),
    "smoke": Plan("smoke", ("trade",), decode_seconds=0.05, decode_max_frames=2_000, book_seconds=0.05, book_messages=200,
                  encode_records=2_000, memory_records=5_000, sink_rows=None, e2e_seconds=1.5, fault_seconds=None,
                  decode_contenders=("compiled", "legacy", "msgspec"), encode_sinks=("nats",)),
}


@dataclass
class Progress:
    """One updating line on a terminal; nothing elsewhere (a log or a test stays clean)."""

    total: int
    enabled: bool = field(default_factory=lambda: sys.stderr.isatty())
    done: int = 0
    started: float = field(default_factory=time.monotonic)

    def show(self, what: str) -> None:
        if self.enabled:
            elapsed = time.monotonic() - self.started
            line = f"[{self.done + 1:>3}/{self.total}] {elapsed:5.0f} s  {what}"
            columns = os.get_terminal_size(2).columns or 100  # 0 when the terminal does not say
            sys.stderr.write("\r\033[K" + line[: columns - 1])
            sys.stderr.flush()

    def step(self) -> None:
        self.done += 1

    def end(self) -> None:
        if self.enabled:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()


def known_skip(case: dict) -> str | None:
    """Why a decode contender cannot run a workload, when its class says so (no process needed)."""
    sys.path.insert(0, str(REPO / "benchmarks"))
    from contenders.corpus import WORKLOADS

    venue = WORKLOADS[case["workload"]].venue
    if case["contender"] == "legacy" and not venue.startswith("binance"):
        return f"the old design decoded Binance only, not {venue}"
    if case["contender"] == "cryptofeed":
        try:
            from contenders.cryptofeed_binance import CryptofeedContender
        except ImportError:
            return None  # the worker says why
        if case["workload"] not in CryptofeedContender.workloads:
            return (f"cryptofeed's own handlers turn only {', '.join(sorted(CryptofeedContender.workloads))} "
                    f"of {', '.join(sorted(CryptofeedContender.venues))} into these records offline")
    return None


def cases(plan: Plan) -> list[tuple[str, dict]]:
    """(script, case) per process, in the order they run."""
    out: list[tuple[str, dict]] = []
    for workload in plan.decode_workloads:
        for contender in plan.decode_contenders:
            out.append(("workers.py", {"section": "decode", "workload": workload, "contender": contender,
                                       "seconds": plan.decode_seconds, "max_frames": plan.decode_max_frames}))
    for contender in ("compiled", "legacy"):
        out.append(("workers.py", {"section": "book", "contender": contender, "seconds": plan.book_seconds,
                                   "max_messages": plan.book_messages}))
    for sink in plan.encode_sinks:
        for contender in ("compiled", "legacy"):
            out.append(("workers.py", {"section": "encode", "sink": sink, "contender": contender,
                                       "records": plan.encode_records, "seconds": plan.decode_seconds}))
    for contender in ("compiled", "legacy"):
        out.append(("workers.py", {"section": "memory", "contender": contender, "records": plan.memory_records}))
    if plan.sink_rows:
        out.append(("workers.py", {"section": "sinks", "rows": plan.sink_rows}))
    if plan.e2e_seconds:
        for contender in plan.e2e_contenders:
            out.append(("e2e.py", {"section": "e2e", "contender": contender, "mode": "throughput", "seconds": plan.e2e_seconds}))
    if plan.fault_seconds:
        for contender in plan.e2e_contenders:
            out.append(("e2e.py", {"section": "faults", "contender": contender, "mode": "faults",
                                   "seconds": plan.fault_seconds, "rate": plan.fault_rate}))
    return out


def describe(case: dict) -> str:
    parts = [case["section"]] + [str(case[k]) for k in ("workload", "sink", "contender", "mode") if k in case]
    return " ".join(parts)


def run_case(script: str, case: dict) -> dict:
    reason = known_skip(case) if case["section"] == "decode" else None
    if reason:
        return {**case, "status": "skipped", "reason": reason, "wall_seconds": 0.0}
    command = [sys.executable, str(HERE / script), json.dumps(case)]
    started = time.monotonic()
    proc = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
    lines = proc.stdout.strip().splitlines()
    try:
        result = json.loads(lines[-1])
    except (IndexError, json.JSONDecodeError):
        tail = " ".join(proc.stderr.strip().splitlines()[-3:])
        result = {**case, "status": "failed", "reason": f"exit status {proc.returncode}: {tail[-400:]}"}
    result["wall_seconds"] = time.monotonic() - started
    return result


def run(plan: Plan, out: Path, *, update_docs: bool = False) -> dict:
    todo = cases(plan)
    progress = Progress(len(todo))
    facts = report.machine_facts(REPO)
    facts["load_before"] = os.getloadavg()
    results: list[dict] = []
    started = time.monotonic()
    for script, case in todo:
        progress.show(describe(case))
        results.append(run_case(script, case))
        progress.step()
    progress.end()
    facts["load_after"] = os.getloadavg()
    facts["plan"] = plan.name
    facts["seconds"] = time.monotonic() - started
    data = {"facts": facts, "results": results}
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(data, indent=1))
    report.write(data, out, update_docs=REPO / "docs" if update_docs else None)
    return data


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="a subset that takes under two minutes")
    size.add_argument("--smoke", action="store_true", help="the smallest run that exercises every part of the report")
    parser.add_argument("--out", type=Path, default=REPO / "out" / "bench", help="where the report goes (default out/bench)")
    parser.add_argument("--update-docs", action="store_true",
                        help="also write the report into docs/benchmarks.md (its first section) and docs/img/")
    parser.add_argument("--from-json", type=Path, help="render an earlier run's results.json instead of running")
    args = parser.parse_args(argv)
    if args.from_json:
        data = json.loads(args.from_json.read_text())
        report.write(data, args.out, update_docs=REPO / "docs" if args.update_docs else None)
    else:
        plan = PLANS["smoke" if args.smoke else "quick" if args.quick else "full"]
        data = run(plan, args.out, update_docs=args.update_docs)
    failed = [r for r in data["results"] if r.get("status") == "failed"]
    print(f"report: {args.out / 'report.md'} ({len(data['results'])} measurements, {len(failed)} failed, "
          f"{data['facts'].get('seconds', 0):.0f} s)")
    for r in failed:
        print(f"  failed: {describe(r)}: {r.get('reason', '')}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
