"""Type stubs of the compiled core (``_parse.pyx``)."""

from typing import Sequence

import numpy as np

from .batch import Batch
from .instruments import InstrumentRegistry
from .limits import InputLimits
from .records import Kind

COMPILED_VENUES: frozenset[str]
ERROR_TEXT: tuple[str, ...]

def float_from_text(text: str | bytes) -> float:
    """The compiled exact decimal conversion (equals ``float(text)`` for JSON decimals)."""

def make_parser(
    venue: str,
    instruments: InstrumentRegistry,
    capacity: int = 65536,
    book_markers: bool = False,
    limits: InputLimits | None = None,
) -> ParserBase: ...

class RecordBuffer:
    """Columnar rows of one kind in storage form (``records.Kind.storage``)."""

    kind: Kind
    kind_id: int
    exchange: str
    instruments: InstrumentRegistry
    width: int
    storage: tuple
    @property
    def size(self) -> int: ...
    @property
    def capacity(self) -> int: ...
    def nbytes_per_row(self) -> float: ...
    def seal(self) -> Batch | None: ...

class InternTable:
    """Raw symbol bytes -> instrument code; a miss asks the registry once and caches the code."""

    def __init__(self, registry: InstrumentRegistry) -> None: ...

class ParserBase:
    """A compiled venue parser; implements ``marketprism_fast.parser.Parser``."""

    venue: str
    instruments: InstrumentRegistry
    book_markers: bool
    limits: InputLimits
    def feed(self, frame: object, ts_recv: int) -> int:
        """Never raises for any ``frame``: bytes, bytearray, memoryview (strided too) and str
        are frames (a str with a lone surrogate is malformed); any other object is counted as
        a malformed frame ("not a frame"). Raises TypeError (not an int) or OverflowError
        (beyond int64) for ``ts_recv`` only."""
    def feed_many(self, frames: Sequence[object], ts_recv: int | Sequence[int] | np.ndarray) -> int:
        """``feed`` for each frame; ValueError when ``ts_recv`` is a sequence of another length."""
    def feed_snapshot(self, body: object, ts_recv: int, raw_symbol: str = "") -> int:
        """``body`` as ``feed`` takes a frame; TypeError when ``raw_symbol`` is not a str."""
    def feed_open_interest(self, body: object, ts_recv: int) -> int:
        """``body`` as ``feed`` takes a frame."""
    def take(self) -> list[Batch]: ...
    def pending_rows(self) -> dict[str, int]: ...
    def stats(self) -> dict: ...
    def buffer(self, kind_name: str) -> RecordBuffer: ...

class StrictParser(ParserBase):
    """Base of the OKX and Deribit parsers: lexical strictness and arrays of objects."""

class BinanceParser(ParserBase): ...
class OkxParser(StrictParser): ...
class DeribitParser(StrictParser): ...
