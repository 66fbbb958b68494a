"""The ``normalize`` run in process: options, frame order, malformed input, ``--kinds``,
several files, REST snapshots (timing and attribution) and the summary.

Expected records come from the corpus goldens (an independent implementation of the
contract), never from this code; inputs are real corpus frames, cut, joined or damaged.
"""

from __future__ import annotations

import io
from dataclasses import replace
from pathlib import Path

import numpy as np
import orjson
import pytest

from marketprism_fast.batch import Batch
from marketprism_fast.errors import ConfigurationError, InputError
from marketprism_fast.offline.normalize import DepthSync, NormalizeOptions, Normalizer, NormalizeSummary
from marketprism_fast.records import KIND_ORDER, kind
from marketprism_fast.offline.writers import Chunk, JsonlWriter
from tests.helpers import corpus_dir, read_lines
from tests.test_capture import Ticks

SPOT = "binance_spot.cf_2021-10-11"  # 265 frames, 4 URL-attributed snapshots, refdata
COINM = "binance_coinm.cf_2021-07-21"  # snapshots carry their symbol in the body


def path(name: str, what: str) -> Path:
    venue = name.split(".", 1)[0]
    return corpus_dir() / venue / f"{name}.{what}.jsonl.zst"


def golden(name: str) -> list[dict]:
    return [orjson.loads(line) for line in read_lines(corpus_dir() / "golden" / f"{name}.records.jsonl.zst")]


def options_for(name: str, **changes) -> NormalizeOptions:
    venue = name.split(".", 1)[0]
    snapshots, refdata = path(name, "snapshots"), path(name, "refdata")
    base = NormalizeOptions(
        venue=venue,
        frames=(str(path(name, "frames")),),
        snapshots=str(snapshots) if snapshots.exists() else None,
        refdata=(str(refdata),) if refdata.exists() else (),
    )
    return replace(base, **changes)


def normalize(options: NormalizeOptions, clock=None) -> tuple[list[dict], NormalizeSummary]:
    out = io.BytesIO()
    writer = JsonlWriter(out)
    summary = Normalizer(options, **({"clock": clock} if clock else {})).run(writer)
    writer.close()
    return [orjson.loads(line) for line in out.getvalue().splitlines()], summary


def write_lines(target: Path, lines: list[bytes]) -> str:
    target.write_bytes(b"".join(line + b"\n" for line in lines))
    return str(target)


def without_snapshot_rows(records: list[dict]) -> list[dict]:
    return [r for r in records if r.get("is_snapshot") != 1]


# ---- options ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"venue": "kraken"}, "venue"),
        ({"frames": ()}, "frames"),
        ({"frames": ("-", "-")}, "frames"),
        ({"kinds": frozenset({"trades"})}, "kinds"),
        ({"kinds": frozenset()}, "kinds"),
        ({"kinds": frozenset({"book_snapshot"})}, "kinds"),
        ({"book_depth": 5}, "books"),
        ({"book_every_update": True}, "books"),
        ({"books": True, "book_depth": 0}, "book_depth"),
        ({"book_interval_ms": 100}, "books"),
        ({"books": True, "book_every_update": True, "book_interval_ms": 100}, "book_interval_ms"),
        ({"books": True, "book_interval_ms": 0}, "book_interval_ms"),
        ({"chunk_frames": 0}, "chunk_frames"),
    ],
)
def test_bad_options_are_configuration_errors(changes: dict, field: str) -> None:
    options = replace(NormalizeOptions(venue="binance_spot", frames=("x.jsonl",)), **changes)
    with pytest.raises(ConfigurationError) as caught:
        options.validate()
    assert caught.value.field == field


