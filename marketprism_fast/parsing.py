"""What every venue parser offers, compiled or reference.

A parser turns received frames (and a few REST bodies) into rows of record buffers. It
never raises into the caller's loop: each frame is either parsed, knowingly skipped, or
counted as malformed (with a sampled, rate-limited log line), and a frame that fails
anywhere leaves no row behind.

Every ``feed*`` call consumes one frame sequence number (the count of calls before it,
modulo 2**32); rows carry it in their ``frame`` column so that records of several kinds
can be put back in frame order.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Protocol, runtime_checkable

from .batch import Batch
from .instruments import InstrumentRegistry


class FrameStatus(IntEnum):
    PARSED = 0  # a data frame; its records (possibly none) were written
    SKIPPED = 1  # ack, subscription event, RPC result, heartbeat, pong, unknown channel
    MALFORMED = 2  # not valid for its venue; no record written


# Reasons a frame is skipped (keys of stats()["skipped"]).
SKIP_REASONS = ("ack", "event", "error_event", "rpc_result", "heartbeat", "pong", "unknown_channel")


@runtime_checkable
class Parser(Protocol):
    venue: str
    instruments: InstrumentRegistry

    def feed(self, frame: bytes, ts_recv: int) -> int:
        """One received WS frame (bytes-like), with its receive time in ns. Returns a FrameStatus."""

    def feed_snapshot(self, body: bytes, ts_recv: int, raw_symbol: str) -> int:
        """A REST depth-snapshot body for ``raw_symbol``: book_delta rows with is_snapshot=1,
        first_update_id = update_id = lastUpdateId, prev_update_id 0, ts_event = ts_recv."""

    def feed_open_interest(self, body: bytes, ts_recv: int) -> int:
        """A REST open-interest body (Binance ``openInterest``): one open_interest row."""

    def take(self) -> list[Batch]:
        """Seal every non-empty buffer into a Batch (kinds in contract order) and start afresh."""

    def stats(self) -> dict:
        """{"frames", "parsed", "malformed", "skipped": {reason: n}, "records": {kind: n},
        "test_requests"} — counters since the parser was made."""
