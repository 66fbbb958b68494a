"""Synthetic venue streams of every kind, at a chosen rate, for whatever the clients subscribe.

A generator watches the venue server's subscriptions and produces frames for the subscribed
streams in turn (``rate`` frames per second over all of them, or as fast as the clients take
them). Streams follow the subscription: ``btcusdt@depth@100ms`` makes Binance depth updates
for BTCUSDT, ``books:BTC-USDT`` OKX books, ``book.BTC-PERPETUAL.raw`` Deribit changes.

Order books are real books kept per stream (``SimBook``, integer ticks and lots):
* Binance: ``U``/``u`` cover every change since the previous depth event of that symbol
  (``U`` = previous ``u`` + 1) and futures carry ``pu`` = previous ``u``; ``bookTicker``'s ``u``
  is the book's update id when it was taken, so top of book equals bookTicker where ids match;
  REST ``/depth`` answers the live book with ``lastUpdateId`` = the last id applied.
* OKX: each subscriber gets a ``snapshot`` first; updates carry ``prevSeqId`` = previous
  ``seqId`` and the CRC32 ``checksum`` of the top 25 levels (``bidPx:bidSz:askPx:askSz:...``,
  signed 32-bit) after the update; ``books5`` / ``bbo-tbt`` are top-of-book snapshots.
* Deribit: each subscriber gets ``type: snapshot`` first; changes carry ``prev_change_id`` =
  previous ``change_id``.
A gap fault (``faults.gap(key)``) drops a frame after the book applied it: the client sees
exactly the gap a lost message makes, and a fresh snapshot repairs it.
"""

from __future__ import annotations

import asyncio
import random
import time
import zlib
from typing import TYPE_CHECKING, Any, Callable

import orjson

from .source import DataSource

if TYPE_CHECKING:  # pragma: no cover
    from .server import SimConnection, VenueServer

BATCH = 512
OKX_CHECKSUM_LEVELS = 25

DEFAULT_SYMBOLS = {
    "binance_spot": ["BTCUSDT", "ETHUSDT", "BNBUSDT"],
    "binance_usdm": ["BTCUSDT", "ETHUSDT", "SOLUSDT"],
    "binance_coinm": ["BTCUSD_PERP", "ETHUSD_PERP"],
    "okx": ["BTC-USDT", "ETH-USDT", "BTC-USDT-SWAP"],
    "deribit": ["BTC-PERPETUAL", "ETH-PERPETUAL"],
}


def _fmt(value: int, decimals: int) -> str:
    """Integer units -> decimal text with exactly ``decimals`` places (no float rounding)."""
    if decimals == 0:
        return str(value)
    sign = "-" if value < 0 else ""
    digits = str(abs(value)).rjust(decimals + 1, "0")
    return f"{sign}{digits[:-decimals]}.{digits[-decimals:]}"


class SimBook:
    """One instrument's true order book: price ticks -> size lots, with pending changes."""

    def __init__(self, rng: random.Random, mid: int, *, levels: int = 60, spacing: int = 1, lot: int = 1000) -> None:
        self.rng = rng
        self.bids: dict[int, int] = {}
        self.asks: dict[int, int] = {}
        self.spacing = spacing
        self.lot = lot
        for i in range(levels):
            self.bids[mid - (i + 1) * spacing] = rng.randint(1, 50) * lot
            self.asks[mid + (i + 1) * spacing] = rng.randint(1, 50) * lot
        self.update_id = rng.randint(1_000_000, 9_000_000)
        self.pending: dict[tuple[int, int], int] = {}  # (side, price) -> size since the last depth event
        self.first_pending = self.update_id + 1

    def best_bid(self) -> int:
        return max(self.bids)

    def best_ask(self) -> int:
        return min(self.asks)

    def step(self) -> list[tuple[int, int, int]]:
        """Apply 1-3 random level changes (never crossing); returns [(side, price, size)]."""
        rng = self.rng
        changes = []
        for _ in range(rng.randint(1, 3)):
            side = 1 if rng.random() < 0.5 else -1
            book, other = (self.bids, self.asks) if side == 1 else (self.asks, self.bids)
            best = max(book) if side == 1 else min(book)
            r = rng.random()
            if r < 0.25 and len(book) > 5:  # remove a level near the top
                price = sorted(book, reverse=side == 1)[rng.randint(0, 4)]
                size = 0
            elif r < 0.45:  # a new level just inside or outside the best, never crossing
                price = best + side * rng.choice((-2, -1, 1)) * self.spacing
                limit = min(other) if side == 1 else max(other)
                if (side == 1 and price >= limit) or (side == -1 and price <= limit):
                    price = best - side * self.spacing
                size = rng.randint(1, 50) * self.lot
            else:  # change the size of one of the top levels
                price = sorted(book, reverse=side == 1)[rng.randint(0, min(9, len(book) - 1))]
                size = rng.randint(1, 50) * self.lot
            if size:
                book[price] = size
            else:
                book.pop(price, None)
            changes.append((side, price, size))
            self.pending[(side, price)] = size
        self.update_id += 1
        # one entry per level, its final size: a message never names a level twice
        final = {(side, price): size for side, price, size in changes}
        return [(side, price, size) for (side, price), size in final.items()]

    def take_pending(self) -> tuple[int, int, list[tuple[int, int, int]]]:
        """(first id, last id, changes) since the previous call: one aggregated depth event."""
        if not self.pending:
            self.step()
        first, last = self.first_pending, self.update_id
        changes = [(side, price, size) for (side, price), size in self.pending.items()]
        self.pending.clear()
        self.first_pending = last + 1
        return first, last, changes

    def top(self, n: int) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        bids = sorted(self.bids.items(), reverse=True)[:n]
        asks = sorted(self.asks.items())[:n]
        return bids, asks


