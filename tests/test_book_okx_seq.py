"""OKX ``seqId``/``prevSeqId`` continuity in the book builder, through both parsers.

OKX v5 ("Order book channel", "Sequence ID"): a snapshot has ``prevSeqId = -1``; every later
message's ``prevSeqId`` is the previous message's ``seqId``; a message that changes nothing
(empty sides, sent after about 60 s) has ``seqId == prevSeqId``; after maintenance the
sequence may be reset (``seqId`` smaller than ``prevSeqId``), the chain still holding. A
broken chain is a gap: that instrument's book is cleared until its next snapshot, others
go on. Checksums are verified as before.

Two sources: the documented-payload fixture (real ids and checksums) with the docs' worked
example of ids, and a real recorded books-l2-tbt session (which predates the ids) given
ids the way OKX assigns them, so that a message taken out of it is caught by the chain.
"""

from __future__ import annotations

import itertools
import zlib

import orjson
import pytest

from marketprism_fast.books import BookBuilder
from marketprism_fast.instruments import InstrumentRegistry
from marketprism_fast.parser import make_parser
from marketprism_fast.parser import FrameStatus
from tests.helpers import FIXTURES, read_lines
from tests.test_book_gaps import book_after, comparable, insert_frame, okx_snapshot_frame
from tests.test_book_replay import load_capture

TS = 1_700_000_000_000_000_000


class Run:
    """The builder after a stream went through one parser, and the book rows it emitted."""

    def __init__(self, frames: list[bytes], implementation: str, times: list[int] | None = None) -> None:
        registry = InstrumentRegistry("okx")
        parser = make_parser("okx", registry, implementation=implementation, book_markers=True)
        self.builder = BookBuilder("okx", registry, depth=20, every_update=True)
        for i, frame in enumerate(frames):
            assert parser.feed(frame, times[i] if times else TS + i) != FrameStatus.MALFORMED, frame[:200]
            for batch in parser.take():
                if batch.kind.name == "book_delta":
                    self.builder.apply(batch)
        self.rows = [r for batch in self.builder.take() for r in batch.rows()]
        self.stats = self.builder.stats()

    def of(self, inst: str) -> list[dict]:
        return [r for r in self.rows if r["raw_symbol"] == inst]


# ---------------------------------------------------------------- the OKX checksum, from its docs

def okx_checksum(book: dict[str, dict[float, tuple[str, str]]]) -> int:
    """CRC32 (signed 32-bit) of the top 25 levels, ``bidPx:bidSz:askPx:askSz`` interleaved,
    with the texts as sent."""
    bids = [book["bids"][p] for p in sorted(book["bids"], reverse=True)[:25]]
    asks = [book["asks"][p] for p in sorted(book["asks"])[:25]]
    parts = []
    for i in range(max(len(bids), len(asks))):
        for side in (bids, asks):
            if i < len(side):
                parts += side[i]
    crc = zlib.crc32(":".join(parts).encode())
    return crc - 2**32 if crc >= 2**31 else crc


def apply_levels(book: dict, data: dict, *, reset: bool) -> None:
    for side in ("bids", "asks"):
        if reset:
            book[side] = {}
        for px, sz, *_ in data[side]:
            if float(sz) == 0:
                book[side].pop(float(px), None)
            else:
                book[side][float(px)] = (px, sz)


def fixture_messages() -> list[dict]:
    frames = read_lines(FIXTURES / "okx" / "books_l2_tbt.frames.jsonl")
    return [orjson.loads(f) for f in frames if b'"action"' in f]


def test_the_checksum_model_agrees_with_the_fixture() -> None:
    """The test's own book model reproduces the venue's checksums (so frames it writes are right)."""
    book: dict = {}
    for message in fixture_messages():
        apply_levels(book, message["data"][0], reset=message["action"] == "snapshot")
        assert okx_checksum(book) == message["data"][0]["checksum"]


# ---------------------------------------------------------------- the fixture and the docs' example

def test_fixture_stream_applies_in_order_with_its_ids_and_checksums(implementation: str) -> None:
    messages = fixture_messages()
    run = Run(read_lines(FIXTURES / "okx" / "books_l2_tbt.frames.jsonl"), implementation)
    assert (run.stats["applied"], run.stats["gaps"], run.stats["checksum_failures"]) == (len(messages), {}, 0)
    assert [r["update_id"] for r in run.rows] == [m["data"][0]["seqId"] for m in messages]
    book: dict = {}
    for message in messages:
        apply_levels(book, message["data"][0], reset=message["action"] == "snapshot")
    (inst,) = {m["arg"]["instId"] for m in messages}
    last = run.rows[-1]
    assert last["bid_price"][: len(book["bids"])] == sorted(book["bids"], reverse=True)
    assert last["ask_price"][: len(book["asks"])] == sorted(book["asks"])
    assert run.builder.needs_snapshot(inst) is False


