"""BookBuilder's surface: cadence, derived quotes, marker rows, snapshots placement, bad input."""

from __future__ import annotations

import math

import numpy as np
import orjson
import pytest

from marketprism_fast.batch import Batch
from marketprism_fast.books import BookBuilder
from marketprism_fast.errors import ConfigurationError, InputError
from marketprism_fast.instruments import InstrumentRegistry
from marketprism_fast.records import kind
from tests.helpers import corpus_dir, read_lines, same_value
from tests.test_book_replay import load_capture, replay, replay_session

DELTA_DEFAULTS = {
    "exchange": "", "market": "", "symbol": "", "raw_symbol": "", "ts_event": 0, "ts_recv": 0,
    "side": 0, "price": math.nan, "amount": math.nan, "first_update_id": 0, "update_id": 0,
    "prev_update_id": 0, "is_snapshot": 0, "checksum": 0, "frame": 0, "price_text": "", "amount_text": "",
}


def delta_batch(venue: str, rows: list[dict]) -> Batch:
    """A book_delta batch from rows given as column -> value (the rest take defaults)."""
    columns = {}
    for name, default in DELTA_DEFAULTS.items():
        values = [dict(DELTA_DEFAULTS, exchange=venue, **r)[name] for r in rows]
        if name == "frame":
            columns[name] = np.asarray(values, dtype=np.uint32)
        elif isinstance(default, str):
            columns[name] = np.asarray(values, dtype=object)
        else:
            columns[name] = np.asarray(values, dtype=kind("book_delta").column(name).dtype)
    return Batch.from_columns("book_delta", venue, columns)


def comparable(rows: list[dict]) -> list[dict]:
    return [{k: [None if x != x else x for x in v] if isinstance(v, list) else v for k, v in r.items()} for r in rows]


# ---------------------------------------------------------------- cadence and quotes

@pytest.mark.corpus
def test_interval_cadence_emits_at_most_once_per_interval_per_symbol() -> None:
    sessions = ("cf_2021-04-17",)
    every = {(r["raw_symbol"], r["update_id"]): r for r in replay_session("binance_usdm", sessions).books}
    interval = 1_000_000_000
    run = replay(load_capture("binance_usdm", sessions), interval_ns=interval)
    assert 0 < len(run.books) < len(every)
    last: dict[str, int] = {}
    for row in run.books:
        symbol = row["raw_symbol"]
        assert row["ts_recv"] - last.get(symbol, -interval) >= interval
        last[symbol] = row["ts_recv"]
        assert comparable([row]) == comparable([every[(symbol, row["update_id"])]])
    assert set(last) == {s for s, _ in every}


@pytest.mark.corpus
def test_derived_quotes_follow_the_top_of_the_book() -> None:
    sessions = ("cf_2021-07-22",)
    every = {(r["raw_symbol"], r["update_id"]): r for r in replay_session("binance_usdm", sessions).books}
    run = replay(load_capture("binance_usdm", sessions), quotes=True)
    assert 0 < len(run.quotes) < len(every)
    previous: dict[str, tuple] = {}
    for quote in run.quotes:
        book = every[(quote["raw_symbol"], quote["update_id"])]
        top = (book["bid_price"][0], book["bid_amount"][0], book["ask_price"][0], book["ask_amount"][0])
        got = (quote["bid_price"], quote["bid_amount"], quote["ask_price"], quote["ask_amount"])
        assert got == top and previous.get(quote["raw_symbol"]) != got  # only when the top changed
        previous[quote["raw_symbol"]] = got
    assert replay_session("binance_usdm", sessions).quotes == []  # off by default


# ---------------------------------------------------------------- REST snapshots

@pytest.mark.corpus
def test_events_replayed_after_a_rest_snapshot_carry_its_frame() -> None:
    sessions = ("hbt_2024-08-08_btcusdt",)
    capture = load_capture("binance_spot", sessions)
    snapshot_ts = capture.snapshots[0][0]
    snapshot_frame = sum(1 for ts in capture.frame_ts if ts < snapshot_ts)  # feed calls before it
    rows = replay_session("binance_spot", sessions).books
    replayed = [r for r in rows if r["ts_recv"] < snapshot_ts]
    assert replayed and all(r["frame"] == snapshot_frame for r in replayed)
    assert rows[len(replayed)]["frame"] > snapshot_frame
    assert [r["update_id"] for r in rows] == sorted(r["update_id"] for r in rows)


@pytest.mark.corpus
def test_a_second_snapshot_for_a_synced_symbol_is_counted_not_applied() -> None:
    sessions = ("cf_2021-10-11",)
    capture = load_capture("binance_spot", sessions)
    ts, body, symbol = capture.snapshots[0]
    run = replay(capture.with_snapshot(capture.frame_ts[-20], body, symbol), depth=20)
    assert run.builder.stats()["snapshots_ignored"] == 1
    intact = replay_session("binance_spot", sessions).books
    assert comparable([{k: v for k, v in r.items() if k != "frame"} for r in run.books]) == comparable(
        [{k: v for k, v in r.items() if k != "frame"} for r in intact]
    )


