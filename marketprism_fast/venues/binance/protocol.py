"""Binance (spot, USD-M, COIN-M) client protocol: streams, SUBSCRIBE messages, limits, keep-alive.

Documentation:
- Spot streams: https://developers.binance.com/docs/binance-spot-api-docs/web-socket-streams
- USD-M streams: https://developers.binance.com/docs/derivatives/usds-margined-futures/websocket-market-streams
- COIN-M streams: https://developers.binance.com/docs/derivatives/coin-margined-futures/websocket-market-streams
"""

from __future__ import annotations

import json

from ...config import VenueConfig
from ...transport.protocol import ClientProtocol, KeepAlive, Limits

# "Combined streams are accessed at /stream?streams=..."; events come wrapped as
# {"stream": name, "data": payload}, so every frame names its stream. A connection opened on
# /stream with no streams is subscribed with SUBSCRIBE messages (spot docs, "Live Subscribing/
# Unsubscribing to streams").
COMBINED_PATH = "/stream"

# Stream type (the part after the symbol) -> record kind, for the client and the simulator alike.
_STREAM_KINDS = {
    "trade": "trade",
    "aggTrade": "trade",
    "depth": "book_delta",
    "bookTicker": "quote",
    "ticker": "ticker",
    "markPrice": "funding_rate",
    "forceOrder": "liquidation",
}


def stream_kind(stream: str) -> str:
    """Record kind of a Binance stream name (``btcusdt@depth@100ms`` -> ``book_delta``)."""
    _, _, rest = stream.partition("@")
    kind = rest.partition("@")[0]
    if kind.startswith("kline_"):
        return "kline"
    if kind.startswith("depth"):
        return "book_delta"
    return _STREAM_KINDS.get(kind, "other")


class BinanceProtocol(ClientProtocol):
    # Every response carries the IP's used weight; 429 = rate limited, 418 = banned, Retry-After
    # says for how long: https://developers.binance.com/docs/binance-spot-api-docs/rest-api/limits
    weight_header = "X-MBX-USED-WEIGHT-1M"

    def __init__(self, venue: str, ws_url: str, rest_url: str, limits: Limits, api_prefix: str, weight_limit: int) -> None:
        self.venue = venue
        self.default_ws_url = ws_url
        self.default_rest_url = rest_url
        self.limits = limits
        self.api_prefix = api_prefix
        self.weight_limit_per_minute = weight_limit
        self.futures = venue != "binance_spot"

    def streams(self, symbol: str, kind: str, config: VenueConfig) -> list[str]:
        s = symbol.lower()  # "All symbols for streams are lowercase"
        if kind == "trade":
            return [f"{s}@trade"]
        if kind in ("book_delta", "book_snapshot"):
            # Diff. depth stream: spot @depth (1000 ms) or @depth@100ms; futures also @depth@0ms
            # (USD-M docs "Diff. Book Depth Streams": update speed 250ms, 500ms, 100ms).
            speed = config.depth_interval_ms
            if speed == 1000:
                return [f"{s}@depth"]
            if speed == 0 and self.futures:
                return [f"{s}@depth@0ms"]
            return [f"{s}@depth@100ms"]
        if kind == "quote":
            return [f"{s}@bookTicker"]
        if kind == "ticker":
            return [f"{s}@ticker"]
        if kind == "kline":
            return [f"{s}@kline_{config.kline_interval}"]
        if kind == "funding_rate" and self.futures:
            return [f"{s}@markPrice"]  # "Mark Price Stream": mark price and funding rate
        if kind == "liquidation" and self.futures:
            return [f"{s}@forceOrder"]  # "Liquidation Order Stream"
        return []  # open_interest: REST only (see open_interest_path); spot has no funding/liquidation

    def endpoint(self, stream: str) -> str:
        return COMBINED_PATH

    def _message(self, method: str, streams: list[str], first_id: int) -> list[bytes]:
        n = self.limits.streams_per_subscribe_message
        return [
            json.dumps({"method": method, "params": streams[i : i + n], "id": first_id + j}, separators=(",", ":")).encode()
            for j, i in enumerate(range(0, len(streams), n))
        ]

    def subscribe_messages(self, streams: list[str], first_id: int = 1) -> list[bytes]:
        # {"method": "SUBSCRIBE", "params": [...], "id": 1}; the reply {"result": null, "id": 1}.
        # https://developers.binance.com/docs/binance-spot-api-docs/web-socket-streams#live-subscribingunsubscribing-to-streams
        return self._message("SUBSCRIBE", streams, first_id)

    def unsubscribe_messages(self, streams: list[str], first_id: int = 1) -> list[bytes]:
        return self._message("UNSUBSCRIBE", streams, first_id)

    def keepalive(self, config: VenueConfig) -> KeepAlive:
        # "The WebSocket server will send a ping frame every 20 seconds (futures: 3 minutes) ...
        # you must send a pong with a copy of ping's payload": the listener answers PING frames.
        return KeepAlive()

    def snapshot_path(self, raw_symbol: str, depth: int) -> str | None:
        # "How to manage a local order book correctly": GET /api/v3/depth?symbol=BNBBTC&limit=5000
        # https://developers.binance.com/docs/binance-spot-api-docs/web-socket-streams#how-to-manage-a-local-order-book-correctly
        # (futures: /fapi/v1/depth, /dapi/v1/depth, limit up to 1000). 1000 levels everywhere:
        # the weight the book scheduler budgets for (spot 50, futures 20; 5000 weighs 250).
        return f"{self.api_prefix}/depth?symbol={raw_symbol.upper()}&limit=1000"

    def instruments_paths(self) -> list[str]:
        return [f"{self.api_prefix}/exchangeInfo"]

    def open_interest_path(self, raw_symbol: str) -> str | None:
        # USD-M "Open Interest": GET /fapi/v1/openInterest?symbol=; COIN-M: /dapi/v1/openInterest.
        # https://developers.binance.com/docs/derivatives/usds-margined-futures/market-data/rest-api/Open-Interest
        if not self.futures:
            return None
        return f"{self.api_prefix}/openInterest?symbol={raw_symbol.upper()}"


