"""The ``sim`` command as a process: it prints where each venue listens, serves a client,
stops cleanly on SIGTERM with a summary of what it sent, and refuses bad arguments in one line."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys

import orjson
import pytest

from .helpers import REPO
from .simclient import connect

CMD = [sys.executable, "-m", "marketprism_fast.sim.cli"]


def test_generate_serves_a_client_and_stops_on_sigterm():
    proc = subprocess.Popen(CMD + ["--venue", "okx", "--generate", "200", "--symbols", "BTC-USDT"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO)
    try:
        line = proc.stdout.readline()
        assert line.startswith("okx: ws ws://127.0.0.1:"), line
        ws_url = line.split()[2]

        async def client():
            c = await connect(ws_url + "/ws/v5/public")
            c.send({"op": "subscribe", "args": [{"channel": "trades", "instId": "BTC-USDT"}]})
            assert (await c.recv_json())["event"] == "subscribe"
            return [await c.recv_json() for _ in range(5)]

        frames = asyncio.run(asyncio.wait_for(client(), 20))
        assert all(f["arg"]["channel"] == "trades" for f in frames)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    summary = orjson.loads(out.strip().splitlines()[-1])
    assert summary["venue"] == "okx" and summary["by_kind"]["trade"] >= 5


@pytest.mark.parametrize("argv,message", [
    (["--venue", "nyse", "--generate", "10"], "unknown venue"),
    (["--venue", "okx", "--generate", "-3"], "positive rate"),
    (["--venue", "okx,deribit", "--replay", "x.frames.jsonl"], "one venue"),
    (["--venue", "okx", "--replay", "/no/such.frames.jsonl"], "no such file"),
    (["--venue", "okx", "--generate", "10", "--set", "idle_timeout"], "KEY=VALUE"),
    (["--venue", "okx", "--generate", "10", "--set", "no_such_setting=1"], "no_such_setting"),
])
def test_bad_arguments_exit_2_with_one_line(argv, message):
    done = subprocess.run(CMD + argv, capture_output=True, text=True, timeout=30, cwd=REPO,
                          env={**os.environ, "PYTHONWARNINGS": "ignore"})
    assert done.returncode == 2
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert message in lines[-1]
