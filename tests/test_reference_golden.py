"""The reference parsers against the corpus: golden records, EXPECTED.json class counts, stats.

Every capture session is fed frame by frame (``ts_recv`` from its ``.frames.meta.tsv.zst``,
symbols from its refdata) and must yield exactly the golden ``normalize`` records, in frame
order, value for value. Sessions with REST snapshots are compared without the golden
``is_snapshot=1`` rows: those come from the snapshots the ``normalize`` CLI feeds in, not
from frames.

The comparison is columnar (the big sessions hold half a million records): the sequence of
kinds must match, and per kind every column, floats bit for bit with NaN equal to ``null``.
The first difference is reported with its frame and both records, compared by ``same_value``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Iterator

import numpy as np
import orjson
import pytest
import zstandard

from marketprism_fast.instruments import InstrumentRegistry
from marketprism_fast.parser import FrameStatus
from marketprism_fast.records import KIND_NAMES, KIND_ORDER, VENUES, kind
from marketprism_fast.parser import reference_parser as make_parser
from marketprism_fast.refdata import load_metadata_files
from tests.helpers import CORPUS, read_lines, same_value

pytestmark = pytest.mark.corpus

TAKE_EVERY = 16384  # frames between take() calls, as a live feed would seal batches


def _sessions() -> list:
    if not (CORPUS / "README.md").exists():
        reason = f"corpus not found at {CORPUS} (set MPF_CORPUS to its location)"
        return [pytest.param(None, marks=pytest.mark.skip(reason=reason), id="no-corpus")]
    found = []
    for venue in VENUES:
        for path in sorted((CORPUS / venue).glob(f"{venue}.*.frames.jsonl.zst")):
            session = path.name[len(venue) + 1 : -len(".frames.jsonl.zst")]
            found.append(pytest.param((venue, session), id=f"{venue}.{session}"))
    return found


@pytest.fixture(scope="module", params=_sessions())
def replayed(request) -> "Replay":
    """One session replayed; module scope makes pytest run every test of a session together."""
    venue, session = request.param
    return replay(venue, session)


@dataclass
class Replay:
    venue: str
    session: str
    statuses: np.ndarray  # FrameStatus per frame
    columns: dict[str, dict[str, np.ndarray]]  # kind -> column -> values, in frame order
    kinds: np.ndarray  # KIND_ORDER of every record, in output order
    frames: np.ndarray  # frame number of every record, in output order
    stats: dict


def _path(venue: str, session: str, suffix: str) -> Path:
    return CORPUS / venue / f"{venue}.{session}.{suffix}"


def replay(venue: str, session: str) -> Replay:
    refdata = _path(venue, session, "refdata.jsonl.zst")
    metadata = load_metadata_files([refdata]) if refdata.exists() else None
    parser = make_parser(venue, InstrumentRegistry(venue, metadata))
    frames = read_lines(_path(venue, session, "frames.jsonl.zst"))
    meta = read_lines(_path(venue, session, "frames.meta.tsv.zst"))
    assert len(meta) == len(frames), "a meta line per frame"
    statuses = np.empty(len(frames), dtype=np.int8)
    batches = []
    for i, (frame, line) in enumerate(zip(frames, meta)):
        ts_recv = int(Decimal(line.split(b"\t", 1)[0].decode()) * 10**9)
        statuses[i] = parser.feed(frame, ts_recv)
        if i % TAKE_EVERY == TAKE_EVERY - 1:
            batches += parser.take()
    batches += parser.take()

    columns: dict[str, dict[str, np.ndarray]] = {}
    record_frames, record_kinds = [], []
    for name in KIND_NAMES:
        mine = [b for b in batches if b.kind.name == name]
        if not mine:
            continue
        columns[name] = {c: np.concatenate([b.column(c) for b in mine]) for c in kind(name).column_names}
        frame = np.concatenate([b.frame for b in mine])
        assert (np.diff(frame.astype(np.int64)) >= 0).all(), f"{name} rows are not in frame order"
        record_frames.append(frame.astype(np.int64))
        record_kinds.append(np.full(len(frame), KIND_ORDER[name], dtype=np.int8))
    all_frames = np.concatenate(record_frames) if record_frames else np.empty(0, np.int64)
    all_kinds = np.concatenate(record_kinds) if record_kinds else np.empty(0, np.int8)
    order = np.lexsort((all_kinds, all_frames))  # stable: within a kind, message order
    return Replay(venue, session, statuses, columns, all_kinds[order], all_frames[order], parser.stats())


class GoldenColumns:
    """Golden records of one session as numpy columns per kind, read in chunks."""

    CHUNK = 65536

    def __init__(self) -> None:
        self.kinds: list[int] = []
        self._pending: dict[str, dict[str, list]] = {}
        self._chunks: dict[str, dict[str, list[np.ndarray]]] = {}

    def add(self, record: dict) -> None:
        name = record["kind"]
        self.kinds.append(KIND_ORDER[name])
        pending = self._pending.setdefault(name, {c: [] for c in kind(name).column_names})
        for column, values in pending.items():
            values.append(record[column])
        if len(pending["ts_recv"]) >= self.CHUNK:
            self._flush(name)

    def _flush(self, name: str) -> None:
        pending = self._pending.pop(name)
        chunks = self._chunks.setdefault(name, {c: [] for c in pending})
        for column, values in pending.items():
            chunks[column].append(_as_array(kind(name).column(column).dtype, values))

    def finish(self) -> tuple[np.ndarray, dict[str, dict[str, np.ndarray]]]:
        for name in list(self._pending):
            self._flush(name)
        columns = {name: {c: np.concatenate(parts) for c, parts in chunks.items()} for name, chunks in self._chunks.items()}
        return np.asarray(self.kinds, dtype=np.int8), columns


def _as_array(dtype: np.dtype, values: list) -> np.ndarray:
    if dtype == np.dtype(object):
        out = np.empty(len(values), dtype=object)
        out[:] = values
        return out
    if dtype == np.float64:
        return np.asarray([np.nan if v is None else v for v in values], dtype=np.float64)
    return np.asarray(values, dtype=dtype)


def golden(venue: str, session: str) -> tuple[np.ndarray, dict[str, dict[str, np.ndarray]]]:
    """(kind order of every record, columns per kind) of the golden file, minus REST-snapshot rows."""
    drop_snapshot_rows = _path(venue, session, "snapshots.jsonl.zst").exists()
    path = CORPUS / "golden" / f"{venue}.{session}.records.jsonl.zst"
    collected = GoldenColumns()
    with path.open("rb") as raw, zstandard.ZstdDecompressor().stream_reader(raw) as stream:
        for line in _lines(stream):
            record = orjson.loads(line)
            if drop_snapshot_rows and record["kind"] == "book_delta" and record["is_snapshot"] == 1:
                continue
            collected.add(record)
    return collected.finish()


def _lines(stream) -> Iterator[bytes]:
    tail = b""
    while chunk := stream.read(1 << 20):
        lines = (tail + chunk).split(b"\n")
        tail = lines.pop()
        yield from (line for line in lines if line)
    if tail:
        yield tail


def _equal(mine: np.ndarray, theirs: np.ndarray) -> np.ndarray:
    """Element-wise equality: floats bit for bit (so -0.0 != 0.0), NaN equal to NaN."""
    if mine.dtype == np.float64:
        both_nan = np.isnan(mine) & np.isnan(theirs)
        if mine.ndim > 1:
            return ((mine.view(np.uint64) == theirs.view(np.uint64)) | both_nan).all(axis=1)
        return (mine.view(np.uint64) == theirs.view(np.uint64)) | both_nan
    return mine == theirs


def _record(columns: dict[str, np.ndarray], i: int) -> dict:
    return {c: v[i].tolist() if hasattr(v[i], "tolist") else v[i] for c, v in columns.items()}


def test_session_yields_the_golden_records(replayed: Replay) -> None:
    mine = replayed
    golden_kinds, golden_columns = golden(mine.venue, mine.session)

    assert (mine.statuses != FrameStatus.MALFORMED).all(), (
        f"malformed frames at {np.flatnonzero(mine.statuses == FrameStatus.MALFORMED)[:10].tolist()}"
    )
    assert sorted(mine.columns) == sorted(golden_columns), "kinds produced"
    for name, theirs in golden_columns.items():
        ours = mine.columns[name]
        assert len(ours["ts_recv"]) == len(theirs["ts_recv"]), f"{name}: number of records"
        for column in kind(name).column_names:
            same = _equal(ours[column], theirs[column])
            if not same.all():
                i = int(np.flatnonzero(~same)[0])
                ours_row, theirs_row = _record(ours, i), _record(theirs, i)
                assert not same_value(ours_row[column], theirs_row[column])
                frame = int(np.flatnonzero(mine.kinds == KIND_ORDER[name])[i])
                pytest.fail(
                    f"{name} record {i} (frame {int(mine.frames[frame])}), column {column!r}: "
                    f"ours {ours_row[column]!r}, golden {theirs_row[column]!r}\n"
                    f"ours   {ours_row}\ngolden {theirs_row}"
                )
    different = np.flatnonzero(mine.kinds != golden_kinds)
    assert different.size == 0, (
        f"record {int(different[0])} (frame {int(mine.frames[different[0]])}) is a "
        f"{KIND_NAMES[mine.kinds[different[0]]]}, golden has a {KIND_NAMES[golden_kinds[different[0]]]}"
    )


def _expected_classes(venue: str, session: str) -> dict[str, int]:
    expected = json.loads((CORPUS / "EXPECTED.json").read_text())
    for entry in expected["sessions"]:
        if entry["venue"] == venue and entry["session"] == session:
            return {name: c["n"] if isinstance(c, dict) else int(c) for name, c in entry["classes"].items()}
    pytest.fail(f"EXPECTED.json has no entry for {venue} {session}")


# EXPECTED.json frame classes -> (what the frame is for the parser). The class names are the
# corpus's own: "<event type> [@<stream>]" for Binance, "<channel>[:<action>]" for OKX and
# Deribit, "event:*" / "rpc_result" for non-data frames.
def _class_outcome(name: str) -> tuple[str, str]:
    """("records", kind) for data frames, ("skipped", reason) otherwise."""
    head = name.split(" [", 1)[0]
    if head.startswith("event:"):
        return "skipped", "event"
    if head == "rpc_result":
        return "skipped", "rpc_result"
    channel = head.split(":", 1)[0]
    if channel in ("depthUpdate", "book.raw") or channel.startswith("books"):
        return "records", "book_delta"
    if channel in ("(no e)", "bookTicker"):
        return "records", "quote"
    if channel in ("trade", "aggTrade", "trades"):
        return "records", "trade"
    if channel == "kline":
        return "records", "kline"
    if channel == "markPriceUpdate":
        return "records", "funding_rate"
    if channel in ("tickers", "ticker.raw"):
        return "records", "ticker"
    raise AssertionError(f"no rule for EXPECTED.json class {name!r}")


def test_records_and_skips_agree_with_expected_classes(replayed: Replay) -> None:
    mine = replayed
    classes = _expected_classes(mine.venue, mine.session)
    frames_with = {
        name: len(np.unique(mine.frames[mine.kinds == KIND_ORDER[name]])) for name in mine.columns
    }
    wanted_frames: dict[str, int] = {}
    wanted_skips: dict[str, int] = {}
    for name, n in classes.items():
        outcome, what = _class_outcome(name)
        bucket = wanted_frames if outcome == "records" else wanted_skips
        bucket[what] = bucket.get(what, 0) + n

    for what, n in wanted_frames.items():
        if what == "book_delta":  # a book message may carry no level at all
            assert 0 < frames_with.get(what, 0) <= n, what
        else:
            assert frames_with.get(what, 0) == n, what
    if "ticker" in wanted_frames and mine.venue == "deribit":  # every Deribit ticker carries open_interest
        assert frames_with["open_interest"] == wanted_frames["ticker"]
    assert {k for k in frames_with if k != "open_interest"} == set(wanted_frames)

    stats = mine.stats
    assert stats["frames"] == sum(classes.values()) == len(mine.statuses)
    assert stats["malformed"] == 0
    assert {r: n for r, n in stats["skipped"].items() if n} == wanted_skips
    assert stats["parsed"] == sum(wanted_frames.values())
    assert stats["records"] == {name: len(mine.columns.get(name, {}).get("ts_recv", ())) for name in KIND_NAMES}
    assert stats["test_requests"] == 0


@pytest.mark.parametrize("venue", ["okx", "deribit"])
def test_with_book_markers_every_book_message_is_visible(venue: str) -> None:
    """OKX and Deribit sessions hold book messages without levels; markers make them rows."""
    if not (CORPUS / "README.md").exists():
        pytest.skip(f"corpus not found at {CORPUS} (set MPF_CORPUS to its location)")
    markers = 0
    for path in sorted((CORPUS / venue).glob(f"{venue}.*.frames.jsonl.zst")):
        session = path.name[len(venue) + 1 : -len(".frames.jsonl.zst")]
        book_messages = sum(
            n for name, n in _expected_classes(venue, session).items() if _class_outcome(name) == ("records", "book_delta")
        )
        parser = make_parser(venue, book_markers=True)
        for frame in read_lines(path):
            parser.feed(frame, 0)
        (book,) = [b for b in parser.take() if b.kind.name == "book_delta"]
        assert len(np.unique(book.frame)) == book_messages, session
        session_markers = int((book.column("side") == 0).sum())
        assert parser.stats()["records"]["book_delta"] == len(book) - session_markers
        markers += session_markers
    assert markers > 0
