"""Type stubs of the compiled capture-block reader (``offline/_lines.pyx``)."""

import numpy as np
import numpy.typing as npt

from .._parse import ParserBase

def feed_lines(
    parser: ParserBase,
    block: bytes,
    pos: int,
    ts: npt.NDArray[np.int64],
    first: int,
    stop: int,
    until: int,
    statuses: npt.NDArray[np.uint64],
) -> tuple[int, int]:
    """Feed lines ``first..stop-1`` of ``block``; returns (lines fed, next byte position)."""

def meta_times(block: bytes, pos: int, out: npt.NDArray[np.int64], at: int) -> tuple[int, int]:
    """Receive times of meta lines into ``out[at:]``; returns (lines read, next byte position)."""

def count_lines(block: bytes) -> int:
    """The number of newlines in ``block``."""
