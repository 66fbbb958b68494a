"""Output of ``normalize``: JSON value rules, and CSV / Parquet files equal to the JSON Lines."""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import orjson
import pytest

from marketprism_fast.batch import Batch
from marketprism_fast.errors import ConfigurationError
from marketprism_fast.offline.normalize import NormalizeOptions, Normalizer
from marketprism_fast.records import kind
from marketprism_fast.offline.writers import Chunk, CsvWriter, JsonlWriter, ParquetWriter, make_writer
from tests.helpers import corpus_dir, same_value

NASTY_FLOATS = [
    0.1 + 0.2, -0.0, 1e-05, 5e-324, 1.7976931348623157e308, 1e16, 123456789.12345679, 3.0,
    float("nan"), float("inf"), float("-inf"),
]  # fmt: skip


def _text_tokens(line: str) -> dict:
    """The JSON object with every number kept as its source text."""
    return json.loads(line, parse_float=str, parse_int=str)


def _trade_batch(prices: list[float]) -> Batch:
    n = len(prices)
    k = kind("trade")
    return Batch.from_columns(
        k,
        "binance_spot",
        {
            "exchange": np.array(["binance_spot"] * n, dtype=object),
            "market": np.array(["spot"] * n, dtype=object),
            "symbol": np.array(["BTC-USDT"] * n, dtype=object),
            "raw_symbol": np.array(["BTCUSDT"] * n, dtype=object),
            "ts_event": np.arange(n, dtype=np.int64) + 1_618_677_372_000_000_000,
            "ts_recv": np.full(n, -(2**63), dtype=np.int64),
            "trade_id": np.array([f'id "{i}" \u00e9\n\\' for i in range(n)], dtype=object),
            "price": np.array(prices, dtype=np.float64),
            "amount": np.array(prices[::-1], dtype=np.float64),
            "side": np.array([(-1) ** i for i in range(n)], dtype=np.int8),
            "aggregated": np.ones(n, dtype=np.uint8),
            "frame": np.arange(n, dtype=np.uint32),
        },
    )


def _jsonl(batch: Batch) -> list[str]:
    out = io.BytesIO()
    JsonlWriter(out).write(Chunk([batch], 0))
    text = out.getvalue().decode()
    assert text.endswith("\n")
    return text.splitlines()


def test_floats_are_repr_nan_and_inf_are_null_integers_are_integers() -> None:
    lines = _jsonl(_trade_batch(NASTY_FLOATS))
    for value, line in zip(NASTY_FLOATS, lines):
        tokens = _text_tokens(line)
        expected = repr(value) if math.isfinite(value) else None
        assert tokens["price"] == expected
        parsed = orjson.loads(line)
        assert list(parsed) == ["kind", *kind("trade").column_names]
        assert parsed["kind"] == "trade"
        assert isinstance(parsed["side"], int) and isinstance(parsed["aggregated"], int)
        assert parsed["ts_recv"] == -(2**63)
    assert [orjson.loads(line)["trade_id"] for line in lines] == [f'id "{i}" \u00e9\n\\' for i in range(len(lines))]


def test_unsigned_64_bit_ids_are_exact() -> None:
    k = kind("quote")
    ids = np.array([0, 2**63, 2**64 - 1], dtype=np.uint64)
    cols = {c.name: np.array(["q"] * 3, dtype=object) if c.is_text else np.zeros(3, dtype=c.dtype) for c in k.columns}
    cols.update(update_id=ids, frame=np.zeros(3, dtype=np.uint32))
    lines = _jsonl(Batch.from_columns(k, "okx", cols))
    assert [json.loads(line)["update_id"] for line in lines] == [0, 2**63, 2**64 - 1]


def _book_batch() -> Batch:
    k = kind("book_snapshot")
    bids = np.array([[101.5, 101.0, np.nan], [1e-05, np.nan, np.nan]])
    cols = {c.name: np.array(["b"] * 2, dtype=object) for c in k.columns if c.is_text}
    cols.update(
        ts_event=np.array([1, 2], dtype=np.int64),
        ts_recv=np.array([3, 4], dtype=np.int64),
        depth=np.array([3, 3], dtype=np.uint16),
        bid_price=bids,
        bid_amount=bids * 2,
        ask_price=np.full((2, 3), np.inf),
        ask_amount=np.full((2, 3), -np.inf),
        update_id=np.array([7, 8], dtype=np.uint64),
        frame=np.array([0, 1], dtype=np.uint32),
    )
    return Batch.from_columns(k, "okx", cols)


def test_arrays_are_json_arrays_with_null_padding() -> None:
    first, second = _jsonl(_book_batch())
    assert _text_tokens(first)["bid_price"] == ["101.5", "101.0", None]
    assert _text_tokens(second)["bid_price"] == ["1e-05", None, None]
    assert orjson.loads(first)["ask_price"] == [None, None, None]
    assert orjson.loads(second)["ask_amount"] == [None, None, None]