def okx_checksum(bids: list[tuple[str, str]], asks: list[tuple[str, str]]) -> int:
    """OKX's book checksum: CRC32 of ``bid:size:ask:size:...`` over the top 25, as signed int32."""
    parts: list[str] = []
    for i in range(min(OKX_CHECKSUM_LEVELS, max(len(bids), len(asks)))):
        if i < len(bids):
            parts.extend(bids[i])
        if i < len(asks):
            parts.extend(asks[i])
    crc = zlib.crc32(":".join(parts).encode())
    return crc - (1 << 32) if crc >= 1 << 31 else crc


class Generator(DataSource):
    """Base: pacing, per-stream dispatch, deterministic state per symbol."""

    price_decimals = 2
    size_decimals = 3

    def __init__(self, venue: str, server: "VenueServer", *, symbols: list[str] | None = None, seed: int = 7) -> None:
        self.venue = venue
        self.server = server
        self.symbols = list(symbols or DEFAULT_SYMBOLS[venue])
        self.seed = seed
        self.rng = random.Random(seed)
        self.books: dict[str, SimBook] = {}
        self.counters: dict[str, int] = {}
        self.unknown: set[str] = set()  # subscribed keys this generator makes nothing for
        self.generated = 0
        self.paused = False
        self.snapshot_requests: dict[str, int] = {}  # REST depth snapshots served, per symbol
        self._cursor = 0

    def pause(self) -> None:
        """Stop producing frames (subscriptions and REST keep being served)."""
        self.paused = True

    def resume(self) -> None:
        self.paused = False

    # ---- state -----------------------------------------------------------------------------
    def book(self, name: str) -> SimBook:
        book = self.books.get(name)
        if book is None:
            rng = random.Random(f"{self.seed}:{name}")
            mid = rng.randint(20_000, 60_000) * 10**self.price_decimals
            book = self.books[name] = SimBook(rng, mid, spacing=10 ** max(0, self.price_decimals - 1), lot=10 ** max(0, self.size_decimals - 1))
        return book

    def next_id(self, name: str, start: int = 1_000) -> int:
        value = self.counters.get(name, start) + 1
        self.counters[name] = value
        return value

    @staticmethod
    def now_ms() -> int:
        return time.time_ns() // 1_000_000

    def p(self, ticks: int) -> str:
        return _fmt(ticks, self.price_decimals)

    def q(self, lots: int) -> str:
        return _fmt(lots, self.size_decimals)

    # ---- frames --------------------------------------------------------------------------------
    def frame(self, key: str) -> tuple[bytes, str] | None:
        """One data frame of stream ``key`` (and its kind), or None if the stream is unknown."""
        raise NotImplementedError

    def _items(self, n: int) -> list[tuple[str, bytes, str, int]]:
        keys = [k for k in self.server.subscribed_keys() if k not in self.unknown]
        items: list[tuple[str, bytes, str, int]] = []
        if not keys:
            return items
        for _ in range(n):
            key = keys[self._cursor % len(keys)]
            self._cursor += 1
            made = self.frame(key)
            if made is None:
                self.unknown.add(key)
                keys = [k for k in keys if k != key]
                if not keys:
                    break
                continue
            items.append((key, made[0], made[1], -1))
        self.generated += len(items)
        return items

    async def run(self, rate: float | None) -> None:
        server = self.server
        if rate is None:
            while True:
                items = self._items(BATCH) if not self.paused else []
                if items:
                    server.publish_many(items)
                    await server.drain()
                    await asyncio.sleep(0)
                else:
                    await asyncio.sleep(0.005)
        if rate <= 0:
            raise ValueError(f"generator rate must be positive, got {rate}")
        credit, last = 0.0, time.monotonic()
        while True:
            await asyncio.sleep(0.005)
            now = time.monotonic()
            credit = min(credit + (now - last) * rate, rate + BATCH)  # no burst after a pause
            last = now
            n = int(credit)
            if self.paused:
                credit, n = 0.0, 0
            if n:
                credit -= n
                for start in range(0, n, BATCH):
                    items = self._items(min(BATCH, n - start))
                    if items:
                        server.publish_many(items)
                await server.drain()

    def served_snapshot(self, symbol: str) -> None:
        self.snapshot_requests[symbol] = self.snapshot_requests.get(symbol, 0) + 1

    def send_snapshot(self, conn: "SimConnection", key: str, frame: bytes) -> None:
        """A subscription's initial book snapshot, to its subscriber only (made here, so
        counted as generated when the server could send it)."""
        if self.server.send_to(conn, key, frame, "book_delta"):
            self.generated += 1


