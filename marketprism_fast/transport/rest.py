"""REST requests of one venue (aiohttp): depth snapshots, instrument metadata, open interest.

    rest = RestClient("binance_usdm", venue_config)
    await rest.start()
    body = await rest.snapshot("BTCUSDT")                       # bytes, or TransportError
    tasks: run_snapshots(scheduler, parser), run_open_interest(parser), run_instruments(metadata)
    rest.stats()   # {"requests", "errors", "throttled", "used_weight", "retries"}
    await rest.close()

Every request has a bounded timeout (``rest_timeout_seconds``) and at most ``rest_retries``
retries with capped jittered backoff (timeouts, connection errors, 5xx). The venue's weight
budget is tracked from its response header (Binance ``X-MBX-USED-WEIGHT-1M``): when a minute's
budget is nearly spent, requests wait for the next minute. HTTP 429 (rate limited) and 418
(IP banned) stop every request of the venue until ``Retry-After`` seconds have passed (at
least the backoff when the header is missing), and count as throttled. Other 4xx answers are
not retried: the request itself is wrong.
"""

from __future__ import annotations

import asyncio
import random
import time
from typing import Callable

import aiohttp
import orjson

from ..config import VenueConfig
from ..errors import TransportError
from ..log import logger
from .protocol import ClientProtocol, protocol_for

log = logger.getChild("rest")

WEIGHT_RESERVE = 0.1  # keep this share of the minute's weight unused (other clients of the IP)
SNAPSHOT_DEPTH = 1000
BodyHook = Callable[[str, str, int, bytes], None]  # (what, url, ts_recv_ns, body)


