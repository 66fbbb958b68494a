"""The node's composition root: config in, a running ingest pipeline out.

    node = Node(config)
    await node.start()          # sinks, venues (parser, book builder, feed, REST), HTTP
    await node.wait()           # until stop() or a SIGTERM/SIGINT (install_signal_handlers)
    await node.stop()           # stop reading, drain buffers to the sinks, close

Per enabled venue: one parser (``make_parser``) shared by that venue's connections, a book
builder when its books are enabled, and the venue's feed (WebSocket connections and REST,
``transport/``). Every ``flush_interval_seconds``, or sooner when a parser holds
``batch_rows`` rows, the venue's buffers are sealed into batches (``VenueRuntime.take``:
parser batches, book_delta rows through the book builder, its book_snapshot rows added) and
handed to the fan-out, which gives each sink its own bounded queue and task.

``status()`` is the one dict (seams.md §3) behind ``/status`` and ``/metrics``; ``health()``
judges it (``health.py``). Nothing here runs per frame.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
import signal
import time
from typing import Any, Callable, Protocol

import numpy as np

from .. import __version__
from ..batch import Batch
from ..books.builder import BookBuilder
from ..books.scheduler import SnapshotScheduler
from ..config import Config, Overflow, VenueConfig, require_runnable
from ..instruments import InstrumentRegistry
from ..parser import make_parser
from ..pipeline.activity import SymbolActivity
from ..symbols import SymbolMetadata
from ..tasks import cancel_and_wait
from ..books.markers import without_markers
from . import health as health_rules
from .http import HttpServer

log = logging.getLogger("marketprism_fast.node")

BATCH_ROW_BUCKETS = (10, 100, 1_000, 10_000, 100_000, 1_000_000)
START_GRACE_SECONDS = 15.0  # connections still connecting count as degraded, not down


class Feed(Protocol):
    """What the node needs of a venue's transport (WebSocket connections plus REST)."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    def connections(self) -> list[dict]: ...

    def rest_stats(self) -> dict: ...


class TransportFeed:
    """A venue's WebSocket connections (``transport.ws.VenueTransport``) and REST client
    (``transport.rest.RestClient``) as the node's Feed, with the venue's background work:
    instrument metadata at start and on schedule, the book builder's resync requests
    (REST snapshots, or resubscription where the venue's WebSocket sends snapshots) and
    Binance futures open-interest polling."""

    def __init__(self, runtime: "VenueRuntime") -> None:
        from ..transport.rest import RestClient
        from ..transport.ws import VenueTransport

        self.runtime = runtime
        self.transport = VenueTransport(runtime.venue, runtime.config, runtime.parser, on_reconnect=runtime.reconnected)
        self.rest = RestClient(runtime.venue, runtime.config)
        self._tasks: list[asyncio.Task] = []

    async def start(self) -> None:
        from ..errors import TransportError

        r, rest, loop = self.runtime, self.rest, asyncio.get_running_loop()
        await rest.start()
        if rest.protocol.instruments_paths():
            try:  # symbols normalize from the venue's metadata; a failure leaves the name rules
                await asyncio.wait_for(rest.refresh_instruments(r.metadata), r.config.rest_timeout_seconds)
            except (TransportError, ValueError, asyncio.TimeoutError) as exc:
                log.warning("%s: instrument metadata not loaded at start (%s); symbols follow the name rules until it is", r.venue, exc or "timeout")
            self._tasks.append(loop.create_task(rest.run_instruments(r.metadata), name=f"instruments:{r.venue}"))
        await self.transport.start()
        if r.scheduler is not None:
            if rest.protocol.snapshot_path(r.config.symbols[0], 1) is not None:
                self._tasks.append(loop.create_task(rest.run_snapshots(r.scheduler, r.parser), name=f"snapshots:{r.venue}"))
            else:
                self._tasks.append(loop.create_task(self._resubscriptions(), name=f"resubscribe:{r.venue}"))
        if "open_interest" in r.config.kinds:
            self._tasks.append(loop.create_task(rest.run_open_interest(r.parser), name=f"open_interest:{r.venue}"))

    async def _resubscriptions(self) -> None:
        """OKX and Deribit send a book snapshot on subscription: a symbol out of sync is
        resubscribed, paced by the scheduler."""
        scheduler = self.runtime.scheduler
        assert scheduler is not None
        while True:
            symbols = scheduler.due()
            if symbols:
                await self.transport.resubscribe(symbols)
            wait = scheduler.next_due_in()
            await asyncio.sleep(0.1 if wait is None else max(wait, 0.01))

    async def stop(self) -> None:
        await cancel_and_wait(self._tasks)
        self._tasks.clear()
        await self.transport.close()
        await self.rest.close()

    def connections(self) -> list[dict]:
        return self.transport.stats()

    def rest_stats(self) -> dict:
        return self.rest.stats()


