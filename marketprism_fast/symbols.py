"""Symbol normalization for every venue (data-model.md, "Symbols").

Interface (implemented in full by the symbols work; this is the contract the rest uses):

    normalize(venue, raw_symbol, metadata) -> Normalized(market, symbol, resolved)
    SymbolMetadata.from_bodies(bodies)  # exchangeInfo / OKX instruments / Deribit get_instruments
"""

from __future__ import annotations

from typing import NamedTuple


class Normalized(NamedTuple):
    market: str
    symbol: str
    resolved: bool  # False when no metadata or rule could split it (symbol = raw upper-cased)


class SymbolMetadata:
    """Instrument metadata loaded from the venues' reference-data bodies."""

    def __init__(self) -> None:
        self.by_raw: dict[str, dict] = {}


def normalize(venue: str, raw_symbol: str, metadata: SymbolMetadata | None = None) -> Normalized:
    market = "spot" if venue == "binance_spot" else "perpetual"
    return Normalized(market, raw_symbol.upper(), False)
