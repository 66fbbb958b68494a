"""Instrument registry: the venue's raw symbol text -> a small integer code.

Record buffers store one ``instrument`` code per row instead of four strings
(exchange, market, symbol, raw_symbol). The registry resolves a raw symbol once,
the first time it is seen (the compiled parser calls ``intern`` only on a miss of its
own C-level table), so symbol normalization never runs per record.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from .records import VENUES
from .errors import ConfigurationError, LimitExceeded
from .limits import DEFAULT_MAX_INSTRUMENTS
from .log import logger
from .symbols import SymbolMetadata
from .venues import normalize_symbol

REFUSAL_LOG_INTERVAL = 10.0  # seconds between two log lines about refused instruments


@dataclass(frozen=True)
class Instrument:
    code: int
    exchange: str
    market: str
    symbol: str
    raw_symbol: str
    by_rule: bool  # True when no rule or metadata could split it (symbol = raw text upper-cased)


class InstrumentRegistry:
    """Codes are dense, start at 0 and are never reused once a frame that made them was
    committed (``truncate`` takes back the codes of a frame that failed).

    At most ``max_instruments`` codes: ``intern`` of one more raises ``LimitExceeded`` (the
    parser counts the frame as malformed), counts it in ``refused`` and says so in the log
    (at most once per REFUSAL_LOG_INTERVAL seconds, with the count).
    """

    def __init__(
        self,
        venue: str,
        metadata: SymbolMetadata | None = None,
        *,
        max_instruments: int = DEFAULT_MAX_INSTRUMENTS,
    ) -> None:
        if venue not in VENUES:
            raise ConfigurationError(
                f"unknown venue {venue!r}; expected one of {', '.join(VENUES)}", field="venue"
            )
        if type(max_instruments) is not int or max_instruments < 1:
            raise ConfigurationError(
                f"max_instruments must be a positive integer, got {max_instruments!r}", field="max_instruments"
            )
        self.venue = venue
        self.max_instruments = max_instruments
        self.refused = 0  # unknown instruments refused because the registry was full
        self._next_refusal_log = 0.0
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
        if len(self._items) >= self.max_instruments:
            self._refuse(raw_symbol)
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

    def room(self) -> int:
        """How many more instruments the registry takes."""
        return self.max_instruments - len(self._items)

    def _refuse(self, raw_symbol: str) -> None:
        self.refused += 1
        now = time.monotonic()
        if now >= self._next_refusal_log:
            self._next_refusal_log = now + REFUSAL_LOG_INTERVAL
            logger.warning(
                "%s: instrument limit max_instruments=%d reached: refused new instrument %r (%d refused so far)",
                self.venue, self.max_instruments, raw_symbol[:64], self.refused,
            )
        raise LimitExceeded("max_instruments", self.max_instruments, venue=self.venue)

    def truncate(self, count: int) -> None:
        """Forget every instrument with a code >= ``count`` (registered by a frame that then
        failed: a malformed frame leaves no instrument behind)."""
        if count >= len(self._items):
            return
        for inst in self._items[count:]:
            del self._codes[inst.raw_symbol]
            seen = self.unresolved.get(inst.raw_symbol)
            if seen is not None:
                if seen <= 1:
                    del self.unresolved[inst.raw_symbol]
                else:
                    self.unresolved[inst.raw_symbol] = seen - 1
        del self._items[count:]
        self._tables = None

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
