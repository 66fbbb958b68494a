"""The migration comparison (benchmarks/compare/) runs and writes its report.

The smoke plan runs every section the quick and full plans run except the sink-throughput and
fault runs (each contender in its own process; the end-to-end part with real servers, the
node and the old collector over loopback WebSocket, and cryptofeed's own feed against the
same simulator, or its "skipped" and why), then the report is checked for its sections and
charts. No timing is asserted: the numbers are whatever this machine gives.
"""

from __future__ import annotations

import argparse
import os
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import CORPUS

REPO = Path(__file__).resolve().parents[1]
COMPARE = REPO / "benchmarks" / "compare"
PNG = b"\x89PNG\r\n\x1a\n"

sys.path.insert(0, str(COMPARE))
import report  # noqa: E402


@pytest.fixture(scope="module")
def smoke(tmp_path_factory) -> tuple[Path, dict]:
    if not (CORPUS / "README.md").exists():
        pytest.skip(f"corpus not found at {CORPUS} (set MPF_CORPUS to its location)")
    pytest.importorskip("matplotlib", reason="matplotlib draws the report's charts (pip install '.[test]')")
    out = tmp_path_factory.mktemp("bench")
    proc = subprocess.run([sys.executable, str(COMPARE / "run.py"), "--smoke", "--out", str(out)], cwd=REPO,
                          capture_output=True, text=True, timeout=600, env={**os.environ, "MPF_CORPUS": str(CORPUS)})
    assert proc.returncode == 0, proc.stderr[-2000:]
    return out, json.loads((out / "results.json").read_text())


def test_every_measurement_ran_or_says_why_not(smoke) -> None:
    _, data = smoke
    by_status: dict[str, list] = {}
    for r in data["results"]:
        by_status.setdefault(r["status"], []).append(r)
    assert not by_status.get("failed"), [(r["section"], r.get("contender"), r.get("reason")) for r in by_status["failed"]]
    for r in by_status.get("skipped", []):
        assert r["reason"].strip(), r
    sections = {r["section"] for r in by_status["ok"]}
    assert sections == {"decode", "book", "encode", "memory", "e2e"}
    assert {r["contender"] for r in by_status["ok"] if r["section"] == "decode"} >= {"compiled", "legacy", "msgspec"}


def test_end_to_end_rows_reached_clickhouse(smoke) -> None:
    _, data = smoke
    e2e = {r["contender"]: r for r in data["results"] if r["section"] == "e2e"}
    new, legacy = e2e["new"], e2e["legacy"]
    assert new["exit_status"] == 0 and legacy["exit_status"] == 0
    # The node drains on SIGTERM: every record its parser had counted is in ClickHouse.
    parsed = new["counters"]["parser"]["records"]
    assert new["rows"]["trades"] >= parsed["trade"] > 0
    assert new["rows"]["quotes"] >= parsed["quote"] > 0
    # The old collector inserts what it counted as inserted, no more, no less.
    assert sum(legacy["rows"].values()) == legacy["counters"]["inserted"] > 0
    assert len(new["rss_samples"]) > 2 and len(legacy["rss_samples"]) > 2


def test_cryptofeed_end_to_end_ran_or_says_why_not(smoke) -> None:
    out, data = smoke
    cf = next(r for r in data["results"] if r["section"] == "e2e" and r["contender"] == "cryptofeed")
    text = (out / "report.md").read_text()
    if cf["status"] == "skipped":
        assert "cryptofeed" in cf["reason"] and "| cryptofeed | skipped: cryptofeed" in text
        return
    assert cf["status"] == "ok" and cf["exit_status"] == 0, cf
    # no sink: nothing in ClickHouse, the records its callbacks got instead
    assert cf["sink"] is False and cf["rows"] == {}
    assert cf["records"]["trade"] > 0 and cf["records"]["quote"] > 0
    assert cf["records_per_s"] > 0 and len(cf["rss_samples"]) > 2
    assert cf["sim_connections"] == 1 and cf["rest_requests"]["/fapi/v1/exchangeInfo"] == 1
    assert "| cryptofeed | " in text and "no sink: " in text and "written nowhere (upper bound)" in text


def test_report_has_its_sections_and_charts(smoke) -> None:
    out, data = smoke
    text = (out / "report.md").read_text()
    for heading in ("## Migration comparison", "### Targets", "### Throughput", "### Decode per venue and kind",
                    "### Book updates", "### Batch encoding per sink", "### Memory per held record",
                    "### Sink throughput", "### End to end", "### Under faults"):
        assert heading in text, heading
    assert data["facts"]["git_revision"] in text
    assert "cores" in text and "Load average" in text
    for name in ("compare_throughput.png", "compare_us_per_frame.png", "compare_bytes_per_record.png", "compare_rss.png"):
        assert (out / "img" / name).read_bytes().startswith(PNG), name
        assert f"(img/{name})" in text, name