FeedFactory = Callable[["VenueRuntime"], Feed]


class _Histogram:
    __slots__ = ("bounds", "counts", "count", "sum")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.counts = [0] * len(bounds)
        self.count = 0
        self.sum = 0.0

    def observe(self, value: float) -> None:
        self.count += 1
        self.sum += value
        for i, bound in enumerate(self.bounds):
            if value <= bound:
                self.counts[i] += 1
                break

    def as_dict(self) -> dict:
        cumulative, buckets = 0, {}
        for bound, n in zip(self.bounds, self.counts):
            cumulative += n
            buckets[repr(float(bound))] = cumulative
        buckets["+Inf"] = self.count
        return {"count": self.count, "sum": self.sum, "buckets": buckets}


def _input_limits(config: VenueConfig):
    """The parsers' input limits from the venue's section (None where the parsers have none)."""
    try:
        from ..limits import InputLimits  # type: ignore[import-not-found]
    except ImportError:
        return None
    return InputLimits(
        max_frame_bytes=config.max_frame_bytes,
        max_rows_per_frame=config.max_rows_per_frame,
        max_instruments=config.max_instruments,
    )


class VenueRuntime:
    """One venue's parser, book builder and feed."""

    def __init__(self, venue: str, config: VenueConfig, node_config: Config) -> None:
        self.venue = venue
        self.config = config
        self.metadata = SymbolMetadata()
        self.books_enabled = config.book.enabled and "book_delta" in config.kinds
        limits = _input_limits(config)
        if limits is None:  # a parser without input limits
            self.instruments = InstrumentRegistry(venue, self.metadata)
            extra: dict = {}
        else:
            self.instruments = InstrumentRegistry(venue, self.metadata, max_instruments=limits.max_instruments)
            extra = {"limits": limits}
        self.parser = make_parser(
            venue,
            self.instruments,
            implementation=node_config.node.parser,
            book_markers=self.books_enabled,
            **extra,
        )
        self.scheduler: SnapshotScheduler | None = None
        self.builder: BookBuilder | None = None
        if self.books_enabled:
            self.scheduler = SnapshotScheduler.for_venue(venue)
            book = config.book
            options: dict = {}
            if "max_books" in inspect.signature(BookBuilder).parameters:  # builders with the input limit
                options["max_books"] = book.max_books
            self.builder = BookBuilder(
                venue,
                self.instruments,
                depth=book.depth,
                every_update=book.every_update if book.every_update else None,
                interval_ns=None if book.every_update else book.interval_ms * 1_000_000,
                scheduler=self.scheduler,
                **options,
            )
        self.feed: Feed | None = None
        self.batch_rows: dict[str, _Histogram] = {}
        self.activity = SymbolActivity(self.instruments)
        self.reconnects_seen = 0
        self._resyncs = 0
        self._synced: set[str] = set()  # symbols whose book has been in sync
        self._lost: set[str] = set()  # ... and is out of sync now

    def pending_rows(self) -> dict[str, int]:
        """Rows not yet taken, per kind (the batcher compares them with ``batch_rows``)."""
        return self.parser.pending_rows()

    def reconnected(self, venue: str, symbols: list[str]) -> None:
        """A connection came back: the transport resubscribed; books resync by the venue's
        rule (a fresh snapshot on OKX and Deribit, the update ids' gap on Binance)."""
        self.reconnects_seen += 1
        log.info("%s: reconnected; books of %d symbol(s) resync", venue, len(symbols))

    def take(self) -> list[Batch]:
        """The venue's sealed batches: parser rows (book markers removed), then the book
        builder's rows for the book_delta rows just taken."""
        batches = self.parser.take()
        if self.builder is not None:
            for b in batches:
                if b.kind.name == "book_delta":
                    self.builder.apply(b)
            batches = [without_markers(b) if b.kind.name == "book_delta" else b for b in batches]
            batches += self.builder.take()
            self._count_resyncs()
        out = [b for b in batches if len(b)]
        self.activity.saw(out)
        for b in out:
            hist = self.batch_rows.get(b.kind.name)
            if hist is None:
                hist = self.batch_rows[b.kind.name] = _Histogram(BATCH_ROW_BUCKETS)
            hist.observe(len(b))
        return out

    def _count_resyncs(self) -> None:
        """A resync: a symbol whose book was in sync, lost it (gap, checksum) and is back."""
        assert self.builder is not None
        out = self.builder.out_of_sync
        for symbol in list(self._lost):
            if symbol not in out:
                self._lost.discard(symbol)
                self._resyncs += 1
        for symbol in out & self._synced:
            self._lost.add(symbol)
        for symbol in self.config.symbols:
            if symbol not in out and self.builder.book(symbol) is not None:
                self._synced.add(symbol)

    def status(self) -> dict:
        parser = dict(self.parser.stats())  # "parse_seconds" where the parser times itself
        books: dict[str, Any] = {"symbols": 0, "out_of_sync": [], "gaps": 0, "resyncs": 0, "snapshot_requests": 0, "checksum_failures": 0}
        if self.builder is not None:
            b = self.builder.stats()
            books.update(
                symbols=b["symbols"],
                out_of_sync=list(b["out_of_sync"]),
                gaps=sum(b["gaps"].values()),
                resyncs=self._resyncs,
                checksum_failures=b["checksum_failures"],
            )
        if self.scheduler is not None:
            books["snapshot_requests"] = self.scheduler.stats()["sent"]
        connections = self.feed.connections() if self.feed is not None else []
        if connections and "parse_seconds" not in parser:  # timed (sampled) by the connections' listeners
            parser["parse_seconds"] = sum(c.get("parse_seconds", 0.0) for c in connections)
        rest = self.feed.rest_stats() if self.feed is not None else {}
        return {
            "parser": parser,
            "books": books,
            "connections": connections,
            "rest": {k: rest.get(k, 0) for k in ("requests", "errors", "throttled", "used_weight")},
            "batch_rows": {k: h.as_dict() for k, h in self.batch_rows.items()},
            "symbols": {s: {"last_record_age_seconds": age} for s, age in self.activity.ages(self.config.symbols).items()},
        }


