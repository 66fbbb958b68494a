from typing import Iterator

import pytest

from marketprism_fast import parser as parsers
from tests import servers


def parser_implementations() -> list[str]:
    """Implementations under test: both when the compiled core is built (CI requires it)."""
    impls = ["reference"]
    if parsers.compiled_available():
        impls.insert(0, "compiled")
    return impls


@pytest.fixture(params=parser_implementations())
def implementation(request) -> str:
    return request.param


@pytest.fixture(scope="session")
def clickhouse() -> Iterator[servers.ClickHouse]:
    """A real ClickHouse server for the whole session (tests/servers.py says which)."""
    with servers.clickhouse() as server:
        yield server


@pytest.fixture(scope="session")
def clickhouse_native(clickhouse: servers.ClickHouse) -> str:
    """The session's ClickHouse as a native-protocol URL (the sinks' protocol)."""
    if clickhouse.tcp_port is None:
        pytest.skip(f"{servers.CLICKHOUSE_URL_VARIABLE} names a server whose native port is not known: set {servers.CLICKHOUSE_TCP_PORT_VARIABLE}")
    return f"clickhouse://127.0.0.1:{clickhouse.tcp_port}"


@pytest.fixture(scope="session")
def nats_url() -> Iterator[str]:
    """A NATS server with JetStream (MPF_NATS_URL, or one started for the session)."""
    with servers.nats_url() as url:
        yield url


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A Redis server (MPF_REDIS_URL, or one started for the session)."""
    with servers.redis_url() as url:
        yield url


@pytest.fixture
def private_clickhouse() -> Iterator[servers.ManagedClickHouse]:
    """A ClickHouse of this test's own, which it may stop, kill and restart."""
    with servers.managed(servers.ManagedClickHouse) as server:
        yield server  # type: ignore[misc]


@pytest.fixture
def private_nats() -> Iterator[servers.ManagedNats]:
    with servers.managed(servers.ManagedNats) as server:
        yield server  # type: ignore[misc]


@pytest.fixture
def private_redis() -> Iterator[servers.ManagedRedis]:
    with servers.managed(servers.ManagedRedis) as server:
        yield server  # type: ignore[misc]
