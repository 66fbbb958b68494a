"""The compiled Binance parser against the reference parser and the corpus expectations.

Every frame of every Binance corpus session goes through both implementations; the
batches must be identical column by column (floats bit for bit), and the per-kind counts
must match the frame classes counted in the corpus EXPECTED.json.
"""

from __future__ import annotations

import json
from decimal import Decimal
from urllib.parse import parse_qs, urlparse

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from marketprism_fast import parser as parsers
from marketprism_fast.instruments import InstrumentRegistry
from marketprism_fast.records import KINDS
from marketprism_fast.refdata import load_metadata_files

from .helpers import corpus_dir, read_lines

pytest.importorskip("marketprism_fast._parse", reason="the compiled core is not built")

BINANCE = ("binance_spot", "binance_usdm", "binance_coinm")


def _sessions() -> list[tuple[str, str]]:
    try:
        root = corpus_dir()
    except pytest.skip.Exception:
        return [("binance_spot", "<corpus absent>")]
    out = []
    for venue in BINANCE:
        for p in sorted((root / venue).glob("*.frames.jsonl.zst")):
            out.append((venue, p.name[len(venue) + 1 : -len(".frames.jsonl.zst")]))
    return out


def _times(path) -> list[int]:
    return [int(Decimal(line.split(b"\t")[0].decode()) * 10**9) for line in read_lines(path)]


def _run(venue: str, session: str, implementation: str):
    root = corpus_dir() / venue
    refdata = root / f"{venue}.{session}.refdata.jsonl.zst"
    metadata = load_metadata_files([str(refdata)]) if refdata.exists() else None
    parser = parsers.make_parser(venue, InstrumentRegistry(venue, metadata), implementation=implementation)
    frames = read_lines(root / f"{venue}.{session}.frames.jsonl.zst")
    times = _times(root / f"{venue}.{session}.frames.meta.tsv.zst")
    statuses = [parser.feed(f, t) for f, t in zip(frames, times)]
    snaps = root / f"{venue}.{session}.snapshots.jsonl.zst"
    if snaps.exists():
        metas = read_lines(root / f"{venue}.{session}.snapshots.meta.tsv.zst")
        for body, meta in zip(read_lines(snaps), metas):
            ts, url = meta.decode().split("\t")[:2]
            # hbt sessions record one symbol and no URL: it is in the session name
            symbol = parse_qs(urlparse(url).query).get("symbol", [session.rsplit("_", 1)[-1].upper()])[0]
            statuses.append(parser.feed_snapshot(body, int(Decimal(ts) * 10**9), symbol))
    batches = {b.kind.name: b for b in parser.take()}
    return statuses, batches, parser.stats()


def _assert_same_column(name: str, a: np.ndarray, b: np.ndarray) -> None:
    assert len(a) == len(b), name
    if a.dtype.kind == "f":
        assert b.dtype.kind == "f", name
        same = (a.view(np.uint64) == b.view(np.uint64)) | (np.isnan(a) & np.isnan(b))
        bad = np.flatnonzero(~same)
        assert not len(bad), f"{name}: first difference at row {bad[0]}: {a[bad[0]]!r} != {b[bad[0]]!r}"
    else:
        assert a.tolist() == b.tolist(), name


@pytest.mark.parametrize(("venue", "session"), _sessions())
def test_compiled_equals_reference_on_corpus(venue: str, session: str) -> None:
    c_status, compiled, c_stats = _run(venue, session, "compiled")
    r_status, reference, r_stats = _run(venue, session, "reference")
    assert c_status == r_status
    assert c_stats["records"] == r_stats["records"]
    assert c_stats["skipped"] == r_stats["skipped"]
    assert (c_stats["frames"], c_stats["parsed"], c_stats["malformed"]) == (
        r_stats["frames"], r_stats["parsed"], r_stats["malformed"])
    assert set(compiled) == set(reference)
    for name, batch in compiled.items():
        other = reference[name]
        for column in batch.kind.column_names + ("frame",):
            _assert_same_column(f"{name}.{column}", batch.column(column), other.column(column))


@pytest.mark.parametrize(("venue", "session"), _sessions())
def test_counts_match_expected_classes(venue: str, session: str) -> None:
    expected = json.loads((corpus_dir() / "EXPECTED.json").read_text())
    (entry,) = [s for s in expected["sessions"] if s["venue"] == venue and s["session"] == session]
    classes = {name.split(" ")[0] if not name.startswith("(no e)") else "bookTicker": c["n"]
               for name, c in entry["classes"].items()}
    statuses, _, stats = _run(venue, session, "compiled")
    records = stats["records"]
    assert stats["malformed"] == 0
    assert records["trade"] == classes.get("trade", 0) + classes.get("aggTrade", 0)
    assert records["quote"] == classes.get("bookTicker", 0)
    assert records["kline"] == classes.get("kline", 0)
    assert records["funding_rate"] == classes.get("markPriceUpdate", 0)
    one_row_frames = records["trade"] + records["quote"] + records["kline"] + records["funding_rate"]
    depth_frames = stats["parsed"] - entry["rest_snapshots"] - one_row_frames
    assert depth_frames == classes["depthUpdate"]


