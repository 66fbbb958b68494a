"""OKX v5 public client protocol: channels, subscribe messages, limits, text ping/pong.

Documentation: https://www.okx.com/docs-v5/en/#overview-websocket (connect, subscribe, limits)
and https://www.okx.com/docs-v5/en/#order-book-trading-market-data-ws-trades-channel (channels).
"""

from __future__ import annotations

import json
import re

from ...config import VenueConfig
from ...transport.protocol import ClientProtocol, KeepAlive, Limits

# Candlestick channels moved to the "business" endpoint (changelog 2023-06); everything else
# here is on "public".
PUBLIC_PATH = "/ws/v5/public"
BUSINESS_PATH = "/ws/v5/business"

_FUTURE = re.compile(r"-\d{6}$")  # BTC-USD-240329
_OPTION = re.compile(r"-\d{6}-[\d.]+-[CP]$")  # BTC-USD-240329-60000-C


def inst_type(inst_id: str) -> str | None:
    """SWAP / FUTURES / OPTION / None (spot) from an instrument id's shape."""
    if inst_id.endswith("-SWAP"):
        return "SWAP"
    if _OPTION.search(inst_id):
        return "OPTION"
    if _FUTURE.search(inst_id):
        return "FUTURES"
    return None


# Channel -> record kind, for the client and the simulator alike; candle<bar> channels are klines.
CHANNEL_KINDS = {
    "books": "book_delta",
    "books5": "book_delta",
    "books50-l2-tbt": "book_delta",
    "books-l2-tbt": "book_delta",
    "bbo-tbt": "quote",
    "trades": "trade",
    "trades-all": "trade",
    "tickers": "ticker",
    "funding-rate": "funding_rate",
    "open-interest": "open_interest",
    "mark-price": "other",
    "liquidation-orders": "liquidation",
}


def channel_kind(channel: str) -> str:
    """Record kind of an OKX channel (``books`` -> ``book_delta``, ``candle1m`` -> ``kline``)."""
    if channel.startswith("candle"):
        return "kline"
    return CHANNEL_KINDS.get(channel, "other")


class OkxProtocol(ClientProtocol):
    venue = "okx"
    default_ws_url = "wss://ws.okx.com:8443"
    default_rest_url = "https://www.okx.com"
    # "Connection limit: 3 requests per second (based on IP)"; "subscription/unsubscription/login
    # requests: 480 times per hour per connection" (~0.13/s; a short burst is tolerated, so a
    # start-up subscribe of a few messages is paced at 1/s); "The total length of multiple
    # channels cannot exceed 64 KB" per subscribe message (~600 args of ~50 bytes: 200 kept).
    # OKX documents no channels-per-connection limit; 300 per connection keeps shards small.
    limits = Limits(
        streams_per_connection=300,
        subscribe_messages_per_second=1.0,
        streams_per_subscribe_message=200,
        connect_attempts_per_minute=180,
        max_connection_age_seconds=None,
    )

    def streams(self, symbol: str, kind: str, config: VenueConfig) -> list[str]:
        if kind == "trade":
            return [f"trades:{symbol}"]
        if kind in ("book_delta", "book_snapshot"):
            # https://www.okx.com/docs-v5/en/#order-book-trading-market-data-ws-order-book-channel
            # "books": 400 levels, first push a snapshot then incremental updates every 100 ms,
            # with checksum and seqId. (books-l2-tbt needs a logged-in VIP connection; add it via
            # `channels` where available.)
            return [f"books:{symbol}"]
        if kind == "quote":
            return [f"bbo-tbt:{symbol}"]
        if kind == "ticker":
            return [f"tickers:{symbol}"]
        if kind == "kline":
            return [f"candle{config.kline_interval}:{symbol}"]
        t = inst_type(symbol)
        if kind == "funding_rate" and t == "SWAP":
            return [f"funding-rate:{symbol}"]
        if kind == "open_interest" and t in ("SWAP", "FUTURES", "OPTION"):
            return [f"open-interest:{symbol}"]
        if kind == "liquidation" and t in ("SWAP", "FUTURES", "OPTION"):
            # "Liquidation orders channel": one subscription per instrument type.
            # https://www.okx.com/docs-v5/en/#public-data-websocket-liquidation-orders-channel
            return [f"liquidation-orders:instType={t}"]
        return []

    def endpoint(self, stream: str) -> str:
        return BUSINESS_PATH if stream.startswith("candle") else PUBLIC_PATH

    @staticmethod
    def argument(stream: str) -> dict:
        """``channel:instId`` or ``channel:instType=X`` -> the venue's argument object."""
        channel, _, rest = stream.partition(":")
        if rest.startswith("instType="):
            return {"channel": channel, "instType": rest[9:]}
        return {"channel": channel, "instId": rest}

    def _message(self, op: str, streams: list[str]) -> list[bytes]:
        n = self.limits.streams_per_subscribe_message
        return [
            json.dumps({"op": op, "args": [self.argument(s) for s in streams[i : i + n]]}, separators=(",", ":")).encode()
            for i in range(0, len(streams), n)
        ]

    def subscribe_messages(self, streams: list[str], first_id: int = 1) -> list[bytes]:
        # {"op": "subscribe", "args": [{"channel": "trades", "instId": "BTC-USDT"}]}
        # https://www.okx.com/docs-v5/en/#overview-websocket-subscribe
        return self._message("subscribe", streams)

    def unsubscribe_messages(self, streams: list[str], first_id: int = 1) -> list[bytes]:
        return self._message("unsubscribe", streams)

    def keepalive(self, config: VenueConfig) -> KeepAlive:
        # "If there's no message in N seconds (N < 30), send the string 'ping'; expect a 'pong'
        # ... or reconnect". The server closes a connection idle for 30 s.
        # https://www.okx.com/docs-v5/en/#overview-websocket-connect
        return KeepAlive(text_ping=b"ping", text_pong=b"pong", idle_seconds=float(min(config.heartbeat_seconds, 25)))

    def instruments_paths(self) -> list[str]:
        # "Get instruments": GET /api/v5/public/instruments?instType=SPOT|SWAP|FUTURES|OPTION
        # https://www.okx.com/docs-v5/en/#public-data-rest-api-get-instruments
        # (OPTION needs instFamily, so options resolve from their id's shape instead).
        return [f"/api/v5/public/instruments?instType={t}" for t in ("SPOT", "SWAP", "FUTURES")]


def protocol(venue: str) -> OkxProtocol:
    return OkxProtocol()
