"""scripts/workers.sh: how many pytest workers scripts/test.sh and scripts/ci-hardening.sh use."""

from __future__ import annotations

import os
import subprocess

import pytest

from tests.helpers import REPO

SHARED = ("MPF_CLICKHOUSE_HTTP", "MPF_NATS_URL", "MPF_REDIS_URL")


def workers(**env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in SHARED and k != "MPF_TEST_WORKERS"}
    return subprocess.run(
        ["bash", "-c", 'set -euo pipefail; source scripts/workers.sh; echo "workers=$workers"'],
        cwd=REPO, env={**clean, **env}, capture_output=True, text=True, timeout=30,
    )


def test_one_worker_per_usable_cpu_at_most_four() -> None:
    result = workers()
    assert result.returncode == 0, result.stderr
    cpus = int(subprocess.run(["nproc"], capture_output=True, text=True, check=True).stdout)
    assert result.stdout.strip() == f"workers={min(cpus, 4)}"


@pytest.mark.parametrize("name", SHARED)
def test_a_shared_server_named_by_the_environment_means_one_process(name: str) -> None:
    result = workers(**{name: "http://127.0.0.1:1"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "workers=0"


def test_the_count_asked_for_wins_even_with_a_shared_server() -> None:
    result = workers(MPF_TEST_WORKERS="3", MPF_NATS_URL="nats://127.0.0.1:1")
    assert result.stdout.strip() == "workers=3"


@pytest.mark.parametrize("value", ["x", "-1", "2.5", " "])
def test_a_bad_count_is_refused_in_one_line(value: str) -> None:
    result = workers(MPF_TEST_WORKERS=value)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        f"test: MPF_TEST_WORKERS must be a whole number (0: no workers), got '{value}'"
    ]
