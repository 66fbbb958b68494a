"""Server side of Binance's public market-data protocol (spot, USD-M and COIN-M), for the simulator.

WS (one rule per documented statement; the venue's pages are cited beside each):
  * ``/ws/<stream>`` raw stream, ``/stream?streams=a/b/c`` combined stream wrapped as
    ``{"stream":..,"data":..}``, bare ``/ws`` for live subscriptions.
  * ``SUBSCRIBE`` / ``UNSUBSCRIBE`` / ``LIST_SUBSCRIPTIONS`` with ``{"result":null,"id":N}``.
  * Server pings every ``ping_interval``; no pong within ``pong_timeout`` -> disconnect.
  * At most ``max_streams`` streams per connection, ``max_messages_per_second`` incoming
    messages (text, ping, pong) per second or the connection is dropped.
  * A connection lives ``max_lifetime`` seconds (24 h).
REST: ``/api/v3/depth``, ``/fapi/v1/depth``, ``/dapi/v1/depth``, ``exchangeInfo``,
``/fapi/v1/openInterest``, ``/dapi/v1/openInterest``; each answer carries
``X-MBX-USED-WEIGHT-1M``; over the minute's weight limit -> 429 with ``Retry-After``; a
client that keeps calling during a 429 back-off -> 418 (banned) with ``Retry-After``.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import web

from ...sim.protocol import Reject, RestHandler, VenueProtocol
from .protocol import stream_kind

if TYPE_CHECKING:  # pragma: no cover
    from ...sim.protocol import Connection, Server

SPOT_WS = "https://developers.binance.com/docs/binance-spot-api-docs/web-socket-streams"
USDM_WS = "https://developers.binance.com/docs/derivatives/usds-margined-futures/websocket-market-streams"
COINM_WS = "https://developers.binance.com/docs/derivatives/coin-margined-futures/websocket-market-streams"
SPOT_LIMITS = "https://developers.binance.com/docs/binance-spot-api-docs/rest-api/limits"
SPOT_DEPTH = "https://developers.binance.com/docs/binance-spot-api-docs/rest-api/market-data-endpoints#order-book"
USDM_DEPTH = "https://developers.binance.com/docs/derivatives/usds-margined-futures/market-data/rest-api/Order-Book"
USDM_OI = "https://developers.binance.com/docs/derivatives/usds-margined-futures/market-data/rest-api/Open-Interest"

# Per venue id: REST prefix, (ping interval s, pong timeout s), incoming messages/s, weight limit/min.
# Spot: "The WebSocket server will send a ping frame every 20 seconds. If the WebSocket server does
# not receive a pong frame back from the connection within a minute the connection will be
# disconnected." (SPOT_WS). Futures: "ping frame every 3 minutes ... within a 10 minute period"
# (USDM_WS, COINM_WS). Spot: "5 incoming messages per second"; futures: 10 (same pages).
# Weight limits: spot REQUEST_WEIGHT 6000/min (SPOT_LIMITS), futures 2400/min (USDM_DEPTH's rateLimits).
_PROFILES = {
    "binance_spot": ("/api/v3", 20.0, 60.0, 5, 6000),
    "binance_usdm": ("/fapi/v1", 180.0, 600.0, 10, 2400),
    "binance_coinm": ("/dapi/v1", 180.0, 600.0, 10, 2400),
}

# Depth weight by limit: spot 1-100: 5, 101-500: 25, 501-1000: 50, 1001-5000: 250 (SPOT_DEPTH);
# futures 5/10/20/50: 2, 100: 5, 500: 10, 1000: 20 (USDM_DEPTH).
_SPOT_DEPTH_WEIGHT = ((100, 5), (500, 25), (1000, 50), (5000, 250))
_FUTURES_DEPTH_WEIGHT = ((50, 2), (100, 5), (500, 10), (1000, 20))

class BinanceProtocol(VenueProtocol):
    family = "binance"
    ws_paths = ("/ws", "/ws/<stream>", "/stream?streams=<a>/<b>")

    def __init__(
        self,
        venue: str,
        server: "Server",
        *,
        ping_interval: float | None = None,
        pong_timeout: float | None = None,
        max_streams: int = 1024,  # "A single connection can listen to a maximum of 1024 streams." (SPOT_WS, USDM_WS)
        max_messages_per_second: int | None = None,
        max_lifetime: float = 24 * 3600.0,  # "A single connection ... is only valid for 24 hours" (SPOT_WS)
        weight_limit: int | None = None,
        ban_seconds: int = 120,
    ) -> None:
        super().__init__(venue, server)
        prefix, ping, pong, rate, weight = _PROFILES[venue]
        self.rest_prefix = prefix
        self.futures = venue != "binance_spot"
        self.ping_interval = ping if ping_interval is None else ping_interval
        self.pong_timeout = pong if pong_timeout is None else pong_timeout
        self.max_streams = max_streams
        self.max_messages_per_second = rate if max_messages_per_second is None else max_messages_per_second
        self.max_lifetime = max_lifetime
        self.weight_limit = weight if weight_limit is None else weight_limit
        self.ban_seconds = ban_seconds
        self.used_weight = 0
        self._weight_minute = 0
        self._backoff_until = 0.0  # after a 429: calls before this time lead to a 418
        self._banned_until = 0.0

    # ---- WebSocket ---------------------------------------------------------------------------
    def open(self, conn: "Connection", path: str, query: dict[str, str]) -> list[str]:
        # "Raw streams are accessed at /ws/<streamName>; Combined streams are accessed at
        # /stream?streams=<streamName1>/<streamName2>/<streamName3>" (SPOT_WS, USDM_WS, COINM_WS)
        conn.state.update(msg_times=[], last_ping=time.monotonic(), last_pong=time.monotonic(), awaiting_pong=False)
        if path == "/stream":
            conn.state["combined"] = True
            streams = [s for s in query.get("streams", "").split("/") if s]
        elif path == "/ws" or path == "/ws/":
            conn.state["combined"] = False
            streams = []
        elif path.startswith("/ws/"):
            conn.state["combined"] = False
            streams = [s for s in path[len("/ws/") :].split("/") if s]
        else:
            raise Reject(404, f"no Binance stream endpoint at {path}")
        if len(streams) > self.max_streams:
            raise Reject(400, f"at most {self.max_streams} streams per connection, got {len(streams)}")
        return streams

    def _over_rate(self, conn: "Connection", now: float) -> bool:
        # "WebSocket connections have a limit of 5 incoming messages per second. A message is
        # considered: a PING frame, a PONG frame, a JSON controlled message (e.g. subscribe,
        # unsubscribe). A connection that goes beyond the limit will be disconnected" (SPOT_WS)
        times: list[float] = conn.state["msg_times"]
        times.append(now)
        while times and times[0] <= now - 1.0:
            times.pop(0)
        if len(times) > self.max_messages_per_second:
            conn.close("message rate limit", 1008, b"Too many requests")
            return True
        return False

    def on_message(self, conn: "Connection", payload: bytes) -> None:
        if self._over_rate(conn, time.monotonic()):
            return
        try:
            message = orjson.loads(payload)
        except orjson.JSONDecodeError:
            # error code 3: "Invalid JSON" (SPOT_WS, "Error Messages")
            conn.send_text(b'{"error":{"code":3,"msg":"Invalid JSON: expected value at line 1 column 1"}}', control="error")
            return
        if not isinstance(message, dict):
            conn.send_text(b'{"error":{"code":2,"msg":"Invalid request: request ID must be an unsigned integer"}}', control="error")
            return
        rid = message.get("id")
        method = message.get("method")
        params = message.get("params", [])
        if not isinstance(rid, int) or isinstance(rid, bool) or rid < 0:
            self._error(conn, rid, 2, "Invalid request: request ID must be an unsigned integer")
            return
        # "Subscribe to a stream / Unsubscribe / Listing Subscriptions ... Response {"result": null, "id": 1}"
        # (SPOT_WS, "Live Subscribing/Unsubscribing to streams")
        if method in ("SUBSCRIBE", "UNSUBSCRIBE"):
            if not isinstance(params, list) or not all(isinstance(p, str) for p in params):
                self._error(conn, rid, 2, "Invalid request: params must be an array of stream names")
                return
            streams = [p for p in params if p]
            if method == "SUBSCRIBE":
                new = [s for s in streams if s not in conn.streams]
                if len(conn.streams) + len(set(new)) > self.max_streams:
                    self._error(conn, rid, 2, f"Invalid request: at most {self.max_streams} streams per connection")
                    return
                conn.subscribe(streams)
            else:
                conn.unsubscribe(streams)
            conn.send_text(b'{"result":null,"id":%d}' % rid, control="reply")
        elif method == "LIST_SUBSCRIPTIONS":
            body = orjson.dumps({"result": sorted(conn.streams), "id": rid})
            conn.send_text(body, control="reply")
        elif method in ("SET_PROPERTY", "GET_PROPERTY"):
            body = orjson.dumps({"result": None if method == "SET_PROPERTY" else False, "id": rid})
            conn.send_text(body, control="reply")
        else:
            # error code 0 "Unknown property", 2 "Invalid request" (SPOT_WS, "Error Messages")
            self._error(conn, rid, 2, f"Invalid request: unknown method {method!r:.40}")

    @staticmethod
    def _error(conn: "Connection", rid: Any, code: int, msg: str) -> None:
        body: dict[str, Any] = {"error": {"code": code, "msg": msg}}
        if isinstance(rid, int):
            body["id"] = rid
        conn.send_text(orjson.dumps(body), control="error")

    def tick_interval(self) -> float:
        return max(0.01, min(self.ping_interval, self.pong_timeout) / 4)

    def on_tick(self, conn: "Connection", now: float) -> None:
        state = conn.state
        if now - conn.opened_at >= self.max_lifetime:
            conn.close("lifetime", 1000, b"connection lifetime reached")
            return
        # Disconnect when no pong arrived within pong_timeout of the oldest unanswered ping.
        if state["awaiting_pong"]:
            if state["last_pong"] >= state["ping_sent"]:
                state["awaiting_pong"] = False
            elif now - state["ping_sent"] >= self.pong_timeout:
                conn.close("no pong", 1008, b"pong timeout")
                return
        if now - state["last_ping"] >= self.ping_interval:
            state["last_ping"] = now
            if conn.send_ping() and not state["awaiting_pong"]:
                state["awaiting_pong"], state["ping_sent"] = True, now

    def on_client_control(self, conn: "Connection", now: float) -> None:
        """A ping or pong frame from the client also counts towards the message rate."""
        self._over_rate(conn, now)

    def deliver(self, conn: "Connection", key: str, frame: bytes) -> bytes:
        # Frames are published in the combined form; a raw-stream connection gets ``data`` only.
        if conn.state.get("combined", True):
            return frame
        start = frame.find(b'"data":')
        return frame[start + 7 : -1] if frame.startswith(b'{"stream":') and start > 0 else frame

    # ---- recorded frames ----------------------------------------------------------------------
    def route(self, frame: bytes, message: Any) -> str | None:
        if not isinstance(message, dict):
            return None
        stream = message.get("stream")
        if isinstance(stream, str) and "data" in message:
            return stream
        event, symbol = message.get("e"), message.get("s")
        if isinstance(symbol, str) and isinstance(event, str):  # a raw-stream frame: name the stream
            name = {"depthUpdate": "depth", "24hrTicker": "ticker", "markPriceUpdate": "markPrice"}.get(event, event)
            if event == "kline":
                name = "kline_" + str(message.get("k", {}).get("i", "1m"))
            return f"{symbol.lower()}@{name}"
        if "u" in message and isinstance(symbol, str) and {"b", "a"} <= message.keys():  # spot bookTicker
            return f"{symbol.lower()}@bookTicker"
        return None

    def kind_of(self, key: str) -> str:
        return stream_kind(key)

    def symbol_of(self, key: str) -> str:
        return key.partition("@")[0].upper()

    # ---- REST --------------------------------------------------------------------------------
    def rest_routes(self) -> list[tuple[str, str, RestHandler]]:
        p = self.rest_prefix
        routes: list[tuple[str, str, RestHandler]] = [
            ("GET", f"{p}/depth", self._depth),
            ("GET", f"{p}/exchangeInfo", self._exchange_info),
            ("GET", f"{p}/ping", self._ping),
        ]
        if self.futures:
            routes.append(("GET", f"{p}/openInterest", self._open_interest))
        return routes

    def _depth_weight(self, limit: int) -> int:
        table = _FUTURES_DEPTH_WEIGHT if self.futures else _SPOT_DEPTH_WEIGHT
        for upto, weight in table:
            if limit <= upto:
                return weight
        return table[-1][1]

    def _charge(self, weight: int) -> web.Response | None:
        """Account ``weight``; a 429/418 response when over the limit (SPOT_LIMITS:
        "When a 429 is received, it's your obligation as an API to back off ... Repeatedly
        violating rate limits and/or failing to back off after receiving 429s will result in
        an automated IP ban (HTTP status 418)" and "A Retry-After header is sent with a 418 or
        429 responses")."""
        now = time.time()
        if now < self._banned_until:
            return self._throttled(418, int(self._banned_until - now) + 1)
        minute = int(now // 60)
        if minute != self._weight_minute:
            self._weight_minute, self.used_weight = minute, 0
        if now < self._backoff_until:
            self._banned_until = now + self.ban_seconds
            self.server.events["rest_banned"] += 1
            return self._throttled(418, self.ban_seconds)
        if self.used_weight + weight > self.weight_limit:
            retry = 60 - int(now % 60)
            self._backoff_until = now + retry
            self.server.events["rest_throttled"] += 1
            return self._throttled(429, retry)
        self.used_weight += weight
        return None

    def _throttled(self, status: int, retry_after: int) -> web.Response:
        return web.Response(
            status=status,
            body=self.throttle_body(status),
            content_type="application/json",
            headers={"Retry-After": str(retry_after), "X-MBX-USED-WEIGHT-1M": str(self.used_weight)},
        )

    def _ok(self, body: bytes) -> web.Response:
        # "Every request will contain X-MBX-USED-WEIGHT-(intervalNum)(intervalLetter) in the
        # response headers which has the current used weight for the IP" (SPOT_LIMITS)
        return web.Response(body=body, content_type="application/json", headers={"X-MBX-USED-WEIGHT-1M": str(self.used_weight)})

    def _bad(self, code: int, msg: str, status: int = 400) -> web.Response:
        return web.Response(
            status=status,
            body=orjson.dumps({"code": code, "msg": msg}),
            content_type="application/json",
            headers={"X-MBX-USED-WEIGHT-1M": str(self.used_weight)},
        )

    async def _depth(self, request: web.Request) -> web.Response:
        symbol = request.query.get("symbol", "")
        try:
            limit = int(request.query.get("limit", "100" if not self.futures else "500"))
        except ValueError:
            return self._bad(-1100, "Illegal characters found in parameter 'limit'; legal range is '^[0-9]{1,20}$'.")
        refused = self._charge(self._depth_weight(limit))
        if refused is not None:
            return refused
        if not symbol:
            return self._bad(-1102, "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed.")
        body = self.server.depth_snapshot(symbol.upper(), limit)
        if body is None:
            return self._bad(-1121, "Invalid symbol.")
        return self._ok(body if isinstance(body, bytes) else orjson.dumps(body))

    async def _exchange_info(self, request: web.Request) -> web.Response:
        refused = self._charge(20 if not self.futures else 1)
        if refused is not None:
            return refused
        body = self.server.refdata(request.path, dict(request.query))
        if body is None:
            body = orjson.dumps({"timezone": "UTC", "serverTime": int(time.time() * 1000), "rateLimits": [], "symbols": []})
        return self._ok(body)

    async def _open_interest(self, request: web.Request) -> web.Response:
        # "GET /fapi/v1/openInterest ... Weight: 1" (USDM_OI)
        refused = self._charge(1)
        if refused is not None:
            return refused
        symbol = request.query.get("symbol", "").upper()
        body = self.server.open_interest(symbol) if symbol else None
        if body is None:
            return self._bad(-1121, "Invalid symbol.")
        return self._ok(body)

    async def _ping(self, request: web.Request) -> web.Response:
        refused = self._charge(1)
        return refused if refused is not None else self._ok(b"{}")

    def throttle_body(self, status: int) -> bytes:
        if status == 418:
            return b'{"code":-1003,"msg":"Way too many requests; IP banned until further notice."}'
        return b'{"code":-1003,"msg":"Too many requests; current limit is exceeded. Please use the websocket for live updates to avoid polling the API."}'

    def error_body(self, status: int) -> bytes:
        return b'{"code":-1001,"msg":"Internal error; unable to process your request. Please try again."}'


PROTOCOL = BinanceProtocol
