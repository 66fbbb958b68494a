"""WebSocket connections of one venue: sharding, subscriptions, keep-alive, reconnects.

    transport = VenueTransport("binance_spot", venue_config, parser)
    await transport.start()        # connections open in the background, forever
    transport.stats()              # [{id, url, state, subscriptions, frames, ...}] (status schema)
    await transport.close()

Every connection of a venue feeds that venue's one parser (``_listener.FrameListener``: the
frame goes to ``feed_ptr`` inside picows's callback). The streams the config asks for are
split into shards at the venue's documented limits (``ClientProtocol.effective_limits``), one
connection each, grouped by endpoint. Each connection, in its own task:

- opens (connection attempts rate-limited per venue, a token bucket), sends the venue's
  on-open messages (Deribit ``public/set_heartbeat``) and its subscriptions, paced at the
  venue's incoming-message limit;
- keeps alive: PING frames answered in the listener; OKX's text ``ping`` when idle for
  ``heartbeat_seconds`` and the ``pong`` expected as long again (picows's idle auto-ping); Deribit
  ``test_request`` answered with ``public/test`` in the listener;
- on any drop reconnects forever, after a capped exponential backoff with full jitter
  (``uniform(0, min(max, initial * 2**attempt))``; the attempt count restarts once a
  connection has delivered data), and resubscribes. Books resync per symbol by the venue's
  own rule: OKX and Deribit send a fresh snapshot on subscription, Binance's update ids show
  the gap and the book builder asks for a REST snapshot of that symbol alone
  (``on_reconnect`` also tells the caller which symbols the connection carried);
- a watchdog drops a connection that has received nothing for ``watchdog_seconds``;
- before the venue's connection age limit (Binance 24 h) a replacement opens on the same
  streams and takes over without loss or repeats (``overlap.Overlap``).
"""

from __future__ import annotations

import asyncio
import random
import time
from typing import Callable, Protocol

import picows

from ..config import VenueConfig
from ..log import logger
from . import _listener
from .overlap import Overlap
from .pacing import Backoff, TokenBucket
from .protocol import ClientProtocol, KeepAlive, Limits, protocol_for

log = logger.getChild("transport")

ROLLOVER_LEAD_SECONDS = 60.0  # a replacement opens this long before the age limit (at most a tenth of it)
OVERLAP_TIMEOUT_SECONDS = 10.0  # the longest the two connections of a rollover run side by side
HANDSHAKE_TIMEOUT_SECONDS = 10.0


class Tap(Protocol):
    """Receives what a recording transport sees (``recorder.py``): with a tap, connections
    capture their frames instead of feeding the parser, and are not replaced before their age
    limit (a recording simply reconnects)."""

    def opened(self, connection_id: str, url: str) -> None: ...
    def sent(self, connection_id: str, url: str, payload: bytes) -> None: ...
    def frames(self, connection_id: str, frames: list[tuple[int, bytes]]) -> None: ...


def shard(protocol: ClientProtocol, config: VenueConfig, streams: list[str], limits: Limits) -> list[tuple[str, list[str]]]:
    """[(url, streams)] per connection: streams grouped by endpoint URL, at most
    ``streams_per_connection`` each, in the config's order."""
    by_url: dict[str, list[str]] = {}
    for s in streams:
        by_url.setdefault(protocol.ws_url(config, s), []).append(s)
    n = limits.streams_per_connection
    return [(url, group[i : i + n]) for url, group in by_url.items() for i in range(0, len(group), n)]


class _Link:
    """One open WebSocket (a listener and the event set when it goes down)."""

    __slots__ = ("listener", "down", "bucket")

    def __init__(self, listener: _listener.FrameListener, down: asyncio.Event) -> None:
        self.listener = listener
        self.down = down
        self.bucket: TokenBucket | None = None  # paces this socket's client messages


