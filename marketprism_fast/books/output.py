"""The builder's emitted rows as batches: book_snapshot and quote.

The compiled core writes the rows into its own growable columns (instrument index, times,
update id, frame, levels or best bid/ask); ``take`` turns what it holds into contract-form
batches, resolving each row's instrument index through the builder's instrument table.
"""

from __future__ import annotations

import numpy as np

from ..batch import Batch
from ..records import INSTRUMENT_COLUMNS

Instrument = tuple[str, str, str, str]  # exchange, market, symbol, raw_symbol


def _common(instrument: np.ndarray, ts_event: np.ndarray, ts_recv: np.ndarray, update_id: np.ndarray,
            frame: np.ndarray, instruments: list[Instrument]) -> dict[str, np.ndarray]:
    table = np.empty((len(instruments), len(INSTRUMENT_COLUMNS)), dtype=object)
    table[:] = instruments
    codes = instrument.astype(np.intp, copy=False)
    out = {name: table[codes, i] for i, name in enumerate(INSTRUMENT_COLUMNS)}
    out.update(ts_event=ts_event, ts_recv=ts_recv, update_id=update_id, frame=frame)
    return out


def snapshot_batch(exchange: str, depth: int, taken: tuple, instruments: list[Instrument]) -> Batch:
    """``taken``: ``BookCore.take_snapshots()``."""
    instrument, ts_event, ts_recv, update_id, frame, (bid_price, bid_amount, ask_price, ask_amount) = taken
    columns = _common(instrument, ts_event, ts_recv, update_id, frame, instruments)
    columns.update(
        depth=np.full(len(frame), depth, dtype=np.uint16),
        bid_price=bid_price, bid_amount=bid_amount, ask_price=ask_price, ask_amount=ask_amount,
    )
    return Batch.from_columns("book_snapshot", exchange, columns)


def quote_batch(exchange: str, taken: list, instruments: list[Instrument]) -> Batch:
    """``taken``: ``BookCore.take_quotes()``."""
    instrument, ts_event, ts_recv, update_id, frame, best = taken
    columns = _common(instrument, ts_event, ts_recv, update_id, frame, instruments)
    for i, name in enumerate(("bid_price", "bid_amount", "ask_price", "ask_amount")):
        columns[name] = best[:, i].copy()
    return Batch.from_columns("quote", exchange, columns)
