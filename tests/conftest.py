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
