"""Binance message types the Python contenders decode, and the record kind of each."""

from __future__ import annotations

BINANCE_VENUES = frozenset({"binance_spot", "binance_usdm", "binance_coinm"})

# Binance event type ("e") -> the record kind its rows go to.
EVENT_KINDS: dict[str, str] = {
    "trade": "trade",
    "aggTrade": "trade",
    "depthUpdate": "book_delta",
    "bookTicker": "quote",
    "kline": "kline",
    "markPriceUpdate": "funding_rate",
}

