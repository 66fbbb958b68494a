"""``python -m marketprism_fast normalize`` as a user runs it: exit statuses, standard error,
standard input, output files."""

from __future__ import annotations

import gzip
import io
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

from marketprism_fast.cli import main
from tests.helpers import REPO, corpus_dir, read_lines

SESSION = "binance_spot.cf_2021-10-11"


def corpus(what: str) -> Path:
    return corpus_dir() / "binance_spot" / f"{SESSION}.{what}"


def golden() -> list[dict]:
    return [orjson.loads(line) for line in read_lines(corpus_dir() / "golden" / f"{SESSION}.records.jsonl.zst")]


def run(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "marketprism_fast", "normalize", *args],
        input=stdin,
        capture_output=True,
        cwd=REPO,
        timeout=120,
    )


def records(stdout: bytes) -> list[dict]:
    return [orjson.loads(line) for line in stdout.splitlines()]


def assert_one_line_error(result: subprocess.CompletedProcess, *needles: str) -> None:
    err = result.stderr.decode()
    assert result.returncode == 2, err
    assert result.stdout == b""
    assert len(err.splitlines()) == 1, err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in err


def test_a_session_with_snapshots_and_refdata_exits_0_with_a_summary() -> None:
    result = run(
        "--venue", "binance_spot", str(corpus("frames.jsonl.zst")),
        "--snapshots", str(corpus("snapshots.jsonl.zst")),
        "--refdata", str(corpus("refdata.jsonl.zst")),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr.decode()
    assert records(result.stdout) == golden()
    err = result.stderr.decode()
    assert "265 frames read" in err and f"records: {len(golden())} " in err and "malformed: 0" in err


def test_malformed_frames_exit_1_and_good_records_are_written(tmp_path: Path) -> None:
    frames = read_lines(corpus("frames.jsonl.zst"))
    damaged = tmp_path / "damaged.jsonl.gz"
    damaged.write_bytes(gzip.compress(b"\n".join(frames[:50] + [b""] + frames[50:]) + b"\n"))
    result = run("--venue", "binance_spot", str(damaged), "--refdata", str(corpus("refdata.jsonl.zst")))
    assert result.returncode == 1, result.stderr.decode()
    expected = [r for r in golden() if r.get("is_snapshot") != 1]
    got = records(result.stdout)
    assert len(got) == len(expected)
    assert [r["trade_id"] for r in got if r["kind"] == "trade"] == [r["trade_id"] for r in expected if r["kind"] == "trade"]
    assert "malformed: 1" in result.stderr.decode()


def test_standard_input_is_read_and_timed_at_reading() -> None:
    frames = read_lines(corpus("frames.jsonl.zst"))
    before = time.time_ns()
    result = run("--venue", "binance_spot", "-", stdin=b"\n".join(frames) + b"\n")
    after = time.time_ns()
    assert result.returncode == 0, result.stderr.decode()
    got = records(result.stdout)
    expected = [r for r in golden() if r.get("is_snapshot") != 1]
    assert len(got) == len(expected)
    assert all(before <= r["ts_recv"] <= after for r in got)
    assert [r["ts_recv"] for r in got] == sorted(r["ts_recv"] for r in got)
    assert [(r["kind"], r["raw_symbol"]) for r in got] == [(r["kind"], r["raw_symbol"]) for r in expected]


def test_unknown_venue_is_one_line_and_exit_2() -> None:
    assert_one_line_error(run("--venue", "kraken", str(corpus("frames.jsonl.zst"))), "unknown venue 'kraken'")


def test_missing_file_is_one_line_and_exit_2(tmp_path: Path) -> None:
    assert_one_line_error(run("--venue", "binance_spot", str(tmp_path / "nope.jsonl")), "nope.jsonl", "no such file")


def test_binary_file_is_one_line_and_exit_2(tmp_path: Path) -> None:
    binary = tmp_path / "capture.jsonl"
    binary.write_bytes(corpus("frames.jsonl.zst").read_bytes())  # compressed, but not named .zst
    assert_one_line_error(run("--venue", "binance_spot", str(binary)), "not a text file", "name it *.zst")


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--kinds", "trade,bogus"], "unknown kind(s) bogus"),
        (["--format", "csv"], "--out"),
        (["--book-depth", "5"], "need --books"),
        (["--format", "xml"], "invalid choice"),
    ],
)
def test_bad_options_are_one_line_and_exit_2(args: list[str], needle: str) -> None:
    # In process: the same entry point as the subprocess runs above, faster.
    out, err = io.BytesIO(), io.StringIO()
    status = main(["normalize", "--venue", "binance_spot", str(corpus("frames.jsonl.zst")), *args], stdout=out, stderr=err)
    assert status == 2
    assert out.getvalue() == b""
    assert len(err.getvalue().splitlines()) == 1 and needle in err.getvalue(), err.getvalue()


def test_out_file_and_kinds(tmp_path: Path) -> None:
    target = tmp_path / "trades.jsonl"
    err = io.StringIO()
    status = main(
        ["normalize", "--venue", "binance_spot", str(corpus("frames.jsonl.zst")), "--kinds", "trade", "--kinds", "kline",
         "--refdata", str(corpus("refdata.jsonl.zst")), "--out", str(target)],
        stdout=io.BytesIO(), stderr=err,
    )  # fmt: skip
    assert status == 0, err.getvalue()
    assert records(target.read_bytes()) == [r for r in golden() if r["kind"] in ("trade", "kline")]


def test_without_a_command_usage_is_exit_2() -> None:
    err = io.StringIO()
    assert main([], stdout=io.BytesIO(), stderr=err) == 2
    assert len(err.getvalue().splitlines()) == 1
