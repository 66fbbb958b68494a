"""``normalize`` under the conditions of a real run: Ctrl-C and SIGTERM mid-run, a reader that
goes away, a full disk, input of another venue or none, every table present, the progress
line on a terminal only, and the compiled writers equal to the JSON Lines."""

from __future__ import annotations

import csv
import io
import os
import pty
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

from marketprism_fast.cli import main
from marketprism_fast.offline.normalize import NormalizeOptions, Normalizer
from marketprism_fast.offline.writers import CsvWriter, JsonlWriter, ParquetWriter
from marketprism_fast.records import KIND_NAMES, kind
from tests.helpers import REPO, corpus_dir, same_value

pytestmark = pytest.mark.corpus

LARGE = "binance_usdm.hbt_2024-08-08_btcusdt"
SMALL = "binance_spot.cf_2021-10-11"
DEADLINE = 60.0


def session(name: str, what: str = "frames.jsonl.zst") -> Path:
    return corpus_dir() / name.split(".", 1)[0] / f"{name}.{what}"


def command(*args: str) -> list[str]:
    return [sys.executable, "-m", "marketprism_fast", "normalize", *args]


def long_capture(tmp_path: Path, copies: int = 10) -> Path:
    """The largest session ten times over (concatenated zstd frames are one valid file)."""
    data = session(LARGE).read_bytes()
    target = tmp_path / "long.frames.jsonl.zst"
    target.write_bytes(data * copies)
    return target


def wait_for(condition, what: str, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + DEADLINE
    while not condition():
        if proc.poll() is not None:
            pytest.fail(f"normalize ended (status {proc.returncode}) before {what}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"no {what} within {DEADLINE} s")
        time.sleep(0.01)


# ---- signals -------------------------------------------------------------------------------


def start(*args: str, sigint=signal.SIG_DFL) -> subprocess.Popen:
    """normalize started as from a terminal: Ctrl-C at its default disposition, also where
    this test run was started with SIGINT ignored (a background job of a non-interactive
    shell, which normalize would rightly keep ignoring); ``sigint=signal.SIG_IGN``: as from
    such a job."""
    return subprocess.Popen(
        command(*args), cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        preexec_fn=lambda: signal.signal(signal.SIGINT, sigint),
    )


@pytest.mark.parametrize("signum, status, word", [(signal.SIGINT, 130, "interrupted"), (signal.SIGTERM, 143, "terminated")])
def test_a_signal_mid_run_ends_cleanly_and_leaves_no_output(tmp_path: Path, signum, status, word) -> None:
    out = tmp_path / "out"
    proc = start("--venue", "binance_usdm", str(long_capture(tmp_path)), "--format", "parquet", "--out", str(out),
                 "--row-group-rows", "1000")  # fmt: skip
    # Mid-run: a row group of book_delta is being written under its temporary name.
    wait_for(lambda: (out / ".book_delta.parquet.partial").exists(), "partial output", proc)
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=DEADLINE)
    text = err.decode()
    assert proc.returncode == status, text
    assert "Traceback" not in text
    assert f"{word} after" in text and "no output file was left" in text
    assert list(out.iterdir()) == []  # neither final names nor temporary ones


def test_ctrl_c_on_jsonl_to_a_file_leaves_no_file(tmp_path: Path) -> None:
    target = tmp_path / "records.jsonl"
    proc = start("--venue", "binance_usdm", str(long_capture(tmp_path)), "--out", str(target))
    partial = tmp_path / ".records.jsonl.partial"
    wait_for(lambda: partial.exists() and partial.stat().st_size > 0, "records written", proc)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=DEADLINE)
    assert proc.returncode == 130, err.decode()
    assert "Traceback" not in err.decode()
    assert not target.exists() and not partial.exists()


def test_ctrl_c_that_the_parent_ignores_stays_ignored(tmp_path: Path) -> None:
    """As under nohup or in a background job: SIGINT does not stop the run; SIGTERM still does."""
    target = tmp_path / "records.jsonl"
    proc = start("--venue", "binance_usdm", str(long_capture(tmp_path)), "--out", str(target), sigint=signal.SIG_IGN)
    partial = tmp_path / ".records.jsonl.partial"
    wait_for(lambda: partial.exists() and partial.stat().st_size > 0, "records written", proc)
    proc.send_signal(signal.SIGINT)
    written = partial.stat().st_size
    wait_for(lambda: partial.stat().st_size > written, "records written after SIGINT", proc)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=DEADLINE)
    assert proc.returncode == 143, err.decode()
    assert "terminated after" in err.decode() and "Traceback" not in err.decode()
    assert not target.exists() and not partial.exists()


