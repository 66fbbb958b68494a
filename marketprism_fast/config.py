"""The node's configuration: one typed, strict schema (pydantic v2), loaded from YAML plus
environment overrides.

Every section forbids unknown keys and checks types strictly, so a misspelled or misplaced
option stops start-up with one line naming its key path, the value and what is allowed
(``load_config`` formats pydantic's errors itself) instead of being ignored. Each component
takes its own section model as its one constructor argument.

Secrets never appear in the file: a sink names an environment variable (``password_env``)
or a file (``password_file``), checked when the config is loaded and read by the sink at
start (``resolve_password``); URLs may not carry credentials. ``Config.redacted()`` is
what ``/status`` and logs show; ``Config.digest()`` identifies a config.

Environment overrides (applied over the file, later rows win):

- the old services' names (``LEGACY_VARIABLES``, documented in ``config/README.md``);
- ``MPF_<SECTION>__<KEY>[__<KEY>...]=VALUE``: any option by its key path, case-insensitive,
  e.g. ``MPF_NODE__BATCH_ROWS=50000``, ``MPF_VENUES__OKX__SYMBOLS=BTC-USDT,ETH-USDT``,
  ``MPF_SINKS__NATS__ENABLED=true``. The value is read as the option's type: true/false
  (also 1/0, yes/no, on/off), numbers, comma-separated lists (or a YAML flow list
  ``[a, b]``), ``null`` for an optional option. ``MPF_`` names without ``__`` are not
  config (``MPF_REQUIRE_COMPILED``, ``MPF_CONFIG``, ...).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import types
import typing
from pathlib import Path
from typing import Any, Literal, Mapping
from urllib.parse import urlsplit

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from . import limits
from .errors import ConfigurationError
from .records import KINDS, VENUES

KindName = Literal["trade", "book_delta", "book_snapshot", "quote", "ticker", "kline", "funding_rate", "open_interest", "liquidation"]
VenueId = Literal["binance_spot", "binance_usdm", "binance_coinm", "okx", "deribit"]

_SYMBOL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-/]*$")
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_SUBJECT = re.compile(r"^[A-Za-z0-9_\-]+(\.[A-Za-z0-9_\-]+)*$")  # NATS subject tokens, no wildcards
_STREAM = re.compile(r"^[A-Za-z0-9_\-]+$")  # JetStream stream names: no '.', '*', '>' or spaces
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _url(key: str, value: str, schemes: tuple[str, ...], what: str) -> None:
    """Validator messages start with the option's name ("key: = value: problem"); the
    error formatter moves it into the key path."""
    allowed = " or ".join(f"{s}://HOST[:PORT]" for s in schemes)
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError as exc:
        raise ValueError(f"{key}: = {value!r}: not a {what} URL ({exc}); allowed: {allowed}") from None
    if parts.scheme not in schemes or not (parts.hostname or parts.scheme == "unix"):
        raise ValueError(f"{key}: = {value!r}: not a {what} URL; allowed: {allowed}")
    if parts.password is not None:
        raise ValueError(f"{key}: holds a password; a password may only come from password_env or password_file")


class Section(BaseModel):
    """Base of every config section: unknown keys are errors, types are not coerced."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class Backoff(Section):
    """Reconnect delays: capped exponential with full jitter (delay = uniform(0, min(max, initial * 2**n)))."""

    initial_seconds: float = Field(0.5, gt=0, description="first reconnect delay cap, seconds")
    max_seconds: float = Field(30.0, gt=0, description="largest reconnect delay, seconds")

    @model_validator(mode="after")
    def _ordered(self) -> "Backoff":
        if self.initial_seconds > self.max_seconds:
            raise ValueError(f"initial_seconds: = {self.initial_seconds}: must not exceed max_seconds ({self.max_seconds})")
        return self


class BookConfig(Section):
    """Order books maintained from book_delta rows; they emit book_snapshot (+ quote) rows."""

    enabled: bool = Field(True, description="maintain order books for this venue's symbols (needs book_delta in kinds)")
    depth: int = Field(20, ge=1, le=1000, description="levels per side in each book_snapshot row")
    every_update: bool = Field(True, description="a book_snapshot after every applied message; false: at most one per interval_ms")
    interval_ms: int = Field(1000, ge=1, description="with every_update false: milliseconds between a symbol's book_snapshot rows")
    max_books: int = Field(limits.DEFAULT_MAX_BOOKS, gt=0, le=2**31 - 1, description="books kept at most (an input limit: a venue naming more symbols cannot grow memory without bound)")