# Limits. Spot: "A single connection can listen to a maximum of 1024 streams", "WebSocket
# connections have a limit of 5 incoming messages per second", "There is a limit of 300
# connections per attempt every 5 minutes per IP" (spot web-socket-streams page).
# Futures: 10 incoming messages per second; streams per connection are documented as 200 in
# older revisions (1024 in newer ones), 200 is kept as the safe default. "A single
# connection is only valid for 24 hours" on every Binance stream endpoint.
_SPOT_LIMITS = Limits(
    streams_per_connection=1024,
    subscribe_messages_per_second=5.0,
    streams_per_subscribe_message=200,
    connect_attempts_per_minute=60,  # 300 per 5 minutes
    max_connection_age_seconds=24 * 3600.0,
)
_FUTURES_LIMITS = Limits(
    streams_per_connection=200,
    subscribe_messages_per_second=10.0,
    streams_per_subscribe_message=200,
    connect_attempts_per_minute=60,
    max_connection_age_seconds=24 * 3600.0,
)

# REST weight limits: spot REQUEST_WEIGHT 6000/min, futures 2400/min (exchangeInfo rateLimits).
_VENUES = {
    "binance_spot": ("wss://stream.binance.com:9443", "https://api.binance.com", _SPOT_LIMITS, "/api/v3", 6000),
    "binance_usdm": ("wss://fstream.binance.com", "https://fapi.binance.com", _FUTURES_LIMITS, "/fapi/v1", 2400),
    "binance_coinm": ("wss://dstream.binance.com", "https://dapi.binance.com", _FUTURES_LIMITS, "/dapi/v1", 2400),
}


def protocol(venue: str) -> BinanceProtocol:
    ws, rest, limits, prefix, weight = _VENUES[venue]
    return BinanceProtocol(venue, ws, rest, limits, prefix, weight)
