"""Server side of OKX's v5 public protocol, for the simulator.

WS ``/ws/v5/public`` (and ``/ws/v5/business``, where OKX moved candles):
  * ``{"op":"subscribe","args":[{"channel":..,"instId":..}]}`` -> one
    ``{"event":"subscribe","arg":{..},"connId":..}`` per argument; ``unsubscribe`` likewise.
  * Bad requests -> ``{"event":"error","code":..,"msg":..,"connId":..}``.
  * The text ``ping`` -> ``pong``.
  * A connection to which nothing was pushed for ``idle_timeout`` (30 s) is closed.
  * At most ``max_requests_per_hour`` (480) subscribe/unsubscribe requests per connection and
    ``max_connects_per_second`` (3) new connections per second.
REST: ``/api/v5/public/instruments``, ``/api/v5/market/books``, ``/api/v5/public/open-interest``,
each with its documented request rate; over it -> 429 ``{"code":"50011"}``.
"""

from __future__ import annotations

import time
from collections import deque
from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import web

from ...sim.protocol import Reject, RestHandler, VenueProtocol
from .protocol import CHANNEL_KINDS, channel_kind

if TYPE_CHECKING:  # pragma: no cover
    from ...sim.protocol import Connection, Server

OKX_WS = "https://www.okx.com/docs-v5/en/#overview-websocket-connect"
OKX_SUBSCRIBE = "https://www.okx.com/docs-v5/en/#overview-websocket-subscribe"
OKX_WS_ERRORS = "https://www.okx.com/docs-v5/en/#error-code-websocket-public"
OKX_INSTRUMENTS = "https://www.okx.com/docs-v5/en/#public-data-rest-api-get-instruments"
OKX_BOOKS = "https://www.okx.com/docs-v5/en/#order-book-trading-market-data-get-order-book"
OKX_OI = "https://www.okx.com/docs-v5/en/#public-data-rest-api-get-open-interest"
OKX_REST_ERRORS = "https://www.okx.com/docs-v5/en/#error-code-rest-api-public"

# Channels keyed by instrument type rather than instrument ("liquidation-orders" takes instType).
_BY_INST_TYPE = frozenset({"liquidation-orders"})

# REST request rates (requests, per seconds), per IP: instruments "20 requests per 2 seconds"
# (OKX_INSTRUMENTS), books "40 requests per 2 seconds" (OKX_BOOKS), open interest "20 requests
# per 2 seconds" (OKX_OI).
_REST_RATES = {"instruments": (20, 2.0), "books": (40, 2.0), "open-interest": (20, 2.0)}


def routing_key(arg: dict[str, Any]) -> str | None:
    """``channel:instId`` (or ``channel:instType`` / ``channel:instFamily``) of a subscription argument."""
    channel = arg.get("channel")
    if not isinstance(channel, str):
        return None
    for field in ("instId", "instFamily", "instType"):
        value = arg.get(field)
        if isinstance(value, str) and value:
            return f"{channel}:{value}"
    return None