class VenueConfig(Section):
    """One venue id (``binance_spot`` ... ``deribit``). URLs default to the venue's public endpoints."""

    enabled: bool = Field(True, description="connect to this venue")
    ws_url: str | None = Field(None, description="WebSocket base URL override (e.g. ws://127.0.0.1:PORT for the simulator); null: the venue's public endpoint")
    rest_url: str | None = Field(None, description="REST base URL override; null: the venue's public endpoint")
    symbols: list[str] = Field(default_factory=list, description="the venue's raw symbols (BTCUSDT, BTC-USDT-SWAP, BTC-PERPETUAL); at least one when enabled")
    kinds: list[KindName] = Field(default_factory=lambda: ["trade", "book_delta", "quote"], description="record kinds to subscribe to")
    channels: list[str] = Field(default_factory=list, description="extra raw venue channels/streams, subscribed as given")
    book: BookConfig = Field(BookConfig(), description="order books")
    depth_interval_ms: Literal[0, 100, 1000] = Field(100, description="Binance depth stream speed in ms (0 = @0ms, futures only)")
    kline_interval: str = Field("1m", description="kline interval in the venue's notation")
    streams_per_connection: int | None = Field(None, gt=0, description="streams (subscriptions) per connection; null: the venue's documented limit")
    subscribe_messages_per_second: float | None = Field(None, gt=0, description="subscribe messages per second per connection; null: the venue's documented limit")
    connect_attempts_per_minute: int | None = Field(None, gt=0, description="connection attempts per minute for this venue; null: the venue's documented limit")
    watchdog_seconds: float = Field(30.0, gt=0, description="a connection silent for longer is reconnected (OKX, Deribit: must exceed heartbeat_seconds)")
    heartbeat_seconds: int = Field(10, gt=0, description="Deribit set_heartbeat interval; OKX sends ping after this many idle seconds")
    max_connection_age_seconds: float | None = Field(None, gt=0, description="replace a connection at this age (the replacement opens first); null: the venue's (Binance 24 h)")
    reconnect: Backoff = Field(Backoff(), description="reconnect backoff")
    open_interest_poll_seconds: float | None = Field(60.0, gt=0, description="Binance futures: REST openInterest polling period; null: off")
    instruments_refresh_seconds: float = Field(3600.0, gt=0, description="instrument metadata reload period")
    rest_timeout_seconds: float = Field(10.0, gt=0, description="timeout of one REST request")
    rest_retries: int = Field(3, ge=0, le=20, description="retries of a failed REST request")
    # Input limits (the parsers' ``InputLimits``; docs/limits.md says what each costs).
    max_frame_bytes: int = Field(limits.DEFAULT_MAX_FRAME_BYTES, gt=0, le=2**31 - 1, description="largest WebSocket frame or REST body accepted (larger: refused, counted as malformed)")
    max_rows_per_frame: int = Field(limits.DEFAULT_MAX_ROWS_PER_FRAME, gt=0, le=2**31 - 1, description="rows of one kind one frame or REST body may write (book levels, trades of one push)")
    max_instruments: int = Field(limits.DEFAULT_MAX_INSTRUMENTS, gt=0, le=2**31 - 1, description="distinct instruments this venue's parser holds; a frame naming one more is refused")

    @model_validator(mode="after")
    def _consistent(self) -> "VenueConfig":
        if self.enabled and not self.symbols:
            raise ValueError("symbols: an enabled venue needs at least one symbol")
        for what, items in (("symbols", self.symbols), ("kinds", self.kinds), ("channels", self.channels)):
            seen = set()
            for item in items:
                if item in seen:
                    raise ValueError(f"{what}: = {item!r}: listed twice; each may appear once")
                seen.add(item)
        for symbol in self.symbols:
            if not _SYMBOL.match(symbol):
                raise ValueError(f"symbols: = {symbol!r}: not a symbol; allowed: letters, digits, '-', '_', '.', '/'")
        if self.enabled and not self.kinds and not self.channels:
            raise ValueError("kinds: an enabled venue needs at least one kind or channel")
        if self.ws_url is not None:
            _url("ws_url", self.ws_url, ("ws", "wss"), "WebSocket")
        if self.rest_url is not None:
            _url("rest_url", self.rest_url, ("http", "https"), "HTTP")
        if "book_snapshot" in self.kinds and not (self.book.enabled and "book_delta" in self.kinds):
            raise ValueError("kinds: book_snapshot rows come from maintained books: needs book.enabled and book_delta in kinds")
        return self


class Overflow(Section):
    """What a sink does when its queue is full."""

    max_queue_batches: int = Field(256, gt=0, description="batches queued for this sink before the overflow policy applies")
    # Memory of the batches queued for (or being written by) the sink: what bounds RSS
    # whatever the batch size or the sink's speed.
    max_queue_bytes: int = Field(
        128 * 1024**2, gt=0,
        description="bytes of batches queued for (or being written by) this sink before the overflow policy applies",
    )
    policy: Literal["spool", "drop_oldest"] = Field("spool", description="spool: to the sink's on-disk spool; drop_oldest: drop (counted, logged)")


