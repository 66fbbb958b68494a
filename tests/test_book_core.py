"""The compiled book core: the venue sync rules (written once), OKX checksum reuse, the
builder's fast and rare paths agreeing, level texts from the arena, compact sealed batches."""

from __future__ import annotations

import zlib

import numpy as np
import pytest

from marketprism_fast._book import DeltaRows, LevelBook
from marketprism_fast.books import BookBuilder
from marketprism_fast.books.sync import Action, Phase, SyncState, rule_for
from marketprism_fast.offline.normalize import DepthSync
from marketprism_fast.parser import make_parser
from tests.test_book_builder import delta_batch

W, S, Y = Phase.WAITING, Phase.SEEDED, Phase.SYNCED
A = Action

# (venue, phase, last_id, is_snapshot, first U, last u, prev pu) -> action, from data-model.md "Books"
RULE_CASES = [
    # Binance spot: buffer before a snapshot; then drop u <= L, straddle U <= L+1 <= u, then U == prev_u + 1
    ("binance_spot", W, 0, False, 5, 9, 0, A.BUFFER),
    ("binance_spot", W, 0, True, 100, 100, 0, A.SEED),
    ("binance_spot", S, 100, True, 200, 200, 0, A.SEED),
    ("binance_spot", Y, 100, True, 200, 200, 0, A.IGNORE),
    ("binance_spot", S, 100, False, 90, 100, 0, A.DROP),
    ("binance_spot", S, 100, False, 95, 101, 0, A.APPLY),
    ("binance_spot", S, 100, False, 101, 105, 0, A.APPLY),
    ("binance_spot", S, 100, False, 102, 105, 0, A.GAP),
    ("binance_spot", Y, 105, False, 106, 110, 0, A.APPLY),
    ("binance_spot", Y, 105, False, 107, 110, 0, A.GAP),
    # Binance futures: drop u < L, straddle U <= L <= u, then pu == prev_u
    ("binance_usdm", S, 100, False, 90, 99, 0, A.DROP),
    ("binance_usdm", S, 100, False, 90, 100, 0, A.APPLY),
    ("binance_usdm", S, 100, False, 101, 120, 0, A.GAP),
    ("binance_usdm", Y, 120, False, 500, 510, 120, A.APPLY),
    ("binance_usdm", Y, 120, False, 121, 130, 119, A.GAP),
    ("binance_coinm", Y, 120, False, 500, 510, 120, A.APPLY),
    # OKX: snapshots reset; updates wait for one; seqId/prevSeqId checked when both are there
    ("okx", W, 0, False, 5, 5, 4, A.DROP),
    ("okx", Y, 7, True, 9, 9, 0, A.RESET),
    ("okx", Y, 7, False, 8, 8, 7, A.APPLY),
    ("okx", Y, 7, False, 8, 8, 6, A.GAP),
    ("okx", Y, 0, False, 8, 8, 6, A.APPLY),
    ("okx", Y, 7, False, 0, 0, 6, A.APPLY),
    # Deribit: snapshot resets; then prev_change_id == change_id
    ("deribit", W, 0, False, 0, 5, 4, A.DROP),
    ("deribit", Y, 4, False, 0, 5, 4, A.APPLY),
    ("deribit", Y, 4, False, 0, 6, 5, A.GAP),
    ("deribit", Y, 4, True, 0, 9, 0, A.RESET),
]


@pytest.mark.parametrize("venue,phase,last_id,is_snapshot,first,last,prev,expected", RULE_CASES)
def test_the_compiled_rule_answers_as_documented(venue, phase, last_id, is_snapshot, first, last, prev,
                                                 expected) -> None:
    assert rule_for(venue).decide_ids(phase, last_id, is_snapshot, first, last, prev) is expected


def test_straddle_and_continuity_reports() -> None:
    spot, futures = rule_for("binance_spot"), rule_for("binance_usdm")
    assert spot.straddles(99, 90, 100) and not spot.straddles(100, 90, 100)
    assert futures.straddles(100, 90, 100) and not futures.straddles(101, 90, 100)
    assert spot.continuity(Y, 105, 107, 0) == (106, 107)
    assert futures.continuity(S, 100, 101, 0) == (100, 101)
    assert futures.continuity(Y, 120, 121, 119) == (120, 119)


def test_depth_sync_and_the_builder_follow_one_rule() -> None:
    """The same id stream through normalize's DepthSync and through the builder: after each
    event both agree on whether the symbol is in sync."""
    rng = np.random.default_rng(5)
    for venue in ("binance_spot", "binance_usdm"):
        sync = DepthSync(venue)
        builder = BookBuilder(venue, depth=1)
        assert sync.rule.code == builder.rule.code
        last, frame = 1000, 0
        for step in range(400):
            frame += 1
            if step % 97 == 0:  # a REST snapshot somewhere around the stream
                snapshot_id = last + int(rng.integers(-3, 3))
                sync.snapshot("X", snapshot_id)
                builder.apply(delta_batch(venue, [dict(raw_symbol="X", frame=frame, side=1, price=1.0, amount=1.0,
                                                       update_id=snapshot_id, is_snapshot=1)]))
                continue
            jump = 1 if rng.random() < 0.95 else int(rng.integers(2, 5))  # an occasional lost event
            first, new_last = last + jump, last + jump + int(rng.integers(0, 3))
            sync.event("X", first, new_last, last)
            builder.apply(delta_batch(venue, [dict(raw_symbol="X", frame=frame, side=-1, price=2.0, amount=1.0,
                                                   first_update_id=first, update_id=new_last, prev_update_id=last)]))
            last = new_last
            assert sync.is_unsynced("X") == builder.needs_snapshot("X"), (venue, step)


