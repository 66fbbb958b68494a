"""Batches as Apache Arrow: the one columnar encoding that leaves the process.

Used for JetStream messages (one Arrow IPC *stream* per message), the on-disk spool (one
IPC stream per file), the embedded store's inserts and the consumer's decoding. A reader
needs nothing but the bytes: the schema carries the kind's contract columns
(``records.py``) and, as schema metadata (all values text):

=================  =========================================================
``kind``           record kind (``trade``, ``book_delta``, ...)
``exchange``       venue id
``schema_version`` ``SCHEMA_VERSION`` below; bumped when a column changes
``batch_id``       16 hex digits (``pipeline/identity.py``)
``part``/``parts`` index and count when a batch was split into several messages
``rows``           row count
``ts_event_min``/``ts_event_max``  time range of the rows, ns since the epoch (UTC)
=================  =========================================================

Column types: text ``utf8`` (the instrument columns, ``interval`` and ``status`` as
dictionary-encoded ``utf8``), timestamps ``timestamp[ns, tz=UTC]``, ``f8`` ``float64``,
integers with their width and sign, ``f8[]`` ``fixed_size_list<float64>[depth]``.

Text of compiled batches is gathered from the buffer's byte arena with numpy into Arrow's
layout (no Python object per value); instrument columns become dictionary arrays built from
the instrument codes (the distinct texts once, indices per row).
"""

from __future__ import annotations

from typing import Iterator

import numpy as np
import pyarrow as pa

from ..batch import Batch
from ..pipeline.identity import batch_id as _batch_id
from ..pipeline.identity import id_text, parse_id
from ..records import INSTRUMENT_COLUMNS, LOW_CARDINALITY_TEXT, Column, Kind, kind as kind_of

SCHEMA_VERSION = 1

_PRIMITIVE = {
    "f8": pa.float64(),
    "i8": pa.int64(),
    "u8": pa.uint64(),
    "i1": pa.int8(),
    "u1": pa.uint8(),
    "u2": pa.uint16(),
    "u4": pa.uint32(),
}
TIMESTAMP = pa.timestamp("ns", tz="UTC")
DICTIONARY_TEXT = pa.dictionary(pa.int32(), pa.string())


def arrow_type(column: Column, depth: int = 0) -> pa.DataType:
    if column.type == "ts":
        return TIMESTAMP
    if column.type == "str":
        return DICTIONARY_TEXT if column.name in LOW_CARDINALITY_TEXT else pa.string()
    if column.type == "f8[]":
        return pa.list_(pa.float64(), depth)
    return _PRIMITIVE[column.type]


def _gather_text(arena: np.ndarray, off: np.ndarray, length: np.ndarray) -> pa.Array:
    """Arena references -> an Arrow utf8 array, with numpy (no object per value)."""
    n = len(off)
    length = length.astype(np.int64)
    offsets = np.zeros(n + 1, dtype=np.int32)
    np.cumsum(length, out=offsets[1:])
    total = int(offsets[-1])
    if total:
        # index of every byte: its row's arena offset plus its position within the row
        starts = np.repeat(off.astype(np.int64) - offsets[:-1], length)
        data = arena[starts + np.arange(total, dtype=np.int64)]
    else:
        data = np.zeros(0, dtype=np.uint8)
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(data))


def _instrument_indices(batch: Batch) -> tuple[np.ndarray, np.ndarray]:
    """(the instrument codes the batch uses, ascending; per row, the index of its code among
    them as int32). O(rows): codes are small integers, so a lookup table replaces a sort."""
    codes = np.asarray(batch.storage["instrument"])
    if not len(codes):
        return np.zeros(0, dtype=codes.dtype), np.zeros(0, dtype=np.int32)
    present = np.zeros(int(codes.max()) + 1, dtype=bool)
    present[codes] = True
    used = np.flatnonzero(present)
    remap = np.zeros(len(present), dtype=np.int32)
    remap[used] = np.arange(len(used), dtype=np.int32)
    return used, remap[codes]


