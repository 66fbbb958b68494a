"""Reading the sinks' servers back in the tests, and waiting on conditions with a deadline."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from typing import Awaitable, Callable

from marketprism_fast.records import KINDS, Kind
from tests.sink_data import multiset

DEADLINE_S = 60.0


def wait_until(condition: Callable[[], bool], what: str, timeout: float = DEADLINE_S, interval: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


async def async_wait_until(condition: Callable[[], bool | Awaitable[bool]], what: str, timeout: float = DEADLINE_S, interval: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(interval)


def native_client(url: str):
    from clickhouse_driver import Client

    host, port = url.removeprefix("clickhouse://").split(":")
    return Client(host=host, port=int(port))


def table_rows(url: str, database: str, kind: Kind) -> list[dict]:
    client = native_client(url)
    try:
        names = kind.column_names
        result = client.execute(f"SELECT {', '.join(f'`{n}`' for n in names)} FROM `{database}`.`{kind.table}`")
    finally:
        client.disconnect()
    return [dict(zip(names, row)) for row in result]


def table_counts(url: str, database: str) -> dict[str, int]:
    """Rows per kind (0 where the table is missing or the server is down)."""
    client = native_client(url)
    out: dict[str, int] = {}
    try:
        for kind in KINDS:
            try:
                out[kind.name] = client.execute(f"SELECT count() FROM `{database}`.`{kind.table}`")[0][0]
            except Exception:
                out[kind.name] = 0
    finally:
        client.disconnect()
    return {k: v for k, v in out.items() if v}


def assert_tables_hold_exactly(url: str, database: str, expected: dict[str, Counter]) -> None:
    """Every kind's table holds exactly the expected rows: same count, no row twice more often."""
    for kind in KINDS:
        want = expected.get(kind.name, Counter())
        got = multiset(table_rows(url, database, kind), kind.column_names)
        assert sum(got.values()) == sum(want.values()), (kind.name, sum(got.values()), sum(want.values()))
        assert got == want, f"{kind.name}: rows differ (duplicates or losses): {list((got - want).items())[:2]} / {list((want - got).items())[:2]}"