def test_sync_state_records_the_message() -> None:
    state = SyncState()
    state.advance(Action.SEED, 100)
    assert (state.phase, state.last_id) == (Phase.SEEDED, 100)
    state.advance(Action.APPLY, 101)
    assert state.phase is Phase.SYNCED
    state.lose()
    assert state.phase is Phase.WAITING


# ---------------------------------------------------------------- OKX checksum reuse

def okx_checksum(bids: list[tuple[str, str]], asks: list[tuple[str, str]]) -> int:
    parts = []
    for i in range(25):
        if i < len(bids):
            parts += bids[i]
        if i < len(asks):
            parts += asks[i]
    crc = zlib.crc32(":".join(parts).encode())
    return crc - (1 << 32) if crc >= 1 << 31 else crc


def okx_rows(frame: int, bids, asks, checksum: int, *, snapshot: bool = False, seq: int = 0, prev: int = 0):
    rows = [dict(raw_symbol="BTC-USDT", frame=frame, side=1, price=float(p), amount=float(a), price_text=p,
                 amount_text=a) for p, a in bids]
    rows += [dict(raw_symbol="BTC-USDT", frame=frame, side=-1, price=float(p), amount=float(a), price_text=p,
                  amount_text=a) for p, a in asks]
    for r in rows:
        r.update(checksum=checksum, is_snapshot=int(snapshot), first_update_id=seq, update_id=seq, prev_update_id=prev)
    return rows


def test_okx_checksum_is_verified_whether_or_not_it_is_recomputed() -> None:
    """A change below each side's 25th level keeps the checksum (reused, still compared with
    the venue's); a change at the 25th level or above changes it; a wrong one is a failure."""
    bids = [(f"{100 - i}.5", "1") for i in range(30)]
    asks = [(f"{101 + i}.5", "2") for i in range(30)]
    builder = BookBuilder("okx", depth=5)
    frame = 1

    def send(b, a, checksum, **kw):
        nonlocal frame
        builder.apply(delta_batch("okx", okx_rows(frame, b, a, checksum, **kw)))
        frame += 1

    send(bids, asks, okx_checksum(bids, asks), snapshot=True)
    unchanged = okx_checksum(bids, asks)
    send([("72.5", "9")], [], unchanged)  # bid level 28: below the floor
    assert builder.stats()["checksum_failures"] == 0
    bids[24] = ("76.5", "3")  # the 25th bid level itself
    send([bids[24]], [], okx_checksum(bids, asks))
    assert builder.stats()["checksum_failures"] == 0
    send([], [("128.5", "5")], unchanged)  # ask level 28, but the venue's checksum is stale: wrong
    assert builder.stats()["checksum_failures"] == 1
    assert builder.needs_snapshot("BTC-USDT")
    assert builder.stats()["applied"] == 3


def test_okx_checksum_of_a_book_shorter_than_25_levels_changes_with_any_level() -> None:
    bids = [(f"{100 - i}.5", "1") for i in range(3)]
    asks = [(f"{101 + i}.5", "2") for i in range(3)]
    builder = BookBuilder("okx", depth=5)
    builder.apply(delta_batch("okx", okx_rows(1, bids, asks, okx_checksum(bids, asks), snapshot=True)))
    bids.append(("10.5", "1"))
    builder.apply(delta_batch("okx", okx_rows(2, [bids[-1]], [], okx_checksum(bids, asks))))
    assert builder.stats()["checksum_failures"] == 0 and builder.stats()["applied"] == 2


# ---------------------------------------------------------------- texts, engine, buffers

def test_apply_messages_appends_each_state_to_a_top_buffer() -> None:
    from marketprism_fast._book import TopBuffer

    rows = DeltaRows(np.array([1, -1, 1], dtype=np.int8), np.array([10.0, 11.0, 10.5]), np.array([1.0, 2.0, 3.0]))
    book, top = LevelBook(), TopBuffer(2)
    best = np.empty((2, 4))
    book.apply_messages(rows, np.array([0, 2, 3], dtype=np.int64), best, top)
    bid_price, _, ask_price, _ = top.take()
    assert bid_price.tolist()[0][0] == 10.0 and bid_price.tolist()[1] == [10.5, 10.0]
    assert ask_price.tolist()[1][0] == 11.0
    assert best.tolist() == [[10.0, 1.0, 11.0, 2.0], [10.5, 3.0, 11.0, 2.0]]