class Connection:
    """One shard: a set of streams kept subscribed on one WebSocket, reconnected forever."""

    def __init__(self, venue: "VenueTransport", index: int, url: str, streams: list[str]) -> None:
        self.venue = venue
        self.id = f"{venue.venue}.{index}"
        self.url = url
        self.streams = streams
        self.state = "closed"
        self.reconnects = 0
        self.rollovers = 0
        self.watchdog_trips = 0
        self.connect_errors = 0
        self.duplicates_dropped = 0
        self.resubscriptions = 0
        self.connected_since: float | None = None
        self.link: _Link | None = None
        self._totals = dict.fromkeys(("frames", "bytes", "pings", "pongs", "test_requests", "discarded", "fragmented", "parse_seconds"), 0)
        self._task: asyncio.Task | None = None
        self._closing = False
        self._msg_id = 1

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name=f"ws:{self.id}")

    async def close(self) -> None:
        self._closing = True
        if self.link is not None:
            self.link.listener.disconnect()
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        self.state = "closed"

    def drop(self) -> None:
        """Drop the current WebSocket (the task reconnects)."""
        if self.link is not None:
            self.link.listener.disconnect()

    async def _run(self) -> None:
        v = self.venue
        attempt = 0
        opened_before = False
        while not self._closing:
            self.state = "connecting"
            await v.connect_bucket.acquire()
            link = None
            try:
                link = await self._open(_listener.CAPTURE if v.tap is not None else _listener.FEED)
                if v.tap is not None:
                    v.tap.opened(self.id, self.url)
                await self._subscribe(link)
            except Exception as exc:  # noqa: BLE001 - any failure to open is retried, never fatal
                self.connect_errors += 1
                expected = isinstance(exc, (OSError, asyncio.TimeoutError, picows.WSError, ConnectionError))
                log.warning("%s: cannot connect to %s: %s", self.id, self.url, str(exc) or type(exc).__name__, exc_info=not expected)
                if link is not None:
                    link.listener.disconnect()
                    self._retire(link.listener)
                self.state = "backoff"
                await asyncio.sleep(v.backoff.delay(attempt))
                attempt += 1
                continue
            if opened_before:
                self.reconnects += 1
                v._reconnected(self)
            opened_before = True
            self.link = link
            self.state = "open"
            self.connected_since = time.time()
            log.info("%s: open %s (%d streams)", self.id, self.url, len(self.streams))
            await self._live()
            delivered = self.link is not None and self.link.listener.frames > 0
            self._retire(self.link.listener if self.link else None)
            self.link = None
            self.connected_since = None
            if self._closing:
                break
            if delivered:
                attempt = 0
            self.state = "backoff"
            log.warning("%s: connection lost; reconnecting", self.id)
            await asyncio.sleep(v.backoff.delay(attempt))
            attempt += 1
        self.state = "closed"

    async def _live(self) -> None:
        """Until the connection goes down; replaces it before the venue's age limit."""
        age = self.venue.limits.max_connection_age_seconds if self.venue.tap is None else None
        while not self._closing:
            assert self.link is not None
            if age is None:
                await self.link.down.wait()
                return
            lead = min(ROLLOVER_LEAD_SECONDS, age / 10.0)
            opened = self.link.listener.connected_ns / 1e9
            due_in = opened + age - lead - _listener.monotonic_ns() / 1e9
            try:
                await asyncio.wait_for(self.link.down.wait(), timeout=max(0.0, due_in))
                return
            except asyncio.TimeoutError:
                pass
            await self._rollover()
            if self.link.down.is_set():
                return

    def _retire(self, listener) -> None:
        if listener is None:
            return
        if self.venue.tap is not None:
            self.venue.tap.frames(self.id, listener.take_captured())
        for k, n in listener.counters().items():
            self._totals[k] += n

    # ------------------------------------------------------------------ one WebSocket
    async def _open(self, mode: int) -> _Link:
        v = self.venue
        ka: KeepAlive = v.keepalive
        down = asyncio.Event()

        def factory() -> _listener.FrameListener:
            listener = _listener.FrameListener(
                v.parser, text_ping=ka.text_ping, text_pong=ka.text_pong, test_reply=ka.test_reply,
                on_disconnected=lambda _l: down.set(),
            )
            listener.mode = mode
            return listener

        _, listener = await picows.ws_connect(
            factory,
            self.url,
            websocket_handshake_timeout=HANDSHAKE_TIMEOUT_SECONDS,
            enable_auto_pong=False,  # the listener answers (and counts) PING frames
            enable_auto_ping=ka.text_ping is not None,
            auto_ping_idle_timeout=ka.idle_seconds or 20.0,
            auto_ping_reply_timeout=ka.idle_seconds or v.config.watchdog_seconds,  # OKX: no pong within N s -> reconnect
            max_frame_size=v.config.max_frame_bytes,
            logger_name=f"{self.id}",
        )
        return _Link(listener, down)

    async def _subscribe(self, link: _Link) -> int:
        """Send the on-open messages and the subscriptions, paced; returns subscribe messages sent."""
        v = self.venue
        messages = v.protocol.subscribe_messages(self.streams, first_id=self._msg_id)
        self._msg_id += len(messages)
        await self._send(link, [*v.keepalive.on_open, *messages])
        return len(messages)

    async def _send(self, link: _Link, messages: list[bytes]) -> None:
        """Send client messages, paced at the venue's incoming-message limit per connection."""
        v = self.venue
        if link.bucket is None:
            link.bucket = TokenBucket(v.limits.subscribe_messages_per_second, 1.0)
        bucket = link.bucket
        for message in messages:
            await bucket.acquire()
            if link.down.is_set():
                raise ConnectionError("closed while sending")
            link.listener.send_text(message)
            if v.tap is not None:
                v.tap.sent(self.id, self.url, message)

    async def resubscribe(self, streams: list[str]) -> bool:
        """Unsubscribe and subscribe ``streams`` again on the open connection (OKX and Deribit
        answer a subscription with a fresh book snapshot). False when not open."""
        link = self.link
        if link is None or self.state != "open":
            return False
        v = self.venue
        messages = v.protocol.unsubscribe_messages(streams, first_id=self._msg_id)
        messages += v.protocol.subscribe_messages(streams, first_id=self._msg_id + len(messages))
        self._msg_id += len(messages)
        try:
            await self._send(link, messages)
        except ConnectionError:
            return False  # the reconnect resubscribes everything
        self.resubscriptions += len(streams)
        return True

    async def _rollover(self) -> None:
        """Open a replacement, run both side by side until the replacement's subscriptions are
        acknowledged, then hand over (see overlap.py)."""
        v = self.venue
        old = self.link
        assert old is not None
        await v.connect_bucket.acquire()
        try:
            new = await self._open(_listener.CAPTURE)
        except (OSError, asyncio.TimeoutError, picows.WSError, ConnectionError) as exc:
            log.warning("%s: replacement connection failed (%s); the current one stays", self.id, exc)
            await asyncio.sleep(v.backoff.delay(1))
            return
        old.listener.mode = _listener.CAPTURE
        overlap = Overlap(v.scratch_parser)
        try:
            sent = await self._subscribe(new)
            deadline = time.monotonic() + OVERLAP_TIMEOUT_SECONDS
            while time.monotonic() < deadline and not new.down.is_set() and not old.down.is_set():
                overlap.add_old(old.listener.take_captured())
                overlap.add_new(new.listener.take_captured())
                if overlap.acknowledgements() >= sent:
                    break
                await asyncio.sleep(0.02)
        except ConnectionError:
            pass
        # The hand-over runs without awaiting: no frame can arrive in between.
        if new.down.is_set():
            overlap.add_old(old.listener.take_captured())
            for ts, data in overlap.old:
                v.parser.feed(data, ts)
            old.listener.mode = _listener.FEED
            self._retire(new.listener)
            log.warning("%s: replacement connection dropped during the overlap; the current one stays", self.id)
            await asyncio.sleep(v.backoff.delay(1))
            return
        old.listener.mode = _listener.DISCARD
        overlap.add_old(old.listener.take_captured())
        overlap.add_new(new.listener.take_captured())
        frames, dropped = overlap.merged()
        for ts, data in frames:
            v.parser.feed(data, ts)
        new.listener.mode = _listener.FEED
        self.duplicates_dropped += dropped
        self.rollovers += 1
        self.link = new
        self.connected_since = time.time()
        old.listener.disconnect()
        self._retire(old.listener)
        log.info("%s: replaced before the age limit (%d frames in the overlap, %d repeats left out)", self.id, len(frames), dropped)

    # ------------------------------------------------------------------ status
    def last_frame_age(self) -> float | None:
        if self.link is None or not self.link.listener.connected:
            return None
        return (_listener.monotonic_ns() - self.link.listener.last_frame_ns) / 1e9

    def counters(self) -> dict:
        out = dict(self._totals)
        if self.link is not None:
            for k, n in self.link.listener.counters().items():
                out[k] += n
        return out

    def stats(self) -> dict:
        c = self.counters()
        age = self.last_frame_age()
        return {
            "id": self.id, "url": self.url, "state": self.state, "subscriptions": list(self.streams),
            "frames": c["frames"], "bytes": c["bytes"], "reconnects": self.reconnects,
            "last_frame_age_seconds": age, "connected_since": self.connected_since,
            "pings": c["pings"], "pongs": c["pongs"], "test_requests": c["test_requests"], "fragmented": c["fragmented"],
            "parse_seconds": c["parse_seconds"],
            "rollovers": self.rollovers, "duplicates_dropped": self.duplicates_dropped,
            "watchdog_trips": self.watchdog_trips, "connect_errors": self.connect_errors,
            "resubscriptions": self.resubscriptions,
        }


