"""What the transport needs to know of a venue's client protocol (the venue modules fill it in).

Each ``venues/<family>/protocol.py`` defines a ``ClientProtocol`` subclass per venue id: its
public endpoints, the stream (channel) names for each record kind, the subscribe and
unsubscribe messages, the documented limits and the keep-alive. The transport (``ws.py``,
``rest.py``) knows nothing venue-specific beyond this interface.

A *stream* is the venue's own name of one subscription (Binance ``btcusdt@trade``, OKX
``trades:BTC-USDT`` (channel:instId, the transport's spelling of the venue's argument object),
Deribit ``trades.BTC-PERPETUAL.raw``); connections are sharded by streams.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from urllib.parse import urlsplit

from ..config import VenueConfig


@dataclass(frozen=True, slots=True)
class Limits:
    """A venue's documented client limits (each overridable in the venue's config section)."""

    streams_per_connection: int
    subscribe_messages_per_second: float
    streams_per_subscribe_message: int
    connect_attempts_per_minute: int
    max_connection_age_seconds: float | None  # the venue drops a connection at this age (None: no limit)


@dataclass(frozen=True, slots=True)
class KeepAlive:
    """How a connection is kept alive.

    ``text_ping``/``text_pong``: an application-level ping sent when the connection has been idle
    for ``idle_seconds`` and its expected answer (the connection is dropped without it).
    ``test_reply``: the message that answers each server heartbeat request.
    ``on_open``: messages sent right after connecting (Deribit's ``public/set_heartbeat``).
    Server PING frames are always answered with PONG.
    """

    text_ping: bytes | None = None
    text_pong: bytes | None = None
    test_reply: bytes | None = None
    on_open: tuple[bytes, ...] = ()
    idle_seconds: float | None = None


class ClientProtocol:
    venue: str = ""
    default_ws_url: str = ""
    default_rest_url: str = ""
    limits: Limits

    def streams(self, symbol: str, kind: str, config: VenueConfig) -> list[str]:
        """The streams that deliver ``kind`` for ``symbol`` (empty: not from the WebSocket)."""
        raise NotImplementedError

    def endpoint(self, stream: str) -> str:
        """The WebSocket path that serves ``stream`` (appended to a base URL without a path)."""
        raise NotImplementedError

    def subscribe_messages(self, streams: list[str], first_id: int = 1) -> list[bytes]:
        """Messages subscribing ``streams`` (at most ``streams_per_subscribe_message`` each)."""
        raise NotImplementedError

    def unsubscribe_messages(self, streams: list[str], first_id: int = 1) -> list[bytes]:
        raise NotImplementedError

    def keepalive(self, config: VenueConfig) -> KeepAlive:
        return KeepAlive()

    # REST (paths relative to the REST base URL) -----------------------------------------
    def snapshot_path(self, raw_symbol: str, depth: int) -> str | None:
        """The depth-snapshot request for ``raw_symbol`` (None: the venue's WS sends snapshots)."""
        return None

    def instruments_paths(self) -> list[str]:
        """Requests whose bodies are the venue's instrument metadata (see ``refdata.add_body``)."""
        return []

    def open_interest_path(self, raw_symbol: str) -> str | None:
        """The open-interest request for ``raw_symbol`` (None: open interest comes over the WS)."""
        return None

    weight_header: str | None = None  # response header carrying the used request weight
    weight_limit_per_minute: int | None = None

    # ---------------------------------------------------------------------------------------
    def ws_url(self, config: VenueConfig, stream: str) -> str:
        """The URL a connection carrying ``stream`` opens: the configured or default base URL plus
        the stream's endpoint path, unless the configured URL already names a path."""
        base = (config.ws_url or self.default_ws_url).rstrip("/")
        if config.ws_url and urlsplit(config.ws_url).path not in ("", "/"):
            return config.ws_url
        return base + self.endpoint(stream)

    def rest_url(self, config: VenueConfig) -> str:
        return (config.rest_url or self.default_rest_url).rstrip("/")

    def effective_limits(self, config: VenueConfig) -> Limits:
        """The documented limits with the config's overrides applied."""
        lim = self.limits
        return Limits(
            streams_per_connection=config.streams_per_connection or lim.streams_per_connection,
            subscribe_messages_per_second=config.subscribe_messages_per_second or lim.subscribe_messages_per_second,
            streams_per_subscribe_message=min(lim.streams_per_subscribe_message, config.streams_per_connection or lim.streams_per_subscribe_message),
            connect_attempts_per_minute=config.connect_attempts_per_minute or lim.connect_attempts_per_minute,
            max_connection_age_seconds=config.max_connection_age_seconds or lim.max_connection_age_seconds,
        )

    def all_streams(self, config: VenueConfig) -> list[str]:
        """Every stream the config asks for, in a stable order without repeats."""
        out: dict[str, None] = {}
        for symbol in config.symbols:
            for kind in config.kinds:
                for s in self.streams(symbol, kind, config):
                    out[s] = None
        for s in config.channels:
            out[s] = None
        return list(out)


def protocol_for(venue: str) -> ClientProtocol:
    """The client protocol of a venue id (``venues/<family>/protocol.py``)."""
    from ..errors import ConfigurationError
    from ..venues import FAMILIES

    family = FAMILIES.get(venue)
    if family is None:
        raise ConfigurationError(f"unknown venue {venue!r}; known: {', '.join(FAMILIES)}", field="venue")
    module = importlib.import_module(f"marketprism_fast.venues.{family}.protocol")
    return module.protocol(venue)
