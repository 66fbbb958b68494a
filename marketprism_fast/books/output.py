"""The builder's emitted rows as batches: book_snapshot and quote.

The compiled core writes the rows into its own growable columns (instrument index, times,
update id, frame, levels or best bid/ask); ``take`` turns what it holds into contract-form
batches, resolving each row's instrument index through the builder's ``InstrumentTable``.

Where the builder's instrument registry knows every instrument of the rows (a node's builder
shares its parser's registry), a batch carries the registry's codes and the registry, as a
parser's batches do: sinks then encode the four instrument columns once per instrument (a
dictionary, a copied template) instead of once per row, and no text object is referenced per
row. Otherwise (a builder without a registry, a symbol the registry does not hold) the batch
carries the instrument texts as columns. Both give the same contract columns.
"""

from __future__ import annotations

import numpy as np

from ..batch import Batch
from ..instruments import InstrumentRegistry
from ..records import INSTRUMENT_COLUMNS

Instrument = tuple[str, str, str, str]  # exchange, market, symbol, raw_symbol


class InstrumentTable:
    """The builder's instruments, by the index its compiled core writes per emitted row:
    each one's contract texts and, where the registry holds it, its registry code."""

    def __init__(self, registry: InstrumentRegistry | None) -> None:
        self.registry = registry
        self._items: list[Instrument] = []
        self._codes: list[int] = []  # the registry's code of each instrument, -1 where it has none
        self._code_array: np.ndarray | None = None  # _codes as an array (made again after an add)

    def __len__(self) -> int:
        return len(self._items)

    def add(self, instrument: Instrument, code: int | None) -> int:
        """A new instrument (``code``: its registry code, if the registry holds it); its index."""
        self._items.append(instrument)
        self._codes.append(-1 if code is None else code)
        self._code_array = None
        return len(self._items) - 1

    def registry_codes(self, index: np.ndarray) -> np.ndarray | None:
        """Per row, the registry code of its instrument (uint32); None unless the registry
        holds every instrument the rows name."""
        if self.registry is None:
            return None
        if self._code_array is None:
            self._code_array = np.asarray(self._codes, dtype=np.int64)
        codes = self._code_array[index]
        if len(codes) and int(codes.min()) < 0:
            return None
        return codes.astype(np.uint32)

    def text_columns(self, index: np.ndarray) -> dict[str, np.ndarray]:
        """The four instrument columns of the rows, as texts."""
        table = np.empty((len(self._items), len(INSTRUMENT_COLUMNS)), dtype=object)
        table[:] = self._items
        codes = index.astype(np.intp, copy=False)
        return {name: table[codes, i] for i, name in enumerate(INSTRUMENT_COLUMNS)}


def _batch(kind: str, exchange: str, common: tuple, own: dict[str, np.ndarray], instruments: InstrumentTable) -> Batch:
    index, ts_event, ts_recv, update_id, frame = common
    columns = dict(ts_event=ts_event, ts_recv=ts_recv, update_id=update_id, frame=frame, **own)
    codes = instruments.registry_codes(index)
    if codes is not None:
        columns["instrument"] = codes
        return Batch(kind, exchange, len(frame), storage=columns, instruments=instruments.registry)
    columns.update(instruments.text_columns(index))
    return Batch.from_columns(kind, exchange, columns)


def snapshot_batch(exchange: str, depth: int, taken: tuple, instruments: InstrumentTable) -> Batch:
    """``taken``: ``BookCore.take_snapshots()``."""
    *common, (bid_price, bid_amount, ask_price, ask_amount) = taken
    own = dict(
        depth=np.full(len(common[-1]), depth, dtype=np.uint16),
        bid_price=bid_price, bid_amount=bid_amount, ask_price=ask_price, ask_amount=ask_amount,
    )
    return _batch("book_snapshot", exchange, tuple(common), own, instruments)


def quote_batch(exchange: str, taken: list, instruments: InstrumentTable) -> Batch:
    """``taken``: ``BookCore.take_quotes()``."""
    *common, best = taken
    own = {name: best[:, i].copy() for i, name in enumerate(("bid_price", "bid_amount", "ask_price", "ask_amount"))}
    return _batch("quote", exchange, tuple(common), own, instruments)