def _process() -> dict:
    rss = 0
    try:
        with open("/proc/self/statm") as f:
            rss = int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        import resource

        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    t = os.times()
    return {"rss_bytes": rss, "cpu_seconds": t.user + t.system}


def default_feed(runtime: VenueRuntime) -> Feed:
    return TransportFeed(runtime)


class Node:
    def __init__(
        self,
        config: Config,
        *,
        sinks: list | None = None,
        feed_factory: FeedFactory | None = None,
        check: bool = True,
    ) -> None:
        if check:
            require_runnable(config)
        self.config = config
        self.venues = {name: VenueRuntime(name, vc, config) for name, vc in config.enabled_venues().items()}
        self._sinks = sinks
        self._feed_factory = feed_factory or default_feed
        self.sinks: list = []
        self.fanout: Any = None
        self.batcher: Any = None
        self.http: HttpServer | None = None
        self.started_at = time.time()
        self._started_mono = time.monotonic()
        self._stopping = asyncio.Event()
        self._stopped = asyncio.Event()
        self._batcher: asyncio.Task | None = None
        self._digest = config.digest()
        self.start_grace_seconds = START_GRACE_SECONDS

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        from ..pipeline.batcher import Batcher
        from ..pipeline.fanout import FanOut
        from ..pipeline.identity import BatchIds

        # HTTP first: /health answers (and a taken port fails) before anything connects
        if self.config.http.enabled:
            self.http = HttpServer(self.config.http, self)
            await self.http.start()
        from ..sinks import make_sinks

        sinks = self.sinks = self._sinks if self._sinks is not None else make_sinks(self.config.sinks)
        # each sink's own section's overflow policy; sinks without one (null) drop the oldest
        self.fanout = FanOut(sinks, {s.name: getattr(s, "overflow", None) or Overflow(policy="drop_oldest") for s in sinks})
        await self.fanout.start()
        self.batcher = Batcher(
            self.venues,
            self.fanout.submit,
            flush_interval=self.config.node.flush_interval_seconds,
            batch_rows=self.config.node.batch_rows,
            ids=BatchIds(self.config.node.name),
        )
        self._batcher = asyncio.get_running_loop().create_task(self.batcher.run(), name="batcher")
        for runtime in self.venues.values():
            runtime.feed = self._feed_factory(runtime)
        # venues start side by side: one slow venue (its instrument list) delays no other
        await asyncio.gather(*(runtime.feed.start() for runtime in self.venues.values()))  # type: ignore[union-attr]
        log.info(
            "node %s started: venues %s; sinks %s; config digest %s",
            self.config.node.name,
            ", ".join(self.venues),
            ", ".join(s.name for s in sinks),
            self._digest,
        )

    def install_signal_handlers(self) -> None:
        """SIGTERM/SIGINT ask the node to stop: stop reading, drain to the sinks, exit, all
        within ``shutdown_timeout_seconds``. A second SIGINT (Ctrl-C again) ends the process
        at once, with status 130."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._on_signal, sig)

    def _on_signal(self, sig: int) -> None:
        if not self._stopping.is_set():
            log.info("%s: stopping: draining buffers to the sinks", signal.Signals(sig).name)
            self._stopping.set()
        elif sig == signal.SIGINT:
            log.warning("SIGINT again: exiting without waiting for the drain")
            logging.shutdown()
            os._exit(130)

    def request_stop(self) -> None:
        self._stopping.set()

    async def wait(self) -> None:
        await self._stopping.wait()

    async def stop(self) -> bool:
        """Stop reading, seal what the parsers hold, drain it to the sinks and close them.
        True when everything reached the sinks within ``node.shutdown_timeout_seconds``."""
        self._stopping.set()
        deadline = time.monotonic() + self.config.node.shutdown_timeout_seconds
        # 1. stop reading: no frame reaches a parser after this
        for runtime in self.venues.values():
            if runtime.feed is not None:
                try:
                    await asyncio.wait_for(runtime.feed.stop(), max(0.1, deadline - time.monotonic()))
                except Exception as exc:  # noqa: BLE001 - shutting down: report and go on
                    log.warning("%s: feed did not stop cleanly: %s", runtime.venue, exc)
        # 2. seal what the parsers hold (the batcher takes the rest when cancelled)
        if self._batcher is not None:
            self._batcher.cancel()
            await asyncio.gather(self._batcher, return_exceptions=True)
        elif self.batcher is not None:
            self.batcher.flush_all()
        # 3. drain the queues to the sinks and close them
        drained = True
        if self.fanout is not None:
            drained = await self.fanout.drain(max(0.1, deadline - time.monotonic()))
        if self.http is not None:
            await self.http.close()
        self._stopped.set()
        if self.fanout is None:  # it never got as far as its sinks: nothing to report
            return drained
        taken = self.batcher.stats()["rows"] if self.batcher is not None else 0
        written = {name: sum((s.get("rows_written") or {}).values()) for name, s in (self.fanout.stats() if self.fanout else {}).items()}
        log.info(
            "node %s stopped: %d rows taken from the buffers, written %s%s",
            self.config.node.name, taken, ", ".join(f"{k} {v}" for k, v in written.items()) or "nowhere",
            "" if drained else " (some batches were not written in time)",
            extra={"event": "stopped", "rows_taken": taken, "rows_written": written, "drained": drained},
        )
        return drained

    # ------------------------------------------------------------------ observation

    def status(self) -> dict:
        sinks = self.fanout.stats() if self.fanout is not None else {}
        return {
            "version": __version__,
            "node": self.config.node.name,
            "config_digest": self._digest,
            "started_at": self.started_at,
            "uptime_seconds": time.monotonic() - self._started_mono,
            "venues": {name: runtime.status() for name, runtime in self.venues.items()},
            "sinks": sinks,
            "process": _process(),
        }

    def health(self) -> dict:
        starting = time.monotonic() - self._started_mono < self.start_grace_seconds
        watchdog = {name: r.config.watchdog_seconds for name, r in self.venues.items()}
        return health_rules.evaluate(self.status(), watchdog_seconds=watchdog, starting=starting)
