"""The node's commands beside normalize and ddl: usage errors are one line and exit 2;
``sim`` and ``consume`` are wired to their modules; the process the command line starts holds
no idle BLAS threads."""

from __future__ import annotations

import io
import os
import subprocess
import sys

import pytest

from marketprism_fast import cli


def run(argv, env=None):
    out, err = io.BytesIO(), io.StringIO()
    saved = dict(os.environ)
    try:
        os.environ.pop("MPF_CONFIG", None)
        os.environ.update(env or {})
        code = cli.main(argv, stdout=out, stderr=err)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return code, out.getvalue().decode(), err.getvalue()


def test_help_lists_every_command():
    parser = cli.build_parser()
    commands = parser._subparsers._group_actions[0].choices  # noqa: SLF001
    assert {"run", "check-config", "demo", "query", "record", "sim", "consume", "normalize", "ddl"} <= set(commands)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["run"], "marketprism_fast run: error: run: give --config FILE (or set MPF_CONFIG)"),
        (["consume"], "marketprism_fast consume: error: consume: give --config FILE (or set MPF_CONFIG)"),
        (["consume", "--config", "/nonexistent.yaml"], "marketprism_fast consume: error: /nonexistent.yaml: no such config file"),
        (["record", "--config", "/nonexistent.yaml", "--out", "x"], "marketprism_fast record: error: /nonexistent.yaml: no such config file"),
        (["query", "/nonexistent-store", "SELECT 1"], "marketprism_fast query: error: query: /nonexistent-store: no such store directory"),
        (["demo", "--seconds", "0"], "marketprism_fast demo: error: demo: --seconds = 0.0: must be > 0"),
        (["check-config"], "marketprism_fast check-config: error: the following arguments are required: FILE"),
    ],
)
def test_usage_errors_are_one_line_exit_2(argv, message):
    code, out, err = run(argv)
    assert code == 2
    assert err.splitlines() == [message] or err.startswith(message), err
    assert len(err.splitlines()) == 1


def test_run_takes_the_config_from_mpf_config(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("node: {batch_rows: 0}\n")
    code, _, err = run(["run"], {"MPF_CONFIG": str(path)})
    assert code == 2 and f"{path}: node.batch_rows = 0: must be > 0" in err


def test_sim_command_is_the_simulators_own():
    code, _, _ = run(["sim", "--help"])
    assert code == 0


def test_run_on_a_taken_port_is_one_line_exit_2(tmp_path):
    import socket

    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    port = taken.getsockname()[1]
    path = tmp_path / "node.yaml"
    path.write_text(f"http: {{port: {port}}}\nvenues: {{okx: {{symbols: [BTC-USDT], ws_url: 'ws://127.0.0.1:1'}}}}\nsinks: {{null: {{enabled: true}}}}\n")
    try:
        code, _, err = run(["run", "--config", str(path)])
    finally:
        taken.close()
    assert code == 2
    assert err.splitlines() == [f"marketprism_fast run: error: http: cannot listen on 127.0.0.1:{port} (address already in use); set http.host/http.port (or HTTP_PORT) to a free address"], err


def test_sim_command_serves_and_stops(tmp_path):
    from .helpers import REPO

    env = {k: v for k, v in os.environ.items() if not (k.startswith("MPF_") and "__" in k)}
    result = subprocess.run(
        [sys.executable, "-m", "marketprism_fast", "sim", "--venue", "okx", "--generate", "100", "--seconds", "1"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("okx: ws ws://127.0.0.1:")
    code, _, err = run(["sim", "--venue", "kraken"])
    assert code == 2


@pytest.mark.parametrize("given", [None, "2"])
def test_the_command_starts_no_blas_threads_unless_told(given):
    """numpy's OpenBLAS would start a thread per core at import (and spin it) for a program
    that does no linear algebra: the command line sets one thread, unless the environment
    already says how many."""
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    if given is not None:
        env["OPENBLAS_NUM_THREADS"] = given
    probe = ("import os, marketprism_fast.cli, numpy; "
             "print(os.environ['OPENBLAS_NUM_THREADS'], len(os.listdir('/proc/self/task')))")
    done = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=60, check=True)
    setting, threads = done.stdout.split()
    if given is None:
        assert setting == "1" and threads == "1"  # numpy imported, no thread beside the main one
    else:
        assert setting == "2"  # the operator's choice is kept
