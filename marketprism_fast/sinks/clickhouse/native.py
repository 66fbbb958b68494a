"""Batches as ClickHouse Native-format columns, built with numpy: no Python object per value.

clickhouse-driver serialises a ``String`` column one value at a time (a ``str`` per row,
encoded, written) and, in numpy mode, first scans and copies every column for NULLs
(``pandas.isnull``), which the contract's columns never hold. At hundreds of thousands of
rows per second that per-value work is most of the sink's CPU. Here each column the
server's insert block names as ``String`` or a fixed-width number is encoded whole:

* numbers: the array's bytes, little-endian (``DateTime64(9)`` is its ``Int64`` ns value);
* ``String``: per row a LEB128 length then the UTF-8 bytes, gathered from the record
  buffer's text arena (or, for instrument columns, from the few distinct instrument texts
  by code; for batches built from columns, from an Arrow array of the values) with
  ``numpy.repeat`` index arithmetic;
* ``Array(Float64)`` (book_snapshot levels): the rows' end offsets, then the values of the
  (rows, depth) array as they lie (the driver writes such a column row by row in Python);
* ``LowCardinality(String)`` columns (servers from 19.3): the distinct texts as the dictionary,
  a key per row; for instrument columns from the instrument codes, for the others (interval,
  status) by Arrow's dictionary encoding (the driver hashes a ``str`` per row).

Any other type is left to the
driver's own column writer, so every server and schema variant still works; the fast path is
an encoding of the same values, not a different table. ``NativeClient.execute`` takes an
``EncodedColumns`` as the data of an ``INSERT ... VALUES``: the server's sample block
decides the encoding of each column, which is checked against what the batch holds.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import pyarrow as pa

from ...batch import Batch
from ...records import INSTRUMENT_COLUMNS, Column

# Server type -> little-endian numpy dtype for columns written as raw bytes.
_FIXED = {
    "Int8": "<i1", "UInt8": "<u1", "Int16": "<i2", "UInt16": "<u2", "Int32": "<i4", "UInt32": "<u4",
    "Int64": "<i8", "UInt64": "<u8", "Float32": "<f4", "Float64": "<f8",
    "DateTime64(9, 'UTC')": "<i8",
}


def _varint_sizes(lengths: np.ndarray) -> np.ndarray:
    return 1 + (lengths >= 1 << 7) + (lengths >= 1 << 14) + (lengths >= 1 << 21) + (lengths >= 1 << 28)


def _put_varints(out: np.ndarray, at: np.ndarray, values: np.ndarray, sizes: np.ndarray) -> None:
    """LEB128 of ``values`` written at ``out[at]`` (``sizes`` bytes each)."""
    rest = values.astype(np.uint64)
    for k in range(int(sizes.max()) if len(sizes) else 0):
        rows = sizes > k
        more = sizes[rows] > k + 1
        byte = (rest[rows] & 0x7F).astype(np.uint8) | (more.astype(np.uint8) << 7)
        out[at[rows] + k] = byte
        rest[rows] >>= np.uint64(7)


def encode_strings(data: np.ndarray, off: np.ndarray, length: np.ndarray) -> np.ndarray:
    """A ``String`` column: per row, varint(length) then ``data[off:off+length]``."""
    n = len(off)
    length = np.asarray(length, dtype=np.int64)
    sizes = _varint_sizes(length)
    row_bytes = sizes + length
    starts = np.zeros(n, dtype=np.int64)
    if n:
        np.cumsum(row_bytes[:-1], out=starts[1:])
    total = int(row_bytes.sum()) if n else 0
    out = np.empty(total, dtype=np.uint8)
    if not n:
        return out
    _put_varints(out, starts, length, sizes)
    text_total = int(length.sum())
    if text_total:
        # Position of every text byte within its row's text: a running index minus the
        # row's first text byte in the concatenation.
        text_starts = np.zeros(n, dtype=np.int64)
        np.cumsum(length[:-1], out=text_starts[1:])
        within = np.arange(text_total, dtype=np.int64) - np.repeat(text_starts, length)
        out[np.repeat(starts + sizes, length) + within] = data[np.repeat(np.asarray(off, dtype=np.int64), length) + within]
    return out


def _gather_rows(template: np.ndarray, t_off: np.ndarray, t_len: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Concatenate ``template[t_off[r]:t_off[r]+t_len[r]]`` for each r in ``rows``."""
    lengths = t_len[rows]
    total = int(lengths.sum())
    starts = np.zeros(len(rows), dtype=np.int64)
    if len(rows):
        np.cumsum(lengths[:-1], out=starts[1:])
    within = np.arange(total, dtype=np.int64) - np.repeat(starts, lengths)
    return template[np.repeat(t_off[rows], lengths) + within]


