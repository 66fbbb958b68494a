"""Immutable batches of records of one kind and one venue.

A batch is what leaves a record buffer. It holds the buffer's storage arrays (read-only
views) and decodes the contract's columns from them on demand: instrument codes become the
four instrument strings, arena references become text. A batch built by the reference
parsers holds contract columns directly. Either way ``column(name)`` answers in contract form.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Mapping

import numpy as np

from .records import INSTRUMENT_COLUMNS, Kind, kind as kind_of

if TYPE_CHECKING:
    from .instruments import InstrumentRegistry


def _readonly(a: np.ndarray) -> np.ndarray:
    v = a.view()
    v.flags.writeable = False
    return v


def decode_texts(arena: np.ndarray, off: np.ndarray, length: np.ndarray) -> np.ndarray:
    """Arena references -> object array of str (UTF-8)."""
    out = np.empty(len(off), dtype=object)
    raw = arena.tobytes() if len(off) else b""
    cache: dict[bytes, str] = {}
    for i, (o, n) in enumerate(zip(off.tolist(), length.tolist())):
        b = raw[o : o + n]
        s = cache.get(b)
        if s is None:
            s = b.decode("utf-8", "replace")
            if len(cache) < 4096:
                cache[b] = s
        out[i] = s
    return out


class Batch:
    """Rows ``0..n-1`` of one kind from one venue. Never modified after creation."""

    __slots__ = ("kind", "exchange", "n", "_storage", "_arena", "_instruments", "_cols", "_id")

    def __init__(
        self,
        kind: Kind | str,
        exchange: str,
        n: int,
        *,
        storage: Mapping[str, np.ndarray] | None = None,
        arena: np.ndarray | None = None,
        instruments: "InstrumentRegistry | None" = None,
        columns: Mapping[str, np.ndarray] | None = None,
        batch_id: int = 0,
    ) -> None:
        self._id = int(batch_id)
        self.kind = kind_of(kind) if isinstance(kind, str) else kind
        self.exchange = exchange
        self.n = int(n)
        self._storage = {k: _readonly(v[: self.n]) for k, v in (storage or {}).items()}
        self._arena = arena
        self._instruments = instruments
        self._cols: dict[str, np.ndarray] = {}
        if columns is not None:
            for k, v in columns.items():
                arr = np.asarray(v) if not isinstance(v, np.ndarray) else v
                if len(arr) != self.n:
                    raise ValueError(f"column {k!r} has {len(arr)} rows, batch has {self.n}")
                self._cols[k] = _readonly(arr)

    @classmethod
    def from_columns(
        cls, kind: Kind | str, exchange: str, columns: Mapping[str, np.ndarray], *, batch_id: int = 0
    ) -> "Batch":
        """A batch from contract-form columns (plus ``frame`` and hidden text columns)."""
        n = len(next(iter(columns.values()))) if columns else 0
        return cls(kind, exchange, n, columns=columns, batch_id=batch_id)

    def __len__(self) -> int:
        return self.n

    @property
    def id(self) -> int:
        """The batch's 64-bit identity in the sinks (``pipeline/identity.py``); 0 until assigned."""
        return self._id

    def assign_id(self, batch_id: int) -> None:
        """Give the batch its identity, once (the batcher does, before any sink sees it)."""
        if self._id and self._id != batch_id:
            raise ValueError(f"{self!r} already has id {self._id:016x}")
        if not 0 < batch_id < 2**64:
            raise ValueError(f"batch id {batch_id} is not a non-zero 64-bit value")
        self._id = int(batch_id)

    def __repr__(self) -> str:
        return f"<Batch {self.kind.name} {self.exchange} rows={self.n}>"

    @property
    def storage(self) -> Mapping[str, np.ndarray]:
        """The compiled buffer's arrays (empty for batches built from columns)."""
        return self._storage

    @property
    def arena(self) -> np.ndarray | None:
        """The text bytes that storage ``*_off``/``*_len`` columns point into (compiled batches)."""
        return self._arena

    @property
    def instruments(self) -> "InstrumentRegistry | None":
        """The registry whose codes the storage ``instrument`` column holds (compiled batches)."""
        return self._instruments

    @property
    def frame(self) -> np.ndarray:
        """Per row, the sequence number of the frame that produced it (uint32, wraps)."""
        return self.column("frame")

    def column(self, name: str) -> np.ndarray:
        col = self._cols.get(name)
        if col is not None:
            return col
        col = self._decode(name)
        self._cols[name] = col
        return col

    def columns(self) -> dict[str, np.ndarray]:
        """Contract columns, in contract order."""
        return {name: self.column(name) for name in self.kind.column_names}

    def _decode(self, name: str) -> np.ndarray:
        st = self._storage
        if not st:
            if name in INSTRUMENT_COLUMNS or name in self.kind.hidden_text:
                raise KeyError(f"batch built from columns has no {name!r}")
            raise KeyError(f"{self.kind.name} batch has no column {name!r}")
        if name in INSTRUMENT_COLUMNS:
            assert self._instruments is not None
            table = self._instruments.tables()[name]
            return _readonly(table[st["instrument"]])
        if name in st:
            return st[name]
        if name + "_off" in st:
            assert self._arena is not None
            return _readonly(decode_texts(self._arena, st[name + "_off"], st[name + "_len"]))
        raise KeyError(f"{self.kind.name} batch has no column {name!r}")

    def rows(self, names: tuple[str, ...] | None = None) -> list[dict]:
        """Python dicts (slow; for tests, small outputs and the per-record JSON path)."""
        names = names or self.kind.column_names
        cols = [self.column(c) for c in names]
        lists = [c.tolist() for c in cols]
        return [dict(zip(names, vals)) for vals in zip(*lists)]