def test_unreadable_inputs_fail_before_any_output(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        Normalizer(NormalizeOptions(venue="binance_spot", frames=(str(tmp_path / "absent.jsonl"),)))
    frames = write_lines(tmp_path / "f.jsonl", [b"{}"])
    binary = tmp_path / "snaps.jsonl"
    binary.write_bytes(b"\x00\x01\x02")
    with pytest.raises(InputError, match="not a text file"):
        Normalizer(NormalizeOptions(venue="binance_spot", frames=(frames,), snapshots=str(binary)))


# ---- frame order ------------------------------------------------------------------------------


def _rows(kind_name: str, frames: list[int]) -> Batch:
    """A batch whose rows are told apart by ``ts_event`` = their position in the batch."""
    k = kind(kind_name)
    n = len(frames)
    columns: dict[str, np.ndarray] = {}
    for c in k.columns:
        if c.is_text:
            columns[c.name] = np.array(["x"] * n, dtype=object)
        elif c.type == "f8[]":
            columns[c.name] = np.zeros((n, 1))
        else:
            columns[c.name] = np.zeros(n, dtype=c.dtype)
    columns["ts_event"] = np.arange(n, dtype=np.int64)
    columns["frame"] = np.array(frames, dtype=np.uint32)
    return Batch.from_columns(k, "binance_spot", columns)


def _ordered(chunk: Chunk) -> list[tuple[str, int]]:
    out = io.BytesIO()
    JsonlWriter(out).write(chunk)
    return [(r["kind"], r["ts_event"]) for r in map(orjson.loads, out.getvalue().splitlines())]


def test_records_come_in_frame_order_then_kind_order_then_row_order() -> None:
    quote = _rows("quote", [0, 2, 2])
    trade = _rows("trade", [1, 2, 3])
    delta = _rows("book_delta", [0, 0, 2, 3])
    chunk = Chunk([quote, trade, delta], first_frame=0)
    assert _ordered(chunk) == [
        ("book_delta", 0), ("book_delta", 1), ("quote", 0),
        ("trade", 0),
        ("trade", 1), ("book_delta", 2), ("quote", 1), ("quote", 2),
        ("trade", 2), ("book_delta", 3),
    ]  # fmt: skip


def test_frame_order_holds_across_the_uint32_wrap() -> None:
    top = 2**32
    trade = _rows("trade", [top - 2, 0, 1])
    quote = _rows("quote", [top - 1, 0])
    chunk = Chunk([quote, trade], first_frame=top - 2)
    assert _ordered(chunk) == [("trade", 0), ("quote", 0), ("trade", 1), ("quote", 1), ("trade", 2)]


def test_batches_of_one_kind_keep_their_order() -> None:
    first, second = _rows("trade", [0, 1]), _rows("trade", [1, 2])
    assert _ordered(Chunk([second, first][::-1], 0)) == [("trade", 0), ("trade", 1), ("trade", 0), ("trade", 1)]
    assert [KIND_ORDER[b.kind.name] for b in Chunk([_rows("quote", [0]), first], 0).batches] == [0, 3]


@pytest.mark.parametrize("chunk_frames", [1, 7, 100_000])
def test_output_does_not_depend_on_how_often_buffers_are_taken(chunk_frames: int) -> None:
    records, summary = normalize(options_for(SPOT, chunk_frames=chunk_frames))
    assert records == golden(SPOT)
    assert summary.exit_status == 0


# ---- malformed frames, kinds, several files ---------------------------------------------------


def test_empty_and_broken_lines_are_malformed_and_good_records_are_still_written(tmp_path: Path) -> None:
    frames = read_lines(path(SPOT, "frames"))
    meta = read_lines(corpus_dir() / "binance_spot" / f"{SPOT}.frames.meta.tsv.zst")
    damaged_frames = frames[:10] + [b""] + frames[10:20] + [frames[20][:-7]] + frames[20:]
    damaged_meta = meta[:10] + [meta[9]] + meta[10:20] + [meta[19]] + meta[20:]
    f = write_lines(tmp_path / "s.frames.jsonl", damaged_frames)
    write_lines(tmp_path / "s.frames.meta.tsv", damaged_meta)
    records, summary = normalize(options_for(SPOT, frames=(f,)))
    assert records == golden(SPOT)
    assert (summary.frames, summary.malformed_frames, summary.malformed) == (len(frames) + 2, 2, 2)
    assert summary.exit_status == 1
    assert "malformed: 2" in summary.render()


def test_kinds_filter_the_output() -> None:
    wanted = {"trade", "kline"}
    records, summary = normalize(options_for(SPOT, kinds=frozenset(wanted)))
    expected = [r for r in golden(SPOT) if r["kind"] in wanted]
    assert records == expected and expected
    assert summary.records == {k: sum(r["kind"] == k for r in expected) for k in ("trade", "kline")}


def test_several_frames_files_are_one_stream(tmp_path: Path) -> None:
    frames = read_lines(path(SPOT, "frames"))
    meta = read_lines(corpus_dir() / "binance_spot" / f"{SPOT}.frames.meta.tsv.zst")
    cut = 100
    a = write_lines(tmp_path / "a.frames.jsonl", frames[:cut])
    write_lines(tmp_path / "a.frames.meta.tsv", meta[:cut])
    b = write_lines(tmp_path / "b.frames.jsonl", frames[cut:])
    write_lines(tmp_path / "b.frames.meta.tsv", meta[cut:])
    records, summary = normalize(options_for(SPOT, frames=(a, b)))
    assert records == golden(SPOT)
    assert (summary.files, summary.frames) == (2, len(frames))


def test_frames_without_meta_are_timed_at_reading(tmp_path: Path) -> None:
    frames = read_lines(path(SPOT, "frames"))
    f = write_lines(tmp_path / "nometa.jsonl", frames)
    records, _ = normalize(options_for(SPOT, frames=(f,), snapshots=None), clock=Ticks(1000))
    expected = without_snapshot_rows(golden(SPOT))
    assert len(records) == len(expected)
    assert {r["ts_recv"] for r in records} <= set(range(1000, 1000 + len(frames)))
    for ours, theirs in zip(records, expected):
        ignore = {"ts_recv"} | ({"ts_event"} if ours["kind"] == "quote" else set())  # spot bookTicker: ts_recv
        assert {k: v for k, v in ours.items() if k not in ignore} == {k: v for k, v in theirs.items() if k not in ignore}


# ---- REST snapshots -------------------------------------------------------------------------


def test_snapshots_without_meta_take_effect_at_the_start(tmp_path: Path) -> None:
    bodies = read_lines(path(COINM, "snapshots"))
    snapshots = write_lines(tmp_path / "snaps.jsonl", bodies)  # no meta: no receive time
    records, summary = normalize(options_for(COINM, snapshots=snapshots), clock=Ticks(1000))
    first_frame_rows = sum(1 for r in records if r.get("is_snapshot") == 1)
    head, rest = records[:first_frame_rows], records[first_frame_rows:]
    assert all(r.get("is_snapshot") == 1 for r in head)
    assert [r["ts_recv"] for r in head] == sorted(r["ts_recv"] for r in head)
    assert {r["ts_recv"] for r in head} == set(range(1000, 1000 + len(bodies)))
    assert rest == without_snapshot_rows(golden(COINM))
    expected_snapshot_rows = [r for r in golden(COINM) if r.get("is_snapshot") == 1]
    ignore = {"ts_recv", "ts_event"}
    assert [{k: v for k, v in r.items() if k not in ignore} for r in head] == [
        {k: v for k, v in r.items() if k not in ignore} for r in expected_snapshot_rows
    ]
    assert (summary.snapshots_fed, summary.exit_status) == (len(bodies), 0)


def test_snapshots_received_after_the_last_frame_come_last(tmp_path: Path) -> None:
    bodies = read_lines(path(SPOT, "snapshots"))
    urls = [m.split(b"\t")[1] for m in read_lines(corpus_dir() / "binance_spot" / f"{SPOT}.snapshots.meta.tsv.zst")]
    snapshots = write_lines(tmp_path / "late.snapshots.jsonl", bodies)
    write_lines(tmp_path / "late.snapshots.meta.tsv", [b"1999999999.5\t" + u for u in urls])
    records, summary = normalize(options_for(SPOT, snapshots=snapshots))
    n_frames_records = len(without_snapshot_rows(golden(SPOT)))
    assert records[:n_frames_records] == without_snapshot_rows(golden(SPOT))
    tail = records[n_frames_records:]
    assert tail and all(r["is_snapshot"] == 1 and r["ts_recv"] == 1999999999500000000 for r in tail)
    symbols = [u.split(b"symbol=")[1].split(b"&")[0].decode() for u in urls]
    assert list(dict.fromkeys(r["raw_symbol"] for r in tail)) == symbols
    assert summary.snapshots_fed == 4


def test_a_snapshot_no_symbol_can_claim_is_counted_and_not_fed(tmp_path: Path) -> None:
    # The BTCUSDT snapshot of an hbt session, against a cf session without BTCUSDT.
    body = read_lines(path("binance_spot.hbt_2024-08-08_btcusdt", "snapshots"))[0]
    snapshots = write_lines(tmp_path / "foreign.snapshots.jsonl", [body])
    write_lines(tmp_path / "foreign.snapshots.meta.tsv", [b"1633998520.0\tno URL recorded"])
    records, summary = normalize(options_for(SPOT, snapshots=snapshots))
    assert records == without_snapshot_rows(golden(SPOT))
    assert summary.snapshots_fed == 0 and len(summary.snapshots_unattributed) == 1
    assert "foreign.snapshots.jsonl line 1" in summary.snapshots_unattributed[0]
    assert summary.exit_status == 1


def test_a_snapshot_that_is_not_json_is_malformed(tmp_path: Path) -> None:
    url = b"https://api.binance.com/api/v3/depth?symbol=NKNUSDT&limit=1000"
    snapshots = write_lines(tmp_path / "bad.snapshots.jsonl", [b'{"lastUpdateId":'])
    write_lines(tmp_path / "bad.snapshots.meta.tsv", [b"1633998520.0\t" + url])
    records, summary = normalize(options_for(SPOT, snapshots=snapshots))
    assert records == without_snapshot_rows(golden(SPOT))
    assert (summary.snapshots_malformed, summary.malformed, summary.exit_status) == (1, 1, 1)


def test_spot_sync_rule_attributes_and_breaks() -> None:
    sync = DepthSync("binance_spot")
    sync.event("AAA", 90, 99, 0)
    sync.event("BBB", 10, 20, 0)
    assert sync.buffered_match(99) is None  # 100 is beyond AAA's 90..99
    assert sync.buffered_match(95) == "AAA"  # 96 in 90..99
    assert sync.buffered_match(15) == "BBB"
    sync.snapshot("AAA", 95)  # the buffered event is replayed and syncs AAA
    assert not sync.is_unsynced("AAA")
    sync.event("AAA", 100, 105, 0)
    assert not sync.is_unsynced("AAA")
    sync.event("AAA", 107, 110, 0)  # 106 missing: a gap
    assert sync.is_unsynced("AAA")
    assert sync.buffered_match(106) == "AAA"  # buffered again after the gap


def test_futures_sync_rule_uses_pu_and_an_inclusive_straddle() -> None:
    sync = DepthSync("binance_usdm")
    sync.event("BTCUSDT", 100, 120, 90)
    assert sync.buffered_match(120) == "BTCUSDT"  # U <= L <= u (spot would need L+1 <= u)
    sync.snapshot("BTCUSDT", 120)
    sync.event("BTCUSDT", 121, 130, 120)
    sync.event("BTCUSDT", 500, 510, 130)  # ids are global across symbols: continuity is pu
    assert not sync.is_unsynced("BTCUSDT")
    sync.event("BTCUSDT", 600, 610, 555)
    assert sync.is_unsynced("BTCUSDT")


def test_a_second_snapshot_for_a_synced_symbol_changes_nothing() -> None:
    sync = DepthSync("binance_spot")
    sync.event("AAA", 10, 20, 0)
    assert sync.snapshot("AAA", 15)
    assert not sync.snapshot("AAA", 500)
    sync.event("AAA", 21, 30, 0)
    assert not sync.is_unsynced("AAA")


def test_a_repeated_snapshot_is_counted(tmp_path: Path) -> None:
    bodies = read_lines(path(SPOT, "snapshots"))
    meta = read_lines(corpus_dir() / "binance_spot" / f"{SPOT}.snapshots.meta.tsv.zst")
    last_frame_time = read_lines(corpus_dir() / "binance_spot" / f"{SPOT}.frames.meta.tsv.zst")[-1].split(b"\t")[0]
    again = last_frame_time + b"1\t" + meta[0].split(b"\t")[1]  # NKNUSDT again, once it is in sync
    snapshots = write_lines(tmp_path / "twice.snapshots.jsonl", bodies + [bodies[0]])
    write_lines(tmp_path / "twice.snapshots.meta.tsv", meta + [again])
    records, summary = normalize(options_for(SPOT, snapshots=snapshots))
    assert records[: len(golden(SPOT))] == golden(SPOT)
    assert (summary.snapshots_fed, summary.snapshots_for_synced, summary.exit_status) == (5, 1, 0)
    assert "1 for an already synced symbol" in summary.render()


# ---- summary --------------------------------------------------------------------------------


def test_summary_reports_frames_records_and_skips() -> None:
    _, summary = normalize(options_for(SPOT))
    text = summary.render()
    records = golden(SPOT)
    assert f"{summary.frames} frames read from 1 file(s)" in text
    for k in {r["kind"] for r in records}:
        assert f"{k} {sum(r['kind'] == k for r in records)}" in text
    assert f"records: {len(records)} " in text
    assert "sequence gaps: not checked (needs --books)" in text
    assert summary.frames == len(read_lines(path(SPOT, "frames")))
    assert summary.parsed + summary.skipped + summary.malformed_frames == summary.frames


# ---- books ------------------------------------------------------------------------------------


def golden_books(name: str) -> list[dict]:
    return [orjson.loads(line) for line in read_lines(corpus_dir() / "golden" / f"{name}.books.jsonl.zst")]


@pytest.fixture
def book_builder_present() -> None:
    books = pytest.importorskip("marketprism_fast.books", reason="the book builder is not built yet")
    if not hasattr(books, "BookBuilder"):
        pytest.skip("marketprism_fast.books has no BookBuilder yet")


def test_book_depth_cuts_the_every_update_books(book_builder_present: None) -> None:
    options = options_for(SPOT, books=True, book_every_update=True, book_depth=3, kinds=frozenset({"book_snapshot"}))
    records, _ = normalize(options)
    expected = golden_books(SPOT)
    assert len(records) == len(expected)
    for ours, theirs in zip(records, expected):
        cut = {k: v[:3] if isinstance(v, list) else v for k, v in theirs.items()}
        assert ours == {**cut, "depth": 3}


def test_without_every_update_books_come_at_most_once_per_interval(book_builder_present: None) -> None:
    options = options_for(SPOT, books=True, book_interval_ms=500, kinds=frozenset({"book_snapshot"}))
    records, summary = normalize(options)
    every_update = [orjson.dumps(r) for r in golden_books(SPOT)]
    assert records and all(orjson.dumps(r) in every_update for r in records)
    last: dict[str, int] = {}
    for r in records:
        if r["raw_symbol"] in last:
            assert r["ts_recv"] - last[r["raw_symbol"]] >= 500_000_000
        last[r["raw_symbol"]] = r["ts_recv"]
    assert "sequence gaps: none" in summary.render()
