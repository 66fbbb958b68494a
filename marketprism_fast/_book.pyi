"""Type stubs of the compiled order-book engine (``_book.pyx``)."""

from typing import Sequence

import numpy as np
import numpy.typing as npt

DEFAULT_MAX_LEVELS: int
DEFAULT_LADDER_WIDTH: int
DEFAULT_MAX_LADDER_WIDTH: int
OKX_CHECKSUM_LEVELS: int
SIDE_BID: int
SIDE_ASK: int

def crc32_signed(data: bytes) -> int: ...

class DeltaRows:
    """Level columns of a book_delta batch (side int8, price/amount float64, optional texts)."""

    n: int
    def __init__(
        self,
        side: npt.ArrayLike,
        price: npt.ArrayLike,
        amount: npt.ArrayLike,
        price_texts: Sequence[str] | None = None,
        amount_texts: Sequence[str] | None = None,
    ) -> None: ...
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
        self, rows: DeltaRows, starts: npt.NDArray[np.int64], best_out: npt.NDArray[np.float64]
    ) -> int: ...
    def top(
        self, depth: int
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64]]: ...
    def levels(self, side: int) -> list[tuple[float, float]]: ...
    def level_texts(self, side: int) -> list[tuple[str, str]]: ...
    def checksum(self, levels: int = ...) -> int: ...
    def storage(self) -> dict[str, dict[str, float]]: ...

class TopBuffer:
    depth: int
    n: int
    def __init__(self, depth: int, capacity: int = 1024) -> None: ...
    def append(self, book: LevelBook) -> int: ...
    def take(
        self,
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64]]: ...
