"""Type stubs of the compiled text-row encoder (``offline/_encode.pyx``)."""

from typing import Any, Sequence

import numpy as np
import numpy.typing as npt

F64: int
I64: int
U64: int
DICT: int
ARENA: int
F64_ROWS: int

def format_float(v: float) -> str:
    """One float as the encoder writes it: repr(v), or "null" for NaN/±inf."""

def encode_rows(plan: list[tuple[bytes, int, Any, Any, Any, bool, bytes]], n: int, end: bytes) -> tuple[bytes, npt.NDArray[np.int64]]:
    """Rows ``0..n-1`` as text and each row's end offset (see writers.encode_batch)."""

def gather_rows(parts: list[tuple[bytes, npt.NDArray[np.int64]]], order: npt.NDArray[np.int64]) -> bytes:
    """Rows of several ``(data, ends)`` parts taken in ``order``."""