def text_array(batch: Batch, name: str, instruments: tuple[np.ndarray, np.ndarray] | None = None) -> pa.Array:
    """A text column of the batch as Arrow (utf8, or dictionary for instrument columns).
    ``instruments``: ``_instrument_indices(batch)``, when the caller has it already."""
    st = batch.storage
    if st and name in INSTRUMENT_COLUMNS:
        # A dictionary of the distinct texts this batch uses (several instruments share an
        # exchange or market text; readers such as chdb want unique dictionary values).
        table = batch.instruments.tables()[name]
        used, rows = instruments if instruments is not None else _instrument_indices(batch)
        encoded = pa.array(table[used], pa.string()).dictionary_encode()
        indices = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int32)[rows]
        return pa.DictionaryArray.from_arrays(pa.array(indices, pa.int32()), encoded.dictionary)
    refs = batch.texts(name)
    if refs is not None:
        arr = _gather_text(*refs)
    else:
        arr = pa.array(batch.column(name), pa.string())
    return arr.dictionary_encode() if name in LOW_CARDINALITY_TEXT else arr


def text_values(batch: Batch, name: str) -> np.ndarray:
    """A text column as a numpy object array of str, built in C (Arrow) for compiled batches.
    Instrument columns are the registry's own str objects picked by code (no new object per
    row, nothing cached on the batch)."""
    st = batch.storage
    if st and name in INSTRUMENT_COLUMNS:
        return batch.instruments.tables()[name][np.asarray(st["instrument"])]
    if st and name + "_off" in st:
        return text_array(batch, name).to_numpy(zero_copy_only=False)
    return np.asarray(batch.column(name), dtype=object)


def _levels(values: np.ndarray) -> tuple[np.ndarray, int]:
    """An ``f8[]`` column as a 2-D float64 array and its depth."""
    if values.dtype == object:
        rows = [np.asarray(v, dtype=np.float64) for v in values]
        depth = max((len(r) for r in rows), default=0)
        out = np.full((len(rows), depth), np.nan)
        for i, r in enumerate(rows):
            out[i, : len(r)] = r
        return out, depth
    values = np.asarray(values, dtype=np.float64)
    if values.ndim == 1:
        values = values.reshape(len(values), 0)
    return values, values.shape[1]


def column_array(batch: Batch, column: Column, instruments: tuple[np.ndarray, np.ndarray] | None = None) -> pa.Array:
    if column.is_text:
        return text_array(batch, column.name, instruments)
    values = batch.column(column.name)
    if column.type == "ts":
        return pa.array(np.asarray(values, dtype=np.int64).view("datetime64[ns]"), TIMESTAMP)
    if column.type == "f8[]":
        levels, depth = _levels(values)
        if depth == 0:  # no levels at all: one NaN level, as the contract pads
            levels, depth = np.full((len(batch), 1), np.nan), 1
        flat = pa.array(np.ascontiguousarray(levels).reshape(-1), pa.float64())
        return pa.FixedSizeListArray.from_arrays(flat, depth)
    return pa.array(np.asarray(values), _PRIMITIVE[column.type])


def metadata(batch: Batch, *, part: int = 0, parts: int = 1) -> dict[bytes, bytes]:
    ts = np.asarray(batch.column("ts_event"), dtype=np.int64)
    meta = {
        "kind": batch.kind.name,
        "exchange": batch.exchange,
        "schema_version": str(SCHEMA_VERSION),
        "batch_id": id_text(_batch_id(batch)),
        "part": str(part),
        "parts": str(parts),
        "rows": str(len(batch)),
        "ts_event_min": str(int(ts.min())) if len(ts) else "0",
        "ts_event_max": str(int(ts.max())) if len(ts) else "0",
    }
    return {k.encode(): v.encode() for k, v in meta.items()}


def to_table(batch: Batch, *, part: int = 0, parts: int = 1) -> pa.Table:
    """The batch's contract columns, in contract order, with the metadata above."""
    instruments = _instrument_indices(batch) if batch.storage else None  # once for the four instrument columns
    arrays = [column_array(batch, c, instruments) for c in batch.kind.columns]
    schema = pa.schema(
        [pa.field(c.name, a.type, nullable=False) for c, a in zip(batch.kind.columns, arrays)],
        metadata=metadata(batch, part=part, parts=parts),
    )
    return pa.Table.from_arrays(arrays, schema=schema)


