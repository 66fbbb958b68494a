"""Type stubs of the compiled core (``_parse.pyx``)."""

from typing import Sequence

import numpy as np

from .batch import Batch
from .instruments import InstrumentRegistry
from .records import Kind

COMPILED_VENUES: frozenset[str]
ERROR_TEXT: tuple[str, ...]

def float_from_text(text: str | bytes) -> float:
    """The compiled exact decimal conversion (equals ``float(text)`` for JSON decimals)."""

def make_parser(
    venue: str, instruments: InstrumentRegistry, capacity: int = 65536, book_markers: bool = False
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
    def feed(self, frame: bytes | bytearray | memoryview | str, ts_recv: int) -> int: ...
    def feed_many(self, frames: Sequence[bytes], ts_recv: int | Sequence[int] | np.ndarray) -> int: ...
    def feed_snapshot(self, body: bytes | str, ts_recv: int, raw_symbol: str = "") -> int: ...
    def feed_open_interest(self, body: bytes | str, ts_recv: int) -> int: ...
    def take(self) -> list[Batch]: ...
    def pending_rows(self) -> dict[str, int]: ...
    def stats(self) -> dict: ...
    def buffer(self, kind_name: str) -> RecordBuffer: ...

class StrictParser(ParserBase):
    """Base of the OKX and Deribit parsers: lexical strictness and arrays of objects."""

class BinanceParser(ParserBase): ...
class OkxParser(StrictParser): ...
class DeribitParser(StrictParser): ...