# ---- pipes and full disks ---------------------------------------------------------------------


def test_a_closed_pipe_ends_quietly_with_141() -> None:
    proc = subprocess.Popen(
        command("--venue", "binance_usdm", str(session(LARGE))), cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert proc.stdout is not None
    first = proc.stdout.readline()
    assert orjson.loads(first)["kind"] == "book_delta"
    proc.stdout.close()  # the reader goes away, like `| head -1`
    err = proc.stderr.read().decode() if proc.stderr else ""
    proc.wait(timeout=DEADLINE)
    assert proc.returncode == 141, err
    assert err == ""  # no traceback, no "malformed", no summary


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="/dev/full is absent on this system")
@pytest.mark.parametrize("where", ["--out", "stdout"])
def test_a_write_error_names_the_output(where: str) -> None:
    args = ["--venue", "binance_spot", str(session(SMALL))]
    if where == "--out":
        result = subprocess.run(command(*args, "--out", "/dev/full"), cwd=REPO, capture_output=True, timeout=DEADLINE)
        needle = "/dev/full: write failed (No space left on device)"
    else:
        with open("/dev/full", "wb") as full:
            result = subprocess.run(command(*args), cwd=REPO, stdout=full, stderr=subprocess.PIPE, timeout=DEADLINE)
        needle = "standard output: write failed (No space left on device)"
    err = result.stderr.decode()
    assert result.returncode == 2, err
    assert needle in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert Path("/dev/full").is_char_device()  # written as it is, never replaced by a rename


# ---- input that is not what was said ---------------------------------------------------------


def _summary_warning(args: list[str]) -> tuple[int, str]:
    err = io.StringIO()
    status = main(["normalize", *args, "--out", os.devnull], stdout=io.BytesIO(), stderr=err)
    warnings = [line for line in err.getvalue().splitlines() if line.startswith("  warning: ")]
    assert len(warnings) == 1, err.getvalue()
    return status, warnings[0]


def test_a_capture_of_another_venue_is_named() -> None:
    okx = next((corpus_dir() / "okx").glob("*.frames.jsonl.zst"))
    status, warning = _summary_warning(["--venue", "binance_usdm", str(okx)])
    assert status == 0  # every frame was knowingly skipped (unknown channel)
    assert "none of the" in warning and "binance_usdm market data" in warning and "unknown channel" in warning
    assert "they parse as okx: try --venue okx" in warning


def test_binance_frames_given_as_okx_name_the_binance_venues() -> None:
    status, warning = _summary_warning(["--venue", "okx", str(session(SMALL))])
    assert status == 1  # malformed for OKX
    assert "binance_spot" in warning and "try --venue" in warning


def test_an_empty_capture_is_named(tmp_path: Path) -> None:
    empty = tmp_path / "empty.frames.jsonl"
    empty.write_bytes(b"")
    status, warning = _summary_warning(["--venue", "okx", str(empty)])
    assert status == 0
    assert "no frames read" in warning and str(empty) in warning and "empty" in warning


def test_an_empty_kind_name_is_refused() -> None:
    err = io.StringIO()
    status = main(["normalize", "--venue", "okx", str(session(SMALL)), "--kinds", "trade,,quote"],
                  stdout=io.BytesIO(), stderr=err)  # fmt: skip
    assert status == 2
    assert len(err.getvalue().splitlines()) == 1 and "empty kind name" in err.getvalue()


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_every_selected_kind_gets_its_typed_file(tmp_path: Path, fmt: str) -> None:
    status = main(["normalize", "--venue", "binance_spot", str(session(SMALL)), "--format", fmt, "--out", str(tmp_path)],
                  stdout=io.BytesIO(), stderr=io.StringIO())  # fmt: skip
    assert status == 0
    expected = [k for k in KIND_NAMES if k != "book_snapshot"]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(f"{k}.{fmt}" for k in expected)
    # the session has no liquidation: its file is there, empty and typed
    if fmt == "csv":
        with open(tmp_path / "liquidation.csv", newline="") as f:
            assert list(csv.reader(f)) == [list(kind("liquidation").column_names)]
    else:
        pq = pytest.importorskip("pyarrow.parquet")
        table = pq.read_table(tmp_path / "liquidation.parquet")
        assert table.num_rows == 0
        assert tuple(table.column_names) == kind("liquidation").column_names
        assert str(table.schema.field("side").type) == "int8"


# ---- progress and summary -------------------------------------------------------------------


