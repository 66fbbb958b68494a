"""Type stubs of the compiled order-book engine (``_book.pyx``)."""

from typing import Sequence

import numpy as np
import numpy.typing as npt

DEFAULT_MAX_LEVELS: int
DEFAULT_LADDER_WIDTH: int
DEFAULT_MAX_LADDER_WIDTH: int
OKX_CHECKSUM_LEVELS: int
CRC_NAMES: tuple[str, ...]  # the CRC32 implementations, slowest first
SCAN_NAMES: tuple[str, ...]  # the row scan implementations, slowest first
SIDE_BID: int
SIDE_ASK: int

RULES: dict[str, int]
CARRY_DONE: int
CARRY_CHECKSUM_FAILED: int
RUN_NEW_SYMBOL: int
RUN_SLOW: int
RUN_CHECKSUM: int

def crc32_signed(data: bytes) -> int: ...
def crc32_implementation(name: str | None = None) -> str: ...
def crc32_implementations() -> list[str]: ...
def rows_scan_implementation(name: str | None = None) -> str: ...
def rows_scan_implementations() -> list[str]: ...
def sync_decide(rule: int, phase: int, last_id: int, is_snapshot: bool, first: int, last: int, prev: int) -> int: ...
def sync_straddles(rule: int, snapshot_id: int, first: int, last: int) -> bool: ...
def sync_continuity(rule: int, phase: int, last_id: int, first: int, prev: int) -> tuple[int, int]: ...

class DeltaRows:
    """Level columns of a book_delta batch (side int8, price/amount float64, optional texts)."""

    n: int
    checked_turns: int  # side changes in the range the last first_invalid found valid
    def __init__(
        self,
        side: npt.ArrayLike,
        price: npt.ArrayLike,
        amount: npt.ArrayLike,
        price_texts: Sequence[str] | None = None,
        amount_texts: Sequence[str] | None = None,
    ) -> None: ...
    @staticmethod
    def from_arena(
        side: npt.ArrayLike,
        price: npt.ArrayLike,
        amount: npt.ArrayLike,
        arena: npt.NDArray[np.uint8],
        price_off: npt.ArrayLike,
        price_len: npt.ArrayLike,
        amount_off: npt.ArrayLike,
        amount_len: npt.ArrayLike,
    ) -> DeltaRows: ...
    @property
    def has_texts(self) -> bool: ...
    def slice(self, start: int, stop: int) -> DeltaRows: ...
    def first_invalid(self, start: int, stop: int) -> int: ...

class LevelBook:
    max_levels: int
    ladder_width: int
    max_ladder_width: int
    tick: float
    keep_texts: bool
    evicted: int
    def __init__(
        self,
        max_levels: int = ...,
        keep_texts: bool = False,
        tick: float = 0.0,
        ladder_width: int = ...,
        max_ladder_width: int = ...,
    ) -> None: ...
    def clear(self) -> None: ...
    @property
    def bid_count(self) -> int: ...
    @property
    def ask_count(self) -> int: ...
    @property
    def best_bid(self) -> float: ...
    @property
    def best_ask(self) -> float: ...
    def best(self) -> tuple[float, float, float, float]: ...
    def is_crossed(self) -> bool: ...
    def apply(self, rows: DeltaRows, start: int, stop: int) -> int:
        """Apply rows [start, stop) as one message; ValueError, nothing applied, when a row is
        not a valid level change (``DeltaRows.first_invalid``)."""
    def apply_messages(
        self,
        rows: DeltaRows,
        starts: npt.NDArray[np.int64],
        best_out: npt.NDArray[np.float64],
        top: TopBuffer | None = None,
    ) -> int: ...
    def top(
        self, depth: int
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64]]: ...
    def levels(self, side: int) -> list[tuple[float, float]]: ...
    def level_texts(self, side: int) -> list[tuple[str, str]]: ...
    def checksum(self, levels: int = ...) -> int: ...
    def watched_checksum(self) -> int: ...
    def storage(self) -> dict[str, dict[str, float]]: ...

class TopBuffer:
    depth: int
    n: int
    def __init__(self, depth: int, capacity: int = 1024) -> None: ...
    def append(self, book: LevelBook) -> int: ...
    def take(
        self,
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64]]: ...

class SymbolBook:
    """One symbol's book and sync state, as the builder and its compiled core share it."""

    book: LevelBook
    raw_symbol: str
    instrument: int
    phase: int
    last_id: int
    pending: list
    next_emit_ns: int
    def __init__(self, book: LevelBook, raw_symbol: str, instrument: int) -> None: ...
    def lose(self) -> None: ...

class BookCore:
    """The builder's per-message work: split, sync rule, apply, checksum, emit."""

    rule: int
    checksums: bool
    rest_snapshots: bool
    depth: int
    every_update: bool
    interval_ns: int
    quotes: bool
    scheduler: object
    applied: int
    dropped: int
    snapshots_ignored: int
    crossed: int
    emitted: int
    rows: DeltaRows | None
    n: int
    stop_reason: int
    stop_row: int
    stop_end: int
    stop_code: int
    pending_snapshots: int
    pending_quotes: int
    def __init__(self, venue: str, depth: int, every_update: bool, interval_ns: int, quotes: bool) -> None: ...
    def bind_code(self, code: int, entry: SymbolBook) -> None: ...
    def forget_codes(self) -> None: ...
    def bind(
        self,
        rows: DeltaRows,
        codes: npt.ArrayLike,
        frame: npt.ArrayLike,
        first_id: npt.ArrayLike,
        last_id: npt.ArrayLike,
        prev_id: npt.ArrayLike,
        is_snapshot: npt.ArrayLike,
        checksum: npt.ArrayLike,
        ts_event: npt.ArrayLike,
        ts_recv: npt.ArrayLike,
    ) -> None: ...
    def release(self) -> None: ...
    def message(self, row: int) -> tuple[int, int, int, bool, int, int, int, int]: ...
    def run(self, row: int) -> int: ...
    def carry(
        self,
        entry: SymbolBook,
        rows: DeltaRows,
        start: int,
        end: int,
        is_snapshot: bool,
        first: int,
        last: int,
        prev: int,
        checksum: int,
        ts_event: int,
        ts_recv: int,
        frame: int,
    ) -> int: ...
    def after_apply(self, entry: SymbolBook, ts_event: int, ts_recv: int, update_id: int, frame: int) -> int: ...
    def take_snapshots(self) -> tuple: ...
    def take_quotes(self) -> list: ...
