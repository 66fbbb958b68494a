"""One book message, as the builder's rare-event path sees it.

One message is the run of consecutive rows of a book_delta batch that share (frame,
instrument): every row of a venue message carries the message's ids, flags and times, so the
first row speaks for all. A row with ``side == 0`` is a marker: it stands for a message that
changed no level (an OKX update with empty lists, a Deribit snapshot of an empty book) and is
applied as nothing. The compiled core cuts batches into messages itself; a ``Message`` object
is made only for a message it hands back to the builder.
"""

from __future__ import annotations

from dataclasses import dataclass

from .._book import DeltaRows


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
