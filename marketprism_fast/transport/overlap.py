"""The overlap of a retiring connection and its replacement: every event once, none lost.

A venue that drops connections at a fixed age (Binance: 24 h) gets a replacement opened on
the same streams before that age. From the moment the replacement opens, both connections
*capture* their frames instead of feeding the parser. Once the replacement's subscriptions
are acknowledged (so it receives every event from then on), the old connection is cut off and
the captured frames are fed in order: all of the old connection's, then those of the new
connection that the old one did not already deliver.

A frame of the new connection is a duplicate when its bytes equal a frame the old connection
captured, or when every row it yields carries an id (trade id, book update id, quote update
id) not above the highest id of the same stream (kind, symbol, aggregated) that the old
connection captured. The new connection only receives events that happened after the overlap
began, and the old one captured everything from that moment, so nothing else can repeat.
Per frame this costs a scratch parse: acceptable for the few seconds of an overlap a day.
"""

from __future__ import annotations

from typing import Callable

# The id that orders a stream's events, per kind (others dedupe by payload equality).
ID_COLUMN = {"trade": "trade_id", "book_delta": "update_id", "quote": "update_id"}
ACK_REASONS = ("ack", "event", "rpc_result")


class Overlap:
    def __init__(self, make_scratch_parser: Callable[[], object]) -> None:
        self._old_parser = make_scratch_parser()
        self._new_parser = make_scratch_parser()
        self.old: list[tuple[int, bytes]] = []
        self.new: list[tuple[int, bytes]] = []
        self._new_keys: list[list[tuple] | None] = []  # per new frame: [(key, id|None)]
        self._old_max: dict[tuple, int] = {}
        self._old_payloads: set[bytes] = set()

    def add_old(self, frames: list[tuple[int, bytes]]) -> None:
        if not frames:
            return
        self.old.extend(frames)
        self._old_payloads.update(data for _, data in frames)
        for rows in _rows_per_frame(self._old_parser, frames):
            for key, ident in rows:
                if ident is not None and ident > self._old_max.get(key, -1):
                    self._old_max[key] = ident

    def add_new(self, frames: list[tuple[int, bytes]]) -> None:
        if not frames:
            return
        self.new.extend(frames)
        self._new_keys.extend(_rows_per_frame(self._new_parser, frames))

    def acknowledgements(self) -> int:
        """Subscription acknowledgements (and other control replies) the new connection received."""
        skipped = self._new_parser.stats()["skipped"]
        return sum(skipped.get(r, 0) for r in ACK_REASONS)

    def is_duplicate(self, i: int) -> bool:
        data = self.new[i][1]
        if data in self._old_payloads:
            return True
        rows = self._new_keys[i]
        if not rows:
            return False
        for key, ident in rows:
            if ident is None or ident > self._old_max.get(key, -1):
                return False
        return True

    def merged(self) -> tuple[list[tuple[int, bytes]], int]:
        """(frames to feed in order, duplicates left out)."""
        out = list(self.old)
        dropped = 0
        for i, frame in enumerate(self.new):
            if self.is_duplicate(i):
                dropped += 1
            else:
                out.append(frame)
        return out, dropped


def _rows_per_frame(parser, frames: list[tuple[int, bytes]]) -> list[list[tuple]]:
    """Feed ``frames`` to a scratch parser; per frame, the (stream key, id) of each row it made."""
    base = parser.stats()["frames"]
    for ts, data in frames:
        parser.feed(data, ts)
    out: list[list[tuple]] = [[] for _ in frames]
    for batch in parser.take():
        kind = batch.kind.name
        idcol = ID_COLUMN.get(kind)
        symbols = batch.column("raw_symbol").tolist()
        frame_no = batch.frame.tolist()
        ids = batch.column(idcol).tolist() if idcol else [None] * len(batch)
        agg = batch.column("aggregated").tolist() if kind == "trade" else [0] * len(batch)
        for sym, fno, ident, a in zip(symbols, frame_no, ids, agg):
            i = (fno - base) % (1 << 32)
            if i >= len(out):
                continue
            if isinstance(ident, str):
                ident = int(ident) if ident.isdigit() else None
            out[i].append(((kind, sym, a), ident))
    return out
