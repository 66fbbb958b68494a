"""Venue parsers: what every one offers, compiled or reference, and how to get one.

A parser turns received frames (and a few REST bodies) into rows of record buffers. It
never raises into the caller's loop: each frame is either parsed, knowingly skipped, or
counted as malformed (with a sampled, rate-limited log line), and a frame that fails
anywhere leaves no row behind.

Every ``feed*`` call consumes one frame sequence number (the count of calls before it,
modulo 2**32); rows carry it in their ``frame`` column so that records of several kinds
can be put back in frame order.
"""

from __future__ import annotations

import os
from typing import Protocol, runtime_checkable

from .batch import Batch
from .errors import ConfigurationError
from .frames import SKIP_REASONS, FrameStatus
from .instruments import InstrumentRegistry
from .limits import DEFAULT_LIMITS, InputLimits
from .records import VENUES


@runtime_checkable
class Parser(Protocol):
    venue: str
    instruments: InstrumentRegistry

    def feed(self, frame: bytes, ts_recv: int) -> int:
        """One received WS frame, with its receive time in ns. Returns a FrameStatus.

        Never raises for any ``frame``: bytes, bytearray, memoryview (strided ones too) and
        str are frames (a str with a lone surrogate is malformed, as it cannot be UTF-8);
        any other object is counted as a malformed frame with the reason "not a frame".
        ``ts_recv`` must be an int in the int64 range: TypeError or OverflowError otherwise
        (a caller's bug, not input). Frames past an input limit (``limits.py``) are
        malformed, their log reason naming the limit."""

    def feed_snapshot(self, body: bytes, ts_recv: int, raw_symbol: str) -> int:
        """A REST depth-snapshot body for ``raw_symbol``: book_delta rows with is_snapshot=1,
        first_update_id = update_id = lastUpdateId, prev_update_id 0, ts_event = ts_recv.
        ``body`` as ``feed`` takes a frame; ``raw_symbol`` must be a str (TypeError)."""

    def feed_open_interest(self, body: bytes, ts_recv: int) -> int:
        """A REST open-interest body (Binance ``openInterest``): one open_interest row.
        ``body`` as ``feed`` takes a frame."""

    def take(self) -> list[Batch]:
        """Seal every non-empty buffer into a Batch (kinds in contract order) and start afresh."""

    def stats(self) -> dict:
        """{"frames", "parsed", "malformed", "skipped": {reason: n}, "records": {kind: n},
        "test_requests", "limits": {limit name: frames refused by it}} — counters since the
        parser was made."""


IMPLEMENTATIONS = ("auto", "compiled", "reference")


def compiled_available(venue: str | None = None) -> bool:
    """Whether the compiled core is built (and, given a venue, has that venue's parser)."""
    try:
        from . import _parse
    except ImportError:
        return False
    return venue is None or venue in _parse.COMPILED_VENUES


def make_parser(
    venue: str,
    instruments: InstrumentRegistry | None = None,
    *,
    implementation: str = "auto",
    capacity: int = 65536,
    book_markers: bool = False,
    limits: InputLimits | None = None,
) -> Parser:
    """A parser for ``venue``. ``book_markers``: a book message that changes no level gets
    one ``side == 0`` book_delta row so that a book builder sees it (not a record: writers
    drop such rows). ``limits``: the input limits (``limits.DEFAULT_LIMITS`` when None);
    its ``max_instruments`` sizes the registry made here (a registry given keeps its own)."""
    limits = DEFAULT_LIMITS if limits is None else limits
    if venue not in VENUES:
        raise ConfigurationError(f"unknown venue {venue!r}; expected one of {', '.join(VENUES)}", field="venue")
    if implementation not in IMPLEMENTATIONS:
        raise ConfigurationError(
            f"unknown parser implementation {implementation!r}; expected one of {', '.join(IMPLEMENTATIONS)}",
            field="implementation",
        )
    if instruments is None:
        instruments = InstrumentRegistry(venue, max_instruments=limits.max_instruments)
    if implementation == "auto":
        if compiled_available(venue):
            implementation = "compiled"
        elif os.environ.get("MPF_REQUIRE_COMPILED") == "1" and not compiled_available():
            raise ConfigurationError("the compiled parser is not built (MPF_REQUIRE_COMPILED=1)", field="implementation")
        else:
            implementation = "reference"
    if implementation == "compiled":
        from . import _parse

        return _parse.make_parser(venue, instruments, capacity, book_markers, limits)
    return reference_parser(venue, instruments, book_markers=book_markers, limits=limits)


def reference_parser(
    venue: str,
    instruments: InstrumentRegistry | None = None,
    *,
    book_markers: bool = False,
    limits: InputLimits | None = None,
) -> Parser:
    """The pure-Python parser of ``venue`` (``venues/<family>/reference.py``): the fallback
    when the compiled core is not built and the oracle it is tested against."""
    if venue in ("binance_spot", "binance_usdm", "binance_coinm"):
        from .venues.binance.reference import BinanceParser

        return BinanceParser(venue, instruments, book_markers=book_markers, limits=limits)
    if venue == "okx":
        from .venues.okx.reference import OkxParser

        return OkxParser(instruments, book_markers=book_markers, limits=limits)
    if venue == "deribit":
        from .venues.deribit.reference import DeribitParser

        return DeribitParser(instruments, book_markers=book_markers, limits=limits)
    raise ConfigurationError(f"unknown venue {venue!r}; expected one of {', '.join(VENUES)}", field="venue")