def test_fault_table_and_chart_from_results(tmp_path: Path) -> None:
    def run(contender: str, lost: int, duplicated: int) -> dict:
        kinds = {k: {"sent": 100, "stored_rows": 100 - lost + duplicated, "lost": lost, "duplicated": duplicated, "unexpected": 0}
                 for k in ("trade", "quote", "book_delta")}
        return {"section": "faults", "contender": contender, "status": "ok", "faults": kinds,
                "counters": {"connects": 2, "malformed": 8, "dropped_rows": 1000, "errors": 3} if contender == "legacy"
                else {"reconnects": 1, "parser": {"malformed": 8}, "sinks": {"clickhouse": {"errors": 4, "dropped_batches": 0}}},
                "events": [(1.0, "5 malformed frames injected")]}

    data = {"facts": {"plan": "test", "packages": {}, "servers": {}}, "results": [run("new", 0, 0), run("legacy", 7, 2)]}
    path = report.write(data, tmp_path)
    text = path.read_text()
    assert "| new node | trades | 100 | 100 | 0 | 0 |" in text
    assert "| old design | book levels | 100 | 95 | 7 | 2 |" in text
    assert "1,000 rows dropped with failed inserts" in text
    assert "faults: 0 records lost or duplicated on the new path | 0 / 0 | **met** |" in text
    assert (tmp_path / "img" / "compare_faults.png").read_bytes().startswith(PNG)


def test_cryptofeed_rows_say_no_sink_or_why_skipped(tmp_path: Path) -> None:
    mb = 2**20
    e2e = {"section": "e2e", "contender": "cryptofeed", "status": "ok", "exit_status": 0, "sink": False,
           "feed_seconds": 10.0, "run_seconds": 10.5, "counters": {"frames": 1000}, "frames_per_s": 95.2, "rows": {},
           "rows_per_s": None, "records": {"trade": 500, "quote": 500}, "records_per_s": 95.2, "cpu_seconds": 0.011,
           "cpu_us_per_record": 11.0, "peak_rss_bytes": 52 * mb, "rss_samples": [(0.0, 50 * mb), (1.0, 52 * mb)]}
    kinds = {k: {"sent": 100, "stored_rows": 99, "lost": 1, "duplicated": 0, "unexpected": 0}
             for k in ("trade", "quote", "book_delta")}
    faults = {"section": "faults", "contender": "cryptofeed", "status": "ok", "sink": False, "faults": kinds,
              "counters": {"snapshots": 6, "log": {"encountered an exception, reconnecting in %.1f seconds": 3,
                                                   "encountered connection issue %s - reconnecting in %.1f secon": 1}},
              "sim_connections": 5, "unsubscribed_seconds": 4.2, "events": [(1.0, "5 malformed frames injected")]}
    skipped = {"section": "faults", "contender": "cryptofeed", "status": "skipped",
               "reason": "cryptofeed is not importable (ImportError: x); skipped"}
    data = {"facts": {"plan": "test", "packages": {}, "servers": {}}, "results": [e2e, faults, skipped]}
    text = report.write(data, tmp_path).read_text()
    assert "| cryptofeed | 10 s | 1,000 | 95/s | no sink: 1,000 records to callbacks (trade 500, quote 500) " \
           "| 95/s records, written nowhere (upper bound) | 11.0 per record | 52 MB | 0 |" in text
    assert "| cryptofeed | trades | 100 | no sink: 99 | 1 | 0 |" in text
    assert "cryptofeed: 4 reconnects (the simulator's count): 3 after an exception in its handler" in text
    assert "4.2 s of the feed without its subscriptions" in text
    assert "| cryptofeed | skipped: cryptofeed is not importable (ImportError: x); skipped | | | | |" in text
    assert (tmp_path / "img" / "compare_rss.png").read_bytes().startswith(PNG)
    assert (tmp_path / "img" / "compare_faults.png").read_bytes().startswith(PNG)


def test_docs_section_replaced_and_the_rest_kept() -> None:
    document = "# Benchmarks\n\nIntro.\n\n## How to reproduce\n\nsteps\n\n## Results\n\nold\n"
    first = report.splice(document, "## Migration comparison\n\nrun 1\n\n### Targets\n\nt\n")
    assert first.index("## Migration comparison") < first.index("## How to reproduce")
    second = report.splice(first, "## Migration comparison\n\nrun 2\n")
    assert "run 1" not in second and "run 2" in second
    assert second.count("## Migration comparison") == 1
    assert "## How to reproduce\n\nsteps" in second and "## Results\n\nold" in second
    assert second.startswith("# Benchmarks\n\nIntro.\n\n")


def test_bench_command_says_where_it_looked_without_a_checkout(monkeypatch, capsys) -> None:
    from marketprism_fast.service import bench

    monkeypatch.setattr(bench, "RUNNER", Path("benchmarks") / "compare" / "absent.py")
    monkeypatch.delenv(bench.SOURCE_VARIABLE, raising=False)
    args = argparse.Namespace(quick=True, smoke=False, out=None, update_docs=False)
    assert bench.main(args) == 2
    err = capsys.readouterr().err
    assert "runs from a source checkout" in err and len(err.strip().splitlines()) == 1


def test_bench_command_runs_the_runner_of_this_checkout() -> None:
    from marketprism_fast.service import bench

    args = argparse.Namespace(quick=True, smoke=False, out="x", update_docs=True)
    command = bench.command(args, bench.source_checkout())
    assert command[1] == str(REPO / "benchmarks" / "compare" / "run.py")
    assert command[2:] == ["--quick", "--out", str(Path("x").resolve()), "--update-docs"]
