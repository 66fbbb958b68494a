"""Logging helpers: a sampled, rate-limited reporter for malformed input.

A feed that turns bad must not flood the log: the first few malformed frames of each
source are logged with an excerpt, then at most one line per interval with a count of
what was suppressed.
"""

from __future__ import annotations

import logging
import time

logger = logging.getLogger("marketprism_fast")


class MalformedSampler:
    """Log malformed input at most ``burst`` times, then once per ``interval`` seconds."""

    def __init__(self, source: str, *, burst: int = 5, interval: float = 10.0, log: logging.Logger = logger):
        self.source = source
        self.burst = burst
        self.interval = interval
        self.log = log
        self.seen = 0
        self._suppressed = 0
        self._next_time = 0.0

    def report(self, reason: str, frame: bytes | memoryview | str, position: int = -1) -> None:
        self.seen += 1
        now = time.monotonic()
        if self.seen > self.burst and now < self._next_time:
            self._suppressed += 1
            return
        if self.seen > self.burst:
            self._next_time = now + self.interval
        excerpt = bytes(frame[:160]) if not isinstance(frame, str) else frame[:160].encode("utf-8", "backslashreplace")
        more = f" ({self._suppressed} more suppressed)" if self._suppressed else ""
        where = f" at byte {position}" if position >= 0 else ""
        self.log.warning("%s: malformed frame%s: %s; excerpt %r%s", self.source, where, reason, excerpt, more)
        self._suppressed = 0
