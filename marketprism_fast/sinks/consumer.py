"""NATS -> ClickHouse: a durable pull consumer that writes the batch messages once.

``python -m marketprism_fast consume --config FILE`` (or ``await consume(config)``) binds a
durable pull consumer (``sinks.nats.consumer_durable``) on the stream
(``sinks.nats.stream``, subjects ``{batch_subject_prefix}.>``), fetches batch messages,
decodes each Arrow IPC payload (``sinks/arrow.py``) and writes it with the ClickHouse
writer (``clickhouse/writer.py``, on one worker thread). A message is acknowledged only
after its insert returned.

Exactly once in the table
-------------------------
Delivery is at-least-once: a consumer that dies between insert and ack, an ack that is
lost, a stream that holds a repeat published outside its duplicate window: each brings a
message again. Every message is therefore inserted with the writer's check (``check=True``):
the batch id is looked up in the table first (a cheap read of the granules of that venue
and time range, once no insert of that batch is running on the server) and only absent
pieces are inserted (one part per piece, so a piece is all there or not there). Several
consumers may share the durable (each message goes to one of them; one redelivered to
another while the first is still inserting meets the first's running query id and waits
for it before checking). ``consumer_ack_wait_seconds`` should exceed the longest insert.

ClickHouse down: the message is not acknowledged (``nak`` with a delay), so NATS keeps it;
the consumer retries with backoff and reports. A payload that is not a batch, or that the
server refuses for good, is terminated (``term``) with an error line, never retried forever.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
from typing import Callable

from ..batch import Batch
from ..config import Config
from ..errors import ConfigurationError, SinkRejected, SinkUnavailable
from ..pipeline.identity import id_text
from . import arrow
from .base import Backoff
from .clickhouse.writer import ClickHouseWriter
from .secrets import resolve_password

log = logging.getLogger("marketprism_fast.sinks.consumer")

FETCH_TIMEOUT_SECONDS = 1.0


class ConsumerStats:
    def __init__(self) -> None:
        self.messages = 0
        self.rows_inserted = 0
        self.already_written = 0
        self.redelivered = 0
        self.terminated = 0
        self.errors = 0


async def consume(
    config: Config,
    *,
    stop: asyncio.Event | None = None,
    on_inserted: Callable[[Batch], None] | None = None,
    stats: ConsumerStats | None = None,
) -> ConsumerStats:
    """Consume until ``stop`` is set (or the task is cancelled). ``on_inserted`` is called
    after each insert and before its ack (a place for tests to interrupt)."""
    import concurrent.futures

    from .nats import connect_client
    from nats.js import api

    nats_cfg = config.sinks.nats
    stop = stop or asyncio.Event()
    stats = stats or ConsumerStats()
    writer = ClickHouseWriter(config.sinks.clickhouse, password=resolve_password(config.sinks.clickhouse, field="sinks.clickhouse"), name="consumer")
    executor = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="mpf-consumer-clickhouse")
    loop = asyncio.get_running_loop()
    backoff = Backoff(initial=0.2, cap=5.0)

    async def run(fn, *args):
        return await loop.run_in_executor(executor, fn, *args)

    options = dict(servers=[nats_cfg.url], allow_reconnect=True, max_reconnect_attempts=-1, reconnect_time_wait=0.5, connect_timeout=2)
    if nats_cfg.user:
        options.update(user=nats_cfg.user, password=resolve_password(nats_cfg, field="sinks.nats"))
    nc = None
    try:
        while not stop.is_set():
            try:
                nc = await connect_client(**options)
                break
            except Exception as exc:
                log.warning("consume: NATS at %s not answering (%s); retrying", nats_cfg.url, exc)
                await _sleep(stop, backoff.failed())
        if nc is None:
            return stats
        backoff.succeeded()
        js = nc.jetstream()
        subject = f"{nats_cfg.batch_subject_prefix}.>"
        sub = None
        while sub is None and not stop.is_set():
            try:
                sub = await js.pull_subscribe(
                    subject,
                    durable=nats_cfg.consumer_durable,
                    stream=nats_cfg.stream,
                    config=api.ConsumerConfig(
                        ack_policy=api.AckPolicy.EXPLICIT,
                        ack_wait=nats_cfg.consumer_ack_wait_seconds,
                        max_ack_pending=max(nats_cfg.consumer_fetch_messages * 4, 64),
                    ),
                )
            except Exception as exc:
                log.warning("consume: cannot bind durable %s on stream %s (%s); retrying", nats_cfg.consumer_durable, nats_cfg.stream, exc)
                await _sleep(stop, backoff.failed())
        log.info("consume: durable %s on %s (stream %s) -> ClickHouse %s", nats_cfg.consumer_durable, subject, nats_cfg.stream, config.sinks.clickhouse.url)
        while not stop.is_set():
            try:
                messages = await sub.fetch(nats_cfg.consumer_fetch_messages, timeout=FETCH_TIMEOUT_SECONDS)
            except asyncio.TimeoutError:
                continue
            except Exception as exc:
                if stop.is_set():
                    break
                log.warning("consume: fetch failed (%s); retrying", exc)
                await _sleep(stop, backoff.failed())
                continue
            for msg in messages:
                await _handle(msg, writer, run, stats, backoff, on_inserted, stop)
    finally:
        if nc is not None:
            try:
                await asyncio.wait_for(nc.close(), 5.0)
            except Exception:
                pass
        await loop.run_in_executor(executor, writer.disconnect)
        executor.shutdown(wait=True)
    return stats


async def _sleep(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), seconds)
    except asyncio.TimeoutError:
        pass


async def _handle(msg, writer, run, stats: ConsumerStats, backoff: Backoff, on_inserted, stop: asyncio.Event) -> None:
    stats.messages += 1
    try:
        delivered = msg.metadata.num_delivered
    except Exception:
        delivered = 1
    if delivered > 1:
        stats.redelivered += 1
    try:
        batch = arrow.to_batch(arrow.read_ipc(msg.data))
    except Exception as exc:
        stats.terminated += 1
        log.error("consume: message on %s is not a batch (%s: %s); terminated", msg.subject, type(exc).__name__, exc)
        await msg.term()
        return
    while True:
        try:
            inserted = await run(lambda: writer.insert(batch, check=True))
            break
        except SinkUnavailable as exc:
            stats.errors += 1
            delay = backoff.failed()
            log.warning("consume: ClickHouse not taking batch %s (%s); retrying in %.1fs", id_text(batch.id), exc, delay)
            if stop.is_set():
                await msg.nak()
                return
            await _sleep(stop, delay)
        except SinkRejected as exc:
            stats.terminated += 1
            log.error("consume: ClickHouse refused batch %s: %s; terminated", id_text(batch.id), exc)
            await msg.term()
            return
    backoff.succeeded()
    if inserted:
        stats.rows_inserted += inserted
    else:
        stats.already_written += 1
    if on_inserted is not None:
        on_inserted(batch)
    await msg.ack()


# ---- command line (wired into cli.py) ------------------------------------------------------


def add_parser(commands) -> argparse.ArgumentParser:
    p = commands.add_parser(
        "consume",
        help="write the batches of the NATS stream into ClickHouse (a durable pull consumer)",
        description="Consume batch messages from NATS JetStream and write each once into ClickHouse.",
    )
    p.add_argument("--config", required=True, metavar="FILE", help="the node's YAML config (sinks.nats, sinks.clickhouse)")
    return p


def load_config(path: str) -> Config:
    import yaml

    from .. import config as config_module

    loader = getattr(config_module, "load_config", None)
    if loader is not None:
        return loader(path)
    try:
        with open(path) as f:
            data = yaml.safe_load(f) or {}
    except OSError as exc:
        raise ConfigurationError(f"--config {path}: cannot read ({exc.strerror or exc})", field="config") from None
    return Config.model_validate(data)


def main(args: argparse.Namespace) -> int:
    """Run ``consume`` until SIGINT/SIGTERM; exit status 0, or 2 for a bad config."""
    try:
        config = load_config(args.config)
    except (ConfigurationError, ValueError) as exc:
        print(f"consume: {' '.join(str(exc).split())}", file=__import__("sys").stderr)
        return 2

    async def _main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await consume(config, stop=stop)

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    asyncio.run(_main())
    return 0
