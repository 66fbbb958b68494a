"""Logging set-up for the node's commands: text lines or one JSON object per line.

JSON lines carry ``ts`` (ISO 8601 UTC), ``level``, ``logger``, ``message`` and any
``extra={...}`` fields given at the call, so that a log shipper needs no parsing rules.
"""

from __future__ import annotations

import json
import logging
import time
from typing import IO

ROOT = "marketprism_fast"
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                out[key] = value
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str)


TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure(level: str = "INFO", fmt: str = "text", stream: IO[str] | None = None) -> logging.Handler:
    """Send the package's log to ``stream`` (stderr) at ``level`` in ``fmt``; returns the handler."""
    handler = logging.StreamHandler(stream)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        formatter = logging.Formatter(TEXT_FORMAT)
        formatter.converter = time.gmtime
        handler.setFormatter(formatter)
    log = logging.getLogger(ROOT)
    for old in list(log.handlers):  # one destination: this one replaces the command's default
        log.removeHandler(old)
    log.addHandler(handler)
    log.setLevel(level)
    log.propagate = False
    return handler