@pytest.mark.skipif("not __import__('marketprism_fast.parser', fromlist=['x']).compiled_available()",
                    reason="the compiled parser is not built")
def test_a_small_batch_is_sealed_as_a_tight_copy() -> None:
    frame = b'{"stream":"btcusdt@trade","data":{"e":"trade","E":1,"T":1,"s":"BTCUSDT","t":7,"p":"1.5","q":"2","m":true}}'
    parser = make_parser("binance_usdm", implementation="compiled", capacity=4096)
    parser.feed_many([frame] * 10, 0)
    batch = parser.take()[0]
    assert len(batch) == 10
    for array in batch.storage.values():
        owner = array.base if array.base is not None else array
        while getattr(owner, "base", None) is not None:
            owner = owner.base
        assert owner.nbytes <= 10 * array.itemsize * (array.shape[1] if array.ndim == 2 else 1)
    assert batch.column("price").tolist() == [1.5] * 10
    parser.feed_many([frame] * 3000, 0)  # most of the capacity: handed over, not copied
    assert len(parser.take()[0]) == 3000


def test_arena_texts_must_lie_inside_the_arena() -> None:
    """A batch's level texts are read in place from its arena: offsets and lengths that reach
    past it (by one byte, or by wrapping 32 bits) are refused before any text is read."""
    arena = np.frombuffer(b"1.5:20.25:3", dtype=np.uint8)
    side, price, amount = np.array([1, -1], np.int8), np.array([1.5, 2.0]), np.array([2.0, 3.0])

    def rows(price_off, price_len, amount_off, amount_len) -> DeltaRows:
        return DeltaRows.from_arena(side, price, amount, arena, *(np.array(v, dtype) for v, dtype in (
            (price_off, np.uint32), (price_len, np.uint16), (amount_off, np.uint32), (amount_len, np.uint16))))

    book = LevelBook(keep_texts=True)
    book.apply(rows([0, 4], [3, 2], [4, 10], [2, 1]), 0, 2)  # the last text ends at the arena's end
    assert book.level_texts(1) == [("1.5", "20")] and book.level_texts(-1) == [("20", "3")]
    for bad in (([0, 4], [3, 2], [4, 10], [2, 2]), ([0, 0xFFFFFFFF], [3, 2], [4, 10], [2, 1])):
        with pytest.raises(ValueError, match="beyond the arena"):
            rows(*bad)


@pytest.mark.parametrize("seed", range(6))
def test_okx_checksums_hold_when_one_side_changes_at_a_time(seed: int) -> None:
    """Most OKX updates reach one side's checksummed levels only; the book walks that side
    again and gathers the checksum with the other side's texts as last walked, heap-held
    (longer than a slot) ones included. Every message carries the venue's checksum, computed
    here from a model of the book, so a stale or dangling kept text is a counted failure."""
    import random

    rnd = random.Random(seed)
    model: dict[int, dict[float, tuple[str, str]]] = {1: {}, -1: {}}

    def texts(price: float) -> tuple[str, str]:
        price_text = f"{price:.1f}" + ("0" * 40 if rnd.random() < 0.2 else "")  # some on the heap
        return price_text, f"{rnd.randint(1, 9)}.{rnd.randint(0, 99):02d}"

    def ordered(side: int) -> list[tuple[str, str]]:
        return [model[side][k] for k in sorted(model[side], reverse=side == 1)]

    rows: list[dict] = []

    def message(frame: int, changes: list[tuple[int, float, tuple[str, str]]], snapshot: bool) -> None:
        for side, price, level in changes:
            if level[1] == "0":
                model[side].pop(price, None)
            else:
                model[side][price] = level
        checksum = okx_checksum(ordered(1), ordered(-1))
        rows.extend(
            dict(raw_symbol="BTC-USDT", frame=frame, side=side, price=price, amount=float(amount_text),
                 price_text=price_text, amount_text=amount_text, checksum=checksum, is_snapshot=int(snapshot),
                 first_update_id=frame, update_id=frame, prev_update_id=frame - 1)
            for side, price, (price_text, amount_text) in changes
        )

    message(1, [(side, base - side * 0.5 * i, texts(base - side * 0.5 * i))
                for side, base in ((1, 1000.0), (-1, 1001.0)) for i in range(60)], True)
    for frame in range(2, 302):
        side = rnd.choice((1, -1))  # one side per message: near its top, or deeper
        changes = []
        for _ in range(rnd.randint(1, 4)):
            keys = sorted(model[side], reverse=side == 1)
            top = keys[0] if keys else 1000.5 - side * 0.5
            price = rnd.choice(keys[:40]) if keys and rnd.random() < 0.7 else top - side * 0.5 * rnd.randint(-3, 50)
            if price in model[side] and rnd.random() < 0.4:
                changes.append((side, price, (f"{price:.1f}", "0")))
            else:
                changes.append((side, price, texts(price)))
        message(frame, changes, False)
    builder = BookBuilder("okx", depth=5)
    builder.apply(delta_batch("okx", rows))
    stats = builder.stats()
    assert stats["checksum_failures"] == 0 and not stats["gaps"], stats
    assert stats["applied"] == 301
