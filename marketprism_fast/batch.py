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


PACKED_ID_FLAG = 0x8000  # in a ``*_len`` storage column: the row holds a packed id, no arena text
_POW10 = 10 ** np.arange(1, 16, dtype=np.uint64)  # 10 .. 10**15: digit counts of ids below 2**47


def unpack_ids(arena: np.ndarray, off: np.ndarray, length: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Arena references with packed ids (``RecordBuffer.put_id``: ``len = PACKED_ID_FLAG |
    value >> 32``, ``off`` = its low 32 bits) -> plain references into an arena extended with
    those ids' decimal texts. The same arrays back when no row is packed (the usual answer
    for every column but ``trade_id``). Vectorised: no Python object per row."""
    length = np.asarray(length)
    packed = np.flatnonzero(length & PACKED_ID_FLAG)
    if not len(packed):
        return arena, off, length
    values = ((length[packed].astype(np.uint64) & 0x7FFF) << np.uint64(32)) | np.asarray(off)[packed].astype(np.uint64)
    digits = np.searchsorted(_POW10, values, side="right") + 1  # 0..9 -> 1, 10..99 -> 2, ...
    width = int(digits.max())
    # one row of `width` digit bytes per id, most significant first, then its leading pad dropped
    place = 10 ** np.arange(width - 1, -1, -1, dtype=np.uint64)
    table = ((values[:, None] // place[None, :]) % np.uint64(10)).astype(np.uint8) + 48
    keep = np.arange(width)[None, :] >= (width - digits)[:, None]
    text = table[keep]
    base = len(arena)
    new_off = np.array(off, dtype=np.uint32, copy=True)
    new_len = np.array(length, dtype=np.uint16, copy=True)
    starts = np.zeros(len(packed), dtype=np.int64)
    np.cumsum(digits[:-1], out=starts[1:])
    if base + len(text) >= 2**32:
        raise OverflowError("a batch's text is beyond 4 GiB")
    new_off[packed] = base + starts
    new_len[packed] = digits
    return np.concatenate([np.asarray(arena, dtype=np.uint8), text]), new_off, new_len


def decode_texts(arena: np.ndarray, off: np.ndarray, length: np.ndarray) -> np.ndarray:
    """Plain arena references (``Batch.texts``) -> object array of str (UTF-8)."""
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

    __slots__ = ("kind", "exchange", "n", "_storage", "_arena", "_instruments", "_cols", "_id", "_texts")

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
        self._texts: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
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
    def instruments(self) -> "InstrumentRegistry | None":
        """The registry whose codes the storage ``instrument`` column holds (compiled batches)."""
        return self._instruments

    @property
    def frame(self) -> np.ndarray:
        """Per row, the sequence number of the frame that produced it (uint32, wraps)."""
        return self.column("frame")

    @property
    def arena(self) -> np.ndarray | None:
        """The compiled buffer's text bytes as held (None for batches built from columns).
        Storage ``*_off``/``*_len`` may hold packed ids: read text through ``texts``."""
        return self._arena if self._storage else None

    def texts(self, name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """``(arena, offsets, lengths)`` of a text column the buffer stores in its arena,
        every row a plain reference (packed ids turned into text once, then cached); None
        for instrument columns and for batches built from columns."""
        st = self._storage
        if not st or name + "_off" not in st:
            return None
        refs = self._texts.get(name)
        if refs is None:
            assert self._arena is not None
            refs = unpack_ids(self._arena, st[name + "_off"], st[name + "_len"])
            self._texts[name] = refs
        return refs

    def select(self, rows: np.ndarray) -> "Batch":
        """A batch of only these rows, in this order, with the same id. A compiled batch's
        storage is cut (its text arena and registry shared), so the result stays compiled:
        no text is decoded, instrument columns stay codes; a batch of columns has each of its
        columns cut (``frame`` and hidden texts included)."""
        if self._storage:
            return Batch(
                self.kind, self.exchange, len(rows), storage={k: v[rows] for k, v in self._storage.items()},
                arena=self._arena, instruments=self._instruments, batch_id=self._id,
            )
        return Batch(self.kind, self.exchange, len(rows), columns={k: v[rows] for k, v in self._cols.items()}, batch_id=self._id)

    def instrument_codes(self) -> tuple[np.ndarray, "InstrumentRegistry"] | None:
        """Per row, its instrument code, and the registry whose ``tables()`` the codes index;
        None for batches built from columns."""
        if not self._storage or self._instruments is None:
            return None
        return self._storage["instrument"], self._instruments

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
        refs = self.texts(name)
        if refs is not None:
            return _readonly(decode_texts(*refs))
        raise KeyError(f"{self.kind.name} batch has no column {name!r}")

    def rows(self, names: tuple[str, ...] | None = None) -> list[dict]:
        """Python dicts (slow; for tests, small outputs and the per-record JSON path)."""
        names = names or self.kind.column_names
        cols = [self.column(c) for c in names]
        lists = [c.tolist() for c in cols]
        return [dict(zip(names, vals)) for vals in zip(*lists)]
