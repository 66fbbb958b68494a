"""The Native encodings built with numpy equal the format written value by value: String (per
row a LEB128 length, then the UTF-8 bytes; lengths across the 1-, 2- and 3-byte varints) and
Array(Float64) (as clickhouse-driver's own writer gives it)."""

from __future__ import annotations

import numpy as np
import pytest

from marketprism_fast.sinks.clickhouse.native import encode_strings


def leb128(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def test_strings_of_every_varint_width_equal_the_value_by_value_encoding() -> None:
    rng = np.random.default_rng(7)
    texts = ["", "a", "ü€", "x" * 127, "y" * 128, "z" * 16383, "w" * 16384, "BTC-USDT"] + [
        "".join(chr(97 + int(c)) for c in rng.integers(0, 26, int(n))) for n in rng.integers(0, 300, 50)
    ]
    encoded = [t.encode() for t in texts]
    arena = np.frombuffer(b"junk" + b"".join(encoded), dtype=np.uint8)
    lengths = np.array([len(e) for e in encoded], dtype=np.int64)
    offsets = 4 + np.concatenate([[0], np.cumsum(lengths[:-1])])
    # rows in another order than the arena's, some repeated
    order = np.concatenate([np.arange(len(texts))[::-1], [3, 3, 0]])
    got = encode_strings(arena, offsets[order], lengths[order]).tobytes()
    assert got == b"".join(leb128(len(encoded[i])) + encoded[i] for i in order)


def test_no_rows_is_no_bytes() -> None:
    assert encode_strings(np.zeros(0, np.uint8), np.zeros(0, np.int64), np.zeros(0, np.int64)).size == 0


def _driver_bytes(server_type: str, items) -> bytes:
    """The column as clickhouse-driver's own writer writes it into an insert block."""
    import io

    from clickhouse_driver.columns.service import write_column
    from clickhouse_driver.context import Context

    context = Context()
    context.settings = {}
    context.client_settings = {
        "use_numpy": False, "strings_as_bytes": False, "strings_encoding": "utf-8",
        "input_format_null_as_default": False,
    }
    buf = io.BytesIO()
    write_column(context, "c", server_type, items, buf)
    return buf.getvalue()


@pytest.mark.parametrize("depth", [0, 1, 20])
@pytest.mark.parametrize("rows", [0, 1, 257])
def test_level_arrays_equal_the_drivers_encoding(depth: int, rows: int) -> None:
    """book_snapshot levels (Array(Float64)) encoded whole: the bytes the driver writes row by
    row, NaN padding included; rows given ragged (as read back from columns) are padded alike."""
    from marketprism_fast.batch import Batch
    from marketprism_fast.records import kind
    from marketprism_fast.sinks.clickhouse.native import Raw, driver_values, encode_column

    rng = np.random.default_rng(depth * 1000 + rows)
    levels = rng.normal(100.0, 5.0, (rows, depth))
    levels[rng.random((rows, depth)) < 0.2] = np.nan
    ragged = np.empty(rows, dtype=object)
    for i in range(rows):
        ragged[i] = levels[i, : depth - i % 3 if depth > 2 else depth].tolist()
    column = kind("book_snapshot").column("bid_price")
    for values in (levels, ragged):
        batch = Batch.from_columns("book_snapshot", "okx", {"bid_price": values})
        encoded = encode_column(batch, column, "Array(Float64)")
        assert isinstance(encoded, Raw)
        expected = _driver_bytes("Array(Float64)", [list(r) for r in driver_values(batch, column)])
        assert encoded.data.tobytes() == expected