class Stream:
    """books-l2-tbt frames of one instrument written from a book model (real checksums)."""

    def __init__(self, inst: str) -> None:
        self.inst = inst
        self.book: dict = {}
        self.ts = itertools.count(1700000011000, 10)

    def frame(self, action: str, prev: int, seq: int, bids=(), asks=()) -> bytes:
        data = {"asks": [list(a) for a in asks], "bids": [list(b) for b in bids]}
        apply_levels(self.book, data, reset=action == "snapshot")
        data.update(ts=str(next(self.ts)), checksum=okx_checksum(self.book), prevSeqId=prev, seqId=seq)
        return orjson.dumps({"arg": {"channel": "books-l2-tbt", "instId": self.inst}, "action": action, "data": [data]})


def docs_example(inst: str) -> list[bytes]:
    """The docs' worked example of ids: snapshot (-1, 10), update (10, 15), no change (15, 15),
    sequence reset (15, 3), update (3, 5)."""
    s = Stream(inst)
    return [
        s.frame("snapshot", -1, 10, bids=[("100.5", "3", "0", "1"), ("100.1", "7", "0", "2")],
                asks=[("101", "2", "0", "1"), ("101.5", "9", "0", "3")]),
        s.frame("update", 10, 15, bids=[("100.5", "0", "0", "0")], asks=[("100.9", "1.5", "0", "1")]),
        s.frame("update", 15, 15),
        s.frame("update", 15, 3, bids=[("100.3", "4", "0", "1")]),
        s.frame("update", 3, 5, asks=[("100.9", "0", "0", "0")]),
    ]


def test_no_change_messages_and_sequence_resets_keep_the_chain(implementation: str) -> None:
    run = Run(docs_example("BTC-USDT"), implementation)
    assert (run.stats["applied"], run.stats["gaps"], run.stats["checksum_failures"]) == (5, {}, 0)
    assert [r["update_id"] for r in run.rows] == [10, 15, 15, 3, 5]
    assert run.stats["out_of_sync"] == []


def test_a_missing_message_is_a_gap_at_the_next_one_for_that_instrument_only(implementation: str) -> None:
    gapped, other = docs_example("BTC-USDT"), docs_example("ETH-USDT")
    stream = [f for pair in zip(gapped, other) for f in pair]  # the two instruments interleaved
    stream.remove(gapped[1])  # (10, 15) never arrives; the no-change (15, 15) shows the hole
    run = Run(stream, implementation)
    assert run.stats["gaps"] == {"BTC-USDT": 1} and run.stats["checksum_failures"] == 0
    gap = run.builder.last_gap["BTC-USDT"]
    assert (gap.expected, gap.got) == (10, 15)
    assert [r["update_id"] for r in run.of("BTC-USDT")] == [10]  # nothing after the hole
    assert run.builder.needs_snapshot("BTC-USDT") and run.builder.book("BTC-USDT").bid_count == 0
    assert run.stats["out_of_sync"] == ["BTC-USDT"]
    assert [r["update_id"] for r in run.of("ETH-USDT")] == [10, 15, 15, 3, 5]
    # the next snapshot brings it back
    s = Stream("BTC-USDT")
    more = [s.frame("snapshot", -1, 40, bids=[("99", "1", "0", "1")], asks=[("102", "1", "0", "1")]),
            s.frame("update", 40, 41, bids=[("99.5", "2", "0", "1")])]
    run = Run(stream + more, implementation)
    assert [r["update_id"] for r in run.of("BTC-USDT")] == [10, 40, 41]
    assert run.stats["out_of_sync"] == [] and run.stats["gaps"] == {"BTC-USDT": 1}


def test_checksums_are_still_verified_when_the_chain_holds(implementation: str) -> None:
    frames = docs_example("BTC-USDT")
    doc = orjson.loads(frames[3])
    doc["data"][0]["checksum"] += 1
    run = Run(frames[:3] + [orjson.dumps(doc)] + frames[4:], implementation)
    assert run.stats["checksum_failures"] == 1 and run.stats["gaps"] == {}
    assert [r["update_id"] for r in run.rows] == [10, 15, 15]
    assert run.stats["out_of_sync"] == ["BTC-USDT"]  # the next update (3, 5) is not applied


# ---------------------------------------------------------------- a real session, given ids

