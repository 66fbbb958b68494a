"""A book_delta batch cut into messages.

One message is the run of consecutive rows that share (frame, instrument): every row of a
venue message carries the message's ids, flags and times, so the first row speaks for all.
A row with ``side == 0`` is a marker: it stands for a message that changed no level (an OKX
update with empty lists, a Deribit snapshot of an empty book) and is applied as nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._book import DeltaRows
from ..batch import Batch
from ..errors import InputError

# Message fields, all read from the message's first row.
_FIELDS = ("first_update_id", "update_id", "prev_update_id", "is_snapshot", "checksum", "ts_event", "ts_recv", "frame")


@dataclass(slots=True)
class Message:
    rows: DeltaRows
    start: int
    stop: int
    raw_symbol: str
    first_id: int
    last_id: int
    prev_id: int
    is_snapshot: bool
    checksum: int
    ts_event: int
    ts_recv: int
    frame: int
    batch_row: int  # the first row's index in its batch (-1 once detached)

    def detached(self) -> "Message":
        """A copy that owns its rows, so that buffering it does not keep the batch alive."""
        return Message(
            self.rows.slice(self.start, self.stop), 0, self.stop - self.start, self.raw_symbol,
            self.first_id, self.last_id, self.prev_id, self.is_snapshot, self.checksum,
            self.ts_event, self.ts_recv, self.frame, -1,
        )


def _column(batch: Batch, name: str) -> np.ndarray:
    try:
        return batch.column(name)
    except KeyError:
        raise InputError(f"{batch!r} has no {name!r} column; book_delta batches from a parser have it") from None


def message_starts(frame: np.ndarray, instrument: np.ndarray) -> np.ndarray:
    """Start row of every message, plus the row count at the end (int64)."""
    n = len(frame)
    if n == 0:
        return np.zeros(1, dtype=np.int64)
    change = (frame[1:] != frame[:-1]) | (instrument[1:] != instrument[:-1])
    return np.concatenate(([0], np.flatnonzero(change) + 1, [n])).astype(np.int64)


def split(batch: Batch, *, texts: bool) -> list[Message]:
    """The batch's messages in stream order. ``texts``: bind the OKX level texts too."""
    if batch.kind.name != "book_delta":
        raise InputError(f"the book builder takes book_delta batches, got {batch.kind.name}")
    raw_symbol = _column(batch, "raw_symbol")
    instrument = batch.storage.get("instrument", raw_symbol)
    frame = _column(batch, "frame")
    rows = DeltaRows(
        _column(batch, "side"), _column(batch, "price"), _column(batch, "amount"),
        _column(batch, "price_text") if texts else None,
        _column(batch, "amount_text") if texts else None,
    )
    starts = message_starts(frame, instrument)
    firsts = starts[:-1]
    symbols = raw_symbol[firsts].tolist()
    fields = [_column(batch, name)[firsts].tolist() for name in _FIELDS]
    stops = starts[1:].tolist()
    return [
        Message(rows, start, stop, symbol, first_id, last_id, prev_id, bool(snap), checksum, ts_event, ts_recv, fr, start)
        for start, stop, symbol, first_id, last_id, prev_id, snap, checksum, ts_event, ts_recv, fr in zip(
            firsts.tolist(), stops, symbols, *fields
        )
    ]
