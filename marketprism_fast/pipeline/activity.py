"""When each instrument last produced a record, for the "symbol stopped producing" signal.

A connection can stay busy while one of its symbols goes quiet (a delisting, a venue-side
stall of one book, a subscription the venue dropped): the connection's frame age does not
see it. The node notes, per batch it hands on, the wall-clock time for every instrument in
the batch: one vectorised assignment into an array indexed by instrument code, nothing per
record or per frame. Ages are computed at scrape time. Batches built from columns (the
reference parser's) carry no codes: their instruments are noted by raw symbol instead, one
dictionary entry per distinct symbol in the batch.
"""

from __future__ import annotations

import math
import time
from typing import Iterable

import numpy as np

from ..batch import Batch
from ..instruments import InstrumentRegistry


class SymbolActivity:
    def __init__(self, registry: InstrumentRegistry) -> None:
        self.registry = registry
        self._last = np.full(64, np.nan)  # wall-clock seconds, by instrument code; NaN: never
        self._last_by_symbol: dict[str, float] = {}  # raw symbol -> seconds, for batches without codes

    def saw(self, batches: Iterable[Batch], now: float | None = None) -> None:
        """Every instrument with a row in ``batches`` produced at ``now``."""
        now = time.time() if now is None else now
        for batch in batches:
            if not len(batch):
                continue
            codes = batch.instrument_codes()
            if codes is None:
                self._saw_symbols(batch, now)
                continue
            if codes[1] is not self.registry:
                continue  # a batch of another registry's codes
            if len(self.registry) > len(self._last):
                grown = np.full(max(len(self.registry), 2 * len(self._last)), np.nan)
                grown[: len(self._last)] = self._last
                self._last = grown
            self._last[codes[0]] = now

    def _saw_symbols(self, batch: Batch, now: float) -> None:
        try:
            raw_symbols = batch.column("raw_symbol")
        except KeyError:
            return
        for raw in np.unique(raw_symbols).tolist():
            self._last_by_symbol[raw] = now

    def ages(self, raw_symbols: Iterable[str], now: float | None = None) -> dict[str, float]:
        """Seconds since each symbol's last record (NaN: none yet, or never seen)."""
        now = time.time() if now is None else now
        out = {}
        for raw in raw_symbols:
            code = self.registry.code_of(raw)
            last = self._last[code] if code is not None and code < len(self._last) else math.nan
            if math.isnan(last):
                last = self._last_by_symbol.get(raw, math.nan)
            out[raw] = float(now - last)
        return out