def encode_instrument(batch: Batch, name: str) -> np.ndarray:
    """An instrument ``String`` column from the instrument codes: the few distinct texts are
    encoded once, then copied per row by code."""
    codes = np.asarray(batch.storage["instrument"], dtype=np.int64)
    table = batch.instruments.tables()[name]
    if not len(codes):
        return np.zeros(0, dtype=np.uint8)
    present = np.zeros(int(codes.max()) + 1, dtype=bool)
    present[codes] = True
    used = np.flatnonzero(present)
    pieces = []
    for code in used.tolist():
        text = table[code].encode("utf-8")
        size = len(text)
        prefix = bytearray()
        while True:
            byte = size & 0x7F
            size >>= 7
            prefix.append(byte | (0x80 if size else 0))
            if not size:
                break
        pieces.append(bytes(prefix) + text)
    t_len = np.zeros(len(present), dtype=np.int64)
    t_len[used] = [len(p) for p in pieces]
    t_off = np.zeros(len(present), dtype=np.int64)
    t_off[used] = np.cumsum([0] + [len(p) for p in pieces[:-1]])
    template = np.frombuffer(b"".join(pieces), dtype=np.uint8)
    return _gather_rows(template, t_off, t_len, codes)


# LowCardinality's Native form (as clickhouse-driver writes it): the column's state prefix, the
# keys' serialization version (1: shared dictionaries with additional keys); then a flags word
# (the keys' width, 0-3 for UInt8-UInt64, with "has additional keys" and "need update
# dictionary"), the dictionary as a String column, the row count and one key per row.
_LC_KEYS_VERSION = 1
_LC_FLAGS = (1 << 9) | (1 << 10)
_LC_KEY_TYPES = ("<u1", "<u2", "<u4", "<u8")


def encode_low_cardinality(batch: Batch, name: str) -> np.ndarray | None:
    """A text column as a Native ``LowCardinality(String)`` column: the distinct texts, in the
    order they first appear, as the dictionary, and per row its text's key. Instrument columns
    are built from the instrument codes; other columns (a kline's interval, a status) by
    Arrow's dictionary encoding of the column. None for a column holding nulls (the driver
    writes those)."""
    st = batch.storage
    head = np.array([_LC_KEYS_VERSION], dtype="<u8").view(np.uint8)
    if not len(batch):
        return head
    if st and name in INSTRUMENT_COLUMNS:
        texts, keys = _instrument_dictionary(batch, name)
        dictionary = pa.array(texts, pa.string())
    else:
        from ..arrow import text_array

        column = text_array(batch, name)
        if column.null_count:
            return None
        if not pa.types.is_dictionary(column.type):
            column = column.dictionary_encode()
        dictionary = column.dictionary
        keys = column.indices.to_numpy(zero_copy_only=False)
    size = len(dictionary)
    width = 0 if size < 1 << 8 else 1 if size < 1 << 16 else 2 if size < 1 << 32 else 3
    return np.concatenate([
        head,
        np.array([_LC_FLAGS | width, size], dtype="<u8").view(np.uint8),
        _encode_arrow_strings(dictionary),
        np.array([len(keys)], dtype="<u8").view(np.uint8),
        keys.astype(_LC_KEY_TYPES[width]).view(np.uint8),
    ])


def _instrument_dictionary(batch: Batch, name: str) -> tuple[list[str], np.ndarray]:
    """The distinct texts of an instrument column in order of first appearance (instruments
    share exchange and market texts) and per row its text's key, from the codes."""
    codes = np.asarray(batch.storage["instrument"], dtype=np.int64)
    table = batch.instruments.tables()[name]
    used, first = np.unique(codes, return_index=True)
    key_of_code = np.zeros(int(used[-1]) + 1, dtype=np.int64)
    dictionary: dict[str, int] = {}  # text -> key
    for code in used[np.argsort(first, kind="stable")].tolist():
        key_of_code[code] = dictionary.setdefault(table[code], len(dictionary))
    return list(dictionary), key_of_code[codes]


def encode_text(batch: Batch, name: str) -> np.ndarray:
    """Any text column of the batch as a Native ``String`` column."""
    st = batch.storage
    if st and name in INSTRUMENT_COLUMNS:
        return encode_instrument(batch, name)
    refs = batch.texts(name)
    if refs is not None:
        return encode_strings(*refs)
    return _encode_arrow_strings(pa.array(batch.column(name), pa.large_string()))


def _encode_arrow_strings(arr: pa.Array) -> np.ndarray:
    """An Arrow string array (without nulls) as a Native ``String`` column, from its buffers."""
    arr = arr.cast(pa.large_string())
    offsets = np.frombuffer(arr.buffers()[1], dtype=np.int64)[arr.offset : arr.offset + len(arr) + 1]
    data = np.frombuffer(arr.buffers()[2], dtype=np.uint8) if arr.buffers()[2] is not None else np.zeros(0, np.uint8)
    return encode_strings(data, offsets[:-1], np.diff(offsets))