class SpoolConfig(Section):
    """Bounded on-disk spool for batches a server could not take (Arrow IPC files, fsync'd)."""

    directory: str = Field("spool", min_length=1, description="spool directory (created)")
    max_bytes: int = Field(1024**3, gt=0, description="spool size limit in bytes")
    on_full: Literal["drop_oldest", "drop_newest"] = Field("drop_oldest", description="what a full spool drops (counted, logged)")


def _check_secret(section: Any) -> None:
    if section.password_env is not None and section.password_file is not None:
        raise ValueError("password_file: given with password_env; give one of them, not both")
    if section.password_env is not None and not _ENV_NAME.match(section.password_env):
        raise ValueError(f"password_env: = {section.password_env!r}: not an environment variable name (letters, digits, '_')")


def _check_no_spool(section: Any) -> None:
    """Sinks without a spool cannot have the spool overflow policy."""
    if section.overflow.policy == "spool":
        raise ValueError("overflow: policy 'spool' needs a spool, which this sink has not; use drop_oldest")


class ClickHouseSinkConfig(Section):
    """ClickHouse over the native protocol (clickhouse-driver): one table per kind."""

    enabled: bool = Field(False, description="write batches to ClickHouse")
    url: str = Field("clickhouse://127.0.0.1:9000", description="native protocol URL: clickhouse://HOST:PORT (clickhouses:// for TLS)")
    database: str = Field("marketprism", description="database (created with the tables)")
    user: str = Field("default", description="user name")
    password_env: str | None = Field(None, description="name of the environment variable holding the password")
    password_file: str | None = Field(None, description="file holding the password (first line)")
    compression: Literal["lz4", "zstd", "none"] = Field("lz4", description="native protocol compression")
    insert_timeout_seconds: float = Field(30.0, gt=0, description="timeout of one insert")
    writers: int = Field(2, ge=1, le=16, description="connections inserting at once (one thread each): client encoding overlaps server writes")
    overflow: Overflow = Field(Overflow(), description="queue bound and overflow policy")
    spool: SpoolConfig = Field(SpoolConfig(directory="spool/clickhouse"), description="on-disk spool while ClickHouse is down")

    @model_validator(mode="after")
    def _check(self) -> "ClickHouseSinkConfig":
        _check_secret(self)
        _url("url", self.url, ("clickhouse", "clickhouses", "tcp"), "ClickHouse native protocol")
        if not _IDENTIFIER.match(self.database):
            raise ValueError(f"database: = {self.database!r}: not an identifier; allowed: letters, digits, '_'")
        return self


class NatsSinkConfig(Section):
    """NATS JetStream: one Arrow IPC message per batch."""

    enabled: bool = Field(False, description="publish batches to NATS JetStream")
    url: str = Field("nats://127.0.0.1:4222", description="server URL: nats://HOST:PORT (tls:// for TLS)")
    user: str | None = Field(None, description="user name; null: none")
    password_env: str | None = Field(None, description="name of the environment variable holding the password")
    password_file: str | None = Field(None, description="file holding the password (first line)")
    stream: str = Field("MARKETPRISM", description="JetStream stream (created or checked)")
    batch_subject_prefix: str = Field("mpf.batch", description="batches go to {prefix}.{kind}.{exchange}")
    per_record_json: bool = Field(False, description="also one JSON message per record on {kind}.{exchange}.{market}.{symbol}")
    legacy_subjects: bool = Field(False, description="also the old collector's market.{exchange}.{symbol}.{type} subjects (migration aid)")
    duplicate_window_seconds: float = Field(120.0, gt=0, description="stream duplicate window (Nats-Msg-Id de-duplication), seconds")
    max_age_seconds: float = Field(24 * 3600.0, gt=0, description="stream retention, seconds")
    replicas: int = Field(1, ge=1, le=5, description="stream replicas (a cluster for more than 1)")
    storage: Literal["file", "memory"] = Field("file", description="stream storage")
    max_pending_acks: int = Field(64, gt=0, description="publishes in flight awaiting their acks")
    ack_timeout_seconds: float = Field(5.0, gt=0, description="a publish acknowledgement not back by then is retried (same Nats-Msg-Id)")
    overflow: Overflow = Field(Overflow(), description="queue bound and overflow policy")
    spool: SpoolConfig = Field(SpoolConfig(directory="spool/nats"), description="on-disk spool while NATS is down")
    consumer_durable: str = Field("clickhouse", description="the NATS -> ClickHouse consumer (`consume`): its durable pull consumer's name")
    consumer_ack_wait_seconds: float = Field(60.0, gt=0, description="consumer: ack wait, longer than any insert (redelivery only after a consumer died)")
    consumer_fetch_messages: int = Field(16, gt=0, description="consumer: messages fetched per pull")

    @model_validator(mode="after")
    def _check(self) -> "NatsSinkConfig":
        _check_secret(self)
        _url("url", self.url, ("nats", "tls"), "NATS")
        if not _STREAM.match(self.stream):
            raise ValueError(f"stream: = {self.stream!r}: not a stream name; allowed: letters, digits, '-', '_'")
        if not _SUBJECT.match(self.batch_subject_prefix):
            raise ValueError(f"batch_subject_prefix: = {self.batch_subject_prefix!r}: not a subject; allowed: dot-separated tokens of letters, digits, '-', '_'")
        if not _STREAM.match(self.consumer_durable):
            raise ValueError(f"consumer_durable: = {self.consumer_durable!r}: not a consumer name; allowed: letters, digits, '-', '_'")
        return self