SESSION = ("cf_2022-02-27",)
STEPS = (7, 12, 13, 20, 45, 93)  # id steps vary: the chain, not arithmetic, tells continuity


def with_seq_ids(frames) -> tuple[list[bytes], dict[str, list[tuple[int, int, int, bool]]]]:
    """The frames with OKX ids added to every book message, and per instrument its messages
    as (frame index, prevSeqId, seqId, changes levels)."""
    out: list[bytes] = []
    messages: dict[str, list[tuple[int, int, int, bool]]] = {}
    last: dict[str, int] = {}
    steps = itertools.cycle(STEPS)
    for i, frame in enumerate(frames):
        if b'"books' not in frame or b'"action"' not in frame:
            out.append(frame)
            continue
        doc = orjson.loads(frame)
        inst, data = doc["arg"]["instId"], doc["data"][0]
        changes = bool(data["bids"] or data["asks"])
        previous = last.get(inst, 1_000_000 * (len(last) + 1))
        prev = -1 if doc["action"] == "snapshot" else previous
        seq = previous + next(steps) if changes or doc["action"] == "snapshot" else previous
        data["prevSeqId"], data["seqId"] = prev, seq
        last[inst] = seq
        messages.setdefault(inst, []).append((i, prev, seq, changes))
        out.append(orjson.dumps(doc))
    return out, messages


@pytest.fixture(scope="module")
def session():
    capture = load_capture("okx", SESSION)
    frames, messages = with_seq_ids(capture.frames)
    return capture, frames, messages


@pytest.mark.corpus
def test_a_real_session_with_ids_builds_the_same_books(session, implementation: str) -> None:
    capture, frames, messages = session
    run = Run(frames, implementation, list(capture.frame_ts))
    assert run.stats["gaps"] == {} and run.stats["checksum_failures"] == 0
    assert run.stats["applied"] == sum(len(m) for m in messages.values())
    for inst, inst_messages in messages.items():
        assert [r["update_id"] for r in run.of(inst)] == [seq for _, _, seq, _ in inst_messages]
    # the ids change nothing else: the same books as without them
    without = Run(list(capture.frames), implementation, list(capture.frame_ts))
    assert [dict(comparable(r), update_id=0) for r in run.rows] == [comparable(r) for r in without.rows]


@pytest.mark.corpus
def test_a_message_taken_out_of_a_real_session_is_a_gap_until_the_next_snapshot(session, implementation: str) -> None:
    capture, _, messages = session
    inst = max(messages, key=lambda s: len(messages[s]))
    plain = messages[inst]
    k = next(j for j in range(len(plain) // 3, len(plain)) if plain[j][3])  # an update that changes levels
    resync_after = plain[k + 20][0]
    # a fresh snapshot after the 20th update past the hole: the intact book at that point
    book = book_after(capture, resync_after, inst)
    snapshot = okx_snapshot_frame(inst, book, str(capture.frame_ts[resync_after] // 10**6))
    resynced = insert_frame(capture, resync_after, snapshot)
    frames, with_ids = with_seq_ids(resynced.frames)
    ms = with_ids[inst]
    assert ms[k + 21][1] == -1  # the inserted snapshot
    hole = ms[k][0]
    intact = Run(frames, implementation, list(resynced.frame_ts))
    times = list(resynced.frame_ts)
    damaged = Run(frames[:hole] + frames[hole + 1 :], implementation, times[:hole] + times[hole + 1 :])

    assert damaged.stats["gaps"] == {inst: 1} and damaged.stats["checksum_failures"] == 0
    gap = damaged.builder.last_gap[inst]
    assert (gap.expected, gap.got) == (ms[k - 1][2], ms[k + 1][1])  # caught at the message after the hole
    assert damaged.stats["dropped"] == intact.stats["dropped"] + 19  # the rest waited for the snapshot
    want = [comparable(r) for r in intact.of(inst)]
    assert [comparable(r) for r in damaged.of(inst)] == want[:k] + want[k + 21 :]
    assert damaged.stats["out_of_sync"] == []
    others = [comparable(r) for r in intact.rows if r["raw_symbol"] != inst]
    assert [comparable(r) for r in damaged.rows if r["raw_symbol"] != inst] == others
    # until the snapshot the instrument's book is empty and waits
    cut = frames[:hole] + frames[hole + 1 : ms[k + 21][0]]
    waiting = Run(cut, implementation, times[:hole] + times[hole + 1 : ms[k + 21][0]])
    assert waiting.stats["out_of_sync"] == [inst] and waiting.builder.book(inst).bid_count == 0
    assert waiting.builder.book(inst).ask_count == 0
