"""What the OKX and Deribit msgspec contenders share: per-column row lists and the merge.

The Binance contender (``msgspec_binance``) set the form: each kind's rows of one chunk go
into one Python list per storage column, the instrument as a registry code. Here the kinds
a venue emits are a class attribute, and book rows may carry the hidden level texts (OKX:
the compiled parser keeps them for checksums, so the contender keeps them too).
"""

from __future__ import annotations

from typing import Callable, ClassVar

import msgspec

from marketprism_fast.instruments import InstrumentRegistry
from marketprism_fast.records import kind as kind_of

from .base import Contender
from .msgspec_binance import Rows
from .normalized import Columns

NS_PER_MS = 1_000_000
NAN = float("nan")
INSTRUMENT_COLUMNS = ("exchange", "market", "symbol", "raw_symbol")


class TextRows(Rows):
    """``Rows`` plus the kind's hidden text columns, after its own columns."""

    __slots__ = ()

    def __init__(self, kind_name: str) -> None:
        super().__init__(kind_name)
        for name in kind_of(kind_name).hidden_text:
            self.lists[name] = []
        self.append = tuple(values.append for values in self.lists.values())
        self.extend = tuple(values.extend for values in self.lists.values())


# A channel's route: its decoder (frame -> struct) and the writer of the struct's rows.
Writer = Callable[[object, list[Rows], Callable[[str], int]], None]
Route = tuple[Callable[[bytes], object], Writer]


def append_row(rows: Rows, values: tuple) -> None:
    """One row, the values in storage column order."""
    for append, value in zip(rows.append, values):
        append(value)


def or_nan(text: str | None) -> float:
    """A decimal text that may be absent (``None``) or empty: NaN then, as the data model says."""
    return float(text) if text else NAN


class MsgspecVenueContender(Contender):
    """A msgspec contender of one non-Binance venue; ``decode`` fills one ``Rows`` per kind."""

    name = "msgspec"
    kinds: ClassVar[tuple[str, ...]]  # the kinds a chunk's output holds, in this order
    text_kinds: ClassVar[frozenset[str]] = frozenset()  # kinds whose hidden texts are kept

    def __init__(self, venue: str) -> None:
        super().__init__(venue)
        self.instruments = InstrumentRegistry(venue)
        self.codes: dict[str, int] = {}

    def code(self, raw_symbol: str) -> int:
        code = self.codes.get(raw_symbol)
        if code is None:
            code = self.codes[raw_symbol] = self.instruments.intern(raw_symbol)
        return code

    def new_output(self) -> list[Rows]:
        return [TextRows(k) if k in self.text_kinds else Rows(k) for k in self.kinds]

    def route(self, frame: bytes) -> Route | None:
        """The frame's channel route; None for a frame without records (acks, heartbeats)."""
        raise NotImplementedError

    def decode(self, frames: list[bytes]) -> list[Rows]:
        out = self.new_output()
        code, route_of = self.code, self.route
        for frame in frames:
            route = route_of(frame)
            if route is None:
                continue
            decode, write = route
            try:
                msg = decode(frame)
            except msgspec.DecodeError:  # ValidationError is one too
                continue  # a damaged frame, or one of an unexpected shape, holds no records
            write(msg, out, code)
        return out

    def columns(self, outputs: list[list[Rows]]) -> Columns:
        tables = self.instruments.tables()
        merged: Columns = {}
        for out in outputs:
            for kind_name, rows in zip(self.kinds, out):
                if not len(rows):
                    continue
                contract = kind_of(kind_name).column_names
                target = merged.setdefault(kind_name, {name: [] for name in contract})
                codes = rows.lists["instrument"]
                for name in INSTRUMENT_COLUMNS:
                    target[name].extend(tables[name][codes].tolist())
                for name, values in rows.lists.items():
                    if name in target and name not in INSTRUMENT_COLUMNS:
                        target[name].extend(values)
        return merged
