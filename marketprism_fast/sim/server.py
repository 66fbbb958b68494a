"""The simulator's loopback servers: one WS server (picows) and one REST server (aiohttp) per venue
(``Simulator`` in ``simulator.py`` runs several).

Each venue id (``binance_spot``, ``binance_usdm``, ``binance_coinm``, ``okx``, ``deribit``)
gets its own pair of ports, as the real venues have their own hosts; the venue family's
module (``venues/<family>/simulator.py``) speaks the protocol, this module moves bytes.

Data frames are *published* under a routing key (the stream a client subscribes to) and go
to every connection subscribed to it. ``publish_many`` encodes the WS frames of a whole batch
itself (server frames are unmasked: a 2-10 byte header and the payload) and hands each
connection one buffer, one write: the simulator must outrun the client it tests.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import struct
import time
from collections import Counter, defaultdict
from importlib import import_module
from typing import Any, Iterable, Sequence
from urllib.parse import parse_qsl, urlsplit

import picows
from aiohttp import web

from ..errors import ConfigurationError
from ..venues import FAMILIES
from .faults import Faults
from .protocol import Reject, VenueProtocol
from .source import DataSource

log = logging.getLogger("marketprism_fast.sim")

HOST = "127.0.0.1"
_TEXT = picows.WSMsgType.TEXT
_conn_ids = itertools.count(1)


_SHORT_HEADERS = [bytes((0x81, n)) for n in range(126)]


def text_frame_header(n: int) -> bytes:
    """Header of an unmasked, final TEXT frame of ``n`` payload bytes (RFC 6455 5.2)."""
    if n < 126:
        return _SHORT_HEADERS[n]
    if n < 65536:
        return struct.pack("!BBH", 0x81, 126, n)
    return struct.pack("!BBQ", 0x81, 127, n)


def encode_text_frames(payloads: Iterable[bytes]) -> bytes:
    """Unmasked server-to-client TEXT frames, concatenated."""
    parts: list[bytes] = []
    append = parts.append
    for p in payloads:
        append(text_frame_header(len(p)))
        append(p)
    return b"".join(parts)


class SimConnection(picows.WSListener):
    """One client connection: its subscriptions, keep-alive timestamps and write state."""

    def __init__(self, server: "VenueServer", path: str, query: dict[str, str], remote: str) -> None:
        super().__init__()
        self.server = server
        self.id = f"{server.venue}-{next(_conn_ids)}"
        self.path = path
        self.query = query
        self.remote = remote
        self.transport: picows.WSTransport | None = None
        self.streams: set[str] = set()
        self.state: dict[str, Any] = {}  # the venue protocol's per-connection state
        now = time.monotonic()
        self.opened_at = now
        self.last_received = now  # any frame from the client
        self.last_sent = now  # any frame to the client
        self.stalled = False  # fault: silent, sends nothing at all
        self.closed = False
        self.close_reason = ""
        self.received = Counter()  # client frames by type ("text", "ping", "pong")
        self._writable = asyncio.Event()
        self._writable.set()

    # ---- picows callbacks --------------------------------------------------------------
    def on_ws_connected(self, transport: picows.WSTransport) -> None:
        self.transport = transport
        self.server._connected(self)

    def on_ws_frame(self, transport: picows.WSTransport, frame: picows.WSFrame) -> None:
        self.last_received = time.monotonic()
        t = frame.msg_type
        if t == picows.WSMsgType.TEXT or t == picows.WSMsgType.BINARY:
            self.received["text"] += 1
            self.server.protocol.on_message(self, frame.get_payload_as_bytes())
        elif t == picows.WSMsgType.PONG:
            self.received["pong"] += 1
            self.state["last_pong"] = self.last_received
            self.server.protocol.on_client_control(self, self.last_received)
        elif t == picows.WSMsgType.PING:
            self.received["ping"] += 1
            if not self.stalled:  # a stalled connection answers nothing, pings included
                transport.send_pong(frame.get_payload_as_bytes())
            self.server.protocol.on_client_control(self, self.last_received)
        elif t == picows.WSMsgType.CLOSE:
            self.received["close"] += 1
            if not self.closed:
                self.closed, self.close_reason = True, "client closed"
            transport.send_close(frame.get_close_code())
            transport.disconnect()

    def on_ws_disconnected(self, transport: picows.WSTransport) -> None:
        if not self.closed:
            self.closed, self.close_reason = True, self.close_reason or "connection lost"
        self._writable.set()
        self.server._disconnected(self)

    def pause_writing(self) -> None:
        self._writable.clear()

    def resume_writing(self) -> None:
        self._writable.set()

    # ---- sending -------------------------------------------------------------------------
    def send_text(self, payload: bytes, *, control: str = "reply") -> bool:
        """A control message (reply, event, heartbeat) from the venue; counted as ``control``."""
        if self.closed or self.stalled or self.transport is None:
            return False
        self.transport.send(_TEXT, payload)
        self.last_sent = time.monotonic()
        self.server.control[control] += 1
        return True

    def send_ping(self) -> bool:
        if self.closed or self.stalled or self.transport is None:
            return False
        self.transport.send_ping()
        self.server.control["ping"] += 1
        return True

    def write_data(self, payload: bytes) -> None:
        """A data frame, as it goes on the wire (the server counts it)."""
        self.transport.send(_TEXT, payload)  # type: ignore[union-attr]
        self.last_sent = time.monotonic()

    def _write_encoded(self, buffer: bytes) -> None:
        self.transport.underlying_transport.write(buffer)  # type: ignore[union-attr]
        self.last_sent = time.monotonic()

    async def writable(self) -> None:
        await self._writable.wait()

    # ---- closing -------------------------------------------------------------------------
    def close(self, reason: str, code: int = 1000, message: bytes = b"") -> None:
        """Close with a CLOSE frame (the venue hanging up by the rules)."""
        if self.closed or self.transport is None:
            return
        self.closed, self.close_reason = True, reason
        self.server.events[reason] += 1
        self.transport.send_close(picows.WSCloseCode(code), message)
        self.transport.disconnect(graceful=True)

    def kill(self, reason: str = "killed") -> None:
        """Drop the TCP connection without a CLOSE frame (a network failure)."""
        if self.closed or self.transport is None:
            return
        self.closed, self.close_reason = True, reason
        self.server.events[reason] += 1
        self.transport.disconnect(graceful=False)

    # ---- subscriptions --------------------------------------------------------------------
    def subscribe(self, keys: Iterable[str]) -> list[str]:
        added = [k for k in keys if k not in self.streams]
        for k in added:
            self.streams.add(k)
            self.server._route_add(k, self)
        if added:
            self.server.notify_subscribed(self, added)
        return added

    def unsubscribe(self, keys: Iterable[str]) -> list[str]:
        removed = [k for k in keys if k in self.streams]
        for k in removed:
            self.streams.discard(k)
            self.server._route_remove(k, self)
        return removed

    def info(self) -> dict:
        return {
            "id": self.id,
            "path": self.path,
            "streams": sorted(self.streams),
            "closed": self.closed,
            "close_reason": self.close_reason,
            "stalled": self.stalled,
            "received": dict(self.received),
        }


def protocol_for(venue: str, server: VenueServer, settings: dict) -> VenueProtocol:
    """The server side of ``venue``'s protocol (``venues/<family>/simulator.py``, its class
    named in ``PROTOCOL``), with its settings (timers, limits) applied."""
    family = FAMILIES.get(venue)
    if family is None:
        raise ConfigurationError(f"the simulator has no protocol for venue {venue!r}", field="venue")
    module = import_module(f"..venues.{family}.simulator", __package__)
    try:
        return module.PROTOCOL(venue, server, **settings)
    except TypeError as exc:
        raise ConfigurationError(f"simulator settings for {venue}: {exc}", field=f"sim.{venue}") from None


class VenueServer:
    """The WS and REST servers of one venue id, its routing table and its counters."""

    def __init__(self, venue: str, *, host: str = HOST, settings: dict | None = None) -> None:
        self.venue = venue
        self.host = host
        self.protocol: VenueProtocol = protocol_for(venue, self, settings or {})
        self.faults = Faults(self)
        self.connections: dict[str, SimConnection] = {}
        self.history: list[SimConnection] = []  # every connection ever accepted, in order
        self.routes: dict[str, list[SimConnection]] = defaultdict(list)
        self.sources: list[DataSource] = []
        # counters
        self.frames: Counter = Counter()  # (key, kind) -> data frames sent to >= 1 connection
        self.deliveries = 0  # data frames written, one per connection
        self.bytes = 0
        self.unrouted = 0  # published with no subscriber
        self.indices: list[int] = []  # replay: capture line index of every frame sent
        self.control: Counter = Counter()  # replies, events, pings, heartbeats sent
        self.events: Counter = Counter()  # closes by reason, refused upgrades, throttles, ...
        self.rest_requests: Counter = Counter()  # path -> n
        # With ``keep_sent``, every data frame written to at least one connection, as written
        # (after any corruption): (key, kind, frame). Tests parse it to know what was sent.
        self.keep_sent = False
        self.sent_log: list[tuple[str, str, bytes]] = []
        self.ws_port = 0
        self.rest_port = 0
        self._ws_server: asyncio.base_events.Server | None = None
        self._runner: web.AppRunner | None = None
        self._tick_task: asyncio.Task | None = None

    # ---- lifecycle --------------------------------------------------------------------------
    async def start(self, ws_port: int = 0, rest_port: int = 0) -> None:
        self._ws_server = await picows.ws_create_server(
            self._upgrade,
            self.host,
            ws_port,
            enable_auto_pong=False,  # pongs are sent by SimConnection (not while stalled)
            websocket_handshake_timeout=5,
            logger_name="marketprism_fast.sim.ws",
        )
        self.ws_port = self._ws_server.sockets[0].getsockname()[1]
        app = web.Application(middlewares=[self.faults.rest_middleware])
        for method, path, handler in self.protocol.rest_routes():
            app.router.add_route(method, path, self._counted(path, handler))
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, rest_port)
        await site.start()
        self.rest_port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self._tick_task = asyncio.create_task(self._tick(), name=f"sim-{self.venue}-tick")

    async def stop(self) -> None:
        if self._tick_task:
            self._tick_task.cancel()
            try:
                await self._tick_task
            except asyncio.CancelledError:
                pass
        for conn in list(self.connections.values()):
            conn.kill("simulator stopped")
        if self._ws_server:
            self._ws_server.close()
            await self._ws_server.wait_closed()
        if self._runner:
            await self._runner.cleanup()

    @property
    def ws_url(self) -> str:
        return f"ws://{self.host}:{self.ws_port}"

    @property
    def rest_url(self) -> str:
        return f"http://{self.host}:{self.rest_port}"

    # ---- WS upgrade and connection bookkeeping ------------------------------------------------
    def _upgrade(self, request: picows.WSUpgradeRequest):
        target = request.path.decode("latin-1")
        parts = urlsplit(target)
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        refusal = self.faults.refusal()
        if refusal is not None:
            self.events["refused"] += 1
            return picows.WSUpgradeResponseWithListener(
                picows.WSUpgradeResponse.create_error_response(refusal, b"refused by fault injection"), None
            )
        conn = SimConnection(self, parts.path, query, request.headers.get("Host", ""))
        try:
            conn.state["initial_streams"] = self.protocol.open(conn, parts.path, query)
        except Reject as exc:
            self.events[f"rejected_{exc.status}"] += 1
            return picows.WSUpgradeResponseWithListener(
                picows.WSUpgradeResponse.create_error_response(exc.status, exc.body.encode()), None
            )
        return conn

    def _connected(self, conn: SimConnection) -> None:
        self.connections[conn.id] = conn
        self.history.append(conn)
        self.events["connections"] += 1
        initial = conn.state.pop("initial_streams", None) or []
        if initial:
            conn.subscribe(initial)

    def _disconnected(self, conn: SimConnection) -> None:
        self.connections.pop(conn.id, None)
        for key in list(conn.streams):
            self._route_remove(key, conn)

    def _route_add(self, key: str, conn: SimConnection) -> None:
        self.routes[key].append(conn)

    def _route_remove(self, key: str, conn: SimConnection) -> None:
        conns = self.routes.get(key)
        if conns and conn in conns:
            conns.remove(conn)
            if not conns:
                del self.routes[key]

    def notify_subscribed(self, conn: SimConnection, keys: list[str]) -> None:
        for source in self.sources:
            source.on_subscribe(conn, keys)

    def subscribed_keys(self) -> list[str]:
        return [k for k, conns in self.routes.items() if conns]

    async def _tick(self) -> None:
        interval = self.protocol.tick_interval()
        while True:
            await asyncio.sleep(interval)
            now = time.monotonic()
            for conn in list(self.connections.values()):
                if not conn.closed and not conn.stalled:
                    try:
                        self.protocol.on_tick(conn, now)
                    except Exception:  # a bug in one venue's timer must not stop the others
                        log.exception("%s: keep-alive tick failed for %s", self.venue, conn.id)

    # ---- publishing ----------------------------------------------------------------------------
    def publish(self, key: str, frame: bytes, kind: str, index: int = -1) -> int:
        """Send one data frame to every connection subscribed to ``key``; returns how many got it."""
        conns = self.routes.get(key)
        if not conns:
            self.unrouted += 1
            return 0
        if self.faults.drops(key):
            return 0
        frame = self.faults.mangle(frame)
        n = 0
        deliver = self.protocol.deliver
        for conn in conns:
            if conn.closed or conn.stalled:
                continue
            payload = deliver(conn, key, frame)
            conn.write_data(payload)
            self.bytes += len(payload)
            n += 1
        if n:
            self._count(key, kind, index, n)
            if self.keep_sent:
                self.sent_log.append((key, kind, frame))
        return n

    def publish_many(self, items: Sequence[tuple[str, bytes, str, int]]) -> int:
        """Send a batch of ``(key, frame, kind, index)``: one encoded buffer and one write per connection."""
        per_conn: dict[SimConnection, list[bytes]] = {}
        routes = self.routes
        deliver = None if type(self.protocol).deliver is VenueProtocol.deliver else self.protocol.deliver
        faults = self.faults
        frames = self.frames
        indices = self.indices
        header = text_frame_header
        sent = deliveries = 0
        for key, frame, kind, index in items:
            conns = routes.get(key)
            if not conns:
                self.unrouted += 1
                continue
            if faults.active:
                if faults.drops(key):
                    continue
                frame = faults.mangle(frame)
            n = 0
            for conn in conns:
                if conn.closed or conn.stalled:
                    continue
                payload = frame if deliver is None else deliver(conn, key, frame)
                parts = per_conn.get(conn)
                if parts is None:
                    per_conn[conn] = parts = []
                parts.append(header(len(payload)))
                parts.append(payload)
                n += 1
            if n:
                frames[(key, kind)] += 1
                deliveries += n
                if index >= 0:
                    indices.append(index)
                if self.keep_sent:
                    self.sent_log.append((key, kind, frame))
                sent += 1
        self.deliveries += deliveries
        for conn, parts in per_conn.items():
            buffer = b"".join(parts)
            self.bytes += len(buffer)
            conn._write_encoded(buffer)
        return sent

    def publish_encoded(self, key: str, buffer: bytes, frames: int, kind: str) -> int:
        """Write an already encoded run of ``frames`` WS frames of stream ``key`` (benchmarks)."""
        n = 0
        for conn in self.routes.get(key, ()):
            if conn.closed or conn.stalled:
                continue
            conn._write_encoded(buffer)
            n += 1
        if n:
            self.frames[(key, kind)] += frames
            self.deliveries += frames * n
            self.bytes += len(buffer) * n
        return n

    def send_to(self, conn: SimConnection, key: str, frame: bytes, kind: str) -> bool:
        """A data frame for one subscriber only (a subscription's initial snapshot), counted
        as sent; False when the connection cannot take it."""
        if conn.closed or conn.stalled:
            return False
        payload = self.protocol.deliver(conn, key, frame)
        conn.write_data(payload)
        self.bytes += len(payload)
        self._count(key, kind, -1, 1)
        if self.keep_sent:
            self.sent_log.append((key, kind, frame))
        return True

    def _count(self, key: str, kind: str, index: int, n: int) -> None:
        self.frames[(key, kind)] += 1
        self.deliveries += n
        if index >= 0:
            self.indices.append(index)

    async def drain(self) -> None:
        """Wait until every connection can take more (flow control from the clients)."""
        for conn in list(self.connections.values()):
            if not conn._writable.is_set():
                await conn.writable()

    def inject(self, payload: bytes, *, kind: str = "malformed") -> int:
        """Send an extra frame (malformed, truncated) to every open connection; counted by ``kind``."""
        n = 0
        for conn in list(self.connections.values()):
            if conn.closed or conn.stalled:
                continue
            conn.write_data(payload)
            n += 1
        self.control[kind] += n
        return n

    # ---- REST helpers for the venue modules -----------------------------------------------------
    def _counted(self, path: str, handler):
        async def counted(request: web.Request) -> web.StreamResponse:
            self.rest_requests[path] += 1
            return await handler(request)

        return counted

    def depth_snapshot(self, symbol: str, limit: int) -> Any:
        for source in self.sources:
            body = source.depth_snapshot(symbol, limit)
            if body is not None:
                return body
        return None

    def refdata(self, path: str, query: dict[str, str]) -> bytes | None:
        for source in self.sources:
            body = source.refdata(path, query)
            if body is not None:
                return body
        return None

    def open_interest(self, symbol: str) -> bytes | None:
        for source in self.sources:
            body = source.open_interest(symbol)
            if body is not None:
                return body
        return None

    # ---- what was sent ----------------------------------------------------------------------------
    def sent(self) -> dict:
        by_stream: dict[str, dict[str, int]] = defaultdict(dict)
        by_kind: Counter = Counter()
        for (key, kind), n in self.frames.items():
            by_stream[key][kind] = n
            by_kind[kind] += n
        return {
            "frames": sum(self.frames.values()),
            "deliveries": self.deliveries,
            "bytes": self.bytes,
            "unrouted": self.unrouted,
            "by_stream": dict(by_stream),
            "by_kind": dict(by_kind),
            "indices": list(self.indices),
            "control": dict(self.control),
            "events": dict(self.events),
            "faults": dict(self.faults.counts),
            "rest": dict(self.rest_requests),
            "connections": [c.info() for c in self.history],
        }
