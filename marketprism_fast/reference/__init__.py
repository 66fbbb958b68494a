"""Pure-Python reference parsers, one per venue family.

They are the fallback when the compiled core is not built and the oracle the compiled
parsers are tested against: simple, strict, and written to ``data-model.md`` line by line.
They implement ``marketprism_fast.parsing.Parser``.
"""

from __future__ import annotations

from ..errors import ConfigurationError
from ..instruments import InstrumentRegistry
from ..records import VENUES
from .base import ReferenceParser
from .binance import BINANCE_VENUES, BinanceParser
from .deribit import DeribitParser
from .okx import OkxParser

__all__ = ["ReferenceParser", "BinanceParser", "OkxParser", "DeribitParser", "make_parser"]


def make_parser(
    venue: str, instruments: InstrumentRegistry | None = None, *, book_markers: bool = False
) -> ReferenceParser:
    """The reference parser of ``venue``, writing instrument codes into ``instruments``.

    ``book_markers``: give every book message without levels a ``side == 0`` book_delta
    marker row, for a book builder (see ``reference.base``); off for record output.
    """
    if venue in BINANCE_VENUES:
        return BinanceParser(venue, instruments, book_markers=book_markers)
    if venue == "okx":
        return OkxParser(instruments, book_markers=book_markers)
    if venue == "deribit":
        return DeribitParser(instruments, book_markers=book_markers)
    raise ConfigurationError(f"unknown venue {venue!r}; expected one of {', '.join(VENUES)}", field="venue")
