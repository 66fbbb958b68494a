"""The NATS -> ClickHouse consumer as a service: ``consume`` (sinks/consumer.py) plus an
HTTP server with ``/health`` and ``/metrics``, so Prometheus watches the consumers as it
watches the nodes.

    python -m marketprism_fast.service.consumer_service --config FILE

It reads the same config file as the node (``sinks.nats``, ``sinks.clickhouse``, ``http``,
``logging``). Its metric families (``CONSUMER_FAMILIES``) are read at scrape time from the
consumer's counters and, for the backlog, from the durable's state on the NATS server.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import math
import signal
import sys
import time

from aiohttp import web
from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

from .. import __version__
from ..config import Config, load_config
from ..errors import ConfigurationError
from .metrics import PREFIX, Family

log = logging.getLogger("marketprism_fast.consumer_service")

PENDING_TIMEOUT_SECONDS = 2.0


def _f(name: str, type_: str, labels: str, help_: str) -> Family:
    return Family(PREFIX + name, type_, tuple(labels.split()) if labels else (), help_)


CONSUMER_FAMILIES: tuple[Family, ...] = (
    _f("consumer_build_info", "gauge", "version durable", "Always 1; the version and the durable consumer's name as labels."),
    _f("consumer_start_time_seconds", "gauge", "", "Unix time the consumer started."),
    _f("consumer_messages", "counter", "", "Batch messages fetched from the stream."),
    _f("consumer_rows_inserted", "counter", "", "Rows inserted into ClickHouse."),
    _f("consumer_already_written", "counter", "", "Messages whose batch was already in ClickHouse (a redelivery; nothing inserted)."),
    _f("consumer_redelivered", "counter", "", "Messages delivered more than once by the stream."),
    _f("consumer_terminated", "counter", "", "Messages terminated: not a batch, or refused by ClickHouse for good."),
    _f("consumer_errors", "counter", "", "Failed inserts (retried)."),
    _f("consumer_pending_messages", "gauge", "durable", "Messages in the stream not yet delivered or not yet acknowledged (NaN when NATS does not answer)."),
)

_COUNTERS = ("messages", "rows_inserted", "already_written", "redelivered", "terminated", "errors")


class ConsumerService:
    def __init__(self, config: Config) -> None:
        from ..sinks.consumer import ConsumerStats

        self.config = config
        self.stats = ConsumerStats()
        self.started_at = time.time()
        self.pending: float = math.nan
        self.port: int | None = None
        self._stop = asyncio.Event()

    # ----------------------------------------------------------------- observation

    def families(self) -> list:
        nats = self.config.sinks.nats
        out = []
        for f in CONSUMER_FAMILIES:
            if f.type == "counter":
                m = CounterMetricFamily(f.name, f.help, labels=f.labels)
                m.add_metric([], getattr(self.stats, f.name[len(PREFIX + "consumer_"):]))
            else:
                m = GaugeMetricFamily(f.name, f.help, labels=f.labels)
                if f.name.endswith("build_info"):
                    m.add_metric([__version__, nats.consumer_durable], 1)
                elif f.name.endswith("start_time_seconds"):
                    m.add_metric([], self.started_at)
                else:
                    m.add_metric([nats.consumer_durable], self.pending)
            out.append(m)
        return out

    def status(self) -> dict:
        return {
            "version": __version__,
            "durable": self.config.sinks.nats.consumer_durable,
            "started_at": self.started_at,
            "pending_messages": None if math.isnan(self.pending) else self.pending,
            **{k: getattr(self.stats, k) for k in _COUNTERS},
        }

    async def _refresh_pending(self) -> None:
        """The durable's backlog from the server (num_pending + num_ack_pending)."""
        import nats

        nats_cfg = self.config.sinks.nats
        nc = None
        try:
            nc = await asyncio.wait_for(nats.connect(servers=[nats_cfg.url], allow_reconnect=False, connect_timeout=1), PENDING_TIMEOUT_SECONDS)
            info = await asyncio.wait_for(nc.jetstream().consumer_info(nats_cfg.stream, nats_cfg.consumer_durable), PENDING_TIMEOUT_SECONDS)
            self.pending = float(info.num_pending + info.num_ack_pending)
        except Exception:  # noqa: BLE001 - NATS down or the durable not yet made: unknown
            self.pending = math.nan
        finally:
            if nc is not None:
                try:
                    await nc.close()
                except Exception:  # noqa: BLE001
                    pass

    def app(self) -> web.Application:
        registry = CollectorRegistry(auto_describe=False)
        service = self

        class _Collector:
            def collect(self):
                return service.families()

        registry.register(_Collector())

        async def metrics(request: web.Request) -> web.Response:
            await self._refresh_pending()
            return web.Response(body=generate_latest(registry), headers={"Content-Type": CONTENT_TYPE_LATEST})

        async def health(request: web.Request) -> web.Response:
            return web.Response(text=json.dumps({"status": "healthy", **self.status()}) + "\n", content_type="application/json")

        app = web.Application()
        app.router.add_get("/metrics", metrics)
        app.router.add_get("/health", health)
        app.router.add_get("/status", health)
        return app

    # ----------------------------------------------------------------- lifecycle

    def stop(self) -> None:
        self._stop.set()

    async def run(self, *, on_started=None) -> None:
        from ..sinks.consumer import consume

        runner = None
        if self.config.http.enabled:
            runner = web.AppRunner(self.app(), access_log=None, handle_signals=False)
            await runner.setup()
            site = web.TCPSite(runner, self.config.http.host, self.config.http.port, reuse_address=True)
            await site.start()
            sockets = site._server.sockets if site._server is not None else []  # type: ignore[union-attr]
            self.port = sockets[0].getsockname()[1] if sockets else self.config.http.port
            log.info("consumer: serving /health /metrics on http://%s:%s", self.config.http.host, self.port)
        try:
            if on_started is not None:
                on_started(self)
            await consume(self.config, stop=self._stop, stats=self.stats)
        finally:
            if runner is not None:
                await runner.cleanup()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="marketprism_fast.service.consumer_service", description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", required=True, metavar="FILE", help="the node's YAML config (sinks.nats, sinks.clickhouse, http)")
    args = parser.parse_args(argv)
    try:
        config = load_config(args.config)
    except ConfigurationError as exc:
        print(f"consume: {exc}", file=sys.stderr)
        return 2
    from .logs import configure

    configure(config.logging.level, config.logging.format)

    async def _main() -> None:
        service = ConsumerService(config)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, service.stop)
        await service.run()

    asyncio.run(_main())
    return 0


if __name__ == "__main__":
    sys.exit(main())
