"""cryptofeed end to end, as a contender of its own: its ``FeedHandler`` and its own
``BinanceFutures`` feed against the venue simulator over loopback WebSocket.

    python benchmarks/contenders/cryptofeed_live.py --ws-url ws://127.0.0.1:PORT \\
        --rest-url http://127.0.0.1:PORT --symbols BTCUSDT,ETHUSDT --channels trades,ticker \\
        [--keys FILE] [--log FILE]

What runs is cryptofeed's, unchanged: ``FeedHandler.run`` (its signal handlers, uvloop as its
default config asks), the feed's ``connect``/``subscribe`` (the combined-stream URL it builds),
``WSAsyncConn`` on the ``websockets`` client with the options the feed declares,
``ConnectionHandler`` (its reconnect loop and back-off), ``message_handler`` (yapic
``json.loads`` with ``Decimal`` floats) and the ``Trade``/``Ticker``/``OrderBook`` objects it
hands to callbacks. Its symbol table comes from the simulator's ``/fapi/v1/exchangeInfo``
(``Exchange.symbol_mapping``, a blocking ``requests`` call at start) and its L2 book from the
simulator's ``/fapi/v1/depth`` snapshot, as from the venue.

The subclass changes only where the feed points (``SimulatedBinanceFutures``):

* ``rest_endpoints``: the same routes on the simulator's REST address;
* ``websocket_endpoints``: the same options on the simulator's WS address. ``WSAsyncConn``
  refuses, when it is made, any address not starting with ``wss://``; the simulator speaks
  plain ``ws://`` to every contender (no TLS on loopback for anyone), so the endpoint is
  declared as ``wss://HOST:PORT`` and ``connect`` switches the scheme back on the connection
  objects the feed made. Nothing else of the connection changes.

Channels (``--channels``): ``trades`` is cryptofeed's TRADES, which it maps to Binance's
``aggTrade`` stream (its Binance handlers read no ``trade`` events); ``ticker`` is TICKER,
mapped to ``bookTicker`` (best bid/ask and sizes, the quote stream); ``l2_book`` is L2_BOOK,
``depth@100ms`` plus a REST snapshot per symbol (cryptofeed keeps the book itself and hands
each update's changed levels as ``delta``).

The callbacks only count (cryptofeed has no ClickHouse backend; nothing is written
anywhere), so the rate is WS + decode + callback. With ``--keys FILE`` they also keep each
record's key, written to FILE as JSON at exit: trades (symbol, aggregate trade id), quotes
(symbol, update id), book levels (symbol, update id, side, price) of every delta; book
snapshots are counted, not keyed.

Runs until SIGTERM (or SIGINT); then prints one JSON line: records per kind, book snapshots,
``frames`` (what each connection handler's current connection read: every frame when it never
reconnected), cryptofeed's warnings and errors by message, and its names of the symbols.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import logging
import mmap
import os
import struct
import sys
from collections import Counter

from cryptofeed import FeedHandler
from cryptofeed.connection import WSAsyncConn
from cryptofeed.defines import ASK, BID, L2_BOOK, TICKER, TRADES
from cryptofeed.exchanges import BinanceFutures

# Our channel names -> cryptofeed's. The Binance streams it subscribes to for them (binance.py
# websocket_channels and _address): aggTrade, bookTicker, depth@100ms (its default interval).
CHANNELS = {"trades": TRADES, "ticker": TICKER, "l2_book": L2_BOOK}
SIDES = ((BID, 1), (ASK, -1))


def simulated_feed(ws_url: str, rest_url: str) -> type[BinanceFutures]:
    """``BinanceFutures`` pointed at the simulator: its endpoints' addresses and nothing else."""
    if not ws_url.startswith("ws://"):
        raise ValueError(f"expected a ws:// address, got {ws_url!r}")
    host = ws_url.removeprefix("ws://").rstrip("/")
    ws = dataclasses.replace(BinanceFutures.websocket_endpoints[0], address=f"wss://{host}", sandbox=None)
    rest = dataclasses.replace(BinanceFutures.rest_endpoints[0], address=rest_url.rstrip("/"), sandbox=None)

    class SimulatedBinanceFutures(BinanceFutures):
        websocket_endpoints = [ws]
        rest_endpoints = [rest]

        def connect(self):
            made = super().connect()
            for conn, *_ in made:
                # The wss:// form only passed WSAsyncConn's check; the connection is plain ws://.
                if isinstance(conn, WSAsyncConn) and conn.address.startswith("wss://"):
                    conn.address = "ws://" + conn.address.removeprefix("wss://")
            return made

    return SimulatedBinanceFutures


PROGRESS_KINDS = ("trade", "quote")  # --progress: these counts, little-endian uint64 each, in this order


def progress_map(path: str) -> mmap.mmap:
    """A shared file another process reads the running counts from while this one runs."""
    size = 8 * len(PROGRESS_KINDS)
    with open(path, "w+b") as f:
        f.truncate(size)
        return mmap.mmap(f.fileno(), size)


