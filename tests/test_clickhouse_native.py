"""The Native encodings built with numpy equal the format written value by value: String (per
row a LEB128 length, then the UTF-8 bytes; lengths across the 1-, 2- and 3-byte varints),
Array(Float64) and LowCardinality(String) (as clickhouse-driver's own writer gives them; the
latter also read back by ClickHouse itself)."""

from __future__ import annotations

import json

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
    """The column as clickhouse-driver's own (non-numpy) writer writes it into an insert block,
    through the driver's buffered writer."""
    import socket

    from clickhouse_driver.bufferedwriter import BufferedSocketWriter
    from clickhouse_driver.columns.service import write_column
    from clickhouse_driver.context import Context

    context = Context()
    context.settings = {}
    context.client_settings = {
        "use_numpy": False, "strings_as_bytes": False, "strings_encoding": "utf-8",
        "input_format_null_as_default": False,
    }
    ours, theirs = socket.socketpair()
    with ours, theirs:
        writer = BufferedSocketWriter(ours, 1 << 20)
        write_column(context, "c", server_type, items, writer)
        writer.flush()
        ours.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := theirs.recv(1 << 16):
            chunks.append(chunk)
    return b"".join(chunks)


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


def _instrument_batch(codes: list[int], symbols: int) -> "Batch":
    """A compiled-form trade batch naming its instruments by registry code."""
    from marketprism_fast.batch import Batch
    from marketprism_fast.instruments import InstrumentRegistry

    registry = InstrumentRegistry("okx")
    for i in range(symbols):
        registry.intern(f"C{i}-USDT-SWAP" if i % 2 else f"C{i}-USDT")
    return Batch("trade", "okx", len(codes), storage={"instrument": np.array(codes, dtype=np.uint32)}, instruments=registry)


@pytest.mark.parametrize(
    ("codes", "symbols"),
    [([], 3), ([2, 0, 2, 1, 1], 3), (list(range(299, -1, -1)) * 2, 300), ([5] * 40, 8)],
)
def test_low_cardinality_instrument_columns_equal_the_drivers_encoding(codes: list[int], symbols: int) -> None:
    """Instrument columns as LowCardinality(String) (servers from 19.3) from the codes: the
    driver's bytes for the same texts (dictionary in order of first appearance, texts shared
    by several instruments once, keys widened past 255 entries)."""
    from marketprism_fast.records import kind
    from marketprism_fast.sinks.clickhouse.native import Raw, encode_column

    batch = _instrument_batch(codes, symbols)
    for name in ("exchange", "market", "symbol", "raw_symbol"):
        encoded = encode_column(batch, kind("trade").column(name), "LowCardinality(String)")
        assert isinstance(encoded, Raw)
        assert encoded.data.tobytes() == _driver_bytes("LowCardinality(String)", batch.column(name).tolist()), name


def _read_back_low_cardinality(batch, names: tuple[str, ...], tmp_path) -> list[list]:
    """The batch's columns ``names`` encoded as LowCardinality(String) in a Native-format
    block, read back by ClickHouse itself (chdb, in process)."""
    chdb = pytest.importorskip("chdb", reason="chdb is not installed")
    from marketprism_fast.sinks.clickhouse.native import encode_column

    block = bytearray(leb128(len(names)) + leb128(len(batch)))  # a Native block: columns, rows
    for name in names:  # then per column its name, its type and its data
        for text in (name, "LowCardinality(String)"):
            block += leb128(len(text)) + text.encode()
        block += encode_column(batch, batch.kind.column(name), "LowCardinality(String)").data.tobytes()
    path = tmp_path / "block.native"
    path.write_bytes(bytes(block))
    got = chdb.query(f"SELECT {', '.join(names)} FROM file('{path}', 'Native')", "JSONCompact").bytes()
    return json.loads(got)["data"]


def test_low_cardinality_instrument_columns_read_back_by_clickhouse(tmp_path) -> None:
    """The same bytes read by ClickHouse itself."""
    batch = _instrument_batch([7, 3, 3, 0, 7, 299, 1] * 50, 300)
    names = ("exchange", "market", "symbol")
    rows = _read_back_low_cardinality(batch, names, tmp_path)
    assert rows == [list(r) for r in zip(*(batch.column(n).tolist() for n in names))]