def test_events_wait_for_their_snapshot_within_a_bound() -> None:
    builder = BookBuilder("binance_spot", depth=5, max_pending=3)
    events = [
        {"raw_symbol": "XUSDT", "side": 1, "price": 1.0 + i, "amount": 1.0, "first_update_id": 10 + i,
         "update_id": 10 + i, "frame": i}
        for i in range(5)
    ]
    builder.apply(delta_batch("binance_spot", events))
    stats = builder.stats()
    assert (stats["pending"], stats["pending_overflow"], stats["applied"]) == (3, 2, 0)
    assert builder.needs_snapshot("XUSDT") and builder.take() == []
    snapshot = {"raw_symbol": "XUSDT", "side": -1, "price": 50.0, "amount": 2.0, "first_update_id": 11,
                "update_id": 11, "is_snapshot": 1, "frame": 9}
    builder.apply(delta_batch("binance_spot", [snapshot]))
    (batch,) = builder.take()
    assert batch.column("update_id").tolist() == [12, 13, 14]  # 12 straddles 11+1; 10, 11 overflowed
    assert batch.column("frame").tolist() == [9, 9, 9]
    assert batch.column("bid_price")[-1].tolist()[:3] == [5.0, 4.0, 3.0]
    assert not builder.needs_snapshot("XUSDT")


# ---------------------------------------------------------------- marker rows

@pytest.mark.corpus
def test_a_marker_row_stands_for_a_message_without_levels() -> None:
    """Deribit's snapshot of an empty book (golden record 1 of deribit.cf_2021-04-17)."""
    golden = orjson.loads(read_lines(corpus_dir() / "golden" / "deribit.cf_2021-04-17.books.jsonl.zst")[0])
    builder = BookBuilder("deribit", InstrumentRegistry("deribit"))
    builder.apply(delta_batch("deribit", [{
        key: golden[key] for key in ("market", "symbol", "raw_symbol", "ts_event", "ts_recv")
    } | {"is_snapshot": 1, "update_id": golden["update_id"], "first_update_id": golden["update_id"]}]))
    (batch,) = builder.take()
    (row,) = batch.rows()
    assert all(same_value(row[k], golden[k]) for k in golden if k != "kind")


def test_okx_marker_rows_are_checksummed_like_any_update() -> None:
    builder = BookBuilder("okx")
    level = {"raw_symbol": "X-USDT", "side": 1, "price": 2.5, "amount": 3.0, "price_text": "2.5", "amount_text": "3"}
    builder.apply(delta_batch("okx", [dict(level, is_snapshot=1, checksum=_crc("2.5:3"), frame=0)]))
    marker = {"raw_symbol": "X-USDT", "frame": 1, "checksum": _crc("2.5:3")}
    builder.apply(delta_batch("okx", [marker, dict(marker, frame=2, checksum=_crc("2.5:4"))]))
    stats = builder.stats()
    assert (stats["applied"], stats["checksum_failures"], stats["out_of_sync"]) == (2, 1, ["X-USDT"])
    assert len(builder.take()[0]) == 2


def _crc(text: str) -> int:
    import zlib

    return int(np.uint32(zlib.crc32(text.encode())).astype(np.int32))


# ---------------------------------------------------------------- bad input and settings

def test_an_invalid_level_clears_the_symbol_and_is_counted() -> None:
    builder = BookBuilder("deribit")
    good = {"raw_symbol": "A", "side": 1, "price": 1.0, "amount": 1.0, "is_snapshot": 1, "update_id": 5}
    builder.apply(delta_batch("deribit", [good, dict(good, raw_symbol="B")]))
    bad = {"raw_symbol": "A", "side": 1, "price": math.nan, "amount": 1.0, "update_id": 6, "prev_update_id": 5, "frame": 1}
    builder.apply(delta_batch("deribit", [bad]))
    stats = builder.stats()
    assert stats["invalid_messages"] == 1 and stats["out_of_sync"] == ["A"] and stats["gaps"] == {}
    assert builder.book("A").bid_count == 0 and builder.book("B").bid_count == 1


def test_output_batch_columns() -> None:
    builder = BookBuilder("deribit", depth=3)
    builder.apply(delta_batch("deribit", [
        {"raw_symbol": "A", "symbol": "A-N", "market": "option", "side": s, "price": p, "amount": 1.0,
         "is_snapshot": 1, "update_id": 7, "ts_event": 11, "ts_recv": 12, "frame": 4}
        for s, p in ((1, 9.0), (-1, 10.0), (-1, 11.0))
    ]))
    (batch,) = builder.take()
    assert batch.kind.name == "book_snapshot" and builder.take() == []
    columns = batch.columns()
    assert list(columns) == list(kind("book_snapshot").column_names)
    assert columns["depth"].dtype == np.uint16 and columns["depth"].tolist() == [3]
    assert columns["bid_price"].shape == (1, 3) and columns["update_id"].dtype == np.uint64
    assert batch.frame.dtype == np.uint32 and batch.frame.tolist() == [4]
    assert (columns["exchange"][0], columns["market"][0], columns["symbol"][0]) == ("deribit", "option", "A-N")
    assert columns["ask_price"][0].tolist()[:2] == [10.0, 11.0] and math.isnan(columns["ask_price"][0][2])


