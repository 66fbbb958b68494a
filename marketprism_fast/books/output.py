"""Rows the builder emits, gathered until ``take``: book_snapshot (and optional quote) batches."""

from __future__ import annotations

import numpy as np

from .._book import LevelBook, TopBuffer
from ..batch import Batch
from ..records import INSTRUMENT_COLUMNS

Instrument = tuple[str, str, str, str]  # exchange, market, symbol, raw_symbol


class _Rows:
    """Per-row scalars shared by both kinds: instrument, times, update id, frame."""

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        self.instrument: list[int] = []
        self.ts_event: list[int] = []
        self.ts_recv: list[int] = []
        self.update_id: list[int] = []
        self.frame: list[int] = []

    def add(self, instrument: int, ts_event: int, ts_recv: int, update_id: int, frame: int) -> None:
        self.instrument.append(instrument)
        self.ts_event.append(ts_event)
        self.ts_recv.append(ts_recv)
        self.update_id.append(update_id)
        self.frame.append(frame)

    def __len__(self) -> int:
        return len(self.frame)

    def columns(self, instruments: list[Instrument]) -> dict[str, np.ndarray]:
        codes = np.asarray(self.instrument, dtype=np.intp)
        table = np.empty((len(instruments), len(INSTRUMENT_COLUMNS)), dtype=object)
        table[:] = instruments
        out = {name: table[codes, i] for i, name in enumerate(INSTRUMENT_COLUMNS)}
        out["ts_event"] = np.asarray(self.ts_event, dtype=np.int64)
        out["ts_recv"] = np.asarray(self.ts_recv, dtype=np.int64)
        out["update_id"] = np.asarray(self.update_id, dtype=np.uint64)
        out["frame"] = np.asarray(self.frame, dtype=np.uint64).astype(np.uint32)
        self._reset()
        return out


class SnapshotRows:
    """book_snapshot rows: the top ``depth`` levels of a book at each emission."""

    def __init__(self, exchange: str, depth: int) -> None:
        self.exchange = exchange
        self.depth = depth
        self._levels = TopBuffer(depth)
        self._rows = _Rows()

    def __len__(self) -> int:
        return len(self._rows)

    def add(self, book: LevelBook, instrument: int, ts_event: int, ts_recv: int, update_id: int, frame: int) -> None:
        self._levels.append(book)
        self._rows.add(instrument, ts_event, ts_recv, update_id, frame)

    def take(self, instruments: list[Instrument]) -> Batch:
        columns = self._rows.columns(instruments)
        bid_price, bid_amount, ask_price, ask_amount = self._levels.take()
        n = len(columns["frame"])
        columns.update(
            depth=np.full(n, self.depth, dtype=np.uint16),
            bid_price=bid_price, bid_amount=bid_amount, ask_price=ask_price, ask_amount=ask_amount,
        )
        return Batch.from_columns("book_snapshot", self.exchange, columns)


class QuoteRows:
    """quote rows derived from the books: best bid/ask whenever it changed."""

    def __init__(self, exchange: str) -> None:
        self.exchange = exchange
        self._best: list[tuple[float, float, float, float]] = []
        self._rows = _Rows()

    def __len__(self) -> int:
        return len(self._rows)

    def add(self, best: tuple[float, float, float, float], instrument: int, ts_event: int, ts_recv: int,
            update_id: int, frame: int) -> None:
        self._best.append(best)
        self._rows.add(instrument, ts_event, ts_recv, update_id, frame)

    def take(self, instruments: list[Instrument]) -> Batch:
        columns = self._rows.columns(instruments)
        best = np.asarray(self._best, dtype=np.float64).reshape(-1, 4)
        self._best = []
        for i, name in enumerate(("bid_price", "bid_amount", "ask_price", "ask_amount")):
            columns[name] = best[:, i].copy()
        return Batch.from_columns("quote", self.exchange, columns)