# ---- damaged frames --------------------------------------------------------------------------

def _sample_frames() -> list[bytes]:
    root = corpus_dir()
    picked: list[bytes] = []
    for venue, session in (("binance_spot", "cf_2021-04-17"), ("binance_usdm", "hbt_2023-04-04_btcusdt"),
                           ("binance_coinm", "cf_2021-07-21")):
        frames = read_lines(root / venue / f"{venue}.{session}.frames.jsonl.zst")
        seen: set[bytes] = set()
        for f in frames:
            key = f[:40]
            if key not in seen:
                seen.add(key)
                picked.append(f)
            if len(seen) > 60:
                break
    return picked


def _invalid_json(data: bytes) -> bool:
    """RFC 8259 validity (the standard library parser: unlike orjson it accepts numbers
    whose exponent is out of float range, which are valid JSON)."""
    try:
        json.loads(data)
    except (ValueError, UnicodeDecodeError):
        return True
    return False


def test_every_truncation_yields_nothing() -> None:
    parser = parsers.make_parser("binance_usdm", implementation="compiled")
    for frame in _sample_frames()[:40]:
        for cut in range(0, len(frame)):
            assert parser.feed(frame[:cut], 0) == 2
    assert parser.take() == []
    assert parser.stats()["parsed"] == 0


@given(data=st.data())
@settings(max_examples=400, deadline=None)
def test_corrupted_frames_never_yield_rows(data) -> None:
    frames = _CORPUS_SAMPLE or pytest.skip("corpus absent")
    frame = bytearray(data.draw(st.sampled_from(frames)))
    for _ in range(data.draw(st.integers(1, 4))):
        pos = data.draw(st.integers(0, len(frame) - 1))
        action = data.draw(st.sampled_from(["flip", "delete", "insert"]))
        byte = data.draw(st.sampled_from(b'{}[]",:0123456789.-eE \\x'))
        if action == "flip":
            frame[pos] = byte
        elif action == "delete":
            del frame[pos]
        else:
            frame.insert(pos, byte)
    damaged = bytes(frame)
    parser = parsers.make_parser("binance_usdm", implementation="compiled")
    status = parser.feed(damaged, 0)
    if _invalid_json(damaged):
        assert status == 2
        assert parser.take() == []


try:
    _CORPUS_SAMPLE = _sample_frames()
except pytest.skip.Exception:
    _CORPUS_SAMPLE = []


def test_rows_of_a_failed_frame_are_rolled_back() -> None:
    """A depth frame whose last level is bad writes none of its earlier levels."""
    parser = parsers.make_parser("binance_usdm", implementation="compiled")
    good = b'{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":1,"u":2,"pu":0,"b":[["1.5","2"]],"a":[["2.5","1"]]}'
    bad = b'{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":3,"u":4,"pu":2,"b":[["1.5","2"],["1.4","x"]],"a":[]}'
    assert parser.feed(good, 1) == 0
    assert parser.feed(bad, 2) == 2
    (batch,) = parser.take()
    assert batch.column("update_id").tolist() == [2, 2]
    assert parser.stats()["records"]["book_delta"] == 2


def test_buffers_are_reused_once_batches_are_released() -> None:
    parser = parsers.make_parser("binance_usdm", implementation="compiled", capacity=64)
    frame = b'{"e":"trade","E":1,"T":2,"s":"BTCUSDT","t":1,"p":"1","q":"1","m":true}'
    buffer = parser.buffer("trade")
    for _ in range(3):
        parser.feed(frame, 0)
        (batch,) = parser.take()
        first = batch.storage["price"]
        del batch
    # after release, the same memory serves the next batch (no allocation per rotation)
    parser.feed(frame, 0)
    (batch,) = parser.take()
    parser.feed(frame, 0)
    held = batch.column("price").copy()
    (batch2,) = parser.take()
    assert held.tolist() == [1.0]
    assert batch.column("price").tolist() == [1.0]  # a held batch is never overwritten
    assert buffer.capacity == 64


def test_trade_record_memory_is_at_most_64_bytes() -> None:
    frames = read_lines(corpus_dir() / "binance_usdm" / "binance_usdm.hbt_2024-08-08_btcusdt.frames.jsonl.zst")
    trades = [f for f in frames if b'"e":"trade"' in f]
    parser = parsers.make_parser("binance_usdm", implementation="compiled", capacity=len(trades))
    parser.feed_many(trades, 0)
    assert parser.buffer("trade").nbytes_per_row() <= 64


def test_kinds_cover_the_storage_constants() -> None:
    from marketprism_fast import _parse

    assert len(KINDS) == 9
    assert _parse.make_parser("binance_spot", InstrumentRegistry("binance_spot")).venue == "binance_spot"
