"""The node's HTTP server (aiohttp): ``/health``, ``/status``, ``/metrics``.

- ``/health``: 200 when healthy or degraded, 503 when unhealthy; JSON with the verdict and
  the checks that decided it (``health.py``).
- ``/status``: the status dict (seams.md §3) as JSON; no secrets in it.
- ``/metrics``: Prometheus text format, from the same status (``metrics.py``).

Bound to 127.0.0.1:8080 unless configured (``http`` section). The server only reads what
the node's ``status()`` and ``health()`` return; it never touches the feed.
"""

from __future__ import annotations

import json
import logging
import os
from typing import Protocol

from aiohttp import web
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from ..config import HttpConfig
from ..errors import ConfigurationError
from .metrics import make_registry, render
from .status_page import add_status_page

log = logging.getLogger("marketprism_fast.http")


class StatusSource(Protocol):
    def status(self) -> dict: ...

    def health(self) -> dict: ...


def _json(data: dict, status: int = 200) -> web.Response:
    body = json.dumps(data, indent=1, allow_nan=False, default=str)
    return web.Response(text=body + "\n", status=status, content_type="application/json")


def _clean(value):
    """NaN/inf are not JSON: they become null."""
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


def make_app(source: StatusSource) -> web.Application:
    registry = make_registry(source.status)

    async def health(request: web.Request) -> web.Response:
        result = source.health()
        return _json(_clean(result), 503 if result["status"] == "unhealthy" else 200)

    async def status(request: web.Request) -> web.Response:
        return _json(_clean(source.status()))

    async def metrics(request: web.Request) -> web.Response:
        body = render(registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    app = web.Application()
    app.router.add_get("/health", health)
    app.router.add_get("/status", status)
    app.router.add_get("/metrics", metrics)
    add_status_page(app)
    return app


def _reason(exc: OSError) -> str:
    if exc.errno is not None:
        return os.strerror(exc.errno).lower()
    return str(exc)


class HttpServer:
    """Serves ``make_app(source)`` on the configured address; ``port`` is the bound one."""

    def __init__(self, config: HttpConfig, source: StatusSource) -> None:
        self.config = config
        self.source = source
        self.port: int | None = None
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        self._runner = web.AppRunner(make_app(self.source), access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.config.host, self.config.port, reuse_address=True)
        try:
            await site.start()
        except OSError as exc:
            await self._runner.cleanup()
            self._runner = None
            raise ConfigurationError(
                f"http: cannot listen on {self.config.host}:{self.config.port} ({_reason(exc)}); "
                "set http.host/http.port (or HTTP_PORT) to a free address",
                field="http.port",
            ) from None
        sockets = site._server.sockets if site._server is not None else []  # type: ignore[union-attr]
        self.port = sockets[0].getsockname()[1] if sockets else self.config.port
        log.info("http: serving /health /status /metrics on http://%s:%s", self.config.host, self.port)

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def url(self) -> str:
        return f"http://{self.config.host}:{self.port}"


__all__: list[str] = ["HttpServer", "make_app"]
