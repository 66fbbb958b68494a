"""Server side of Deribit's JSON-RPC API v2 (public part), for the simulator.

WS ``/ws/api/v2``:
  * ``public/subscribe`` / ``public/unsubscribe`` with ``{"channels": [...]}`` -> the result is
    the list of channels (un)subscribed; notifications are
    ``{"jsonrpc":"2.0","method":"subscription","params":{"channel":..,"data":..}}``.
  * ``public/set_heartbeat`` ``{"interval": s}`` (at least ``min_heartbeat`` s, 10 by the docs)
    -> the server sends ``{"jsonrpc":"2.0","method":"heartbeat","params":{"type":"test_request"}}``
    every interval; a client that has not called ``public/test`` by the next one is disconnected.
  * ``public/test``, ``public/disable_heartbeat``, ``public/hello``, ``public/get_order_book``,
    ``public/get_instruments`` answered over the socket as over HTTP.
  * Request rate: a credit bucket (``rate`` per second, ``burst``); over it -> error 10028.
REST (JSON-RPC over HTTP GET): ``/api/v2/public/get_instruments``, ``/api/v2/public/get_order_book``,
``/api/v2/public/test``; over the rate -> HTTP 429 with error 10028.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import web

from ...sim.protocol import Reject, RestHandler, VenueProtocol
from .protocol import CHANNEL_KINDS, channel_kind

if TYPE_CHECKING:  # pragma: no cover
    from ...sim.protocol import Connection, Server

DERIBIT_SUBSCRIBE = "https://docs.deribit.com/#public-subscribe"
DERIBIT_HEARTBEAT = "https://docs.deribit.com/#public-set_heartbeat"
DERIBIT_TEST = "https://docs.deribit.com/#public-test"
DERIBIT_ORDER_BOOK = "https://docs.deribit.com/#public-get_order_book"
DERIBIT_INSTRUMENTS = "https://docs.deribit.com/#public-get_instruments"
DERIBIT_RATE_LIMITS = "https://docs.deribit.com/#rate-limits"
DERIBIT_ERRORS = "https://docs.deribit.com/#rpc-error-codes"

API_VERSION = "1.2.26"

class DeribitProtocol(VenueProtocol):
    family = "deribit"
    ws_paths = ("/ws/api/v2",)

    def __init__(
        self,
        venue: str,
        server: "Server",
        *,
        min_heartbeat: float = 10.0,  # "interval ... The heartbeat interval in seconds, but not less than 10" (DERIBIT_HEARTBEAT)
        rate: float = 20.0,
        burst: float = 100.0,
    ) -> None:
        super().__init__(venue, server)
        self.min_heartbeat = min_heartbeat
        # Non-matching-engine requests: credits refill at 20 per second up to 100 (DERIBIT_RATE_LIMITS).
        self.rate, self.burst = rate, burst
        self._rest_credits, self._rest_refill = burst, time.monotonic()

    # ---- JSON-RPC helpers ------------------------------------------------------------------------
    @staticmethod
    def _envelope(rid: Any, result: Any = None, error: dict | None = None) -> bytes:
        now_us = int(time.time() * 1_000_000)
        body: dict[str, Any] = {"jsonrpc": "2.0"}
        if rid is not None:
            body["id"] = rid
        if error is not None:
            body["error"] = error
        else:
            body["result"] = result
        body.update(usIn=now_us, usOut=now_us, usDiff=0, testnet=False)
        return orjson.dumps(body)

    def _take_credit(self, state: dict) -> bool:
        now = time.monotonic()
        credits = min(self.burst, state["credits"] + (now - state["refill"]) * self.rate)
        state["refill"] = now
        if credits < 1.0:
            state["credits"] = credits
            return False
        state["credits"] = credits - 1.0
        return True

    # ---- WebSocket --------------------------------------------------------------------------------
    def open(self, conn: "Connection", path: str, query: dict[str, str]) -> list[str]:
        if path not in self.ws_paths:
            raise Reject(404, f"no Deribit WebSocket endpoint at {path}")
        conn.state.update(heartbeat=None, test_due=None, credits=self.burst, refill=time.monotonic())
        return []

    def on_message(self, conn: "Connection", payload: bytes) -> None:
        try:
            message = orjson.loads(payload)
        except orjson.JSONDecodeError:
            # -32700 "Parse error" (DERIBIT_ERRORS, JSON-RPC 2.0)
            conn.send_text(self._envelope(None, error={"code": -32700, "message": "Parse error"}), control="error")
            return
        if not isinstance(message, dict):
            conn.send_text(self._envelope(None, error={"code": -32600, "message": "Invalid Request"}), control="error")
            return
        rid, method, params = message.get("id"), message.get("method"), message.get("params") or {}
        if not self._take_credit(conn.state):
            # 10028 "too_many_requests" (DERIBIT_ERRORS, DERIBIT_RATE_LIMITS)
            conn.send_text(self._envelope(rid, error={"code": 10028, "message": "too_many_requests"}), control="error")
            return
        if not isinstance(params, dict):
            conn.send_text(self._envelope(rid, error={"code": -32602, "message": "Invalid params"}), control="error")
            return
        result, error = self.call(method, params, conn)
        conn.send_text(self._envelope(rid, result, error), control="error" if error else "reply")

    def call(self, method: Any, params: dict, conn: "Connection | None") -> tuple[Any, dict | None]:
        """One JSON-RPC method: (result, error)."""
        if method in ("public/subscribe", "public/unsubscribe") and conn is not None:
            channels = params.get("channels")
            if not isinstance(channels, list) or not all(isinstance(c, str) for c in channels):
                return None, {"code": -32602, "message": "Invalid params", "data": {"param": "channels", "reason": "must be array"}}
            # The result lists the channels subscribed; unknown channels are left out (DERIBIT_SUBSCRIBE).
            known = [c for c in channels if channel_kind(c) != "other" or c.partition(".")[0] in CHANNEL_KINDS]
            if method == "public/subscribe":
                conn.subscribe(known)
            else:
                conn.unsubscribe(known)
            return known, None
        if method == "public/set_heartbeat" and conn is not None:
            interval = params.get("interval")
            if not isinstance(interval, (int, float)) or isinstance(interval, bool) or interval < self.min_heartbeat:
                return None, {
                    "code": -32602,
                    "message": "Invalid params",
                    "data": {"param": "interval", "reason": f"must be at least {self.min_heartbeat:g}"},
                }
            conn.state["heartbeat"] = float(interval)
            conn.state["next_heartbeat"] = time.monotonic() + float(interval)
            conn.state["test_due"] = None
            return "ok", None
        if method == "public/disable_heartbeat" and conn is not None:
            conn.state["heartbeat"] = conn.state["test_due"] = None
            return "ok", None
        if method == "public/test":
            if conn is not None:
                conn.state["test_due"] = None  # the answer to a test_request (DERIBIT_HEARTBEAT)
                conn.state["tests"] = conn.state.get("tests", 0) + 1
            return {"version": API_VERSION}, None
        if method == "public/hello":
            return {"version": API_VERSION}, None
        if method == "public/get_order_book":
            name = params.get("instrument_name")
            depth = params.get("depth", 20)
            body = self.server.depth_snapshot(name, int(depth)) if isinstance(name, str) else None
            if body is None:
                return None, {"code": 10020, "message": "instrument_not_found"}
            return (orjson.loads(body) if isinstance(body, bytes) else body), None
        if method == "public/get_instruments":
            body = self.server.refdata("/api/v2/public/get_instruments", {k: str(v) for k, v in params.items()})
            if body is None:
                return [], None
            decoded = orjson.loads(body)
            return (decoded.get("result", decoded) if isinstance(decoded, dict) else decoded), None
        # -32601 "Method not found" (DERIBIT_ERRORS)
        return None, {"code": -32601, "message": "Method not found"}

    def tick_interval(self) -> float:
        return max(0.01, self.min_heartbeat / 10)

    def on_tick(self, conn: "Connection", now: float) -> None:
        # "When heartbeats have been set up, the API server will send heartbeat messages and
        # test_request messages. Your software should respond to test_request messages by sending
        # a /api/v2/public/test request. If your software fails to do so, the API server will
        # immediately close the connection." (DERIBIT_HEARTBEAT)
        interval = conn.state.get("heartbeat")
        if interval is None or now < conn.state["next_heartbeat"]:
            return
        if conn.state["test_due"] is not None:
            conn.close("no test response", 1000, b"heartbeat test_request not answered")
            return
        conn.state["next_heartbeat"] = now + interval
        if conn.send_text(b'{"jsonrpc":"2.0","method":"heartbeat","params":{"type":"test_request"}}', control="test_request"):
            conn.state["test_due"] = now

    # ---- recorded frames ----------------------------------------------------------------------------
    def route(self, frame: bytes, message: Any) -> str | None:
        if not isinstance(message, dict) or message.get("method") != "subscription":
            return None
        params = message.get("params")
        channel = params.get("channel") if isinstance(params, dict) else None
        return channel if isinstance(channel, str) else None

    def kind_of(self, key: str) -> str:
        return channel_kind(key)

    def symbol_of(self, key: str) -> str:
        parts = key.split(".")
        return parts[2] if parts[0] == "chart" and len(parts) > 2 else parts[1] if len(parts) > 1 else ""

    # ---- REST -----------------------------------------------------------------------------------------
    def rest_routes(self) -> list[tuple[str, str, RestHandler]]:
        return [
            ("GET", "/api/v2/public/get_instruments", self._rest("public/get_instruments")),
            ("GET", "/api/v2/public/get_order_book", self._rest("public/get_order_book")),
            ("GET", "/api/v2/public/test", self._rest("public/test")),
        ]

    def _rest(self, method: str) -> RestHandler:
        async def handler(request: web.Request) -> web.Response:
            state = {"credits": self._rest_credits, "refill": self._rest_refill}
            allowed = self._take_credit(state)
            self._rest_credits, self._rest_refill = state["credits"], state["refill"]
            if not allowed:
                self.server.events["rest_throttled"] += 1
                return web.Response(status=429, body=self.throttle_body(429), content_type="application/json")
            params: dict[str, Any] = dict(request.query)
            if "depth" in params:
                try:
                    params["depth"] = int(params["depth"])
                except ValueError:
                    return web.Response(status=400, body=self._envelope(None, error={"code": -32602, "message": "Invalid params"}), content_type="application/json")
            if method == "public/get_instruments":
                body = self.server.refdata(request.path, dict(request.query))
                if body is not None:
                    return web.Response(body=body, content_type="application/json")
            result, error = self.call(method, params, None)
            status = 400 if error else 200
            return web.Response(status=status, body=self._envelope(None, result, error), content_type="application/json")

        return handler

    def throttle_body(self, status: int) -> bytes:
        return self._envelope(None, error={"code": 10028, "message": "too_many_requests"})

    def error_body(self, status: int) -> bytes:
        return self._envelope(None, error={"code": 11094, "message": "internal_server_error"})


PROTOCOL = DeribitProtocol