class RedisSinkConfig(Section):
    """Redis: the latest value per (kind, exchange, symbol), with a TTL."""

    enabled: bool = Field(False, description="cache latest values in Redis")
    url: str = Field("redis://127.0.0.1:6379/0", description="server URL: redis://HOST:PORT/DB (rediss:// for TLS, unix:///path)")
    password_env: str | None = Field(None, description="name of the environment variable holding the password")
    password_file: str | None = Field(None, description="file holding the password (first line)")
    key_prefix: str = Field("mpf", description="keys are {prefix}:{kind}:{exchange}:{symbol}")
    ttl_seconds: int = Field(300, gt=0, description="key expiry, seconds")
    kinds: list[KindName] = Field(
        default_factory=lambda: ["quote", "ticker", "trade", "funding_rate", "open_interest", "book_snapshot"],
        description="kinds whose latest value is cached",
    )
    overflow: Overflow = Field(Overflow(policy="drop_oldest"), description="queue bound and overflow policy (drop_oldest: the cache only needs the latest)")

    @model_validator(mode="after")
    def _check(self) -> "RedisSinkConfig":
        _check_secret(self)
        _check_no_spool(self)
        _url("url", self.url, ("redis", "rediss", "unix"), "Redis")
        if not self.key_prefix or any(c.isspace() for c in self.key_prefix):
            raise ValueError(f"key_prefix: = {self.key_prefix!r}: must be non-empty, without spaces")
        return self


class EmbeddedSinkConfig(Section):
    """ClickHouse in-process (chdb): the same tables with the modern DDL."""

    enabled: bool = Field(False, description="write batches to the embedded store")
    path: str = Field("out/store", min_length=1, description="the store's directory")
    database: str = Field("marketprism", description="database")
    overflow: Overflow = Field(Overflow(policy="drop_oldest"), description="queue bound and overflow policy")

    @model_validator(mode="after")
    def _check(self) -> "EmbeddedSinkConfig":
        _check_no_spool(self)
        if not _IDENTIFIER.match(self.database):
            raise ValueError(f"database: = {self.database!r}: not an identifier; allowed: letters, digits, '_'")
        return self


class JsonlSinkConfig(Section):
    """JSON Lines file: one record per line (contract columns)."""

    enabled: bool = Field(False, description="append records to a JSON Lines file")
    path: str = Field("out/records.jsonl", min_length=1, description="the file (its directory is created)")
    overflow: Overflow = Field(Overflow(policy="drop_oldest"), description="queue bound and overflow policy")

    @model_validator(mode="after")
    def _check(self) -> "JsonlSinkConfig":
        _check_no_spool(self)
        return self


class NullSinkConfig(Section):
    """Takes every batch and keeps nothing (dry runs, benchmarks)."""

    enabled: bool = Field(False, description="count batches and drop them")


class SinksConfig(Section):
    clickhouse: ClickHouseSinkConfig = Field(ClickHouseSinkConfig(), description="ClickHouse server")
    nats: NatsSinkConfig = Field(NatsSinkConfig(), description="NATS JetStream")
    redis: RedisSinkConfig = Field(RedisSinkConfig(), description="Redis latest-value cache")
    embedded: EmbeddedSinkConfig = Field(EmbeddedSinkConfig(), description="embedded ClickHouse (chdb)")
    jsonl: JsonlSinkConfig = Field(JsonlSinkConfig(), description="JSON Lines file")
    null: NullSinkConfig = Field(NullSinkConfig(), description="discard")

    def enabled(self) -> list[str]:
        return [name for name in type(self).model_fields if getattr(self, name).enabled]


class HttpConfig(Section):
    """The node's HTTP server: /health, /status, /metrics."""

    enabled: bool = Field(True, description="serve /health, /status and /metrics")
    host: str = Field("127.0.0.1", min_length=1, description="address to bind (0.0.0.0: every interface)")
    port: int = Field(8080, ge=0, le=65535, description="port (0: any free port)")