# ---------------------------------------------------------------------------------------------
class BinanceGenerator(Generator):
    price_decimals = 2
    size_decimals = 3

    def __init__(self, venue: str, server: "VenueServer", **options: Any) -> None:
        super().__init__(venue, server, **options)
        self.futures = venue != "binance_spot"
        self.coinm = venue == "binance_coinm"
        self._makers: dict[str, Callable[[str, str, str], bytes | None]] = {
            "trade": self._trade,
            "aggTrade": self._agg_trade,
            "bookTicker": self._book_ticker,
            "ticker": self._ticker,
            "markPrice": self._mark_price,
            "forceOrder": self._force_order,
        }

    def frame(self, key: str) -> tuple[bytes, str] | None:
        from ..venues.binance.protocol import stream_kind

        lower, _, rest = key.partition("@")
        stream_type, _, option = rest.partition("@")
        symbol = lower.upper()
        if stream_type == "depth":  # diff depth at any speed (depth, depth@100ms, depth@0ms); not partial depth<N>
            data = self._depth(symbol)
        elif stream_type.startswith("kline_"):
            data = self._kline(symbol, stream_type[len("kline_") :])
        else:
            maker = self._makers.get(stream_type)
            if maker is None or (stream_type in ("markPrice", "forceOrder") and not self.futures):
                return None
            data = maker(symbol, stream_type, option)
        if data is None:
            return None
        return b'{"stream":"%s","data":%s}' % (key.encode(), data), stream_kind(key)

    def _depth(self, symbol: str) -> bytes:
        book = self.book(symbol)
        first, last, changes = book.take_pending()
        bids = [[self.p(price), self.q(size)] for side, price, size in changes if side == 1]
        asks = [[self.p(price), self.q(size)] for side, price, size in changes if side == -1]
        now = self.now_ms()
        event: dict[str, Any] = {"e": "depthUpdate", "E": now}
        if self.futures:
            # futures: "pu" = the previous event's "u" (USDM_WS "How to manage a local order book")
            event.update(T=now, s=symbol, U=first, u=last, pu=first - 1)
            if self.coinm:
                event["ps"] = symbol.split("_")[0]
        else:
            event.update(s=symbol, U=first, u=last)
        event.update(b=bids, a=asks)
        return orjson.dumps(event)

    def _book_ticker(self, symbol: str, *_: str) -> bytes:
        book = self.book(symbol)
        book.step()  # the top moves; the next depth event covers this id too
        (bp, bq), (ap, aq) = book.top(1)[0][0], book.top(1)[1][0]
        body: dict[str, Any] = {}
        if self.futures:
            now = self.now_ms()
            body.update(e="bookTicker", u=book.update_id, s=symbol, b=self.p(bp), B=self.q(bq), a=self.p(ap), A=self.q(aq), T=now, E=now)
        else:
            body.update(u=book.update_id, s=symbol, b=self.p(bp), B=self.q(bq), a=self.p(ap), A=self.q(aq))
        return orjson.dumps(body)

    def _trade_values(self, symbol: str) -> tuple[int, str, str, bool]:
        book = self.book(symbol)
        buyer_maker = self.rng.random() < 0.5
        price = book.best_bid() if buyer_maker else book.best_ask()
        return self.next_id(f"t:{symbol}"), self.p(price), self.q(self.rng.randint(1, 100) * book.lot // 10 or 1), buyer_maker

    def _trade(self, symbol: str, *_: str) -> bytes:
        tid, price, qty, maker = self._trade_values(symbol)
        now = self.now_ms()
        if self.futures:
            return orjson.dumps({"e": "trade", "E": now, "T": now, "s": symbol, "t": tid, "p": price, "q": qty, "X": "MARKET", "m": maker})
        return orjson.dumps({"e": "trade", "E": now, "s": symbol, "t": tid, "p": price, "q": qty, "T": now, "m": maker, "M": True})

    def _agg_trade(self, symbol: str, *_: str) -> bytes:
        tid, price, qty, maker = self._trade_values(symbol)
        now = self.now_ms()
        body = {"e": "aggTrade", "E": now, "s": symbol, "a": self.next_id(f"a:{symbol}"), "p": price, "q": qty, "f": tid, "l": tid, "T": now, "m": maker}
        if not self.futures:
            body["M"] = True
        return orjson.dumps(body)

    def _ticker(self, symbol: str, *_: str) -> bytes:
        book = self.book(symbol)
        last = book.best_bid()
        n = self.next_id(f"tk:{symbol}")
        now = self.now_ms()
        body = {
            "e": "24hrTicker", "E": now, "s": symbol, "p": self.p(100), "P": "0.250", "w": self.p(last - 50),
            "c": self.p(last), "Q": self.q(book.lot), "o": self.p(last - 100), "h": self.p(last + 500),
            "l": self.p(last - 500), "v": self.q(n * 1000), "q": self.p(n * 100000), "O": now - 86_400_000,
            "C": now, "F": 1, "L": n, "n": n,
        }
        if not self.futures:
            body.update(x=self.p(last - 100), b=self.p(book.best_bid()), B=self.q(book.bids[book.best_bid()]),
                        a=self.p(book.best_ask()), A=self.q(book.asks[book.best_ask()]))
        return orjson.dumps(body)

    def _kline(self, symbol: str, interval: str) -> bytes:
        book = self.book(symbol)
        n = self.next_id(f"k:{symbol}:{interval}", 0)
        now = self.now_ms()
        start = now - now % 60_000
        mid = book.best_bid()
        k = {
            "t": start, "T": start + 59_999, "s": symbol, "i": interval, "f": 100, "L": 100 + n,
            "o": self.p(mid - 10), "c": self.p(mid), "h": self.p(mid + 20), "l": self.p(mid - 20),
            "v": self.q(n * 10), "n": n, "x": n % 10 == 0, "q": self.p(n * 1000), "V": self.q(n * 5),
            "Q": self.p(n * 500), "B": "0",
        }
        return orjson.dumps({"e": "kline", "E": now, "s": symbol, "k": k})

    def _mark_price(self, symbol: str, *_: str) -> bytes:
        book = self.book(symbol)
        now = self.now_ms()
        mid = book.best_bid()
        return orjson.dumps({
            "e": "markPriceUpdate", "E": now, "s": symbol, "p": self.p(mid), "i": self.p(mid - 5),
            "P": self.p(mid + 3), "r": "0.00010000", "T": now - now % 28_800_000 + 28_800_000,
        })

    def _force_order(self, symbol: str, *_: str) -> bytes:
        book = self.book(symbol)
        now = self.now_ms()
        price = self.p(book.best_bid())
        return orjson.dumps({"e": "forceOrder", "E": now, "o": {
            "s": symbol, "S": "SELL", "o": "LIMIT", "f": "IOC", "q": self.q(book.lot), "p": price, "ap": price,
            "X": "FILLED", "l": self.q(book.lot), "z": self.q(book.lot), "T": now}})

    # ---- REST --------------------------------------------------------------------------------
    def depth_snapshot(self, symbol: str, limit: int) -> bytes | None:
        if not symbol:
            return None
        self.served_snapshot(symbol)
        book = self.book(symbol)
        bids, asks = book.top(max(1, limit))
        body: dict[str, Any] = {"lastUpdateId": book.update_id}
        if self.futures:
            now = self.now_ms()
            body.update(E=now, T=now)
            if self.coinm:
                body.update(symbol=symbol, pair=symbol.split("_")[0])
        body["bids"] = [[self.p(p), self.q(q)] for p, q in bids]
        body["asks"] = [[self.p(p), self.q(q)] for p, q in asks]
        return orjson.dumps(body)

    def open_interest(self, symbol: str) -> bytes | None:
        if not self.futures or not symbol:
            return None
        n = self.next_id(f"oi:{symbol}", 100_000)
        body: dict[str, Any] = {"symbol": symbol, "openInterest": self.q(n * 1000), "time": self.now_ms()}
        if self.coinm:
            body.update(pair=symbol.split("_")[0], contractType="PERPETUAL")
        return orjson.dumps(body)

    def refdata(self, path: str, query: dict[str, str]) -> bytes | None:
        if not path.endswith("/exchangeInfo"):
            return None
        entries = []
        for s in self.symbols:
            base, quote = (s.split("_")[0][:-3], s.split("_")[0][-3:]) if self.coinm else (s[:-4], s[-4:])
            # The filters as the venue lists them, PRICE_FILTER first: clients read the tick size
            # from ``filters[0]`` (cryptofeed's Binance symbol table does, and fails without it).
            filters = [{"filterType": "PRICE_FILTER", "minPrice": self.p(1), "maxPrice": "1000000", "tickSize": self.p(1)},
                       {"filterType": "LOT_SIZE", "minQty": self.q(1), "maxQty": "1000", "stepSize": self.q(1)}]
            entry: dict[str, Any] = {"symbol": s, "status": "TRADING", "baseAsset": base, "quoteAsset": quote,
                                     "pricePrecision": self.price_decimals, "quantityPrecision": self.size_decimals,
                                     "filters": filters}
            if self.futures:
                entry.update(pair=s.split("_")[0], contractType="PERPETUAL")
            if self.coinm:
                entry.update(contractStatus="TRADING", contractSize=100, marginAsset=base)
            entries.append(entry)
        return orjson.dumps({"timezone": "UTC", "serverTime": self.now_ms(), "rateLimits": [], "symbols": entries})


# ---------------------------------------------------------------------------------------------
class OkxGenerator(Generator):
    price_decimals = 1
    size_decimals = 4
    BOOK_CHANNELS = ("books", "books-l2-tbt", "books50-l2-tbt")

    def __init__(self, venue: str, server: "VenueServer", **options: Any) -> None:
        super().__init__(venue, server, **options)
        self.seq: dict[str, int] = {}  # book key -> last seqId

    def _inst_type(self, inst: str) -> str:
        if inst.endswith("-SWAP"):
            return "SWAP"
        return "FUTURES" if inst.count("-") >= 2 else "SPOT"

    def _levels(self, items: list[tuple[int, int]]) -> list[list[str]]:
        return [[self.p(price), self.q(size), "0", str(1 + size % 7)] for price, size in items]

    def _book_message(self, key: str, action: str, changes: list[tuple[int, int, int]] | None) -> bytes:
        channel, _, inst = key.partition(":")
        book = self.book(key)
        prev = self.seq.get(key, -1)
        if action == "update":
            seq = prev + self.rng.randint(1, 3)
        else:
            seq = prev if prev >= 0 else self.rng.randint(10**9, 2 * 10**9)
        if action == "update":
            self.seq[key] = seq
        else:
            self.seq.setdefault(key, seq)
        tb, ta = book.top(OKX_CHECKSUM_LEVELS)
        checksum = okx_checksum([(self.p(p), self.q(q)) for p, q in tb], [(self.p(p), self.q(q)) for p, q in ta])
        if changes is None:
            depth = 400 if channel == "books" else 50 if channel == "books50-l2-tbt" else 400
            bids, asks = book.top(depth)
            data = {"asks": self._levels(asks), "bids": self._levels(bids)}
        else:
            data = {
                "asks": [[self.p(p), self.q(s), "0", str(1 + s % 7) if s else "0"] for side, p, s in changes if side == -1],
                "bids": [[self.p(p), self.q(s), "0", str(1 + s % 7) if s else "0"] for side, p, s in changes if side == 1],
            }
        data.update(ts=str(self.now_ms()), checksum=checksum, prevSeqId=prev if action == "update" else -1, seqId=seq)
        return orjson.dumps({"arg": {"channel": channel, "instId": inst}, "action": action, "data": [data]})

    def on_subscribe(self, conn: "SimConnection", keys: list[str]) -> None:
        # "books": the first message after subscribing is a full snapshot (OKX order book channel docs)
        for key in keys:
            if key.partition(":")[0] in self.BOOK_CHANNELS:
                self.send_snapshot(conn, key, self._book_message(key, "snapshot", None))

    def frame(self, key: str) -> tuple[bytes, str] | None:
        from ..venues.okx.protocol import channel_kind

        channel, _, inst = key.partition(":")
        arg = {"channel": channel, "instId": inst}
        now = str(self.now_ms())
        if channel in self.BOOK_CHANNELS:
            book = self.book(key)
            changes = book.step()
            return self._book_message(key, "update", changes), "book_delta"
        book = self.book(f"books:{inst}")
        if channel in ("books5", "bbo-tbt"):
            # top-of-book snapshots from a book of their own: stepping the "books" book here
            # would change it without an update message
            book = self.book(key)
            book.step()
            bids, asks = book.top(5 if channel == "books5" else 1)
            data: dict[str, Any] = {"asks": self._levels(asks), "bids": self._levels(bids), "ts": now}
            if channel == "bbo-tbt":
                data["seqId"] = self.next_id(f"bbo:{inst}", 10**9)
            else:
                data.update(instId=inst, seqId=self.next_id(f"b5:{inst}", 10**9))
            return orjson.dumps({"arg": arg, "data": [data]}), channel_kind(channel)
        if channel in ("trades", "trades-all"):
            side = "buy" if self.rng.random() < 0.5 else "sell"
            px = book.best_ask() if side == "buy" else book.best_bid()
            data = {"instId": inst, "tradeId": str(self.next_id(f"t:{inst}")), "px": self.p(px),
                    "sz": self.q(self.rng.randint(1, 99) * book.lot), "side": side, "ts": now}
            if channel == "trades":
                data["count"] = "1"
            return orjson.dumps({"arg": arg, "data": [data]}), "trade"
        if channel == "tickers":
            bid, ask = book.best_bid(), book.best_ask()
            n = self.next_id(f"tk:{inst}")
            data = {"instType": self._inst_type(inst), "instId": inst, "last": self.p(bid), "lastSz": self.q(book.lot),
                    "askPx": self.p(ask), "askSz": self.q(book.asks[ask]), "bidPx": self.p(bid), "bidSz": self.q(book.bids[bid]),
                    "open24h": self.p(bid - 100), "high24h": self.p(bid + 500), "low24h": self.p(bid - 500),
                    "sodUtc0": self.p(bid - 50), "sodUtc8": self.p(bid - 60), "volCcy24h": self.q(n * 10**5),
                    "vol24h": self.q(n * 10**4), "ts": now}
            return orjson.dumps({"arg": arg, "data": [data]}), "ticker"
        if channel.startswith("candle"):
            mid = book.best_bid()
            ms = self.now_ms()
            n = self.next_id(f"c:{key}", 0)
            row = [str(ms - ms % 60_000), self.p(mid - 10), self.p(mid + 20), self.p(mid - 20), self.p(mid),
                   self.q(n * 1000), self.q(n * 100), self.q(n * 100), "1" if n % 10 == 0 else "0"]
            return orjson.dumps({"arg": arg, "data": [row]}), "kline"
        if channel == "funding-rate":
            ms = self.now_ms()
            nxt = ms - ms % 28_800_000 + 28_800_000
            data = {"fundingRate": "0.0001000000000000", "fundingTime": str(nxt), "instId": inst,
                    "instType": "SWAP", "method": "next_period", "nextFundingRate": "0.0001100000000000",
                    "nextFundingTime": str(nxt + 28_800_000), "ts": now}
            return orjson.dumps({"arg": arg, "data": [data]}), "funding_rate"
        if channel == "open-interest":
            n = self.next_id(f"oi:{inst}", 10**6)
            data = {"instId": inst, "instType": self._inst_type(inst), "oi": self.q(n * 100), "oiCcy": self.q(n), "ts": now}
            return orjson.dumps({"arg": arg, "data": [data]}), "open_interest"
        if channel == "liquidation-orders":
            inst_type = inst
            target = next((s for s in self.symbols if self._inst_type(s) == inst_type), f"BTC-USDT-{inst_type}")
            liq_book = self.book(f"books:{target}")
            detail = {"bkLoss": "0", "bkPx": self.p(liq_book.best_bid()), "ccy": "", "posSide": "long", "side": "sell",
                      "sz": self.q(liq_book.lot), "ts": now}
            data = {"details": [detail], "instFamily": target.rsplit("-", 1)[0], "instId": target, "instType": inst_type,
                    "uly": target.rsplit("-", 1)[0]}
            return orjson.dumps({"arg": {"channel": channel, "instType": inst_type}, "data": [data]}), "liquidation"
        return None

    def depth_snapshot(self, symbol: str, limit: int) -> bytes | None:
        if not symbol:
            return None
        self.served_snapshot(symbol)
        book = self.book(f"books:{symbol}")
        bids, asks = book.top(max(1, min(limit, 400)))
        data = {"asks": self._levels(asks), "bids": self._levels(bids), "ts": str(self.now_ms())}
        return orjson.dumps({"code": "0", "msg": "", "data": [data]})

    def open_interest(self, symbol: str) -> bytes | None:
        n = self.next_id(f"oi:{symbol}", 10**6)
        data = {"instId": symbol, "instType": self._inst_type(symbol), "oi": self.q(n * 100), "oiCcy": self.q(n), "ts": str(self.now_ms())}
        return orjson.dumps({"code": "0", "msg": "", "data": [data]})

    def refdata(self, path: str, query: dict[str, str]) -> bytes | None:
        if not path.endswith("/instruments"):
            return None
        wanted = query.get("instType")
        entries = []
        for s in self.symbols:
            t = self._inst_type(s)
            if wanted and wanted != t:
                continue
            parts = s.split("-")
            entries.append({"instId": s, "instType": t, "baseCcy": parts[0] if t == "SPOT" else "", "quoteCcy": parts[1] if t == "SPOT" else "",
                            "settleCcy": "" if t == "SPOT" else parts[1], "ctVal": "" if t == "SPOT" else "0.01",
                            "ctValCcy": "" if t == "SPOT" else parts[0], "uly": "" if t == "SPOT" else f"{parts[0]}-{parts[1]}",
                            "instFamily": "" if t == "SPOT" else f"{parts[0]}-{parts[1]}",
                            "tickSz": _fmt(1, self.price_decimals), "lotSz": _fmt(1, self.size_decimals), "state": "live"})
        return orjson.dumps({"code": "0", "msg": "", "data": entries})


# ---------------------------------------------------------------------------------------------
class DeribitGenerator(Generator):
    price_decimals = 1
    size_decimals = 0

    def __init__(self, venue: str, server: "VenueServer", **options: Any) -> None:
        super().__init__(venue, server, **options)
        self.change_ids: dict[str, int] = {}

    def _num(self, ticks: int) -> float:
        return ticks / 10**self.price_decimals

    def _amt(self, lots: int) -> float:
        return float(lots) / 10**self.size_decimals

    @staticmethod
    def _note(channel: str, data: Any) -> bytes:
        return orjson.dumps({"jsonrpc": "2.0", "method": "subscription", "params": {"channel": channel, "data": data}})

    def _inst_book(self, inst: str) -> SimBook:
        """The book REST and the non-book channels show: the instrument's first book channel's."""
        for key in self.books:
            if key.startswith(f"book.{inst}."):
                return self.books[key]
        return self.book(f"book.{inst}.raw")

    def _book_snapshot(self, key: str) -> bytes:
        inst = key.split(".")[1]
        book = self.book(key)
        bids, asks = book.top(1000)
        change = self.change_ids.setdefault(key, self.rng.randint(10**9, 2 * 10**9))
        data = {"type": "snapshot", "timestamp": self.now_ms(), "instrument_name": inst, "change_id": change,
                "bids": [["new", self._num(p), self._amt(q)] for p, q in bids],
                "asks": [["new", self._num(p), self._amt(q)] for p, q in asks]}
        return self._note(key, data)

    def on_subscribe(self, conn: "SimConnection", keys: list[str]) -> None:
        # "book.*" notifications begin with a full snapshot per subscription (docs.deribit.com/#book-instrument_name-interval)
        for key in keys:
            if key.startswith("book."):
                self.send_snapshot(conn, key, self._book_snapshot(key))

    def frame(self, key: str) -> tuple[bytes, str] | None:
        parts = key.split(".")
        prefix = parts[0]
        if len(parts) < 2:
            return None
        inst = parts[1]
        now = self.now_ms()
        if prefix == "book" and len(parts) == 3:
            # one book and one change_id chain per book channel (book.X.raw, book.X.100ms)
            changes = self.book(key).step()
            prev = self.change_ids.setdefault(key, self.rng.randint(10**9, 2 * 10**9))
            change = prev + self.rng.randint(1, 3)
            self.change_ids[key] = change
            bids = [["delete" if s == 0 else "change", self._num(p), self._amt(s)] for side, p, s in changes if side == 1]
            asks = [["delete" if s == 0 else "change", self._num(p), self._amt(s)] for side, p, s in changes if side == -1]
            data = {"type": "change", "timestamp": now, "prev_change_id": prev, "change_id": change,
                    "instrument_name": inst, "bids": bids, "asks": asks}
            return self._note(key, data), "book_delta"
        if prefix == "chart" and len(parts) == 4 and parts[1] == "trades":
            inst = parts[2]
            mid = self._inst_book(inst).best_bid()
            n = self.next_id(f"c:{key}", 0)
            tick = now - now % 60_000
            return self._note(key, {"volume": float(n), "tick": tick, "open": self._num(mid - 10), "low": self._num(mid - 20),
                                    "high": self._num(mid + 20), "cost": float(n * 100), "close": self._num(mid)}), "kline"
        book = self._inst_book(inst)
        if prefix == "trades":
            direction = "buy" if self.rng.random() < 0.5 else "sell"
            price = book.best_ask() if direction == "buy" else book.best_bid()
            tid = self.next_id(f"t:{inst}")
            trade = {"trade_seq": tid, "trade_id": str(tid), "timestamp": now, "tick_direction": 1, "price": self._num(price),
                     "mark_price": self._num(price), "instrument_name": inst, "index_price": self._num(price),
                     "direction": direction, "amount": self._amt(self.rng.randint(1, 50) * 10)}
            if tid % 10 == 0:  # a liquidation trade now and then (its taker side liquidated)
                trade["liquidation"] = "T"
            return self._note(key, [trade]), "trade"
        if prefix == "quote":
            bid, ask = book.best_bid(), book.best_ask()
            return self._note(key, {"timestamp": now, "instrument_name": inst, "best_bid_price": self._num(bid),
                                    "best_bid_amount": self._amt(book.bids[bid]), "best_ask_price": self._num(ask),
                                    "best_ask_amount": self._amt(book.asks[ask])}), "quote"
        if prefix == "ticker":
            bid, ask = book.best_bid(), book.best_ask()
            n = self.next_id(f"tk:{inst}")
            data = {"timestamp": now, "stats": {"volume": float(n), "price_change": 0.5, "low": self._num(bid - 500),
                                                  "high": self._num(bid + 500)},
                    "state": "open", "settlement_price": self._num(bid), "open_interest": float(n * 10),
                    "min_price": self._num(bid - 1000), "max_price": self._num(bid + 1000), "mark_price": self._num(bid),
                    "last_price": self._num(bid), "instrument_name": inst, "index_price": self._num(bid),
                    "estimated_delivery_price": self._num(bid), "best_bid_price": self._num(bid),
                    "best_bid_amount": self._amt(book.bids[bid]), "best_ask_price": self._num(ask),
                    "best_ask_amount": self._amt(book.asks[ask])}
            if inst.endswith("PERPETUAL"):
                data.update(funding_8h=0.0001, current_funding=0.00001, interest_value=0.0)
            return self._note(key, data), "ticker"
        if prefix == "perpetual":
            return self._note(key, {"timestamp": now, "interest": 0.00001, "index_price": self._num(book.best_bid())}), "funding_rate"
        return None

    def depth_snapshot(self, symbol: str, limit: int) -> Any:
        if not symbol:
            return None
        self.served_snapshot(symbol)
        book = self._inst_book(symbol)
        key = next(k for k, b in self.books.items() if b is book)
        bids, asks = book.top(max(1, limit))
        bid, ask = book.best_bid(), book.best_ask()
        return {"timestamp": self.now_ms(), "state": "open", "instrument_name": symbol,
                "change_id": self.change_ids.setdefault(key, self.rng.randint(10**9, 2 * 10**9)),
                "bids": [[self._num(p), self._amt(q)] for p, q in bids], "asks": [[self._num(p), self._amt(q)] for p, q in asks],
                "best_bid_price": self._num(bid), "best_ask_price": self._num(ask),
                "best_bid_amount": self._amt(book.bids[bid]), "best_ask_amount": self._amt(book.asks[ask])}

    def refdata(self, path: str, query: dict[str, str]) -> bytes | None:
        if not path.endswith("get_instruments"):
            return None
        currency = query.get("currency")
        entries = []
        for s in self.symbols:
            base = s.split("-")[0].split("_")[0]
            if currency and currency not in ("any", base):
                continue
            entries.append({"instrument_name": s, "kind": "future", "base_currency": base, "quote_currency": "USD",
                            "settlement_currency": base, "counter_currency": "USD", "contract_size": 10.0,
                            "tick_size": 10.0**-self.price_decimals,
                            "min_trade_amount": 10.0, "is_active": True, "settlement_period": "perpetual",
                            "expiration_timestamp": 32503708800000, "instrument_type": "reversed"})
        return orjson.dumps({"jsonrpc": "2.0", "result": entries, "usIn": 0, "usOut": 0, "usDiff": 0, "testnet": False})


def generator_for(venue: str, server: "VenueServer", **options: Any) -> Generator:
    if venue.startswith("binance_"):
        return BinanceGenerator(venue, server, **options)
    if venue == "okx":
        return OkxGenerator(venue, server, **options)
    if venue == "deribit":
        return DeribitGenerator(venue, server, **options)
    raise ValueError(f"no generator for venue {venue!r}")