class VenueTransport:
    """All WebSocket connections of one venue, feeding its one parser."""

    def __init__(
        self,
        venue: str,
        config: VenueConfig,
        parser,
        *,
        protocol: ClientProtocol | None = None,
        on_reconnect: Callable[[str, list[str]], None] | None = None,
        rng: random.Random | None = None,
        tap: Tap | None = None,
    ) -> None:
        self.venue = venue
        self.tap = tap
        self.config = config
        self.parser = parser
        self.protocol = protocol or protocol_for(venue)
        self.limits = self.protocol.effective_limits(config)
        self.keepalive = self.protocol.keepalive(config)
        self.backoff = Backoff(config.reconnect.initial_seconds, config.reconnect.max_seconds, rng)
        per_minute = self.limits.connect_attempts_per_minute
        self.connect_bucket = TokenBucket(per_minute / 60.0, max(1.0, per_minute / 10.0))
        self.on_reconnect = on_reconnect
        self.connections = [
            Connection(self, i, url, streams)
            for i, (url, streams) in enumerate(shard(self.protocol, config, self.protocol.all_streams(config), self.limits))
        ]
        self._watchdog: asyncio.Task | None = None
        self._drain: asyncio.Task | None = None

    def scratch_parser(self):
        """A parser of this venue for overlap bookkeeping (same instruments, separate buffers)."""
        from ..parser import make_parser

        return make_parser(self.venue, self.parser.instruments, capacity=4096)

    async def start(self) -> None:
        for c in self.connections:
            c.start()
        self._watchdog = asyncio.get_running_loop().create_task(self._watch(), name=f"watchdog:{self.venue}")
        if self.tap is not None:
            self._drain = asyncio.get_running_loop().create_task(self._drain_to_tap(), name=f"tap:{self.venue}")

    async def close(self) -> None:
        for task in (self._watchdog, self._drain):
            if task is not None:
                task.cancel()
                try:
                    await task
                except asyncio.CancelledError:
                    pass
        await asyncio.gather(*(c.close() for c in self.connections))
        self.drain_tap()

    def drain_tap(self) -> None:
        """Hand every captured frame to the tap (recording)."""
        if self.tap is None:
            return
        for c in self.connections:
            if c.link is not None:
                frames = c.link.listener.take_captured()
                if frames:
                    self.tap.frames(c.id, frames)

    async def _drain_to_tap(self, period: float = 0.05) -> None:
        while True:
            await asyncio.sleep(period)
            self.drain_tap()

    async def _watch(self) -> None:
        """Drop connections silent for longer than ``watchdog_seconds``."""
        limit = self.config.watchdog_seconds
        period = min(1.0, limit / 4.0)
        while True:
            await asyncio.sleep(period)
            for c in self.connections:
                age = c.last_frame_age()
                if age is not None and age > limit and c.state == "open":
                    c.watchdog_trips += 1
                    log.warning("%s: nothing received for %.1f s; reconnecting", c.id, age)
                    c.drop()

    async def resubscribe(self, symbols: list[str]) -> int:
        """Subscribe the book streams of ``symbols`` afresh, each on the connection carrying it:
        a per-symbol book resync on venues that send a snapshot on subscription (OKX, Deribit).
        Returns the number of streams resubscribed."""
        wanted = {s for symbol in symbols for kind in ("book_delta", "book_snapshot")
                  for s in self.protocol.streams(symbol, kind, self.config)}
        done = 0
        for c in self.connections:
            streams = [s for s in c.streams if s in wanted]
            if streams and await c.resubscribe(streams):
                done += len(streams)
        return done

    def _reconnected(self, connection: Connection) -> None:
        if self.on_reconnect is not None:
            self.on_reconnect(self.venue, self.symbols_of(connection))

    def symbols_of(self, connection: Connection) -> list[str]:
        """The configured symbols whose streams this connection carries."""
        out = []
        for symbol in self.config.symbols:
            mine = {s for kind in self.config.kinds for s in self.protocol.streams(symbol, kind, self.config)}
            if mine & set(connection.streams):
                out.append(symbol)
        return out

    def stats(self) -> list[dict]:
        return [c.stats() for c in self.connections]