class Counts:
    """The callbacks: a count per record kind, with ``keys`` each record's key, and with
    ``progress`` the trade and quote counts kept current in a shared file."""

    def __init__(self, keys: bool, progress: mmap.mmap | None = None) -> None:
        self.records: Counter = Counter()
        self.snapshots = 0
        self.keys: dict[str, list] | None = {"trade": [], "quote": [], "book_delta": []} if keys else None
        self.progress = progress

    def show(self, kind: str) -> None:
        """``kind``'s count into the progress file (only with ``progress``)."""
        struct.pack_into("<Q", self.progress, 8 * PROGRESS_KINDS.index(kind), self.records[kind])

    async def trade(self, trade, receipt_timestamp: float) -> None:
        self.records["trade"] += 1
        if self.progress is not None:
            self.show("trade")
        if self.keys is not None:
            self.keys["trade"].append((trade.raw["s"], trade.id))

    async def ticker(self, ticker, receipt_timestamp: float) -> None:
        self.records["quote"] += 1
        if self.progress is not None:
            self.show("quote")
        if self.keys is not None:
            self.keys["quote"].append((ticker.raw["s"], ticker.raw["u"]))

    async def book(self, book, receipt_timestamp: float) -> None:
        if book.delta is None:  # the REST snapshot cryptofeed starts (and restarts) a book from
            self.snapshots += 1
            return
        self.records["book_delta"] += sum(len(book.delta[side]) for side, _ in SIDES)
        if self.keys is not None:
            symbol, update_id = book.raw["s"], book.raw["u"]
            for side, sign in SIDES:
                self.keys["book_delta"].extend((symbol, update_id, sign, float(price)) for price, _ in book.delta[side])

    def callbacks(self, channels: list[str]) -> dict:
        by_channel = {"trades": self.trade, "ticker": self.ticker, "l2_book": self.book}
        return {CHANNELS[c]: by_channel[c] for c in channels}


class LogCounter(logging.Handler):
    """Counts cryptofeed's own warnings and errors by message template (a connection it
    restarted after an exception, an unexpected message, a book it reset), to say why
    records went missing without touching its code."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.counts: Counter = Counter()

    def emit(self, record: logging.LogRecord) -> None:
        text = str(record.msg)
        self.counts[text.split(": ", 1)[-1][:60] if text.startswith("%s: ") else text[:60]] += 1


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ws-url", required=True, help="the simulator's binance_usdm WS address, ws://HOST:PORT")
    ap.add_argument("--rest-url", required=True, help="the simulator's binance_usdm REST address, http://HOST:PORT")
    ap.add_argument("--symbols", default="BTCUSDT,ETHUSDT", help="venue symbols, comma separated")
    ap.add_argument("--channels", default="trades,ticker", help=f"of {', '.join(CHANNELS)}, comma separated")
    ap.add_argument("--keys", help="write each record's key here as JSON at exit")
    ap.add_argument("--progress", help="keep the running trade and quote counts in this file (uint64 LE each)")
    ap.add_argument("--log", default=os.devnull, help="cryptofeed's log file (its config's log.filename)")
    args = ap.parse_args(argv)

    channels = [c for c in args.channels.split(",") if c]
    unknown = set(channels) - CHANNELS.keys()
    if unknown:
        ap.error(f"unknown channels {sorted(unknown)}; expected some of {', '.join(CHANNELS)}")
    try:
        progress = progress_map(args.progress) if args.progress else None
    except OSError as err:
        ap.error(f"--progress {args.progress}: cannot make the progress file: {err.strerror}")
    # cryptofeed's default config (uvloop on, log level WARNING), its log file where we say.
    config = {"uvloop": True, "log": {"filename": args.log, "level": "WARNING"}}
    handler = FeedHandler(config=config)
    log_counter = LogCounter()
    logging.getLogger("feedhandler").addHandler(log_counter)

    feed_class = simulated_feed(args.ws_url, args.rest_url)
    # Symbols by cryptofeed's own names: the simulator's exchangeInfo maps them (BTC-USDT-PERP).
    wanted = [s.strip().upper() for s in args.symbols.split(",") if s.strip()]
    by_raw = {raw: std for std, raw in feed_class.symbol_mapping().items()}
    missing = [s for s in wanted if s not in by_raw]
    if missing:
        raise SystemExit(f"the simulator's exchangeInfo does not list {missing}")
    counts = Counts(keys=bool(args.keys), progress=progress)
    feed = feed_class(symbols=[by_raw[s] for s in wanted], channels=[CHANNELS[c] for c in channels],
                      callbacks=counts.callbacks(channels), config=config)
    handler.add_feed(feed)
    # FeedHandler.run takes asyncio.get_event_loop(); uvloop's policy (0.23 here) raises instead
    # of making one when there is none: set one, made by the policy FeedHandler installed.
    asyncio.set_event_loop(asyncio.new_event_loop())
    handler.run()  # until SIGTERM/SIGINT: cryptofeed stops its connections and closes the loop

    frames = sum(h.conn.received for h in feed.connection_handlers)  # the last connection's frames per handler
    if args.keys:
        with open(args.keys, "w") as f:
            json.dump(counts.keys, f)
    print(json.dumps({"records": dict(counts.records), "snapshots": counts.snapshots, "frames": frames,
                      "log": dict(log_counter.counts), "symbols": {s: by_raw[s] for s in wanted}}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
