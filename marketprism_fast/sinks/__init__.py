"""Where batches go: ClickHouse, NATS JetStream, Redis, the embedded store, JSON Lines, null.

Every sink has the shape of ``base.Sink`` and takes its config section as its one
constructor argument; ``make_sinks`` builds the enabled ones (docs/sinks.md).
"""

from __future__ import annotations

from ..config import SinksConfig
from .base import Sink


def make_sinks(config: SinksConfig) -> list[Sink]:
    """The sinks the config enables, in a fixed order (imports only what is used)."""
    sinks: list[Sink] = []
    if config.clickhouse.enabled:
        from .clickhouse.sink import ClickHouseSink

        sinks.append(ClickHouseSink(config.clickhouse))
    if config.nats.enabled:
        from .nats import NatsSink

        sinks.append(NatsSink(config.nats))
    if config.redis.enabled:
        from .redis import RedisSink

        sinks.append(RedisSink(config.redis))
    if config.embedded.enabled:
        from .embedded import EmbeddedSink

        sinks.append(EmbeddedSink(config.embedded))
    if config.jsonl.enabled:
        from .jsonl import JsonlSink

        sinks.append(JsonlSink(config.jsonl))
    if config.null.enabled:
        from .null import NullSink

        sinks.append(NullSink(config.null))
    return sinks