def test_progress_line_on_a_terminal_only(tmp_path: Path) -> None:
    capture = long_capture(tmp_path, copies=3)
    primary, secondary = pty.openpty()
    try:
        proc = subprocess.Popen(command("--venue", "binance_usdm", str(capture), "--out", os.devnull),
                                cwd=REPO, stdout=subprocess.DEVNULL, stderr=secondary)  # fmt: skip
        os.close(secondary)
        chunks = []
        while True:
            try:
                data = os.read(primary, 65536)
            except OSError:  # the terminal closed with the process
                break
            if not data:
                break
            chunks.append(data)
        proc.wait(timeout=DEADLINE)
    finally:
        os.close(primary)
    text = b"".join(chunks).decode()
    assert proc.returncode == 0, text
    assert "\r\x1b[K" in text and "frames/s" in text and " MB of " in text and "left" in text
    # piped: the summary alone
    piped = subprocess.run(command("--venue", "binance_usdm", str(capture), "--out", os.devnull),
                           cwd=REPO, capture_output=True, timeout=DEADLINE)  # fmt: skip
    err = piped.stderr.decode()
    assert "\r" not in err and "\x1b" not in err
    assert err.startswith("normalize binance_usdm: ")


def test_summary_gives_time_rate_and_parser() -> None:
    err = io.StringIO()
    assert main(["normalize", "--venue", "binance_spot", str(session(SMALL)), "--out", os.devnull, "--parser", "reference"],
                stdout=io.BytesIO(), stderr=err) == 0  # fmt: skip
    line = next(x for x in err.getvalue().splitlines() if x.startswith("  time: "))
    assert " s, " in line and "frames/s" in line and "(reference parser)" in line


# ---- the compiled writers equal the JSON Lines -------------------------------------------------


def _run(options: NormalizeOptions, writer) -> None:
    Normalizer(options).run(writer)
    writer.close()


@pytest.mark.parametrize("name", [SMALL, "okx.cf_2022-05-13", "deribit.cf_2021-04-17", LARGE])
def test_compiled_csv_and_parquet_equal_the_jsonl(tmp_path: Path, name: str) -> None:
    pytest.importorskip("marketprism_fast.offline._encode", reason="the compiled core is not built")
    pq = pytest.importorskip("pyarrow.parquet")
    venue = name.split(".", 1)[0]
    options = NormalizeOptions(venue=venue, frames=(str(session(name)),), implementation="compiled")
    out = io.BytesIO()
    _run(options, JsonlWriter(out))
    expected: dict[str, list[dict]] = {}
    for line in out.getvalue().splitlines():
        record = orjson.loads(line)
        expected.setdefault(record.pop("kind"), []).append(record)
    _run(options, CsvWriter(str(tmp_path / "csv")))
    _run(options, ParquetWriter(str(tmp_path / "pq"), row_group_rows=5000))
    for kind_name, records in expected.items():
        k = kind(kind_name)
        with open(tmp_path / "csv" / f"{kind_name}.csv", newline="", encoding="utf-8") as f:
            rows = list(csv.reader(f))[1:]
        table = pq.read_table(tmp_path / "pq" / f"{kind_name}.parquet").to_pylist()
        assert len(rows) == len(table) == len(records)
        for row, arrow, theirs in zip(rows, table, records):
            for c, text in zip(k.columns, row):
                want = theirs[c.name]
                if c.type == "f8":
                    assert text == ("" if want is None else repr(want)), (kind_name, c.name)
                elif c.type == "str":
                    assert text == want
                elif c.type == "f8[]":
                    assert orjson.loads(text) == want
                else:
                    assert int(text) == want
                assert same_value(arrow[c.name], want), (kind_name, c.name, arrow[c.name], want)


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_the_python_writers_write_the_same_bytes(tmp_path: Path, monkeypatch, fmt: str) -> None:
    """Without the compiled encoder (a pure-Python install) the files are byte for byte the same."""
    from marketprism_fast.offline import writers

    pytest.importorskip("marketprism_fast.offline._encode", reason="the compiled core is not built")
    options = NormalizeOptions(venue="binance_spot", frames=(str(session(SMALL)),),
                               refdata=(str(session(SMALL, "refdata.jsonl.zst")),))  # fmt: skip

    def output(where: Path) -> dict[str, bytes]:
        if fmt == "jsonl":
            out = io.BytesIO()
            _run(options, JsonlWriter(out))
            return {"jsonl": out.getvalue()}
        _run(options, CsvWriter(str(where)))
        return {p.name: p.read_bytes() for p in sorted(where.iterdir())}

    compiled = output(tmp_path / "compiled")
    monkeypatch.setattr(writers, "_encode", None)
    python = output(tmp_path / "python")
    assert compiled.keys() == python.keys() and all(compiled[k] == python[k] for k in compiled)
    assert sum(len(v) for v in compiled.values()) > 0
