"""The progress line of ``normalize`` on a terminal: frames, MB read, rate, time left.

Written to standard error only when it is a terminal (a redirected or piped standard error
stays clean for logs); rewritten in place at most a few times a second; erased before the
summary. The time left comes from the input files' sizes on disk (compressed bytes read so
far against the total), so it is there only when every input is a regular file.
"""

from __future__ import annotations

import os
import time
from typing import IO, Sequence

from .capture import STDIN, CaptureStats

# Rewrites of the line per second, at most.
REFRESH_SECONDS = 0.25
MB = 1_000_000


def input_size(paths: Sequence[str]) -> int | None:
    """Total bytes of the inputs on disk, or None when one is not a regular file (stdin, a pipe)."""
    total = 0
    for path in paths:
        if path == STDIN:
            return None
        try:
            st = os.stat(path)
        except OSError:
            return None
        if not os.path.isfile(path):
            return None
        total += st.st_size
    return total


def _duration(seconds: float) -> str:
    seconds = int(seconds + 0.5)
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


class ProgressLine:
    """Call with the reader's stats as frames are read; ``close`` erases the line."""

    def __init__(self, stream: IO[str], paths: Sequence[str], *, clock=time.monotonic) -> None:
        self.stream = stream
        self.total = input_size(paths)
        self.clock = clock
        self.started = clock()
        self._next = self.started + REFRESH_SECONDS
        self._shown = False

    @classmethod
    def for_terminal(cls, stream: IO[str], paths: Sequence[str]) -> "ProgressLine | None":
        """A progress line when ``stream`` is a terminal, else None (nothing is written)."""
        try:
            tty = stream.isatty()
        except (AttributeError, ValueError, OSError):
            tty = False
        return cls(stream, paths) if tty else None

    def text(self, stats: CaptureStats, now: float) -> str:
        elapsed = max(now - self.started, 1e-9)
        rate = stats.lines / elapsed
        parts = [f"normalize: {stats.lines:,} frames", f"{stats.bytes_read / MB:,.1f} MB"]
        if self.total:
            parts[-1] += f" of {self.total / MB:,.1f} MB"
        parts.append(f"{rate:,.0f} frames/s")
        if self.total and stats.bytes_read:
            left = (self.total - stats.bytes_read) * elapsed / stats.bytes_read
            parts.append(f"about {_duration(max(left, 0.0))} left")
        return ", ".join(parts)

    def __call__(self, stats: CaptureStats) -> None:
        now = self.clock()
        if now < self._next:
            return
        self._next = now + REFRESH_SECONDS
        self.stream.write("\r\x1b[K" + self.text(stats, now))
        self.stream.flush()
        self._shown = True

    def close(self) -> None:
        if self._shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self._shown = False
