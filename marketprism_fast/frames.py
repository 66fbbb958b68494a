"""What becomes of one received frame: its verdict and the reasons a frame is skipped.

Shared by every parser (compiled and reference) and by whoever reads their counters; the
parser interface (``parser.py``) re-exports both names.
"""

from __future__ import annotations

from enum import IntEnum


class FrameStatus(IntEnum):
    PARSED = 0  # a data frame; its records (possibly none) were written
    SKIPPED = 1  # ack, subscription event, RPC result, heartbeat, pong, unknown channel
    MALFORMED = 2  # not valid for its venue; no record written


# Reasons a frame is skipped (keys of stats()["skipped"]).
SKIP_REASONS = ("ack", "event", "error_event", "rpc_result", "heartbeat", "pong", "unknown_channel")
