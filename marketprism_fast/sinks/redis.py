"""Redis: the latest record per (kind, exchange, symbol), for readers that want "now".

Keys and values
---------------
``{key_prefix}:{kind}:{exchange}:{symbol}`` (default ``mpf:quote:binance_spot:BTC-USDT``)
holds the latest record of that kind for that instrument as one JSON object, the
``normalize`` encoding (``kind`` then every contract column by name; floats as the shortest
repr, NaN as null, arrays as arrays, ns timestamps as integers), with a TTL of
``ttl_seconds``: a key that stops being refreshed disappears rather than going stale
silently. Kinds: ``RedisSinkConfig.kinds`` (default quote, ticker, trade, funding_rate,
open_interest, book_snapshot).

Writing
-------
For each batch, the last row per instrument (rows are in frame order) is encoded, only
those rows; all keys of one ``write`` go in one pipelined round trip of ``SET key value EX
ttl`` (no transaction). When Redis does not answer, nothing waits for it: the latest
values are kept in memory (one per key, newer replacing older), the sink reports
``degraded`` with how stale the cache is, and a later write (after a short backoff) sends
every kept value at once: the cache catches up as soon as Redis is back.
"""

from __future__ import annotations

import logging
import time

import numpy as np

from ..batch import Batch
from ..config import RedisSinkConfig
from ..offline.writers import JsonLines
from .base import Backoff, SinkCounters, SinkHealth
from .secrets import resolve_password

log = logging.getLogger("marketprism_fast.sinks.redis")

SOCKET_TIMEOUT_SECONDS = 2.0


def redis_key(prefix: str, kind: str, exchange: str, symbol: str) -> str:
    return f"{prefix}:{kind}:{exchange}:{symbol}"


def latest_rows(batch: Batch) -> np.ndarray:
    """Index of the last row of each instrument in the batch, in row order."""
    st = batch.storage
    keys = np.asarray(st["instrument"]) if st and "instrument" in st else batch.column("symbol")
    reversed_keys = keys[::-1]
    _, first_in_reversed = np.unique(reversed_keys, return_index=True)
    return np.sort(len(keys) - 1 - first_in_reversed)


class RedisSink:
    name = "redis"

    def __init__(self, config: RedisSinkConfig) -> None:
        self.config = config
        self.overflow = config.overflow
        self.kinds = frozenset(config.kinds)
        self._password = resolve_password(config, field="sinks.redis")
        self.counters = SinkCounters()
        self.backoff = Backoff(initial=0.2, cap=5.0)
        self._client = None
        self._json = JsonLines()
        self._pending: dict[str, bytes] = {}  # key -> latest value not yet in Redis
        self._pending_since: float | None = None
        self._down_detail = ""
        self.keys_written = 0

    async def start(self) -> None:
        import redis.asyncio as redis

        self._client = redis.Redis.from_url(
            self.config.url,
            password=self._password or None,
            socket_timeout=SOCKET_TIMEOUT_SECONDS,
            socket_connect_timeout=SOCKET_TIMEOUT_SECONDS,
            retry_on_timeout=False,
            health_check_interval=0,
        )
        try:
            await self._client.ping()
        except Exception as exc:
            self._failed(exc)

    def _collect(self, batch: Batch) -> None:
        rows = latest_rows(batch)
        latest = batch.select(rows)
        symbols = latest.column("symbol").tolist()
        prefix = self.config.key_prefix
        for symbol, line in zip(symbols, self._json.lines(latest)):
            self._pending[redis_key(prefix, batch.kind.name, batch.exchange, symbol)] = line.encode()

    async def write(self, batches: list[Batch]) -> None:
        taken = [b for b in batches if len(b) and b.kind.name in self.kinds]
        for batch in taken:
            self._collect(batch)
        if not self._pending:
            return
        if self._pending_since is None:
            self._pending_since = time.time()
        if not self.backoff.ready():
            return  # Redis was down a moment ago: keep the latest values, do not wait
        started = time.perf_counter()
        pending, self._pending = self._pending, {}
        try:
            pipe = self._client.pipeline(transaction=False)
            ttl = self.config.ttl_seconds
            for key, value in pending.items():
                pipe.set(key, value, ex=ttl)
            await pipe.execute()
        except Exception as exc:
            # Keep what was not written, newer values (none were collected meanwhile) win.
            pending.update(self._pending)
            self._pending = pending
            self._failed(exc)
            return
        if self._down_detail:
            log.info("redis: back up; %d keys caught up", len(pending))
        self._down_detail = ""
        self._pending_since = None
        self.backoff.succeeded()
        self.keys_written += len(pending)
        self.counters.flushed(time.perf_counter() - started)
        for batch in taken:
            self.counters.wrote(batch)

    def _failed(self, exc: BaseException) -> None:
        detail = f"{type(exc).__name__}: {exc}"
        if not self._down_detail:
            log.warning("redis: not answering (%s); keeping the latest values until it does", detail)
        self._down_detail = detail
        self.counters.errors += 1
        self.backoff.failed()

    async def close(self) -> None:
        if self._pending and self.backoff.ready():
            await self.write([])
        if self._client is not None:
            try:
                await self._client.aclose()
            except Exception:
                pass

    def health(self) -> SinkHealth:
        if self._down_detail:
            stale = f", cache stale for {time.time() - self._pending_since:.1f}s" if self._pending_since else ""
            return SinkHealth("degraded", f"redis not answering: {self._down_detail}{stale}; {len(self._pending)} keys waiting")
        return SinkHealth("ok", "")

    def stats(self) -> dict:
        health = self.health()
        return {
            "state": health.state,
            "detail": health.detail,
            **self.counters.as_dict(),
            "spool_bytes": 0,
            "spool_files": 0,
            "keys_written": self.keys_written,
            "keys_waiting": len(self._pending),
            "stale_seconds": (time.time() - self._pending_since) if self._pending_since else 0.0,
        }
