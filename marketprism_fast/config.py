"""The node's configuration: one typed, strict schema (pydantic v2).

Every section forbids unknown keys and checks types strictly, so a misspelled or misplaced
option stops start-up with a message naming its key path instead of being ignored. Each
component takes its own section model as its one constructor argument.

Secrets never appear in the file: a sink names an environment variable (``password_env``)
or a file (``password_file``) and the value is resolved at start; ``redacted()`` is what
``/status`` and logs show.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, PositiveFloat, PositiveInt

from .records import KINDS, VENUES

KindName = Literal["trade", "book_delta", "book_snapshot", "quote", "ticker", "kline", "funding_rate", "open_interest", "liquidation"]
VenueId = Literal["binance_spot", "binance_usdm", "binance_coinm", "okx", "deribit"]


class Section(BaseModel):
    """Base of every config section: unknown keys are errors, types are not coerced."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class Backoff(Section):
    """Reconnect delays: capped exponential with full jitter (delay = uniform(0, min(cap, initial * 2**n)))."""

    initial_seconds: PositiveFloat = 0.5
    max_seconds: PositiveFloat = 30.0


class BookConfig(Section):
    """Order books maintained from book_delta rows; emit book_snapshot (+ quote) rows."""

    enabled: bool = True
    depth: int = Field(20, ge=1, le=1000)
    every_update: bool = True  # a book_snapshot after every applied message; else every interval_ms
    interval_ms: int = Field(1000, ge=1)


class VenueConfig(Section):
    """One venue id (``binance_spot`` ... ``deribit``). URLs default to the venue's public endpoints."""

    enabled: bool = True
    ws_url: str | None = None  # override, e.g. ws://127.0.0.1:PORT to use the simulator
    rest_url: str | None = None
    symbols: list[str] = Field(default_factory=list, min_length=1)  # venue's raw symbols (BTCUSDT, BTC-USDT-SWAP, BTC-PERPETUAL)
    kinds: list[KindName] = Field(default_factory=lambda: ["trade", "book_delta", "quote"])
    channels: list[str] = Field(default_factory=list)  # extra raw venue channels/streams, subscribed as given
    book: BookConfig = BookConfig()
    depth_interval_ms: Literal[0, 100, 1000] = 100  # Binance depth stream speed (0 = @0ms, futures only)
    kline_interval: str = "1m"
    streams_per_connection: PositiveInt | None = None  # None: the venue's documented limit
    subscribe_messages_per_second: PositiveFloat | None = None
    connect_attempts_per_minute: PositiveInt | None = None
    watchdog_seconds: PositiveFloat = 30.0  # a connection silent for longer is reconnected
    heartbeat_seconds: PositiveInt = 10  # Deribit set_heartbeat interval; OKX idle ping after this
    max_connection_age_seconds: PositiveFloat | None = None  # None: the venue's (Binance 24 h); a replacement opens before the old one closes
    reconnect: Backoff = Backoff()
    open_interest_poll_seconds: PositiveFloat | None = 60.0  # Binance futures: REST openInterest polling (None: off)
    instruments_refresh_seconds: PositiveFloat = 3600.0
    rest_timeout_seconds: PositiveFloat = 10.0
    rest_retries: int = Field(3, ge=0, le=20)
    max_frame_bytes: PositiveInt = 16 * 1024 * 1024


class Overflow(Section):
    """What a sink does when its queue is full."""

    max_queue_batches: PositiveInt = 256
    # Memory of the batches queued for (or being written by) the sink: what bounds RSS
    # whatever the batch size or the sink's speed. Over it, the policy below applies.
    max_queue_bytes: PositiveInt = 128 * 1024**2
    policy: Literal["spool", "drop_oldest"] = "spool"


class SpoolConfig(Section):
    """Bounded on-disk spool for batches a server could not take (Arrow IPC files, fsync'd)."""

    directory: str = "spool"
    max_bytes: PositiveInt = 1024**3
    on_full: Literal["drop_oldest", "drop_newest"] = "drop_oldest"


