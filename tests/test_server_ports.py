"""tests/servers.py's ports: each pytest worker's own slice, below the kernel's ephemeral range."""

from __future__ import annotations

import socket

import pytest

from tests import servers


def ephemeral_low() -> int:
    return int(servers.EPHEMERAL_RANGE.read_text().split()[0])


def test_ports_come_from_this_workers_slice_below_the_ephemeral_range() -> None:
    ports = servers.port_slice()
    if ports is None:
        pytest.skip(f"the slices would reach this machine's ephemeral range (from {ephemeral_low()})")
    got = servers.free_loopback_ports(5)
    assert len(set(got)) == 5
    assert all(p in ports and p < ephemeral_low() for p in got), (got, ports)
    for port in got:  # free now: a server can bind it
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", port))


def test_a_port_is_not_handed_out_again_while_its_server_may_be_stopped() -> None:
    if servers.port_slice() is None:
        pytest.skip("no port slice on this machine")
    first = servers.free_loopback_ports(3)
    second = servers.free_loopback_ports(3)  # the first three are not held, yet not handed out again
    assert not set(first) & set(second), (first, second)


def test_a_port_in_use_is_passed_over() -> None:
    ports = servers.port_slice()
    if ports is None:
        pytest.skip("no port slice on this machine")
    taken = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        # the next port the search will look at, taken by someone else meanwhile
        taken.bind(("127.0.0.1", ports[servers._slice_cursor % len(ports)]))
        taken.listen()
        got = servers.free_loopback_ports(1)
        assert got != [taken.getsockname()[1]]
    finally:
        taken.close()


@pytest.mark.parametrize("worker, start", [("gw0", 10_000), ("gw1", 12_000), ("gw3", 16_000), ("master", 10_000)])
def test_every_worker_has_a_slice_of_its_own(monkeypatch, worker: str, start: int) -> None:
    if start + servers.PORT_SLICE_SIZE > ephemeral_low():
        pytest.skip("this machine's ephemeral range starts below the slice")
    monkeypatch.setenv("PYTEST_XDIST_WORKER", worker)
    assert servers.port_slice() == range(start, start + servers.PORT_SLICE_SIZE)


def test_no_slice_when_it_would_reach_the_ephemeral_range(monkeypatch) -> None:
    monkeypatch.setenv("PYTEST_XDIST_WORKER", f"gw{ephemeral_low() // servers.PORT_SLICE_SIZE}")
    assert servers.port_slice() is None
    assert len(set(servers.free_loopback_ports(2))) == 2  # any free ports then