class LoggingConfig(Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO", description="least severe level logged")
    format: Literal["text", "json"] = Field("text", description="text lines, or one JSON object per line")


class NodeConfig(Section):
    name: str = Field("marketprism", min_length=1, description="node name (logs, /status)")
    flush_interval_seconds: float = Field(1.0, gt=0, le=60, description="buffers become batches at least this often, seconds")
    batch_rows: int = Field(100_000, gt=0, description="a kind's buffer becomes a batch at this many rows")
    parser: Literal["auto", "compiled", "reference"] = Field("auto", description="parser implementation (auto: compiled when built)")
    shutdown_timeout_seconds: float = Field(10.0, gt=0, description="on SIGTERM/SIGINT: time allowed to drain buffers to the sinks")


HEARTBEAT_VENUES = ("okx", "deribit")  # venues whose keep-alive is paced by heartbeat_seconds


class ShardingConfig(Section):
    """Several nodes splitting the instruments: each ``venue:SYMBOL`` is owned by exactly one
    node (docs/operations.md, "Scaling out"). Every node gets the same section."""

    nodes: list[str] = Field(default_factory=list, description="every node's node.name; empty: one node owns everything")
    method: Literal["hash", "explicit"] = Field("hash", description="hash: a stable hash of venue:SYMBOL picks the node; explicit: the assign lists")
    assign: dict[str, list[str]] = Field(default_factory=dict, description='with explicit: node name -> its "venue" or "venue:SYMBOL" entries')


class Config(Section):
    node: NodeConfig = Field(NodeConfig(), description="the node")
    venues: dict[VenueId, VenueConfig] = Field(default_factory=dict, description="venues by id")
    sinks: SinksConfig = Field(SinksConfig(), description="where batches go")
    http: HttpConfig = Field(HttpConfig(), description="HTTP server")
    logging: LoggingConfig = Field(LoggingConfig(), description="logging")
    sharding: ShardingConfig = Field(ShardingConfig(), description="splitting the instruments across several nodes")

    @model_validator(mode="after")
    def _heartbeats(self) -> "Config":
        # OKX and Deribit connections may be quiet but for the keep-alive every
        # heartbeat_seconds: a watchdog no longer than that would drop a healthy connection.
        for name, venue in self.venues.items():
            if name in HEARTBEAT_VENUES and venue.watchdog_seconds <= venue.heartbeat_seconds:
                raise ValueError(
                    f"venues.{name}.watchdog_seconds: = {venue.watchdog_seconds}: must exceed heartbeat_seconds ({venue.heartbeat_seconds}) on {name}"
                )
        return self

    def enabled_venues(self) -> dict[str, VenueConfig]:
        return {name: venue for name, venue in self.venues.items() if venue.enabled}

    def redacted(self) -> dict:
        """The config as JSON-ready data, safe to show: secrets are only ever names of
        environment variables or files, and URLs cannot hold passwords (validated)."""
        return self.model_dump(mode="json")

    def digest(self) -> str:
        """sha256 of the canonical JSON form, first 16 hex digits."""
        canonical = json.dumps(self.redacted(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]


assert set(KindName.__args__) == {k.name for k in KINDS}  # type: ignore[attr-defined]
assert set(VenueId.__args__) == set(VENUES)  # type: ignore[attr-defined]


# --------------------------------------------------------------------------- environment

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _bool_text(text: str, where: str) -> bool:
    t = text.strip().lower()
    if t in _TRUE:
        return True
    if t in _FALSE:
        return False
    raise ConfigurationError(f"{where} = {text!r}: must be true or false (also 1/0, yes/no, on/off)", field=where)


def _clickhouse_url(text: str, where: str) -> str:
    """CLICKHOUSE_URL of the old service named the HTTP interface; the node speaks the
    native protocol. The default ports translate (8123 -> 9000, 8443 -> 9440 with TLS)."""
    parts = urlsplit(text.strip())
    if parts.scheme in ("http", "https"):
        native = {8123: ("clickhouse", 9000), 8443: ("clickhouses", 9440), None: ("clickhouse", 9000)}.get(parts.port)
        if native is None:
            raise ConfigurationError(
                f"{where} = {text!r}: an HTTP URL on a non-default port; allowed: the native protocol URL clickhouse://HOST:PORT",
                field=where,
            )
        scheme, port = native
        return f"{scheme}://{parts.hostname}:{port}"
    return text.strip()


def _symbols_by_venue(text: str, where: str) -> dict[str, list[str]]:
    """SYMBOLS: comma-separated; ``venue:SYMBOL`` for a venue, a plain symbol is Binance spot."""
    out: dict[str, list[str]] = {}
    for item in (s.strip() for s in text.split(",")):
        if not item:
            continue
        venue, sep, symbol = item.rpartition(":")
        venue = venue.lower() if sep else "binance_spot"
        if venue not in VENUES:
            raise ConfigurationError(f"{where} = {item!r}: unknown venue {venue!r}; allowed: {', '.join(VENUES)}", field=where)
        out.setdefault(venue, []).append(symbol.upper())
    return out


# name -> (key path it sets, what it maps to in words; the reference's table comes from here)
LEGACY_VARIABLES: dict[str, str] = {
    "SYMBOLS": "venues.<venue>.symbols: comma-separated; `venue:SYMBOL` for a venue (e.g. `okx:BTC-USDT`), a plain symbol is binance_spot's (the old service's only venue); replaces the file's list for each venue named",
    "ENABLE_BINANCE": "venues.binance_spot.enabled (true/false, 1/0, yes/no, on/off)",
    "NATS_URL": "sinks.nats.url, and sinks.nats.enabled = true (the old collector always published to NATS)",
    "CLICKHOUSE_URL": "sinks.clickhouse.url; an old HTTP URL on a default port becomes the native one (http://H:8123 -> clickhouse://H:9000, https://H:8443 -> clickhouses://H:9440)",
    "CLICKHOUSE_DIRECT_WRITE": "sinks.clickhouse.enabled",
    "REDIS_URL": "sinks.redis.url",
    "REDIS_CACHE": "sinks.redis.enabled",
    "HTTP_PORT": "http.port",
    "LOG_LEVEL": "logging.level (case-insensitive; WARN means WARNING)",
}


def _legacy_overrides(environ: Mapping[str, str]) -> list[tuple[tuple[str, ...], Any, str]]:
    out: list[tuple[tuple[str, ...], Any, str]] = []
    for name in LEGACY_VARIABLES:
        if name not in environ:
            continue
        text = environ[name]
        where = f"environment {name}: " + LEGACY_VARIABLES[name].split(" ", 1)[0].rstrip(":,;")
        if name == "SYMBOLS":
            for venue, symbols in _symbols_by_venue(text, where).items():
                out.append((("venues", venue, "symbols"), symbols, name))
        elif name == "ENABLE_BINANCE":
            out.append((("venues", "binance_spot", "enabled"), _bool_text(text, where), name))
        elif name == "NATS_URL":
            out.append((("sinks", "nats", "url"), text.strip(), name))
            out.append((("sinks", "nats", "enabled"), True, name))
        elif name == "CLICKHOUSE_URL":
            out.append((("sinks", "clickhouse", "url"), _clickhouse_url(text, where), name))
        elif name == "CLICKHOUSE_DIRECT_WRITE":
            out.append((("sinks", "clickhouse", "enabled"), _bool_text(text, where), name))
        elif name == "REDIS_URL":
            out.append((("sinks", "redis", "url"), text.strip(), name))
        elif name == "REDIS_CACHE":
            out.append((("sinks", "redis", "enabled"), _bool_text(text, where), name))
        elif name == "HTTP_PORT":
            out.append((("http", "port"), _scalar(text, int, where), name))
        elif name == "LOG_LEVEL":
            level = text.strip().upper()
            out.append((("logging", "level"), "WARNING" if level == "WARN" else level, name))
    return out


ENV_PREFIX = "MPF_"


def _annotation_at(path: tuple[str, ...], where: str) -> Any:
    """The type of the option at ``path`` (keys already lower-cased)."""
    model: Any = Config
    annotation: Any = Config
    for i, key in enumerate(path):
        if isinstance(model, type) and issubclass(model, BaseModel):
            field = model.model_fields.get(key)
            if field is None:
                allowed = ", ".join(model.model_fields)
                prefix = ".".join(path[:i]) or "top level"
                raise ConfigurationError(f"{where}: unknown key {key!r} in {prefix}; allowed: {allowed}", field=where)
            annotation = field.annotation
        elif typing.get_origin(model) is dict:
            key_type, annotation = typing.get_args(model)
            allowed_keys = typing.get_args(key_type)
            if key not in allowed_keys:
                raise ConfigurationError(
                    f"{where}: unknown key {key!r} in {'.'.join(path[:i])}; allowed: {', '.join(allowed_keys)}", field=where
                )
        else:
            raise ConfigurationError(f"{where}: {'.'.join(path[:i])} is an option, not a section", field=where)
        model = annotation
    return annotation


def _scalar(text: str, kind: type, where: str) -> Any:
    if kind is bool:
        return _bool_text(text, where)
    try:
        if kind is int:
            return int(text.strip())
        if kind is float:
            return float(text.strip())
    except ValueError:
        raise ConfigurationError(f"{where} = {text!r}: must be {'an integer' if kind is int else 'a number'}", field=where) from None
    return text


def _from_text(text: str, annotation: Any, where: str) -> Any:
    """An environment value read as ``annotation``."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        if text.strip().lower() in ("null", "none", "~"):
            return None
        others = [a for a in args if a is not type(None)]
        return _from_text(text, others[0], where)
    if origin is Literal:
        if all(isinstance(a, int) for a in args):
            return _scalar(text, int, where)
        return text.strip()
    if origin is list:
        stripped = text.strip()
        if stripped.startswith("["):
            try:
                items = yaml.safe_load(stripped)
            except yaml.YAMLError:
                raise ConfigurationError(f"{where} = {text!r}: must be a list ([a, b] or a,b)", field=where) from None
            return [str(i) for i in items] if isinstance(items, list) else items
        return [_from_text(item.strip(), args[0], where) for item in stripped.split(",") if item.strip()]
    if origin is dict or (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
        raise ConfigurationError(f"{where}: is a section, not an option; set its options one by one (..._<KEY>=VALUE)", field=where)
    if annotation in (bool, int, float):
        return _scalar(text, annotation, where)
    return text


def _general_overrides(environ: Mapping[str, str]) -> list[tuple[tuple[str, ...], Any, str]]:
    out = []
    for name in sorted(environ):
        if not name.upper().startswith(ENV_PREFIX) or "__" not in name:
            continue
        path = tuple(part.lower() for part in name[len(ENV_PREFIX) :].split("__"))
        where = f"environment {name}"
        if any(not part for part in path):
            raise ConfigurationError(f"{where}: empty key in the name; the form is MPF_SECTION__KEY[__KEY...]", field=where)
        annotation = _annotation_at(path, where)
        out.append((path, _from_text(environ[name], annotation, f"{where}: {'.'.join(path)}"), name))
    return out


def _set(data: dict, path: tuple[str, ...], value: Any, origin: str) -> None:
    node = data
    for i, key in enumerate(path[:-1]):
        child = node.get(key)
        if child is None:
            child = node[key] = {}
        elif not isinstance(child, dict):
            raise ConfigurationError(
                f"environment {origin}: {'.'.join(path[: i + 1])} is {child!r} in the file, not a section", field=origin
            )
        node = child
    node[path[-1]] = value


# --------------------------------------------------------------------------- errors

_PHRASES = {
    "int_type": "must be an integer",
    "int_parsing": "must be an integer",
    "int_from_float": "must be an integer",
    "float_type": "must be a number",
    "float_parsing": "must be a number",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "string_type": "must be a text",
    "list_type": "must be a list",
    "dict_type": "must be a mapping of keys",
    "model_type": "must be a section (a mapping of keys)",
    "model_attributes_type": "must be a section (a mapping of keys)",
    "missing": "is required",
    "finite_number": "must be a finite number",
}


def _section_at(loc: tuple) -> Any:
    model: Any = Config
    for key in loc:
        if isinstance(model, type) and issubclass(model, BaseModel):
            field = model.model_fields.get(key) if isinstance(key, str) else None
            if field is None:
                return None
            model = field.annotation
        elif typing.get_origin(model) is dict:
            model = typing.get_args(model)[1]
        elif typing.get_origin(model) in (typing.Union, types.UnionType):
            return None
        else:
            return None
    return model


def _path(loc: tuple) -> str:
    out = ""
    for key in loc:
        if isinstance(key, int):
            out += f"[{key}]"
        else:
            out += ("." if out else "") + str(key)
    return out or "(top level)"


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _describe(error: dict) -> tuple[tuple, str]:
    """(key path, problem) of one pydantic error."""
    loc = tuple(error["loc"])
    kind = error["type"]
    ctx = error.get("ctx") or {}
    if loc and loc[-1] == "[key]":  # a mapping's key: the venue ids
        loc = loc[:-1]
        section = _section_at(loc[:-1])
        allowed = typing.get_args(typing.get_args(section)[0]) if typing.get_origin(section) is dict else ()
        return loc, f"unknown key {loc[-1]!r}; allowed: {', '.join(allowed)}"
    if kind == "extra_forbidden":
        section = _section_at(loc[:-1])
        allowed = ", ".join(section.model_fields) if isinstance(section, type) and issubclass(section, BaseModel) else "?"
        where = _path(loc[:-1]) if loc[:-1] else "the top level"
        return loc, f"unknown key {loc[-1]!r} in {where}; allowed: {allowed}"
    if kind == "literal_error":
        return loc, f"= {_show(error['input'])}: must be one of {ctx.get('expected', '?')}"
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        sign = {"greater_than": ">", "greater_than_equal": ">=", "less_than": "<", "less_than_equal": "<="}[kind]
        bound = next(iter(ctx.values()))
        return loc, f"= {_show(error['input'])}: must be {sign} {bound}"
    if kind in ("too_short", "string_too_short"):
        return loc, f"= {_show(error['input'])}: must not be empty"
    if kind == "value_error":
        message = str(ctx.get("error", error["msg"]))
        # our validators name the option first ("symbols: ..."): move it into the path
        head, sep, rest = message.partition(": ")
        section = _section_at(loc)
        parts = tuple(head.split("."))
        if sep and isinstance(section, type) and issubclass(section, BaseModel) and parts[0] in section.model_fields:
            return (*loc, *parts), rest
        return loc, message
    phrase = _PHRASES.get(kind)
    if phrase is None:
        return loc, f"= {_show(error.get('input'))}: {error['msg']}"
    if kind == "missing":
        return loc, phrase
    value = error.get("input")
    return loc, f"= {_show(value)} ({type(value).__name__}): {phrase}"


def _format_error(exc: ValidationError, source: str, provenance: dict[tuple[str, ...], str]) -> str:
    errors = exc.errors(include_url=False)
    loc, problem = _describe(errors[0])
    keys = tuple(str(k) for k in loc)
    origin = ""
    for i in range(len(keys), 0, -1):
        var = provenance.get(keys[:i])
        if var is not None:
            origin = f" (set by environment {var})"
            break
    more = f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})" if len(errors) > 1 else ""
    sep = " " if problem.startswith("=") else ": "
    return f"{source}: {_path(loc)}{sep}{problem}{origin}{more}"


# --------------------------------------------------------------------------- loading


def _read_yaml(path: str | os.PathLike) -> dict:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigurationError(f"{path}: no such config file", field="config") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigurationError(f"{path}: cannot read the config file ({exc})", field="config") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigurationError(f"{path}: not valid YAML{where}: {' '.join(str(problem).split())}", field="config") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigurationError(
            f"{path}: the top level must be a mapping of sections (node, venues, sinks, http, logging), got {type(data).__name__}",
            field="config",
        )
    return data


def config_from_data(
    data: dict, environ: Mapping[str, str] | None = None, *, source: str = "config"
) -> Config:
    """Validate ``data`` (as read from YAML) with the environment's overrides applied."""
    environ = {} if environ is None else environ
    data = json.loads(json.dumps(data, default=str)) if data else {}  # a private, plain copy
    provenance: dict[tuple[str, ...], str] = {}
    for path, value, origin in [*_legacy_overrides(environ), *_general_overrides(environ)]:
        _set(data, path, value, origin)
        provenance[path] = origin
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigurationError(_format_error(exc, source, provenance), field="config") from None
    check_secrets(config, environ)
    return config


def load_config(path: str | os.PathLike, environ: Mapping[str, str] | None = None) -> Config:
    """The config of file ``path`` with ``environ``'s overrides (``os.environ`` if None).
    Any problem raises ConfigurationError with one line naming the key path, the value and
    what is allowed."""
    environ = os.environ if environ is None else environ
    return config_from_data(_read_yaml(path), environ, source=str(path))


def _secret_sections(config: Config) -> list[tuple[str, Any]]:
    return [(f"sinks.{name}", getattr(config.sinks, name)) for name in ("clickhouse", "nats", "redis")]


def check_secrets(config: Config, environ: Mapping[str, str]) -> None:
    """Every enabled sink's password source exists (its value is not read here)."""
    for where, section in _secret_sections(config):
        if not section.enabled:
            continue
        if section.password_env is not None and section.password_env not in environ:
            raise ConfigurationError(
                f"{where}.password_env = {section.password_env!r}: no such environment variable is set", field=f"{where}.password_env"
            )
        if section.password_file is not None and not os.access(section.password_file, os.R_OK):
            raise ConfigurationError(
                f"{where}.password_file = {section.password_file!r}: no readable file there", field=f"{where}.password_file"
            )


def resolve_password(section: BaseModel, environ: Mapping[str, str] | None = None) -> str | None:
    """The password a sink section names (never log it), or None."""
    environ = os.environ if environ is None else environ
    name = getattr(section, "password_env", None)
    if name is not None:
        try:
            return environ[name]
        except KeyError:
            raise ConfigurationError(f"password_env = {name!r}: no such environment variable is set", field="password_env") from None
    path = getattr(section, "password_file", None)
    if path is not None:
        try:
            return Path(path).read_text(encoding="utf-8").splitlines()[0] if Path(path).stat().st_size else ""
        except OSError as exc:
            raise ConfigurationError(f"password_file = {path!r}: cannot read it ({exc.strerror})", field="password_file") from None
    return None


def require_runnable(config: Config) -> None:
    """What ``run`` needs beyond a valid schema: a venue to read and a sink to write to."""
    if not config.enabled_venues():
        raise ConfigurationError(
            f"venues: no venue is enabled; add one of {', '.join(VENUES)} with its symbols", field="venues"
        )
    if not config.sinks.enabled():
        raise ConfigurationError(
            f"sinks: no sink is enabled; enable one of {', '.join(SinksConfig.model_fields)} (null for a dry run)",
            field="sinks",
        )