def _kline_and_liquidation_batches() -> dict[str, "Batch"]:
    """Compiled kline and liquidation batches (their interval and status texts in the record
    buffer's arena), from Binance USD-M frames."""
    from marketprism_fast.parser import make_parser

    def kline(i: int, interval: str) -> bytes:
        return (
            b'{"e":"kline","E":1672515782136,"s":"BTCUSDT","k":{"t":1672515780000,"T":1672515839999,"s":"BTCUSDT",'
            b'"i":"' + interval.encode() + b'","f":100,"L":200,"o":"1.0","c":"2.0","h":"2.5","l":"1.5","v":"1000",'
            b'"n":' + str(i).encode() + b',"x":false,"q":"1.0","V":"500","Q":"0.5","B":"0"}}'
        )

    def liquidation(i: int, status: str) -> bytes:
        return (
            b'{"e":"forceOrder","E":1568014460893,"o":{"s":"BTCUSDT","S":"SELL","o":"LIMIT","f":"IOC","q":"0.014",'
            b'"p":"9910","ap":"9910","X":"' + status.encode() + b'","l":"0.014","z":"0.014","T":' + str(i).encode() + b'}}'
        )

    intervals = ["1m", "5m", "1m", "1h", "1d", "5m", "1M"] * 9
    statuses = ["FILLED", "NEW", "FILLED", "PARTIALLY_FILLED"] * 11
    parser = make_parser("binance_usdm", implementation="compiled", capacity=1024)
    parser.feed_many([kline(i, v) for i, v in enumerate(intervals)] + [liquidation(i, s) for i, s in enumerate(statuses)], 1)
    batches = {b.kind.name: b for b in parser.take()}
    assert batches["kline"].column("interval").tolist() == intervals
    assert batches["liquidation"].column("status").tolist() == statuses
    assert batches["kline"].texts("interval") is not None  # arena texts: the compiled path
    return batches


def test_low_cardinality_text_columns_equal_the_drivers_encoding() -> None:
    """Text columns other than the instrument's (a kline's interval, a liquidation's status) as
    LowCardinality(String) by dictionary encoding: the driver's bytes, from compiled batches
    and from batches of columns (a dictionary past 255 entries widens the keys); no rows gives
    the driver's empty column; a column holding nulls is left to the driver."""
    from marketprism_fast.batch import Batch
    from marketprism_fast.records import kind
    from marketprism_fast.sinks.clickhouse.native import Raw, encode_column

    batches = _kline_and_liquidation_batches()
    rng = np.random.default_rng(3)
    wide = [f"{int(v)}m" for v in rng.integers(0, 600, 2000)]
    cases = [
        (batches["kline"], "interval"), (batches["liquidation"], "status"),
        (Batch.from_columns("kline", "okx", {"interval": wide}), "interval"),
        (Batch.from_columns("kline", "okx", {"interval": np.array([], dtype=object)}), "interval"),
        (batches["kline"].select(np.array([], dtype=np.int64)), "interval"),
    ]
    for batch, name in cases:
        encoded = encode_column(batch, kind(batch.kind.name).column(name), "LowCardinality(String)")
        assert isinstance(encoded, Raw), name
        assert encoded.data.tobytes() == _driver_bytes("LowCardinality(String)", batch.column(name).tolist()), name
    holes = Batch.from_columns("kline", "okx", {"interval": np.array(["1m", None, "5m"], dtype=object)})
    assert not isinstance(encode_column(holes, kind("kline").column("interval"), "LowCardinality(String)"), Raw)


def test_low_cardinality_text_columns_read_back_by_clickhouse(tmp_path) -> None:
    """A compiled kline batch's interval and instrument columns as LowCardinality, read by
    ClickHouse itself."""
    batch = _kline_and_liquidation_batches()["kline"]
    names = ("interval", "symbol")
    rows = _read_back_low_cardinality(batch, names, tmp_path)
    assert rows == [list(r) for r in zip(*(batch.column(n).tolist() for n in names))]
