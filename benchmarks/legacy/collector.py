"""The old design, end to end, as the comparison's baseline contender (Binance venues).

It reproduces what the two services this project replaces did with every frame, on the same
loopback WebSocket feed and into the same servers as the new node:

* **receive**: a ``websockets`` client, one ``await recv()`` per frame (the old collector's
  transport);
* **decode**: ``json.loads`` per frame, then one pydantic model per record with ``Decimal``
  prices and amounts and ``datetime`` times (the old collector's data model; the models and
  their validation are the decode benchmark's ``LegacyContender``, so both measure the same
  code);
* **order book**: a Python dict per side keyed by ``Decimal`` price, best bid/ask found by
  ``max``/``min`` over the keys after each update (the old collector's book);
* **NATS**: one JSON message per record, published to JetStream and awaited before the next
  (the old collector's publisher, ``market.{exchange}.{symbol}.{type}`` subjects);
* **ClickHouse**: rows as dicts, inserted row-wise (``INSERT ... VALUES`` with a list of
  dicts) every 1000 rows (the old ingestion service's direct writes).

Run in its own process by the comparison runner; prints one JSON line of counters at the end.

    python benchmarks/legacy/collector.py --ws-url ws://127.0.0.1:PORT/stream?streams=... \\
        --venue binance_usdm --nats nats://127.0.0.1:4222 --clickhouse 127.0.0.1:9000 --seconds 10
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from decimal import Decimal
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE.parents[1]))

from contenders.legacy_binance import (  # noqa: E402
    _KIND_OF_MODEL,
    BookLevelRecord,
    LegacyContender,
    _contract_values,
)

from marketprism_fast.records import kind as kind_of  # noqa: E402

INSERT_ROWS = 1000
TABLES = {"trade": "trades", "book_delta": "book_deltas", "quote": "quotes", "kline": "klines", "funding_rate": "funding_rates"}


class DictBook:
    """The old book: Decimal price -> Decimal amount per side; best prices by scanning keys."""

    def __init__(self) -> None:
        self.bids: dict[Decimal, Decimal] = {}
        self.asks: dict[Decimal, Decimal] = {}

    def apply(self, level: BookLevelRecord) -> tuple[Decimal | None, Decimal | None]:
        side = self.bids if level.side == "bid" else self.asks
        if level.amount == 0:
            side.pop(level.price, None)
        else:
            side[level.price] = level.amount
        return (max(self.bids) if self.bids else None, min(self.asks) if self.asks else None)


class LegacyCollector:
    def __init__(self, venue: str, nats_url: str | None, clickhouse: str | None, database: str) -> None:
        self.decoder = LegacyContender(venue)
        self.nats_url = nats_url
        self.clickhouse = clickhouse
        self.database = database
        self.books: dict[str, DictBook] = {}
        self.rows: dict[str, list[dict]] = {}
        self.counts = {"frames": 0, "records": 0, "published": 0, "inserted": 0, "errors": 0}
        self.latencies_ms: list[float] = []
        self.js = None
        self.client = None

    async def start(self) -> None:
        if self.nats_url:
            import nats

            self.nc = await nats.connect(self.nats_url)
            self.js = self.nc.jetstream()
            try:
                await self.js.add_stream(name="LEGACY", subjects=["market.>"])
            except Exception:  # noqa: BLE001 - it may exist already; the old service ignored this too
                pass
        if self.clickhouse:
            from clickhouse_driver import Client

            host, _, port = self.clickhouse.partition(":")
            self.client = Client(host=host, port=int(port or 9000), database=self.database)

    async def on_frame(self, frame: bytes, received: float) -> None:
        self.counts["frames"] += 1
        records: list = []
        message = json.loads(frame)
        event = message.get("data", message)
        etype = event.get("e")
        if etype is None and all(k in event for k in ("u", "s", "b", "B", "a", "A")):
            etype = "bookTicker"
        handler = self.decoder._handlers.get(etype)
        if handler is None:
            return
        from datetime import datetime, timezone

        handler(event, self.decoder._symbol(event["s"]), datetime.fromtimestamp(received, tz=timezone.utc), records)
        for record in records:
            self.counts["records"] += 1
            if isinstance(record, BookLevelRecord):
                self.books.setdefault(record.raw_symbol, DictBook()).apply(record)
            kind_name = _KIND_OF_MODEL[type(record)]
            if self.js is not None:
                subject = f"market.{record.exchange}.{record.raw_symbol}.{kind_name}"
                try:
                    await self.js.publish(subject, record.model_dump_json().encode())
                    self.counts["published"] += 1
                except Exception:  # noqa: BLE001 - the old publisher logged and went on
                    self.counts["errors"] += 1
            if self.client is not None:
                rows = self.rows.setdefault(kind_name, [])
                rows.append(dict(_contract_values(record)))
                if len(rows) >= INSERT_ROWS:
                    await self.insert(kind_name)
        self.latencies_ms.append((time.time() - received) * 1000)

    async def insert(self, kind_name: str) -> None:
        rows = self.rows.pop(kind_name, [])
        if not rows or self.client is None:
            return
        names = ", ".join(kind_of(kind_name).column_names)
        try:
            self.client.execute(f"INSERT INTO {TABLES[kind_name]} ({names}) VALUES", rows)
            self.counts["inserted"] += len(rows)
        except Exception:  # noqa: BLE001 - the old service dropped the batch with a log line
            self.counts["errors"] += 1

    async def close(self) -> None:
        for kind_name in list(self.rows):
            await self.insert(kind_name)
        if self.js is not None:
            await self.nc.close()


async def run(args: argparse.Namespace) -> dict:
    import websockets

    collector = LegacyCollector(args.venue, args.nats, args.clickhouse, args.database)
    await collector.start()
    deadline = time.monotonic() + args.seconds
    started = time.process_time()
    async with websockets.connect(args.ws_url, max_size=None) as ws:
        while time.monotonic() < deadline and (not args.frames or collector.counts["frames"] < args.frames):
            try:
                frame = await asyncio.wait_for(ws.recv(), timeout=max(0.01, deadline - time.monotonic()))
            except (asyncio.TimeoutError, websockets.ConnectionClosed):
                break
            await collector.on_frame(frame if isinstance(frame, bytes) else frame.encode(), time.time())
    await collector.close()
    lat = sorted(collector.latencies_ms) or [0.0]
    return {
        **collector.counts,
        "cpu_seconds": time.process_time() - started,
        "p99_latency_ms": lat[int(len(lat) * 0.99) - 1 if len(lat) > 1 else 0],
    }


def main() -> int:
    ap = argparse.ArgumentParser(description="The old design end to end (see the module docstring).")
    ap.add_argument("--ws-url", required=True)
    ap.add_argument("--venue", default="binance_usdm")
    ap.add_argument("--nats", default=None, help="nats://host:port (JetStream); omit to skip publishing")
    ap.add_argument("--clickhouse", default=None, help="host:port (native); omit to skip inserts")
    ap.add_argument("--database", default="legacy")
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--frames", type=int, default=0, help="stop after this many frames (0: run for --seconds)")
    args = ap.parse_args()
    print(json.dumps(asyncio.run(run(args))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
