"""Fault injection for one venue server: what real venues and networks do to a client.

    f = sim.faults("binance_usdm")
    f.disconnect()              # drop every open connection without a CLOSE frame (network failure)
    f.stall()                   # open connections go silent (no data, pings, replies); TCP stays up
    f.refuse(3)                 # the next 3 WS upgrades get HTTP 503 (None: until f.accept())
    f.gap("btcusdt@depth@100ms")   # the next frame of that stream is never sent: a sequence gap
    f.corrupt(2, "truncate")    # the next 2 data frames are cut in half ("garbage": replaced)
    f.inject_malformed()        # one extra malformed frame to every connection, now
    f.slow_rest(2.0)            # REST answers 2 s late (count=None: until cleared with 0)
    f.fail_rest(500, count=2)   # the next 2 REST requests fail with that status
    f.throttle(count=1, retry_after=1)   # 429 with Retry-After (418 with ban=True)

Every injected fault is counted in ``counts`` (``sim.sent()[venue]["faults"]``), so tests can
check that the client saw exactly what was done to it.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:  # pragma: no cover
    from .protocol import Server

MALFORMED_FRAMES = {
    "garbage": b"\x7b\x22this is not json",
    "truncate": None,  # the frame's first half
    "empty": b"",
}


class Faults:
    def __init__(self, server: "Server") -> None:
        self.server = server
        self.counts: Counter = Counter()
        self.active = False  # any data-path fault pending (checked once per published frame)
        self._drop: dict[str, int] = {}
        self._corrupt: list[str] = []  # modes of the next frames to corrupt
        self._refuse: int | None = 0  # upgrades still to refuse; None: all until accept()
        self._refuse_status = 503
        self._rest_delay = 0.0
        self._rest_delay_left: int | None = None
        self._rest_fail: list[int] = []  # statuses of the next failing requests
        self._rest_throttle: list[tuple[int, int]] = []  # (status, retry_after)

    def _update_active(self) -> None:
        self.active = bool(self._drop or self._corrupt)

    # ---- connections -----------------------------------------------------------------------
    def disconnect(self, *, graceful: bool = False, reason: str = "fault: disconnect") -> int:
        """Drop every open connection; ``graceful`` sends a CLOSE frame first (1001 going away)."""
        conns = [c for c in self.server.connections.values() if not c.closed]
        for conn in conns:
            if graceful:
                conn.close(reason, 1001)
            else:
                conn.kill(reason)
        self.counts["disconnect"] += len(conns)
        return len(conns)

    def stall(self) -> int:
        """Open connections go silent: nothing more is written to them; they stay open."""
        conns = [c for c in self.server.connections.values() if not c.closed and not c.stalled]
        for conn in conns:
            conn.stalled = True
        self.counts["stall"] += len(conns)
        return len(conns)

    def resume(self) -> int:
        conns = [c for c in self.server.connections.values() if c.stalled]
        for conn in conns:
            conn.stalled = False
        return len(conns)

    def refuse(self, count: int | None = None, *, status: int = 503) -> None:
        """Refuse the next ``count`` WS upgrades (None: every one until ``accept()``)."""
        self._refuse, self._refuse_status = count, status

    def accept(self) -> None:
        self._refuse = 0

    def refusal(self) -> int | None:
        """Called per upgrade: the status to refuse it with, or None to accept."""
        if self._refuse == 0:
            return None
        if self._refuse is not None:
            self._refuse -= 1
        self.counts["refused"] += 1
        return self._refuse_status

    # ---- data frames -------------------------------------------------------------------------
    def gap(self, key: str, count: int = 1) -> None:
        """Never send the next ``count`` frames of stream ``key``: the client sees a sequence gap."""
        self._drop[key] = self._drop.get(key, 0) + count
        self._update_active()

    def drops(self, key: str) -> bool:
        left = self._drop.get(key)
        if not left:
            return False
        if left == 1:
            del self._drop[key]
            self._update_active()
        else:
            self._drop[key] = left - 1
        self.counts["gap"] += 1
        return True

    def corrupt(self, count: int = 1, mode: str = "truncate") -> None:
        """Corrupt the next ``count`` published data frames (``truncate``, ``garbage``, ``empty``)."""
        if mode not in MALFORMED_FRAMES:
            raise ValueError(f"unknown corruption {mode!r}; expected one of {', '.join(MALFORMED_FRAMES)}")
        self._corrupt.extend([mode] * count)
        self._update_active()

    def mangle(self, frame: bytes) -> bytes:
        if not self._corrupt:
            return frame
        mode = self._corrupt.pop(0)
        self._update_active()
        self.counts[f"corrupt_{mode}"] += 1
        replacement = MALFORMED_FRAMES[mode]
        return frame[: max(1, len(frame) // 2)] if replacement is None else replacement

    def inject_malformed(self, mode: str = "garbage", template: bytes = b'{"stream":"x","data":{"e":"trade","s":"BTCUSDT"}}') -> int:
        """One extra malformed frame to every open connection now; returns how many got it."""
        replacement = MALFORMED_FRAMES[mode]
        payload = template[: len(template) // 2] if replacement is None else replacement
        n = self.server.inject(payload, kind=f"malformed_{mode}")
        self.counts[f"malformed_{mode}"] += n
        return n

    # ---- REST --------------------------------------------------------------------------------
    def slow_rest(self, seconds: float, count: int | None = None) -> None:
        """Delay REST answers by ``seconds`` (the next ``count`` requests; None: until set to 0)."""
        self._rest_delay, self._rest_delay_left = seconds, count

    def fail_rest(self, status: int = 500, count: int = 1) -> None:
        self._rest_fail.extend([status] * count)

    def throttle(self, count: int = 1, *, retry_after: int = 1, ban: bool = False) -> None:
        """The next ``count`` REST requests get 429 (418 with ``ban``) and ``Retry-After``."""
        self._rest_throttle.extend([(418 if ban else 429, retry_after)] * count)

    @web.middleware
    async def rest_middleware(self, request: web.Request, handler) -> web.StreamResponse:
        if self._rest_delay > 0:
            if self._rest_delay_left is None or self._rest_delay_left > 0:
                if self._rest_delay_left is not None:
                    self._rest_delay_left -= 1
                self.counts["rest_slow"] += 1
                await asyncio.sleep(self._rest_delay)
        if self._rest_throttle:
            status, retry_after = self._rest_throttle.pop(0)
            self.counts[f"rest_{status}"] += 1
            return web.Response(
                status=status,
                body=self.server.protocol.throttle_body(status),
                headers={"Retry-After": str(retry_after)},
                content_type="application/json",
            )
        if self._rest_fail:
            status = self._rest_fail.pop(0)
            self.counts[f"rest_{status}"] += 1
            return web.Response(status=status, body=self.server.protocol.error_body(status), content_type="application/json")
        return await handler(request)