def test_file_formats_need_an_output_directory(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="--out"):
        make_writer("csv", None, io.BytesIO())
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(ConfigurationError, match="not a directory"):
        make_writer("parquet", str(blocker), io.BytesIO())
    with pytest.raises(ConfigurationError, match="cannot create"):
        make_writer("jsonl", str(tmp_path / "missing" / "out.jsonl"), io.BytesIO())


# ---- CSV and Parquet equal to JSON Lines, on real sessions -----------------------------------


def _options(name: str) -> NormalizeOptions:
    venue = name.split(".", 1)[0]
    d = corpus_dir() / venue
    snapshots = d / f"{name}.snapshots.jsonl.zst"
    refdata = d / f"{name}.refdata.jsonl.zst"
    return NormalizeOptions(
        venue=venue,
        frames=(str(d / f"{name}.frames.jsonl.zst"),),
        snapshots=str(snapshots) if snapshots.exists() else None,
        refdata=(str(refdata),) if refdata.exists() else (),
        # The reference parser: what is tested here is the output, for every venue.
        implementation="reference",
    )


def _jsonl_by_kind(options: NormalizeOptions) -> dict[str, list[dict]]:
    out = io.BytesIO()
    writer = JsonlWriter(out)
    Normalizer(options).run(writer)
    writer.close()
    by_kind: dict[str, list[dict]] = {}
    for line in out.getvalue().splitlines():
        record = orjson.loads(line)
        by_kind.setdefault(record.pop("kind"), []).append(record)
    return by_kind


def _csv_value(column_type: str, text: str):
    if column_type == "str":
        return text
    if column_type == "f8":
        return None if text == "" else float(text)
    if column_type == "f8[]":
        return orjson.loads(text)
    return int(text)


SESSIONS = ["binance_spot.cf_2021-10-11", "okx.cf_2022-05-13", "deribit.cf_2021-04-17"]


@pytest.mark.parametrize("name", SESSIONS)
def test_csv_equals_jsonl(tmp_path: Path, name: str) -> None:
    options = _options(name)
    expected = _jsonl_by_kind(options)
    writer = CsvWriter(str(tmp_path))
    Normalizer(options).run(writer)
    writer.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(f"{k}.csv" for k in expected)
    for kind_name, records in expected.items():
        k = kind(kind_name)
        with open(tmp_path / f"{kind_name}.csv", newline="", encoding="utf-8") as f:
            rows = list(csv.reader(f))
        assert tuple(rows[0]) == k.column_names
        got = [{c.name: _csv_value(c.type, v) for c, v in zip(k.columns, row)} for row in rows[1:]]
        assert len(got) == len(records)
        for ours, theirs in zip(got, records):
            assert ours.keys() == theirs.keys()
            assert all(same_value(ours[c], theirs[c]) for c in ours), (kind_name, ours, theirs)


@pytest.mark.parametrize("name", SESSIONS)
def test_parquet_equals_jsonl(tmp_path: Path, name: str) -> None:
    pq = pytest.importorskip("pyarrow.parquet")
    options = _options(name)
    expected = _jsonl_by_kind(options)
    writer = ParquetWriter(str(tmp_path), row_group_rows=1000)  # several row groups
    Normalizer(options).run(writer)
    writer.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(f"{k}.parquet" for k in expected)
    for kind_name, records in expected.items():
        table = pq.read_table(tmp_path / f"{kind_name}.parquet")
        assert tuple(table.column_names) == kind(kind_name).column_names
        got = table.to_pylist()
        assert len(got) == len(records)
        for ours, theirs in zip(got, records):
            assert all(same_value(ours[c], theirs[c]) for c in ours), (kind_name, ours, theirs)
        assert table.schema.field("ts_event").type == "int64"


def test_parquet_keeps_numeric_widths(tmp_path: Path) -> None:
    pq = pytest.importorskip("pyarrow.parquet")
    writer = ParquetWriter(str(tmp_path))
    writer.write(Chunk([_book_batch(), _trade_batch([1.5, float("nan")])], 0))
    writer.close()
    book = pq.read_table(tmp_path / "book_snapshot.parquet")
    assert str(book.schema.field("depth").type) == "uint16"
    assert str(book.schema.field("update_id").type) == "uint64"
    assert book.column("bid_price").to_pylist()[0][:2] == [101.5, 101.0]
    trade = pq.read_table(tmp_path / "trade.parquet")
    assert str(trade.schema.field("side").type) == "int8"
    assert math.isnan(trade.column("price").to_pylist()[1])


def test_kinds_without_records_get_no_file(tmp_path: Path) -> None:
    options = replace(_options("binance_spot.cf_2021-10-11"), kinds=frozenset({"trade"}))
    writer = CsvWriter(str(tmp_path))
    Normalizer(options).run(writer)
    writer.close()
    assert [p.name for p in tmp_path.iterdir()] == ["trade.csv"]