def ipc_buffer(table: pa.Table) -> pa.Buffer:
    """One Arrow IPC stream (schema, one record batch, end marker), in Arrow's buffer."""
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table, max_chunksize=max(table.num_rows, 1))
    return sink.getvalue()


def ipc_bytes(table: pa.Table) -> bytes:
    """``ipc_buffer`` as bytes (what a NATS message takes)."""
    return ipc_buffer(table).to_pybytes()


def read_ipc(data: bytes | memoryview | pa.Buffer) -> pa.Table:
    with pa.ipc.open_stream(data) as reader:
        return reader.read_all()


def encode(batch: Batch, *, max_bytes: int | None = None) -> Iterator[tuple[int, int, bytes]]:
    """(part, parts, IPC bytes): the whole batch, or row slices each under ``max_bytes``.

    The table's in-memory size (``nbytes``, which the IPC body matches closely) decides
    whether to split, so a batch that must be split is not first serialised whole."""
    table = to_table(batch)
    rows_total = table.num_rows
    if max_bytes is None or rows_total <= 1 or table.nbytes <= max_bytes // 2:
        data = ipc_bytes(table)
        if max_bytes is None or len(data) <= max_bytes or rows_total <= 1:
            yield 0, 1, data
            return
        per_row, margin = max(len(data) / rows_total, 1.0), 0.8
    else:
        per_row, margin = max(table.nbytes / rows_total, 1.0), 0.7  # an estimate: a wider margin
    # Rows per part from the size per row, with a margin for the schema, dictionaries and padding.
    rows = max(int((max_bytes * margin) // per_row), 1)
    parts = (rows_total + rows - 1) // rows
    for part in range(parts):
        piece = table.slice(part * rows, rows)
        piece = piece.replace_schema_metadata(
            {**table.schema.metadata, b"part": str(part).encode(), b"parts": str(parts).encode(), b"rows": str(piece.num_rows).encode()}
        )
        yield part, parts, ipc_bytes(piece)


def table_metadata(table: pa.Table) -> dict[str, str]:
    return {k.decode(): v.decode() for k, v in (table.schema.metadata or {}).items()}


def to_batch(table: pa.Table) -> Batch:
    """A batch (contract columns) from a table written by ``to_table``; its id is the
    table's ``batch_id`` (for a part other than 0, the part's own id)."""
    from ..pipeline.identity import part_id

    meta = table_metadata(table)
    kind: Kind = kind_of(meta["kind"])
    if int(meta.get("schema_version", "0")) != SCHEMA_VERSION:
        raise ValueError(f"Arrow batch has schema version {meta.get('schema_version')}, this reader knows {SCHEMA_VERSION}")
    columns: dict[str, np.ndarray] = {}
    for column in kind.columns:
        chunked = table.column(column.name)
        arr = chunked.combine_chunks() if chunked.num_chunks != 1 else chunked.chunk(0)
        columns[column.name] = from_arrow(column, arr)
    bid = part_id(parse_id(meta["batch_id"]), int(meta.get("part", "0")))
    return Batch.from_columns(kind, meta["exchange"], columns, batch_id=bid)


def from_arrow(column: Column, arr: pa.Array) -> np.ndarray:
    if column.is_text:
        if pa.types.is_dictionary(arr.type) and arr.null_count == 0:
            # One str per distinct text, picked per row by index (not one str per row).
            texts = arr.dictionary.cast(pa.string()).to_numpy(zero_copy_only=False).astype(object)
            return texts[arr.indices.to_numpy(zero_copy_only=False)]
        if pa.types.is_dictionary(arr.type):
            arr = arr.cast(pa.string())
        return arr.to_numpy(zero_copy_only=False).astype(object)
    if column.type == "ts":
        return arr.cast(pa.int64()).to_numpy()
    if column.type == "f8[]":
        depth = arr.type.list_size
        flat = arr.flatten().to_numpy(zero_copy_only=False)
        return flat.reshape(len(arr), depth)
    return arr.to_numpy(zero_copy_only=False)
