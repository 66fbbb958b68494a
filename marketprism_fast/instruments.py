"""Instrument registry: the venue's raw symbol text -> a small integer code.

Record buffers store one ``instrument`` code per row instead of four strings
(exchange, market, symbol, raw_symbol). The registry resolves a raw symbol once,
the first time it is seen (the compiled parser calls ``intern`` only on a miss of its
own C-level table), so symbol normalization never runs per record.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .records import VENUES
from .errors import ConfigurationError
from .symbols import SymbolMetadata
from .venues import normalize_symbol


@dataclass(frozen=True)
class Instrument:
    code: int
    exchange: str
    market: str
    symbol: str
    raw_symbol: str
    by_rule: bool  # True when no rule or metadata could split it (symbol = raw text upper-cased)


class InstrumentRegistry:
    """Codes are dense, start at 0 and are never reused for the life of the registry."""

    def __init__(self, venue: str, metadata: SymbolMetadata | None = None) -> None:
        if venue not in VENUES:
            raise ConfigurationError(
                f"unknown venue {venue!r}; expected one of {', '.join(VENUES)}", field="venue"
            )
        self.venue = venue
        self.metadata = metadata
        self._codes: dict[str, int] = {}
        self._items: list[Instrument] = []
        self._tables: dict[str, np.ndarray] | None = None
        self.unresolved: dict[str, int] = {}  # raw symbols no rule could split -> times interned

    def __len__(self) -> int:
        return len(self._items)

    def intern(self, raw_symbol: str) -> int:
        code = self._codes.get(raw_symbol)
        if code is not None:
            return code
        norm = normalize_symbol(self.venue, raw_symbol, self.metadata)
        code = len(self._items)
        self._items.append(
            Instrument(code, self.venue, norm.market, norm.symbol, raw_symbol, not norm.resolved)
        )
        self._codes[raw_symbol] = code
        if not norm.resolved:
            self.unresolved[raw_symbol] = self.unresolved.get(raw_symbol, 0) + 1
        self._tables = None
        return code

    def __getitem__(self, code: int) -> Instrument:
        return self._items[code]

    def code_of(self, raw_symbol: str) -> int | None:
        return self._codes.get(raw_symbol)

    def tables(self) -> dict[str, np.ndarray]:
        """Object arrays indexed by code, one per instrument column (for vectorised decoding)."""
        if self._tables is None:
            t = {}
            for name in ("exchange", "market", "symbol", "raw_symbol"):
                arr = np.empty(len(self._items), dtype=object)
                arr[:] = [getattr(i, name) for i in self._items]
                t[name] = arr
            self._tables = t
        return self._tables