class OkxProtocol(VenueProtocol):
    family = "okx"
    ws_paths = ("/ws/v5/public", "/ws/v5/business")

    def __init__(
        self,
        venue: str,
        server: "Server",
        *,
        idle_timeout: float = 30.0,
        max_requests_per_hour: int = 480,
        max_connects_per_second: int = 3,
        rest_rates: dict[str, tuple[int, float]] | None = None,
    ) -> None:
        super().__init__(venue, server)
        self.idle_timeout = idle_timeout
        self.max_requests_per_hour = max_requests_per_hour
        self.max_connects_per_second = max_connects_per_second
        self.rest_rates = {**_REST_RATES, **(rest_rates or {})}
        self._connects: deque[float] = deque()
        self._rest_calls: dict[str, deque[float]] = {k: deque() for k in self.rest_rates}
        self._conn_numbers = 0

    # ---- WebSocket ----------------------------------------------------------------------------
    def open(self, conn: "Connection", path: str, query: dict[str, str]) -> list[str]:
        if path not in self.ws_paths:
            raise Reject(404, f"no OKX WebSocket endpoint at {path}")
        # "Connection limit: 3 requests per second (based on IP)" (OKX_WS)
        now = time.monotonic()
        while self._connects and self._connects[0] <= now - 1.0:
            self._connects.popleft()
        if len(self._connects) >= self.max_connects_per_second:
            raise Reject(429, "Too Many Requests")
        self._connects.append(now)
        self._conn_numbers += 1
        conn.state.update(conn_id=f"{self._conn_numbers:08x}", requests=deque())
        return []

    def _event(self, conn: "Connection", body: dict[str, Any], control: str) -> None:
        body["connId"] = conn.state["conn_id"]
        conn.send_text(orjson.dumps(body), control=control)

    def _error(self, conn: "Connection", code: str, msg: str) -> None:
        # {"event":"error","code":"60012","msg":"Invalid request: ...","connId":"a4d3ae55"} (OKX_SUBSCRIBE, OKX_WS_ERRORS)
        self._event(conn, {"event": "error", "code": code, "msg": msg}, "error")

    def on_message(self, conn: "Connection", payload: bytes) -> None:
        # "If the timer is triggered ... send the String 'ping'. Expect a 'pong' as a response." (OKX_WS)
        if payload == b"ping":
            conn.send_text(b"pong", control="pong")
            return
        try:
            message = orjson.loads(payload)
        except orjson.JSONDecodeError:
            self._error(conn, "60012", f"Invalid request: {payload[:80].decode('utf-8', 'replace')}")
            return
        op = message.get("op") if isinstance(message, dict) else None
        args = message.get("args") if isinstance(message, dict) else None
        if op not in ("subscribe", "unsubscribe") or not isinstance(args, list) or not args:
            self._error(conn, "60012", f"Invalid request: {payload[:80].decode('utf-8', 'replace')}")
            return
        # "The total number of 'subscribe'/'unsubscribe'/'login' requests per connection is
        # limited to 480 times per hour." (OKX_WS); 60014 "Requests too frequent" (OKX_WS_ERRORS)
        now = time.monotonic()
        requests: deque[float] = conn.state["requests"]
        while requests and requests[0] <= now - 3600.0:
            requests.popleft()
        if len(requests) >= self.max_requests_per_hour:
            self._error(conn, "60014", "Requests too frequent.")
            return
        requests.append(now)
        for arg in args:
            key = routing_key(arg) if isinstance(arg, dict) else None
            channel = arg.get("channel") if isinstance(arg, dict) else None
            if key is None or not isinstance(channel, str):
                self._error(conn, "60012", f"Invalid request: {orjson.dumps(arg)[:80].decode()}")
                continue
            if channel_kind(channel) == "other" and channel not in CHANNEL_KINDS:
                # 60018 "Wrong URL or channel ... doesn't exist" (OKX_WS_ERRORS)
                self._error(
                    conn,
                    "60018",
                    f"Wrong URL or channel:{channel},instId:{arg.get('instId', '')} doesn't exist. "
                    "Please use the correct URL, channel and parameters referring to API document.",
                )
                continue
            if channel in _BY_INST_TYPE and "instType" not in arg:
                self._error(conn, "60012", f"Invalid request: {channel} takes instType")
                continue
            self._event(conn, {"event": op, "arg": arg}, "reply")
            if op == "subscribe":
                if not conn.subscribe([key]):
                    # a repeated subscription is answered afresh, book snapshot included (the
                    # recorded sessions hold two snapshots per book after cumulative subscribes)
                    self.server.notify_subscribed(conn, [key])
            else:
                conn.unsubscribe([key])

    def tick_interval(self) -> float:
        return max(0.01, self.idle_timeout / 10)

    def on_tick(self, conn: "Connection", now: float) -> None:
        # "The connection will break automatically if the subscription is not established or
        # data has not been pushed for more than 30 seconds." (OKX_WS)
        if now - conn.last_sent >= self.idle_timeout:
            conn.close("idle", 4004, b"No data received in 30s.")

    # ---- recorded frames --------------------------------------------------------------------
    def route(self, frame: bytes, message: Any) -> str | None:
        if not isinstance(message, dict) or "event" in message or "data" not in message:
            return None
        arg = message.get("arg")
        return routing_key(arg) if isinstance(arg, dict) else None

    def kind_of(self, key: str) -> str:
        return channel_kind(key.partition(":")[0])

    def symbol_of(self, key: str) -> str:
        return key.partition(":")[2]

    # ---- REST ----------------------------------------------------------------------------------
    def rest_routes(self) -> list[tuple[str, str, RestHandler]]:
        return [
            ("GET", "/api/v5/public/instruments", self._instruments),
            ("GET", "/api/v5/market/books", self._books),
            ("GET", "/api/v5/public/open-interest", self._open_interest),
        ]

    def _limited(self, endpoint: str) -> web.Response | None:
        limit, per = self.rest_rates[endpoint]
        calls = self._rest_calls[endpoint]
        now = time.monotonic()
        while calls and calls[0] <= now - per:
            calls.popleft()
        if len(calls) >= limit:
            self.server.events["rest_throttled"] += 1
            return web.Response(status=429, body=self.throttle_body(429), content_type="application/json")
        calls.append(now)
        return None

    @staticmethod
    def _reply(data: Any, code: str = "0", msg: str = "", status: int = 200) -> web.Response:
        return web.Response(status=status, body=orjson.dumps({"code": code, "msg": msg, "data": data}), content_type="application/json")

    async def _instruments(self, request: web.Request) -> web.Response:
        refused = self._limited("instruments")
        if refused is not None:
            return refused
        if not request.query.get("instType"):
            # 51000 "Parameter {param0} error" (OKX_REST_ERRORS); instType is required (OKX_INSTRUMENTS)
            return self._reply([], "51000", "Parameter instType error", 400)
        body = self.server.refdata(request.path, dict(request.query))
        return web.Response(body=body, content_type="application/json") if body is not None else self._reply([])

    async def _books(self, request: web.Request) -> web.Response:
        refused = self._limited("books")
        if refused is not None:
            return refused
        inst_id = request.query.get("instId", "")
        try:
            size = int(request.query.get("sz", "1"))
        except ValueError:
            return self._reply([], "51000", "Parameter sz error", 400)
        body = self.server.depth_snapshot(inst_id, size) if inst_id else None
        if body is None:
            # 51001 "Instrument ID does not exist" (OKX_REST_ERRORS)
            return self._reply([], "51001", "Instrument ID does not exist", 400)
        return web.Response(body=body if isinstance(body, bytes) else orjson.dumps(body), content_type="application/json")

    async def _open_interest(self, request: web.Request) -> web.Response:
        refused = self._limited("open-interest")
        if refused is not None:
            return refused
        inst_id = request.query.get("instId", "")
        body = self.server.open_interest(inst_id) if inst_id else None
        return web.Response(body=body, content_type="application/json") if body is not None else self._reply([])

    def throttle_body(self, status: int) -> bytes:
        # 50011 "Rate limit reached. Please refer to API documentation and throttle requests accordingly." (OKX_REST_ERRORS)
        return b'{"msg":"Too Many Requests","code":"50011"}'

    def error_body(self, status: int) -> bytes:
        return b'{"msg":"System error, please try again later.","code":"50001","data":[]}'


PROTOCOL = OkxProtocol