def arrow_values(batch: Batch) -> tuple:
    """The batch as the Arrow sinks write it: its schema, and every value (``repr``: NaN equals NaN)."""
    import pyarrow as pa

    from marketprism_fast.sinks import arrow

    table = arrow.to_table(batch)
    values = {}
    for name, column in zip(table.column_names, table.columns):
        if isinstance(column.type, pa.DictionaryType):
            column = column.cast(column.type.value_type)
        values[name] = [repr(v) for v in column.to_pylist()]
    return [(f.name, str(f.type)) for f in table.schema], values


def test_output_batches_carry_the_registry_codes_and_the_same_columns() -> None:
    """A builder sharing its parser's registry emits batches of registry codes (sinks encode
    instrument columns once per instrument, not per row); their contract columns, Arrow tables
    and Native columns equal those of a builder without a registry. A symbol the registry does
    not hold turns the batch back into text columns."""
    from marketprism_fast.sinks import arrow
    from marketprism_fast.sinks.clickhouse.native import encode_text

    registry = InstrumentRegistry("deribit")
    codes = {raw: registry.intern(raw) for raw in ("ETH-PERPETUAL", "BTC-PERPETUAL")}
    assert codes == {"ETH-PERPETUAL": 0, "BTC-PERPETUAL": 1}

    def message(raw: str, update_id: int, price: float, amount: float) -> list[dict]:
        item = registry[codes[raw]] if raw in codes else None
        names = dict(market=item.market if item else "perpetual", symbol=item.symbol if item else raw, raw_symbol=raw)
        return [dict(names, side=side, price=price + side, amount=amount, update_id=update_id,
                     prev_update_id=update_id - 1, ts_event=update_id, ts_recv=update_id + 1, frame=update_id,
                     is_snapshot=int(update_id == 1)) for side in (1, -1)]

    rows = message("BTC-PERPETUAL", 1, 100.0, 2.0) + message("ETH-PERPETUAL", 1, 10.0, 3.0)
    rows += message("BTC-PERPETUAL", 2, 100.0, 5.0)
    outputs = []
    for with_registry in (True, False):
        builder = BookBuilder("deribit", registry if with_registry else None, depth=2, quotes=True)
        builder.apply(delta_batch("deribit", rows))
        outputs.append(builder.take())
    (snapshots, quotes), (plain_snapshots, plain_quotes) = outputs
    for coded, plain in ((snapshots, plain_snapshots), (quotes, plain_quotes)):
        assert coded.instrument_codes() is not None and plain.instrument_codes() is None
        assert coded.instrument_codes()[0].tolist() == [1, 0, 1]
        for name in coded.kind.column_names + ("frame",):
            a, b = coded.column(name), plain.column(name)
            assert a.dtype == b.dtype and np.array_equal(a, b, equal_nan=a.dtype.kind == "f"), name
        assert arrow_values(coded) == arrow_values(plain)
        for name in ("exchange", "market", "symbol", "raw_symbol"):
            assert encode_text(coded, name).tobytes() == encode_text(plain, name).tobytes()

    builder = BookBuilder("deribit", registry, depth=2)
    builder.apply(delta_batch("deribit", message("XRP_USDC-PERPETUAL", 1, 1.0, 1.0)))
    (batch,) = builder.take()
    assert batch.instrument_codes() is None and batch.column("raw_symbol").tolist() == ["XRP_USDC-PERPETUAL"]


@pytest.mark.parametrize(
    "options,field",
    [
        ({"depth": 0}, "depth"),
        ({"depth": 70_000}, "depth"),
        ({"every_update": True, "interval_ns": 10}, "interval_ns"),
        ({"interval_ns": 0}, "interval_ns"),
        ({"max_pending": -1}, "max_pending"),
    ],
)
def test_bad_settings_are_configuration_errors(options: dict, field: str) -> None:
    with pytest.raises(ConfigurationError) as error:
        BookBuilder("binance_spot", **options)
    assert error.value.field == field


def test_wrong_input_is_an_input_error() -> None:
    with pytest.raises(ConfigurationError):
        BookBuilder("kraken")
    builder = BookBuilder("binance_spot")
    trades = Batch.from_columns("trade", "binance_spot", {"frame": np.zeros(1, np.uint32)})
    with pytest.raises(InputError, match="book_delta"):
        builder.apply(trades)
    no_frame = Batch.from_columns("book_delta", "binance_spot", {"side": np.ones(1, np.int8)})
    with pytest.raises(InputError, match="column"):
        builder.apply(no_frame)
