"""Output of the ``normalize`` command: JSON Lines, CSV or Parquet.

Records arrive as ``Chunk``s: the batches one stretch of frames produced, each batch in
frame order. JSON Lines interleaves them into frame order (data-model.md: records in frame
order; within a frame, by kind in the contract's order, then in message order); CSV and
Parquet write one file per kind, so each kind's rows simply follow each other.

Values (data-model.md, "Outside the process"): floats as ``repr(float)`` (the shortest text
that round-trips), NaN and ±inf as JSON ``null`` (an empty CSV field), integers as integers,
``f8[]`` columns as JSON arrays. Text is built column by column from numpy arrays; no
Python object is made per value beyond its text.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import IO, Any, Protocol, Sequence

import numpy as np
import orjson

from ..batch import Batch
from ..errors import ConfigurationError
from ..records import KIND_ORDER, LOW_CARDINALITY_TEXT, Column, Kind

FORMATS = ("jsonl", "csv", "parquet")
FRAME_MODULUS = 2**32
JSON_NULL = "null"


class Chunk:
    """Batches of one stretch of frames, starting at frame sequence number ``first_frame``.

    Batches are kept in contract kind order (stable: batches of one kind keep their order).
    """

    __slots__ = ("batches", "first_frame")

    def __init__(self, batches: Sequence[Batch], first_frame: int) -> None:
        self.batches: tuple[Batch, ...] = tuple(
            sorted((b for b in batches if len(b)), key=lambda b: KIND_ORDER[b.kind.name])
        )
        self.first_frame = first_frame % FRAME_MODULUS

    def __len__(self) -> int:
        return sum(len(b) for b in self.batches)

    def frame_order(self) -> np.ndarray | None:
        """Permutation of the concatenated rows that puts them in frame order, or None if they are.

        Frame numbers wrap at 2**32; counting them from ``first_frame`` in uint32 arithmetic
        keeps the order right across the wrap. A stable sort keeps kind order, then row order,
        among the rows of one frame.
        """
        if len(self.batches) <= 1:
            return None
        start = np.uint32(self.first_frame)
        rel = np.concatenate([np.asarray(b.frame).astype(np.uint32, copy=False) - start for b in self.batches])
        if rel.size < 2 or bool(np.all(rel[1:] >= rel[:-1])):
            return None
        return np.argsort(rel, kind="stable")


class RecordWriter(Protocol):
    def write(self, chunk: Chunk) -> None: ...

    def close(self) -> None: ...


# ---- value texts, a column at a time ------------------------------------------------------


class _JsonNull:
    """Stands for a NaN/±inf float in a ``%r`` slot of a JSON template."""

    __slots__ = ()

    def __repr__(self) -> str:
        return JSON_NULL


_NULL = _JsonNull()


def float_values(values: np.ndarray) -> list:
    """Python floats for ``%r`` (``repr(float)``), with NaN/±inf replaced by a JSON null."""
    out = values.tolist()
    for i in np.flatnonzero(~np.isfinite(values)).tolist():
        out[i] = _NULL
    return out


def float_texts(values: np.ndarray, null: str) -> list[str]:
    """``repr`` of each float; ``null`` for NaN and ±inf."""
    texts = list(map(float.__repr__, values.tolist()))
    for i in np.flatnonzero(~np.isfinite(values)).tolist():
        texts[i] = null
    return texts


def _nonfinite_to_null(text: str) -> str:
    # Safe on a list of float reprs only: no finite repr contains "inf" or "nan".
    return text.replace("-inf", JSON_NULL).replace("inf", JSON_NULL).replace("nan", JSON_NULL)


def float_array_texts(values: np.ndarray) -> list[str]:
    """Each row of an ``f8[]`` column as a JSON array (NaN padding -> null)."""
    rows = values.tolist() if values.dtype != object else [np.asarray(v, dtype=np.float64).tolist() for v in values]
    texts = ["[" + ",".join(map(float.__repr__, row)) + "]" for row in rows]
    if values.dtype == object or not bool(np.isfinite(values).all()):
        texts = [_nonfinite_to_null(t) for t in texts]
    return texts


def _json_string(text: str) -> str:
    return orjson.dumps(text).decode()


def json_string_texts(values: np.ndarray, memo: dict[str, str] | None = None) -> list[str]:
    """JSON string literals. With ``memo`` (for columns whose values repeat, such as
    symbols) each distinct text is encoded once."""
    items = values.tolist()
    if memo is None:
        return list(map(_json_string, items))
    for v in set(items) - memo.keys():
        memo[v] = _json_string(v)
    return list(map(memo.__getitem__, items))


def csv_column(column: Column, values: np.ndarray) -> list:
    """CSV field values: text as is, floats as ``repr`` (NaN empty), ``f8[]`` as JSON arrays."""
    if column.type == "f8":
        return float_texts(values, "")
    if column.type == "f8[]":
        return float_array_texts(values)
    return values.tolist()


class JsonLines:
    """Turns batches into JSON object texts, one per row: ``kind``, the common columns, then
    the kind's columns. Each column is converted once, as a whole; a ``%``-template per kind
    puts the row together (``%r`` gives ``repr(float)``, ``%d`` integers)."""

    def __init__(self) -> None:
        self._templates: dict[str, str] = {}
        self._memos: dict[str, dict[str, str]] = {name: {} for name in LOW_CARDINALITY_TEXT}

    def lines(self, batch: Batch) -> list[str]:
        cols = [self._values(c, batch.column(c.name)) for c in batch.kind.columns]
        template = self._template(batch.kind)
        return [template % row for row in zip(*cols)]

    def _values(self, column: Column, values: np.ndarray) -> list:
        if column.type == "f8":
            return float_values(values)
        if column.type == "f8[]":
            return float_array_texts(values)
        if column.is_text:
            return json_string_texts(values, self._memos.get(column.name))
        return values.tolist()

    def _template(self, kind: Kind) -> str:
        template = self._templates.get(kind.name)
        if template is None:
            slots = [f'"kind":{_json_string(kind.name)}'] + [f'"{c.name}":{_SLOT[c.type]}' for c in kind.columns]
            template = self._templates[kind.name] = "{" + ",".join(slots) + "}"
        return template


_SLOT = {"f8": "%r", "f8[]": "%s", "str": "%s", "ts": "%d", "i8": "%d", "u8": "%d", "i1": "%d", "u1": "%d", "u2": "%d", "u4": "%d"}


def json_lines(batch: Batch) -> list[str]:
    """One JSON object text per row of ``batch``."""
    return JsonLines().lines(batch)


# ---- JSON Lines -----------------------------------------------------------------------------


class JsonlWriter:
    """One JSON object per line, in frame order, to a binary stream (stdout or a file)."""

    def __init__(self, stream: IO[bytes], *, close_stream: bool = False) -> None:
        self.stream = stream
        self._close_stream = close_stream
        self._json = JsonLines()

    @classmethod
    def to_path(cls, path: str) -> "JsonlWriter":
        try:
            return cls(open(path, "wb"), close_stream=True)
        except OSError as exc:
            raise ConfigurationError(f"--out {path}: cannot create ({exc.strerror or exc})", field="out") from None

    def write(self, chunk: Chunk) -> None:
        if not chunk.batches:
            return
        lines: list[str] = []
        for batch in chunk.batches:
            lines += self._json.lines(batch)
        order = chunk.frame_order()
        if order is not None:
            lines = [lines[i] for i in order.tolist()]
        lines.append("")
        self.stream.write("\n".join(lines).encode())

    def close(self) -> None:
        self.stream.flush()
        if self._close_stream:
            self.stream.close()


# ---- one file per kind ----------------------------------------------------------------------


def _output_dir(path: str | None, fmt: str) -> Path:
    if not path or path == "-":
        raise ConfigurationError(f"--format {fmt} writes one file per kind: give a directory with --out", field="out")
    out = Path(path)
    if out.exists() and not out.is_dir():
        raise ConfigurationError(f"--out {path}: exists and is not a directory (--format {fmt})", field="out")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigurationError(f"--out {path}: cannot create directory ({exc.strerror or exc})", field="out") from None
    return out


class CsvWriter:
    """``<out>/<kind>.csv`` per kind that has records: a header row, then one row per record.

    NaN is an empty field; ``f8[]`` values are JSON arrays in one field.
    """

    def __init__(self, directory: str | None) -> None:
        self.directory = _output_dir(directory, "csv")
        self._files: dict[str, tuple[IO[str], Any]] = {}

    def path_of(self, kind: str) -> Path:
        return self.directory / f"{kind}.csv"

    def write(self, chunk: Chunk) -> None:
        for batch in chunk.batches:
            writer = self._writer(batch.kind)
            cols = [csv_column(c, batch.column(c.name)) for c in batch.kind.columns]
            writer.writerows(zip(*cols))

    def _writer(self, kind: Kind):
        entry = self._files.get(kind.name)
        if entry is None:
            f = open(self.path_of(kind.name), "w", newline="", encoding="utf-8")
            w = csv.writer(f, lineterminator="\n")
            w.writerow(kind.column_names)
            entry = self._files[kind.name] = (f, w)
        return entry[1]

    def close(self) -> None:
        for f, _ in self._files.values():
            f.close()


class ParquetWriter:
    """``<out>/<kind>.parquet`` per kind that has records.

    Types follow records.py: text as string, ``ts`` as int64 ns, integers at their width,
    floats as float64 (NaN kept as NaN), ``f8[]`` as list<float64>. Rows are gathered into
    row groups of about ``row_group_rows``.
    """

    def __init__(self, directory: str | None, *, row_group_rows: int = 1 << 17) -> None:
        try:
            import pyarrow  # noqa: F401
            import pyarrow.parquet  # noqa: F401
        except ImportError:
            raise ConfigurationError(
                "--format parquet needs pyarrow (pip install 'marketprism_fast[parquet]')", field="format"
            ) from None
        self.directory = _output_dir(directory, "parquet")
        self.row_group_rows = row_group_rows
        self._pending: dict[str, list] = {}
        self._pending_rows: dict[str, int] = {}
        self._writers: dict[str, object] = {}

    def path_of(self, kind: str) -> Path:
        return self.directory / f"{kind}.parquet"

    def write(self, chunk: Chunk) -> None:
        for batch in chunk.batches:
            name = batch.kind.name
            self._pending.setdefault(name, []).append(arrow_batch(batch))
            self._pending_rows[name] = self._pending_rows.get(name, 0) + len(batch)
            if self._pending_rows[name] >= self.row_group_rows:
                self._flush(name)

    def _flush(self, name: str) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        batches = self._pending.pop(name, [])
        self._pending_rows.pop(name, None)
        if not batches:
            return
        table = pa.Table.from_batches(batches)
        writer = self._writers.get(name)
        if writer is None:
            writer = self._writers[name] = pq.ParquetWriter(self.path_of(name), table.schema)
        writer.write_table(table)  # type: ignore[attr-defined]

    def close(self) -> None:
        for name in list(self._pending):
            self._flush(name)
        for writer in self._writers.values():
            writer.close()  # type: ignore[attr-defined]


def arrow_schema(kind: Kind):
    import pyarrow as pa

    types = {
        "str": pa.string(),
        "ts": pa.int64(),
        "i8": pa.int64(),
        "u8": pa.uint64(),
        "i1": pa.int8(),
        "u1": pa.uint8(),
        "u2": pa.uint16(),
        "u4": pa.uint32(),
        "f8": pa.float64(),
        "f8[]": pa.list_(pa.float64()),
    }
    return pa.schema([pa.field(c.name, types[c.type], nullable=c.is_text) for c in kind.columns])


def arrow_batch(batch: Batch):
    import pyarrow as pa

    schema = arrow_schema(batch.kind)
    arrays = []
    for c, field in zip(batch.kind.columns, schema):
        values = batch.column(c.name)
        if c.type == "f8[]":
            arrays.append(_arrow_list(values))
        elif c.is_text:
            arrays.append(pa.array(values.tolist(), type=field.type))
        else:
            arrays.append(pa.array(np.ascontiguousarray(values, dtype=c.dtype), type=field.type))
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def _arrow_list(values: np.ndarray):
    import pyarrow as pa

    if values.dtype == object:
        rows = [np.asarray(v, dtype=np.float64) for v in values]
    else:
        rows = list(values.reshape(len(values), -1))
    lengths = np.array([len(r) for r in rows], dtype=np.int32)
    offsets = np.zeros(len(rows) + 1, dtype=np.int32)
    np.cumsum(lengths, out=offsets[1:])
    flat = np.concatenate(rows) if rows else np.empty(0, dtype=np.float64)
    return pa.ListArray.from_arrays(pa.array(offsets), pa.array(flat, type=pa.float64()))


def make_writer(fmt: str, out: str | None, stdout: IO[bytes]) -> RecordWriter:
    """The writer for ``--format`` / ``--out`` (JSON Lines to ``stdout`` unless ``--out``)."""
    if fmt == "jsonl":
        if out is None or out == "-":
            return JsonlWriter(stdout)
        return JsonlWriter.to_path(out)
    if fmt == "csv":
        return CsvWriter(out)
    if fmt == "parquet":
        return ParquetWriter(out)
    raise ConfigurationError(f"unknown --format {fmt!r}; expected one of {', '.join(FORMATS)}", field="format")


__all__ = [
    "Chunk",
    "CsvWriter",
    "FORMATS",
    "JsonlWriter",
    "ParquetWriter",
    "RecordWriter",
    "arrow_batch",
    "arrow_schema",
    "json_lines",
    "make_writer",
]