def driver_values(batch: Batch, column: Column) -> np.ndarray:
    """The column as clickhouse-driver's writers take it (types this module does not encode
    itself: a ``LowCardinality(String)`` column holding nulls; and the checks that compare both
    encodings)."""
    from .. import arrow

    if column.is_text:
        return arrow.text_values(batch, column.name)
    if column.type == "f8[]":
        levels, _ = arrow._levels(batch.column(column.name))  # noqa: SLF001
        rows = np.empty(len(levels), dtype=object)  # the driver's Array column takes a sequence per row
        for i, row in enumerate(levels):
            rows[i] = row
        return rows
    return np.ascontiguousarray(batch.column(column.name))


def encode_levels(batch: Batch, name: str) -> np.ndarray:
    """An ``f8[]`` column as a Native ``Array(Float64)`` column: per row the end of its values
    (UInt64, counted from the column's first value), then all the rows' values. Every row has
    the column's depth (a shorter row is NaN-padded, as the driver's writer is given it)."""
    from .. import arrow

    levels, depth = arrow._levels(batch.column(name))  # noqa: SLF001
    ends = np.arange(1, len(levels) + 1, dtype="<u8") * np.uint64(depth)
    values = np.ascontiguousarray(levels, dtype="<f8").reshape(-1)
    return np.concatenate([ends.view(np.uint8), values.view(np.uint8)])


def encode_column(batch: Batch, column: Column, server_type: str, values: np.ndarray | None = None):
    """The column for a server column of ``server_type``: ``Raw`` Native bytes where this
    module encodes the type, else values for the driver. ``values``: the column's values when
    they are not the batch's own (the batch id)."""
    dtype = _FIXED.get(server_type)
    if dtype is not None and column.type not in ("str", "f8[]"):
        data = batch.column(column.name) if values is None else values
        return Raw(np.ascontiguousarray(data, dtype=dtype).view(np.uint8))
    if server_type == "String" and column.is_text:
        return Raw(encode_text(batch, column.name))
    if server_type == "LowCardinality(String)" and column.is_text and values is None:
        encoded = encode_low_cardinality(batch, column.name)
        if encoded is not None:
            return Raw(encoded)
    if server_type == "Array(Float64)" and column.type == "f8[]" and values is None:
        return Raw(encode_levels(batch, column.name))
    return values if values is not None else driver_values(batch, column)


class EncodedColumns(list):
    """The data of one INSERT: per column, a function of the server's column type giving
    ``Raw`` Native bytes or values for the driver's own writer. A list, so the driver takes
    it as insert data."""

    def __init__(self, columns: list[Callable[[str], object]], rows: int) -> None:
        super().__init__(columns)
        self.rows = rows


class Raw:
    """A column already in Native form."""

    __slots__ = ("data",)

    def __init__(self, data: np.ndarray) -> None:
        self.data = data


def make_client_class():
    """A clickhouse-driver ``Client`` whose inserts take ``EncodedColumns`` (imported lazily,
    as the driver is)."""
    from clickhouse_driver import Client, defines
    from clickhouse_driver.block import BlockInfo, ColumnOrientedBlock
    from clickhouse_driver.columns.service import write_column
    from clickhouse_driver.protocol import ClientPacketTypes
    from clickhouse_driver.varint import write_varint
    from clickhouse_driver.writer import write_binary_str, write_binary_uint8

    class NativeClient(Client):
        def send_data(self, sample_block, data, types_check=False, columnar=False):
            if not isinstance(data, EncodedColumns):
                return super().send_data(sample_block, data, types_check=types_check, columnar=columnar)
            connection = self.connection
            revision = connection.server_info.used_revision
            columns = sample_block.columns_with_types
            if len(columns) != len(data):
                raise ValueError(f"insert block has {len(columns)} columns, the batch {len(data)}")
            # The packet header goes to the connection; the block to the block stream (which
            # compresses it, when the connection compresses, on ``finalize``).
            write_varint(ClientPacketTypes.DATA, connection.fout)
            if revision >= defines.DBMS_MIN_REVISION_WITH_TEMPORARY_TABLES:
                write_binary_str("", connection.fout)
            fout = connection.block_out.fout
            if revision >= defines.DBMS_MIN_REVISION_WITH_BLOCK_INFO:
                BlockInfo().write(fout)
            write_varint(len(columns), fout)
            write_varint(data.rows, fout)
            for (name, server_type), encode in zip(columns, data):
                items = encode(server_type)
                write_binary_str(name, fout)
                write_binary_str(server_type, fout)
                if revision >= defines.DBMS_MIN_REVISION_WITH_CUSTOM_SERIALIZATION:
                    write_binary_uint8(0, fout)
                if isinstance(items, Raw):
                    fout.write(items.data.tobytes())
                else:
                    write_column(connection.context, name, server_type, items, fout, types_check=types_check)
            connection.block_out.finalize()
            self.receive_profile_events()
            connection.send_data(ColumnOrientedBlock())  # an empty block ends the data
            self.receive_profile_events()
            return data.rows

    return NativeClient