class ClickHouseSinkConfig(Section):
    enabled: bool = False
    url: str = "clickhouse://127.0.0.1:9000"  # native protocol
    database: str = "marketprism"
    user: str = "default"
    password_env: str | None = None
    password_file: str | None = None
    compression: Literal["lz4", "zstd", "none"] = "lz4"
    insert_timeout_seconds: PositiveFloat = 30.0
    writers: int = Field(2, ge=1, le=16)  # connections inserting at once (one thread each): client encoding overlaps server writes
    overflow: Overflow = Overflow()
    spool: SpoolConfig = SpoolConfig(directory="spool/clickhouse")


class NatsSinkConfig(Section):
    enabled: bool = False
    url: str = "nats://127.0.0.1:4222"
    user: str | None = None
    password_env: str | None = None
    password_file: str | None = None
    stream: str = "MARKETPRISM"
    batch_subject_prefix: str = "mpf.batch"  # {prefix}.{kind}.{exchange}
    per_record_json: bool = False  # also {kind}.{exchange}.{market}.{symbol} JSON per record
    legacy_subjects: bool = False  # also the old collector's market.{exchange}.{symbol}.{type}
    duplicate_window_seconds: PositiveFloat = 120.0
    max_age_seconds: PositiveFloat = 24 * 3600.0
    replicas: int = Field(1, ge=1, le=5)
    storage: Literal["file", "memory"] = "file"
    max_pending_acks: PositiveInt = 64
    ack_timeout_seconds: PositiveFloat = 5.0  # a publish acknowledgement not back by then is retried (same Nats-Msg-Id)
    overflow: Overflow = Overflow()
    spool: SpoolConfig = SpoolConfig(directory="spool/nats")
    # The NATS -> ClickHouse consumer (``consume`` command): a durable pull consumer on the stream.
    consumer_durable: str = "clickhouse"
    consumer_ack_wait_seconds: PositiveFloat = 60.0  # longer than any insert: redelivery only after a consumer died
    consumer_fetch_messages: PositiveInt = 16


class RedisSinkConfig(Section):
    enabled: bool = False
    url: str = "redis://127.0.0.1:6379/0"
    password_env: str | None = None
    password_file: str | None = None
    key_prefix: str = "mpf"
    ttl_seconds: PositiveInt = 300
    kinds: list[KindName] = Field(default_factory=lambda: ["quote", "ticker", "trade", "funding_rate", "open_interest", "book_snapshot"])
    overflow: Overflow = Overflow(policy="drop_oldest")


class EmbeddedSinkConfig(Section):
    """ClickHouse in-process (chdb): the same tables with the modern DDL."""

    enabled: bool = False
    path: str = "out/store"
    database: str = "marketprism"
    overflow: Overflow = Overflow(policy="drop_oldest")


class JsonlSinkConfig(Section):
    enabled: bool = False
    path: str = "out/records.jsonl"
    overflow: Overflow = Overflow(policy="drop_oldest")


class NullSinkConfig(Section):
    enabled: bool = False


class SinksConfig(Section):
    clickhouse: ClickHouseSinkConfig = ClickHouseSinkConfig()
    nats: NatsSinkConfig = NatsSinkConfig()
    redis: RedisSinkConfig = RedisSinkConfig()
    embedded: EmbeddedSinkConfig = EmbeddedSinkConfig()
    jsonl: JsonlSinkConfig = JsonlSinkConfig()
    null: NullSinkConfig = NullSinkConfig()


class HttpConfig(Section):
    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)  # 0: any free port (tests)


class LoggingConfig(Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["text", "json"] = "text"


class NodeConfig(Section):
    name: str = "marketprism"
    flush_interval_seconds: float = Field(1.0, gt=0, le=60)
    batch_rows: PositiveInt = 100_000  # a kind's buffer is sealed into a batch at this many rows
    parser: Literal["auto", "compiled", "reference"] = "auto"
    shutdown_timeout_seconds: PositiveFloat = 10.0


class Config(Section):
    node: NodeConfig = NodeConfig()
    venues: dict[VenueId, VenueConfig] = Field(default_factory=dict)
    sinks: SinksConfig = SinksConfig()
    http: HttpConfig = HttpConfig()
    logging: LoggingConfig = LoggingConfig()


assert set(KindName.__args__) == {k.name for k in KINDS}  # type: ignore[attr-defined]
assert set(VenueId.__args__) == set(VENUES)  # type: ignore[attr-defined]
