"""Clusters of real servers on loopback for the scale-out tests: a NATS JetStream cluster
of three ``nats-server`` processes, and ClickHouse 18.16 servers forming one cluster of
shards (``<remote_servers>``, no ZooKeeper). Every server is a ``ManagedServer``
(tests/servers.py): a test can kill and restart one on the same ports and data."""

from __future__ import annotations

import json
import tempfile
import time
import urllib.request
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Iterator

from .servers import (
    _CLICKHOUSE_USERS,
    ManagedClickHouse,
    ManagedNats,
    NATS_SERVER,
    ServerError,
    shutil_which,
    _clickhouse_config,
    free_loopback_ports,
)

CLUSTER_NAME = "mpf"
FORMED_WITHIN_S = 30.0


class NatsClusterMember(ManagedNats):
    """One ``nats-server -js`` of a cluster: client, monitor and route ports fixed up front
    (each member's routes name every member's route port)."""

    def __init__(self, root: Path, name: str, ports: list[int], routes: list[int]) -> None:
        super().__init__(root)
        self.server_name = name
        self.ports = ports  # client, monitor, cluster
        self.routes = routes

    def port_count(self) -> int:
        return 3

    def command(self) -> list[str]:
        client, monitor, cluster = self.ports
        routes = ",".join(f"nats://127.0.0.1:{p}" for p in self.routes)
        return [
            shutil_which("nats-server") or str(NATS_SERVER),
            "-a", "127.0.0.1", "-p", str(client), "-m", str(monitor), "-js", "-sd", str(self.root / "store"),
            "-n", self.server_name, "--cluster_name", CLUSTER_NAME,
            "-cluster", f"nats://127.0.0.1:{cluster}", "-routes", routes,
        ]

    def jsz(self) -> dict:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.ports[1]}/jsz", timeout=2) as r:
            return json.loads(r.read())

    def is_ready(self) -> bool:
        # healthz answers before the cluster has a meta leader; a member is ready for
        # streams once it knows the JetStream meta group's leader
        if not super().is_ready():
            return False
        try:
            return bool((self.jsz().get("meta_cluster") or {}).get("leader"))
        except (OSError, ValueError):
            return False


@contextmanager
def nats_cluster(size: int = 3) -> Iterator[list[NatsClusterMember]]:
    with tempfile.TemporaryDirectory(prefix="mpf-nats-cluster-") as tmp:
        ports = free_loopback_ports(3 * size)
        groups = [ports[3 * i: 3 * i + 3] for i in range(size)]
        routes = [g[2] for g in groups]
        members = [NatsClusterMember(Path(tmp) / f"n{i}", f"n{i}", g, routes) for i, g in enumerate(groups)]
        with ExitStack() as stack:
            for m in members:
                stack.callback(m.stop)
            _start_together(members)
            yield members


def _start_together(members: list[NatsClusterMember]) -> None:
    """Start every member, then wait until each knows the meta leader (a member alone
    cannot elect one, so they cannot be started and awaited one by one)."""
    import subprocess

    from .servers import _end_with_parent

    for m in members:
        with (m.root / "console.log").open("ab") as out:
            m.process = subprocess.Popen(m.command(), cwd=m.root, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, preexec_fn=_end_with_parent)
    deadline = time.monotonic() + FORMED_WITHIN_S
    while not all(m.is_ready() for m in members):
        dead = [m.server_name for m in members if not m.running]
        if dead or time.monotonic() > deadline:
            raise ServerError(f"NATS cluster did not form (exited: {dead}):\n" + (members[0].root / "console.log").read_text()[-2000:])
        time.sleep(0.05)


def restart_member(member: NatsClusterMember) -> None:
    """Start a killed member again on its ports and store; it rejoins the cluster."""
    member.start()


# ----------------------------------------------------------------- ClickHouse shards


class ClickHouseShard(ManagedClickHouse):
    """A ClickHouse 18.16 server that knows the cluster's shards; its default profile sets
    ``insert_distributed_sync`` (an insert through a Distributed table returns once every
    shard has its rows)."""

    def __init__(self, root: Path, ports: list[int], shard_tcp_ports: list[int]) -> None:
        super().__init__(root)
        self.ports = ports  # http, tcp, interserver
        self.shard_tcp_ports = shard_tcp_ports

    def command(self) -> list[str]:
        argv = super().command()
        http_port, tcp_port, interserver_port = self.ports
        shards = "".join(
            f"<shard><replica><host>127.0.0.1</host><port>{p}</port></replica></shard>" for p in self.shard_tcp_ports
        )
        config = _clickhouse_config(self.root, http_port=http_port, tcp_port=tcp_port, interserver_port=interserver_port)
        config = config.replace("</yandex>", f"    <remote_servers><{CLUSTER_NAME}>{shards}</{CLUSTER_NAME}></remote_servers>\n</yandex>")
        (self.root / "config.xml").write_text(config)
        users = _CLICKHOUSE_USERS.replace(
            "<default>\n            <allow_experimental", "<default>\n            <insert_distributed_sync>1</insert_distributed_sync>\n            <allow_experimental", 1
        )
        assert "insert_distributed_sync" in users
        (self.root / "users.xml").write_text(users)
        return argv


@contextmanager
def clickhouse_cluster(shards: int = 2) -> Iterator[list[ClickHouseShard]]:
    with tempfile.TemporaryDirectory(prefix="mpf-clickhouse-cluster-") as tmp:
        ports = free_loopback_ports(3 * shards)
        groups = [ports[3 * i: 3 * i + 3] for i in range(shards)]
        servers = [ClickHouseShard(Path(tmp) / f"s{i}", g, [x[1] for x in groups]) for i, g in enumerate(groups)]
        with ExitStack() as stack:
            for s in servers:
                s.start()
                stack.callback(s.stop)
            yield servers
