"""The contract between the simulator's server and its plug-ins: what the server needs from
one venue family's side of the protocol (``VenueProtocol``), and what a plug-in (a venue
protocol, the fault injector, a data source) may use of a client connection (``Connection``)
and of the server (``Server``). The plug-ins name these views, never ``server.py``, which
builds on them.

A venue module (``venues/<family>/simulator.py``) subclasses ``VenueProtocol``: it decides
which WS paths exist, answers client messages (subscribe, unsubscribe, ping, RPC calls),
performs the venue's keep-alive duties on each tick, names the stream a recorded data frame
belongs to (its *routing key*: the text a client subscribes with) and serves the venue's REST
endpoints. The server (``sim/server.py``) owns sockets, routing, counting and faults.

Routing keys, one form per family:
    Binance   the stream name as subscribed, lower case: ``btcusdt@depth@100ms``
    OKX       ``<channel>:<instId>`` (or ``<channel>:<instType>`` / instFamily where the channel takes those)
    Deribit   the channel name: ``book.BTC-PERPETUAL.raw``
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Iterable, Mapping, Protocol

if TYPE_CHECKING:  # pragma: no cover
    from collections import Counter

    from aiohttp import web

RestHandler = Callable[["web.Request"], Awaitable["web.StreamResponse"]]


class Connection(Protocol):
    """One client connection as a plug-in sees it (``server.SimConnection``)."""

    id: str
    streams: set[str]  # routing keys subscribed
    state: dict[str, Any]  # the venue protocol's per-connection state
    opened_at: float  # monotonic seconds
    last_sent: float
    stalled: bool  # fault: sends nothing at all
    closed: bool

    def send_text(self, payload: bytes, *, control: str = "reply") -> bool: ...
    def send_ping(self) -> bool: ...
    def close(self, reason: str, code: int = 1000, message: bytes = b"") -> None: ...
    def kill(self, reason: str = "killed") -> None: ...
    def subscribe(self, keys: Iterable[str]) -> list[str]: ...
    def unsubscribe(self, keys: Iterable[str]) -> list[str]: ...


class Server(Protocol):
    """One venue server as a plug-in sees it (``server.VenueServer``)."""

    venue: str
    protocol: VenueProtocol
    connections: Mapping[str, Connection]
    events: Counter[str]  # connection events by reason (closes, kills, refusals)

    def inject(self, payload: bytes, *, kind: str = "malformed") -> int: ...
    def notify_subscribed(self, conn: Connection, keys: list[str]) -> None: ...
    def depth_snapshot(self, symbol: str, limit: int) -> Any: ...
    def refdata(self, path: str, query: dict[str, str]) -> bytes | None: ...
    def open_interest(self, symbol: str) -> bytes | None: ...


class Reject(Exception):
    """A WS upgrade the venue refuses (unknown path, bad query): HTTP status and body."""

    def __init__(self, status: int, body: str) -> None:
        super().__init__(body)
        self.status = status
        self.body = body


@dataclass
class Throttle:
    """A REST request refused for rate limits: status (429 or 418), Retry-After seconds, body."""

    status: int
    retry_after: int
    body: bytes


class VenueProtocol:
    """Server side of one venue family's public protocol. Override what the venue has."""

    family: str = ""
    ws_paths: tuple[str, ...] = ()  # documented WS paths (prefixes), for messages and the CLI

    def __init__(self, venue: str, server: Server) -> None:
        self.venue = venue
        self.server = server

    # ---- WebSocket -------------------------------------------------------------------
    def open(self, conn: "Connection", path: str, query: dict[str, str]) -> list[str]:
        """Accept an upgrade to ``path`` (raise ``Reject``); returns streams subscribed by the URL."""
        raise Reject(404, f"no WebSocket endpoint at {path}")

    def on_message(self, conn: "Connection", payload: bytes) -> None:
        """A text frame from the client."""

    def on_client_control(self, conn: "Connection", now: float) -> None:
        """A WS ping or pong frame from the client (some venues count them against a rate)."""

    def on_tick(self, conn: "Connection", now: float) -> None:
        """Keep-alive duties for one connection (``now``: monotonic seconds)."""

    def tick_interval(self) -> float:
        """How often ``on_tick`` must run to honour this venue's timers."""
        return 1.0

    def deliver(self, conn: "Connection", key: str, frame: bytes) -> bytes:
        """The bytes of a published data frame as this connection receives them."""
        return frame

    # ---- recorded frames -------------------------------------------------------------
    def route(self, frame: bytes, message: Any) -> str | None:
        """Routing key of a recorded frame (``message`` is its decoded JSON), or None for a
        control frame (ack, event, RPC result, heartbeat) that the simulator answers itself."""
        return None

    def kind_of(self, key: str) -> str:
        """The record kind a stream's frames carry (a ``records.KIND_NAMES`` name, or "other")."""
        return "other"

    def symbol_of(self, key: str) -> str:
        """The venue symbol a stream is about (as REST endpoints name it), or ""."""
        return ""

    # ---- REST ------------------------------------------------------------------------
    def rest_routes(self) -> list[tuple[str, str, RestHandler]]:
        """(method, path, handler) of the venue's REST endpoints."""
        return []

    def throttle_body(self, status: int) -> bytes:
        """The body the venue sends with a 429/418."""
        return b'{"error":"too many requests"}'

    def error_body(self, status: int) -> bytes:
        return b'{"error":"internal error"}'

