"""Deribit v2 JSON-RPC client protocol: channels, public/subscribe, heartbeat.

Documentation: https://docs.deribit.com/#subscriptions (channels),
https://docs.deribit.com/api-reference/session-management/public-set_heartbeat (heartbeat),
https://docs.deribit.com/#rate-limits (limits).
"""

from __future__ import annotations

import json

from ...config import VenueConfig
from ...transport.protocol import ClientProtocol, KeepAlive, Limits

WS_PATH = "/ws/api/v2"

# Ids of the client's own requests (replies are skipped by the parser as rpc results).
HEARTBEAT_ID = 9001
TEST_ID = 9002


# Channel prefix -> record kind, for the client and the simulator alike (chart.trades.* are klines).
CHANNEL_KINDS = {
    "book": "book_delta",
    "trades": "trade",
    "ticker": "ticker",
    "incremental_ticker": "ticker",
    "quote": "quote",
    "perpetual": "funding_rate",
    "chart": "kline",
    "deribit_price_index": "other",
    "markprice": "other",
    "instrument": "other",
    "platform_state": "other",
}


def channel_kind(channel: str) -> str:
    """Record kind of a Deribit channel (``book.BTC-PERPETUAL.raw`` -> ``book_delta``)."""
    return CHANNEL_KINDS.get(channel.partition(".")[0], "other")


class DeribitProtocol(ClientProtocol):
    venue = "deribit"
    default_ws_url = "wss://www.deribit.com"
    default_rest_url = "https://www.deribit.com"
    # Rate limits are credit based (non-matching engine requests: 20 per second sustained,
    # burst 50); a public/subscribe is one request. Deribit documents no channel limit per
    # connection; 500 per connection and per subscribe keeps messages and shards moderate.
    limits = Limits(
        streams_per_connection=500,
        subscribe_messages_per_second=5.0,
        streams_per_subscribe_message=500,
        connect_attempts_per_minute=60,
        max_connection_age_seconds=None,
    )

    def streams(self, symbol: str, kind: str, config: VenueConfig) -> list[str]:
        # Channel names from the "Subscriptions" section. The ``raw`` interval needs an
        # authorised connection on the live venue since 2022; ``100ms`` is the public one
        # (give it through ``channels`` where needed).
        if kind in ("trade", "liquidation"):
            return [f"trades.{symbol}.raw"]  # trades carry the liquidation flag
        if kind in ("book_delta", "book_snapshot"):
            return [f"book.{symbol}.raw"]  # change_id / prev_change_id chain
        if kind == "quote":
            return [f"quote.{symbol}"]
        if kind in ("ticker", "open_interest"):
            return [f"ticker.{symbol}.raw"]  # the ticker carries open_interest
        if kind == "kline":
            resolution = {"1m": "1", "3m": "3", "5m": "5", "15m": "15", "30m": "30", "1h": "60", "1d": "1D"}.get(config.kline_interval, "1")
            return [f"chart.trades.{symbol}.{resolution}"]
        if kind == "funding_rate" and symbol.endswith("PERPETUAL"):
            return [f"perpetual.{symbol}.raw"]
        return []

    def endpoint(self, stream: str) -> str:
        return WS_PATH

    def _message(self, method: str, streams: list[str], first_id: int) -> list[bytes]:
        n = self.limits.streams_per_subscribe_message
        return [
            json.dumps({"jsonrpc": "2.0", "id": first_id + j, "method": method, "params": {"channels": streams[i : i + n]}},
                       separators=(",", ":")).encode()
            for j, i in enumerate(range(0, len(streams), n))
        ]

    def subscribe_messages(self, streams: list[str], first_id: int = 1) -> list[bytes]:
        # https://docs.deribit.com/#public-subscribe: {"method": "public/subscribe", "params": {"channels": [...]}}
        return self._message("public/subscribe", streams, first_id)

    def unsubscribe_messages(self, streams: list[str], first_id: int = 1) -> list[bytes]:
        return self._message("public/unsubscribe", streams, first_id)

    def keepalive(self, config: VenueConfig) -> KeepAlive:
        # "When heartbeats have been set up, the API server will send heartbeat messages and
        # test_request messages. Your software should respond to test_request messages by
        # sending a /api/v2/public/test request". The live venue refuses an interval below 10 s;
        # the configured value is sent as is (a simulator may allow less).
        set_heartbeat = {"jsonrpc": "2.0", "id": HEARTBEAT_ID, "method": "public/set_heartbeat",
                         "params": {"interval": config.heartbeat_seconds}}
        test = {"jsonrpc": "2.0", "id": TEST_ID, "method": "public/test", "params": {}}
        return KeepAlive(
            test_reply=json.dumps(test, separators=(",", ":")).encode(),
            on_open=(json.dumps(set_heartbeat, separators=(",", ":")).encode(),),
        )

    def instruments_paths(self) -> list[str]:
        # "public/get_instruments": per currency; currency=any lists every one.
        # https://docs.deribit.com/#public-get_instruments
        return ["/api/v2/public/get_instruments?currency=any&expired=false"]


def protocol(venue: str) -> DeribitProtocol:
    return DeribitProtocol()
