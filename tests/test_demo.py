"""``demo``: the README's main command. It exits 0 with its summary; the progress line shows
on a terminal (a pseudo-terminal here) and stays out of pipes."""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import sys
import time

import pytest

from .helpers import REPO

pytest.importorskip("marketprism_fast.sim.generate", reason="the simulator's generator (sim/generate.py) is not in this tree")

PROGRESS = "\r\x1b[K"
SUMMARY = re.compile(
    r"marketprism_fast demo: [\d.]+ s, 5 venues from the local simulator over loopback WebSockets\n"
    r"  frames      [\d,]+ received, 0 malformed\n"
    r"  records     trade [\d,]+, book_delta [\d,]+, .*\n"
    r"  books       \d+ symbols kept, \d+ gaps, \d+ resyncs\n"
    r"  connections \d+, reconnects \d+\n"
    r"  data        [\d,]+ (rows in the embedded ClickHouse store|records in) .*\n"
    r"  look at it  .*\n"
)


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not (k.startswith("MPF_") and "__" in k)}


def demo_command(out, *extra: str) -> list[str]:
    return [sys.executable, "-m", "marketprism_fast", "demo", "--seconds", "3", "--out", str(out), *extra]


def test_readme_names_the_demo_script_and_the_script_runs_demo():
    readme = (REPO / "README.md").read_text()
    assert "    bash scripts/demo.sh\n" in readme
    script = (REPO / "scripts" / "demo.sh").read_text()
    assert 'exec .venv/bin/python -m marketprism_fast demo "$@"' in script
    assert "bash scripts/setup.sh" in script


@pytest.mark.parametrize("sink", ["embedded", "jsonl"])
def test_demo_exits_0_with_its_summary_and_no_progress_in_pipes(tmp_path, sink):
    result = subprocess.run(demo_command(tmp_path / "demo", "--sink", sink), cwd=REPO, env=_env(), capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stdout + result.stderr
    assert SUMMARY.search(result.stdout), result.stdout
    assert PROGRESS not in result.stdout and PROGRESS not in result.stderr
    written = int(re.search(r"  data        ([\d,]+)", result.stdout).group(1).replace(",", ""))
    assert written > 1000
    if sink == "jsonl":
        lines = (tmp_path / "demo" / "records.jsonl").read_text().splitlines()
        assert len(lines) == written
    else:
        # the query the summary prints runs as printed and agrees with the store's trades
        command = re.search(r"  look at it  \S+ -m marketprism_fast query (\S+) (\".*\")\n", result.stdout)
        assert command, result.stdout
        query = subprocess.run(
            [sys.executable, "-m", "marketprism_fast", "query", command.group(1), eval(command.group(2))],  # noqa: S307 - a JSON string literal
            cwd=REPO, env=_env(), capture_output=True, text=True, timeout=60,
        )
        assert query.returncode == 0, query.stderr
        for venue in ("binance_spot", "binance_usdm", "binance_coinm", "okx", "deribit"):
            assert venue in query.stdout


def test_progress_line_shows_on_a_terminal(tmp_path):
    pid, fd = pty.fork()
    if pid == 0:  # the child: stdout and stderr are the pseudo-terminal
        os.chdir(REPO)
        os.execve(sys.executable, demo_command(tmp_path / "demo", "--sink", "jsonl"), _env())
    output = b""
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 1.0)
        if ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            output += chunk
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    text = output.decode(errors="replace")
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, text
    redraws = re.findall(r"\r\x1b\[Kdemo +[\d.]+/3s  frames [\d,]+ \([\d,]+/s\)  records [\d,]+", text)
    assert len(redraws) >= 3, text  # redrawn in place, several times
    assert "marketprism_fast demo: " in text  # and the summary after it