class RestClient:
    def __init__(
        self,
        venue: str,
        config: VenueConfig,
        *,
        protocol: ClientProtocol | None = None,
        on_body: BodyHook | None = None,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        self.venue = venue
        self.config = config
        self.protocol = protocol or protocol_for(venue)
        self.base = self.protocol.rest_url(config)
        self.on_body = on_body
        self.clock = clock
        self.rng = rng or random.Random()
        self.session: aiohttp.ClientSession | None = None
        self.blocked_until = 0.0  # monotonic; 429/418 Retry-After
        self.used_weight = 0
        self._weight_minute = -1
        self._counts = {"requests": 0, "errors": 0, "throttled": 0, "retries": 0, "snapshots": 0, "open_interest": 0, "instruments": 0, "budget_waits": 0}

    async def start(self) -> None:
        if self.session is None:
            timeout = aiohttp.ClientTimeout(total=self.config.rest_timeout_seconds)
            self.session = aiohttp.ClientSession(timeout=timeout, headers={"Accept": "application/json"})

    async def close(self) -> None:
        if self.session is not None:
            await self.session.close()
            self.session = None

    def stats(self) -> dict:
        return dict(self._counts, used_weight=self.used_weight)

    # ------------------------------------------------------------------ one request
    async def get(self, path: str, *, what: str = "request") -> tuple[bytes, int]:
        """GET base+path -> (body, receive time ns). Raises TransportError when every attempt failed."""
        await self.start()
        assert self.session is not None
        url = self.base + path
        attempts = self.config.rest_retries + 1
        last = ""
        for attempt in range(attempts):
            if attempt:
                self._counts["retries"] += 1
            await self._wait_for_budget()
            self._counts["requests"] += 1
            try:
                async with self.session.get(url) as response:
                    body = await response.read()
                    ts_recv = time.time_ns()
                    self._note_weight(response.headers)
                    if response.status in (429, 418):
                        self._counts["throttled"] += 1
                        pause = _retry_after(response.headers)
                        if pause is None:
                            pause = self._backoff(attempt)
                        self.blocked_until = max(self.blocked_until, self.clock() + pause)
                        last = f"HTTP {response.status} (retry after {pause:.1f} s)"
                        log.warning("%s: %s %s; pausing requests for %.1f s", self.venue, what, last, pause)
                        continue
                    if response.status >= 500:
                        last = f"HTTP {response.status}"
                        self._counts["errors"] += 1
                        await asyncio.sleep(self._backoff(attempt))
                        continue
                    if response.status >= 400:
                        self._counts["errors"] += 1
                        raise TransportError(f"{self.venue}: {what} {url} answered HTTP {response.status}: {body[:200]!r}", url=url)
                    if self.on_body is not None:
                        self.on_body(what, url, ts_recv, body)
                    return body, ts_recv
            except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                self._counts["errors"] += 1
                last = str(exc) or type(exc).__name__
                await asyncio.sleep(self._backoff(attempt))
        raise TransportError(f"{self.venue}: {what} {url} failed after {attempts} attempts: {last}", url=url)

    def _backoff(self, attempt: int) -> float:
        r = self.config.reconnect
        return self.rng.uniform(0.0, min(r.max_seconds, r.initial_seconds * 2**attempt))

    async def _wait_for_budget(self) -> None:
        while True:
            now = self.clock()
            if now < self.blocked_until:
                self._counts["budget_waits"] += 1
                await asyncio.sleep(self.blocked_until - now)
                continue
            limit = self.protocol.weight_limit_per_minute
            if limit and self.used_weight >= limit * (1 - WEIGHT_RESERVE) and int(time.time() // 60) == self._weight_minute:
                self._counts["budget_waits"] += 1
                await asyncio.sleep(60 - time.time() % 60 + 0.05)  # the weight counter resets each minute
                continue
            return

    def _note_weight(self, headers) -> None:
        name = self.protocol.weight_header
        if not name:
            return
        value = headers.get(name)
        if value is not None and value.isdigit():
            self.used_weight = int(value)
            self._weight_minute = int(time.time() // 60)

    # ------------------------------------------------------------------ what the node asks
    async def snapshot(self, raw_symbol: str, depth: int = SNAPSHOT_DEPTH) -> tuple[bytes, int]:
        path = self.protocol.snapshot_path(raw_symbol, depth)
        if path is None:
            raise TransportError(f"{self.venue} has no REST depth snapshot (its WebSocket sends snapshots)")
        out = await self.get(path, what="snapshot")
        self._counts["snapshots"] += 1
        return out

    async def open_interest(self, raw_symbol: str) -> tuple[bytes, int]:
        path = self.protocol.open_interest_path(raw_symbol)
        if path is None:
            raise TransportError(f"{self.venue} has no REST open interest")
        out = await self.get(path, what="open_interest")
        self._counts["open_interest"] += 1
        return out

    async def instruments(self) -> list[bytes]:
        bodies = []
        for path in self.protocol.instruments_paths():
            body, _ = await self.get(path, what="instruments")
            bodies.append(body)
        self._counts["instruments"] += 1
        return bodies

    # ------------------------------------------------------------------ background loops
    async def run_snapshots(self, scheduler, parser, *, idle_seconds: float = 0.1) -> None:
        """Serve the book builder's resync requests (``SnapshotScheduler``, which paces them):
        each snapshot body goes to ``parser.feed_snapshot``; a failed one is queued again."""
        while True:
            for symbol in scheduler.due():
                try:
                    body, ts = await self.snapshot(symbol)
                except TransportError as exc:
                    log.warning("%s", exc)
                    scheduler.request(symbol)
                    continue
                parser.feed_snapshot(body, ts, symbol)
            wait = scheduler.next_due_in()
            await asyncio.sleep(idle_seconds if wait is None else max(wait, 0.01))

    async def run_open_interest(self, parser, symbols: list[str] | None = None) -> None:
        """Poll open interest of every configured symbol each ``open_interest_poll_seconds``."""
        period = self.config.open_interest_poll_seconds
        if period is None or self.protocol.open_interest_path("X") is None:
            return
        symbols = symbols if symbols is not None else list(self.config.symbols)
        while True:
            started = self.clock()
            for symbol in symbols:
                try:
                    body, ts = await self.open_interest(symbol)
                except TransportError as exc:
                    log.warning("%s", exc)
                    continue
                parser.feed_open_interest(body, ts)
            await asyncio.sleep(max(0.0, period - (self.clock() - started)))

    async def refresh_instruments(self, metadata) -> int:
        """Fetch the venue's instrument lists into ``metadata`` (``SymbolMetadata``); returns bodies loaded."""
        from ..refdata import add_body

        bodies = await self.instruments()
        for body in bodies:
            add_body(metadata, orjson.loads(body), where=f"{self.venue} instruments")
        return len(bodies)

    async def run_instruments(self, metadata) -> None:
        """Refresh instrument metadata every ``instruments_refresh_seconds`` (the first fetch is
        the caller's, at start)."""
        while True:
            await asyncio.sleep(self.config.instruments_refresh_seconds)
            try:
                await self.refresh_instruments(metadata)
            except (TransportError, ValueError) as exc:
                log.warning("%s: instrument refresh failed: %s", self.venue, exc)


def _retry_after(headers) -> float | None:
    value = headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None
