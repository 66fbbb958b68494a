"""cryptofeed's own Binance USD-M handlers (``BinanceFutures.message_handler``), offline.

cryptofeed parses each frame with ``json.loads(msg, parse_float=Decimal)`` (yapic), builds a
``Trade`` object (``Decimal`` amounts, float-second timestamp) in its ``_trade`` handler and
awaits the callbacks with it; the callback here writes the trade's values into per-column
lists like the other Python contenders (prices ``float(Decimal)``: correctly rounded, the same
bits as ``float(text)``; the time back to whole milliseconds).

What it can decode to our records, offline: aggTrade only. Its Binance handlers read no
``trade`` events (aggTrade is its trade channel); its ticker drops the bid and ask sizes
that a quote row carries; its depth handler fetches a REST snapshot itself (network), and
the symbol table it would fetch from ``exchangeInfo`` is filled in here, from the frames,
before the feed is made.
"""

from __future__ import annotations

import asyncio
from typing import Any

from marketprism_fast.instruments import InstrumentRegistry
from marketprism_fast.records import kind as kind_of

from .base import Contender
from .corpus import TS_RECV
from .msgspec_binance import Rows
from .normalized import Columns

NS_PER_MS = 1_000_000


class CryptofeedContender(Contender):
    name = "cryptofeed"
    venues = frozenset({"binance_usdm"})
    workloads = frozenset({"aggTrade"})  # the only one its handlers turn into our records
    requires = "cryptofeed"

    def __init__(self, venue: str) -> None:
        super().__init__(venue)
        self.instruments = InstrumentRegistry(venue)
        self._codes: dict[str, int] = {}
        self._feed: Any = None
        self._rows: Rows | None = None
        self._loop = asyncio.new_event_loop()

    def _make_feed(self, frames: list[bytes]) -> None:
        import orjson
        from cryptofeed.defines import TRADES
        from cryptofeed.exchanges import BinanceFutures
        from cryptofeed.symbols import Symbols

        raw = sorted({orjson.loads(f)["data"]["s"] for f in frames if b'"e":"aggTrade"' in f})
        normalized = {f"{s[:-4]}-USDT-PERP": s for s in raw if s.endswith("USDT")}
        Symbols.set(BinanceFutures.id, normalized, {"tick_size": {}, "instrument_type": {}})
        self._std_to_raw = {std: s for std, s in normalized.items()}
        self._feed = BinanceFutures(symbols=list(normalized), channels=[TRADES], callbacks={TRADES: self._on_trade})

    async def _on_trade(self, trade: Any, receipt_timestamp: float) -> None:
        instrument, ts_event, recv, trade_id, price, amount, side, aggregated = self._rows.append  # type: ignore[union-attr]
        raw = self._std_to_raw[trade.symbol]
        code = self._codes.get(raw)
        if code is None:
            code = self._codes[raw] = self.instruments.intern(raw)
        instrument(code)
        ts_event(round(trade.timestamp * 1000) * NS_PER_MS)
        recv(TS_RECV)
        trade_id(trade.id)
        aggregated(1)
        price(float(trade.price))
        amount(float(trade.amount))
        side(1 if trade.side == "buy" else -1)

    async def _handle(self, frames: list[bytes]) -> None:
        handler = self._feed.message_handler
        for frame in frames:
            await handler(frame, None, 0.0)

    def decode(self, frames: list[bytes]) -> list[Rows]:
        if self._feed is None:
            self._make_feed(frames)
        self._rows = Rows("trade")
        self._loop.run_until_complete(self._handle(frames))
        return [self._rows]

    def columns(self, outputs: list[list[Rows]]) -> Columns:
        tables = self.instruments.tables()
        target = {name: [] for name in kind_of("trade").column_names}
        for (rows,) in outputs:
            codes = rows.lists["instrument"]
            for name in ("exchange", "market", "symbol", "raw_symbol"):
                target[name].extend(tables[name][codes].tolist())
            for name, values in rows.lists.items():
                if name != "instrument":
                    target[name].extend(values)
        return {"trade": target} if target["price"] else {}
