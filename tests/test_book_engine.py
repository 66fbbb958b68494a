"""The compiled book engine against a plain dict-of-levels model, plus its edges."""

from __future__ import annotations

import itertools
import math
import zlib
from decimal import Decimal

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from marketprism_fast._book import (
    DeltaRows,
    LevelBook,
    TopBuffer,
    crc32_implementation,
    crc32_implementations,
    crc32_signed,
    rows_scan_implementation,
    rows_scan_implementations,
)

BID, ASK = 1, -1


class ModelBook:
    """The obvious book: one dict per side; optional bound with the engine's documented
    eviction rule (a new level beyond ``max_levels`` evicts the worst, or is dropped when it
    is itself the worst)."""

    def __init__(self, max_levels: int | None = None) -> None:
        self.sides: dict[int, dict[float, tuple[float, str, str]]] = {BID: {}, ASK: {}}
        self.max_levels = max_levels

    def apply(self, side: int, price: float, amount: float, price_text: str = "", amount_text: str = "") -> None:
        levels = self.sides[side]
        if amount == 0.0:
            levels.pop(price, None)
            return
        if price not in levels and self.max_levels is not None and len(levels) >= self.max_levels:
            worst = min(levels) if side == BID else max(levels)
            if (price < worst) if side == BID else (price > worst):
                return
            del levels[worst]
        levels[price] = (amount, price_text, amount_text)

    def ordered(self, side: int) -> list[tuple[float, tuple[float, str, str]]]:
        return sorted(self.sides[side].items(), key=lambda kv: -kv[0] if side == BID else kv[0])

    def levels(self, side: int) -> list[tuple[float, float]]:
        return [(p, v[0]) for p, v in self.ordered(side)]

    def texts(self, side: int) -> list[tuple[str, str]]:
        return [(v[1], v[2]) for _, v in self.ordered(side)]

    def top(self, depth: int) -> tuple[list[float], ...]:
        out = []
        for side in (BID, ASK):
            levels = self.levels(side)[:depth]
            pad = [math.nan] * (depth - len(levels))
            out += [[p for p, _ in levels] + pad, [a for _, a in levels] + pad]
        return tuple(out)


def rows_of(message: list[tuple[int, float, float]], texts: bool = False) -> DeltaRows:
    side = np.array([m[0] for m in message], dtype=np.int8)
    price = np.array([m[1] for m in message], dtype=np.float64)
    amount = np.array([m[2] for m in message], dtype=np.float64)
    if not texts:
        return DeltaRows(side, price, amount)
    return DeltaRows(side, price, amount, [repr(m[1]) for m in message], [repr(m[2]) for m in message])


def same_arrays(a, b) -> bool:
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    return a.shape == b.shape and bool(np.all((a == b) | (np.isnan(a) & np.isnan(b))))


# ---------------------------------------------------------------- random streams vs the model

TICKS = ["0.01", "0.5", "0.00000001", "25", "0.0001"]


PLACES = ["near"] * 8 + ["far", "offgrid"]
AMOUNTS = [0.0, 0.0, 1.0, 2.5, 1e-8, 123456.75]
ROWS = st.tuples(
    st.sampled_from([BID, ASK]), st.sampled_from(PLACES), st.integers(0, 60), st.sampled_from(AMOUNTS)
)


@st.composite
def streams(draw):
    """Messages of level changes on a venue-like price grid (prices parsed from decimal text),
    mostly near the top, some far away, some off the grid; amounts often 0 (removals)."""
    tick = Decimal(draw(st.sampled_from(TICKS)))
    base = Decimal(draw(st.integers(1, 10**6))) * tick
    far = draw(st.integers(2_000, 50_000))

    def price(side: int, place: str, ticks: int) -> float:
        if place == "far":
            ticks += far
        p = base - ticks * tick if side == BID else base + (ticks + 1) * tick
        if place == "offgrid":
            p += tick / 3
        return float(str(p)) if p > 0 else float(str(tick))

    # up to 16 rows: patched into a read top; longer: a side made stale (and, without texts,
    # applied in branch-free runs)
    messages = draw(st.lists(st.lists(ROWS, max_size=draw(st.sampled_from([16, 40]))), min_size=1, max_size=12))
    return float(tick), [[(side, price(side, place, ticks), amount) for side, place, ticks, amount in m] for m in messages]


ENGINE_SHAPES = [
    pytest.param({"ladder_width": 0}, id="sorted-arrays-only"),
    pytest.param({}, id="ladder-inferred-tick"),
    pytest.param({"ladder_width": 64, "max_ladder_width": 64}, id="narrow-ladder-recentres"),
    pytest.param({"ladder_width": 64}, id="ladder-widens"),
    pytest.param({"ladder_width": 128, "tick": "exact"}, id="given-tick"),
    pytest.param({"ladder_width": 128, "tick": "coarse"}, id="too-coarse-tick"),
    pytest.param({"ladder_width": 64, "tick": "fine"}, id="too-fine-tick"),
]


def make_book(shape: dict, tick: float, **extra) -> LevelBook:
    options = dict(shape, **extra)
    factor = {"exact": 1.0, "coarse": 3.0, "fine": 0.25}.get(options.pop("tick", ""), 0.0)
    return LevelBook(tick=tick * factor, **options)


@pytest.mark.parametrize("shape", ENGINE_SHAPES)
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stream=streams(), depth=st.sampled_from([1, 5, 20]))
def test_random_streams_match_the_dict_model(shape: dict, stream, depth: int) -> None:
    tick, messages = stream
    book = make_book(shape, tick)
    model = ModelBook()
    buffer = TopBuffer(depth)  # the kept top (walked again only after a change reached it)
    wanted = []
    for message in messages:
        book.apply(rows_of(message), 0, len(message))
        for side, price, amount in message:
            model.apply(side, price, amount)
        want = model.top(depth)
        got = book.top(depth)
        assert all(same_arrays(g, w) for g, w in zip(got, want))
        assert same_arrays(book.best(), [x[0] for x in want])
        assert (book.bid_count, book.ask_count) == (len(model.sides[BID]), len(model.sides[ASK]))
        buffer.append(book)
        wanted.append(want)
    for column, got in enumerate(buffer.take()):
        assert all(same_arrays(row, want[column]) for row, want in zip(got, wanted))
    assert book.levels(BID) == model.levels(BID)
    assert book.levels(ASK) == model.levels(ASK)


@pytest.mark.parametrize("texts", [False, True], ids=["plain", "texts"])
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stream=streams())
def test_sides_in_any_order_make_the_same_book(texts: bool, stream) -> None:
    """A message whose sides alternate row by row (applied by its own loop) leaves the book,
    its kept top and its texts exactly as the same rows sent bids first, then asks (a venue's
    order, each side's rows in their own order), with a marker row among them."""
    tick, messages = stream
    mixed, blocks = (LevelBook(keep_texts=texts, tick=tick) for _ in range(2))
    kept = {id(mixed): TopBuffer(5), id(blocks): TopBuffer(5)}  # the kept top: walked again only when stale
    for message in messages:
        interleaved = [row for pair in itertools.zip_longest(
            [r for r in message if r[0] == BID], [r for r in message if r[0] == ASK]) for row in pair if row]
        ordered = sorted(interleaved, key=lambda r: -r[0])  # stable: each side keeps its order
        for book, rows in ((mixed, interleaved), (blocks, ordered)):
            rows = rows[:1] + [(0, 0.0, 0.0)] + rows[1:]
            book.apply(rows_of(rows, texts=texts), 0, len(rows))
            kept[id(book)].append(book)
        assert all(same_arrays(a, b) for a, b in zip(mixed.top(5), blocks.top(5)))
    for a, b in zip(kept[id(mixed)].take(), kept[id(blocks)].take()):
        assert all(same_arrays(x, y) for x, y in zip(a, b))
    for side in (BID, ASK):
        assert mixed.levels(side) == blocks.levels(side)
        if texts:
            assert mixed.level_texts(side) == blocks.level_texts(side)


def test_a_marker_row_in_a_mixed_message_is_no_level() -> None:
    """A marker row's level fields are not read, in a message whose sides alternate (both
    sides' rows in one run) as in one in a venue's order: a marker that carries an ask's price
    and an amount changes nothing."""
    seed = [(BID, round(100 - i * 0.01, 2), 1.0) for i in range(1, 30)]
    seed += [(ASK, round(100 + i * 0.01, 2), 1.0) for i in range(1, 30)]
    changes = [(BID, round(100 - i * 0.01, 2), 2.0) for i in range(1, 12)]
    changes += [(ASK, round(100 + i * 0.01, 2), 2.0) for i in range(1, 12)]
    interleaved = [row for pair in zip(changes[:11], changes[11:]) for row in pair]
    marker = (0, 100.05, 7.0)
    for rows in (interleaved + [marker], changes + [marker], [marker] + interleaved):
        book = LevelBook(tick=0.01)
        book.apply(rows_of(seed), 0, len(seed))
        book.apply(rows_of(rows), 0, len(rows))
        assert book.levels(ASK) == [(round(100 + i * 0.01, 2), 2.0 if i < 12 else 1.0) for i in range(1, 30)]
        assert book.levels(BID) == [(round(100 - i * 0.01, 2), 2.0 if i < 12 else 1.0) for i in range(1, 30)]


@pytest.mark.parametrize("shape", ENGINE_SHAPES[:3])
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stream=streams())
def test_texts_follow_their_levels(shape: dict, stream) -> None:
    tick, messages = stream
    book = make_book(shape, tick, keep_texts=True)
    model = ModelBook()
    for message in messages:
        book.apply(rows_of(message, texts=True), 0, len(message))
        for side, price, amount in message:
            model.apply(side, price, amount, repr(price), repr(amount))
    assert book.level_texts(BID) == model.texts(BID)
    assert book.level_texts(ASK) == model.texts(ASK)


@pytest.mark.parametrize("shape", ENGINE_SHAPES[:3])
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stream=streams(), max_levels=st.integers(1, 12))
def test_bounded_book_evicts_the_worst_levels(shape: dict, stream, max_levels: int) -> None:
    tick, messages = stream
    book = make_book(shape, tick, max_levels=max_levels)
    model = ModelBook(max_levels)
    for message in messages:
        book.apply(rows_of(message), 0, len(message))
        for side, price, amount in message:
            model.apply(side, price, amount)
        assert book.bid_count <= max_levels and book.ask_count <= max_levels
    assert book.levels(BID) == model.levels(BID)
    assert book.levels(ASK) == model.levels(ASK)


@pytest.mark.parametrize("shape", ENGINE_SHAPES[:4])
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stream=streams(), depth=st.sampled_from([1, 3, 30]), texts=st.booleans(), max_levels=st.sampled_from([4, 10_000]),
       unread=st.sets(st.integers(0, 11), max_size=6))
def test_watched_top_is_the_walked_top_after_every_message(shape: dict, stream, depth: int, texts: bool,
                                                           max_levels: int, unread: set[int]) -> None:
    """What snapshots (and OKX checksums) read, the watched top patched change by change in short
    messages (or left stale after a message nobody read it after), is what a fresh walk gives:
    at any depth (fewer levels than the checksum's 25, more), with texts or without, in a
    bounded book too."""
    tick, messages = stream
    book = make_book(shape, tick, keep_texts=texts, max_levels=max_levels)
    buffer = TopBuffer(depth)
    wanted = []
    for n, message in enumerate(messages):
        book.apply(rows_of(message, texts=texts), 0, len(message))
        if n in unread:
            continue
        buffer.append(book)
        wanted.append(book.top(depth))
        if texts:
            assert book.watched_checksum() == book.checksum()
    for column, got in enumerate(buffer.take()):
        assert all(same_arrays(row, want[column]) for row, want in zip(got, wanted))


@pytest.mark.parametrize("ladder_width", [0, 64, 1024])
def test_watched_top_follows_a_long_session_of_short_messages(ladder_width: int) -> None:
    """A deep book (far more levels than the 25 watched) changed by thousands of short messages
    near its top: removals that pull the next level up into the watched top, inserts that push
    the last one out, amount changes, changes below the watch, the odd long message. After each,
    the snapshot row and the checksum the builder would verify equal a fresh walk's."""
    rng = np.random.default_rng(7)
    book = LevelBook(keep_texts=True, tick=0.5 if ladder_width else 0.0, ladder_width=ladder_width,
                     max_ladder_width=max(ladder_width, 64))
    book.apply(rows_of([(BID, 1000.0 - 0.5 * i, 1.0 + i) for i in range(80)]
                       + [(ASK, 1000.5 + 0.5 * i, 2.0 + i) for i in range(80)], texts=True), 0, 160)
    buffer = TopBuffer(20)
    wanted = []
    for n in range(3000):
        rows = []
        for _ in range(int(rng.integers(1, 40 if n % 50 == 0 else 6))):
            side = BID if rng.random() < 0.5 else ASK
            ticks = int(rng.integers(0, 60))
            price = 1000.0 - 0.5 * ticks if side == BID else 1000.5 + 0.5 * ticks
            amount = 0.0 if rng.random() < 0.4 else float(rng.integers(1, 1000)) / 8
            rows.append((side, price, amount))
        book.apply(rows_of(rows, texts=True), 0, len(rows))
        buffer.append(book)
        wanted.append(book.top(20))
        assert book.watched_checksum() == book.checksum(), f"message {n}"
    for column, got in enumerate(buffer.take()):
        assert all(same_arrays(row, want[column]) for row, want in zip(got, wanted))


# ---------------------------------------------------------------- edges

def test_checksums_of_a_book_without_texts_are_refused() -> None:
    book = LevelBook()
    book.apply(rows_of([(BID, 1.0, 1.0)]), 0, 1)
    for checksum in (book.checksum, book.watched_checksum):
        with pytest.raises(ValueError, match="checksums need level texts: make the book with keep_texts=True"):
            checksum()


def test_levels_are_float_keys() -> None:
    book = LevelBook()
    book.apply(rows_of([(BID, 0.1 + 0.2, 1.0), (BID, 0.3, 2.0), (ASK, 0.0, 5.0)]), 0, 3)
    assert book.levels(BID) == [(0.30000000000000004, 1.0), (0.3, 2.0)]  # distinct floats, distinct levels
    book.apply(rows_of([(ASK, -0.0, 0.0), (BID, 0.3, 0.0), (BID, 7.0, 0.0)]), 0, 3)  # -0.0 is 0.0; absent: no-op
    assert book.levels(BID) == [(0.30000000000000004, 1.0)] and book.levels(ASK) == []


def test_crossed_books_are_reported() -> None:
    book = LevelBook()
    rows = rows_of([(BID, 100.0, 1.0), (ASK, 101.0, 1.0), (BID, 101.0, 1.0), (BID, 101.0, 0.0)])
    best = np.empty((3, 4))
    crossed = book.apply_messages(rows, np.array([0, 2, 3, 4], dtype=np.int64), best)
    assert crossed == 1
    assert same_arrays(best[1], [101.0, 1.0, 101.0, 1.0]) and same_arrays(best[2], [100.0, 1.0, 101.0, 1.0])
    assert not book.is_crossed()


def test_empty_book_reads_nan() -> None:
    book = LevelBook()
    assert all(math.isnan(x) for x in book.best())
    assert math.isnan(book.best_bid) and math.isnan(book.best_ask) and not book.is_crossed()


def test_invalid_rows_are_found_before_applying() -> None:
    ok = (BID, 1.0, 1.0)
    for bad in [(BID, math.nan, 1.0), (ASK, math.inf, 1.0), (BID, 1.0, -1.0), (BID, 1.0, math.nan), (3, 1.0, 1.0)]:
        assert rows_of([ok, bad]).first_invalid(0, 2) == 1
    assert rows_of([ok, (0, math.nan, math.nan)]).first_invalid(0, 2) == -1  # a marker row
    rows = DeltaRows(np.array([1], np.int8), [1.0], [1.0], [1], ["1"])
    assert rows.first_invalid(0, 1) == 0  # texts must be str


def test_bad_arguments_raise_clear_errors() -> None:
    with pytest.raises(ValueError, match="same length"):
        DeltaRows(np.array([1, 1], np.int8), [1.0], [1.0])
    with pytest.raises(ValueError, match="both"):
        DeltaRows(np.array([1], np.int8), [1.0], [1.0], ["1"])
    with pytest.raises(IndexError):
        LevelBook().apply(rows_of([(BID, 1.0, 1.0)]), 0, 2)
    with pytest.raises(ValueError, match="texts"):
        LevelBook(keep_texts=True).apply(rows_of([(BID, 1.0, 1.0)]), 0, 1)
    with pytest.raises(ValueError, match="checksum"):
        LevelBook().checksum()
    with pytest.raises(ValueError, match="multiple of 64"):
        LevelBook(ladder_width=100)
    with pytest.raises(ValueError, match="max_ladder_width"):
        LevelBook(ladder_width=128, max_ladder_width=64)
    with pytest.raises(ValueError, match="max_levels"):
        LevelBook(max_levels=0)
    with pytest.raises(ValueError, match="depth"):
        TopBuffer(0)


def test_top_buffer_grows_and_pads_with_nan() -> None:
    book = LevelBook()
    book.apply(rows_of([(BID, 10.0, 1.0), (ASK, 11.0, 2.0), (ASK, 12.0, 3.0)]), 0, 3)
    buffer = TopBuffer(3, capacity=16)
    for _ in range(40):
        buffer.append(book)
    bid_price, bid_amount, ask_price, ask_amount = buffer.take()
    assert bid_price.shape == (40, 3) and buffer.n == 0
    assert same_arrays(bid_price[39], [10.0, math.nan, math.nan])
    assert same_arrays(ask_amount[0], [2.0, 3.0, math.nan])


def test_top_buffer_rows_handed_out_stay_as_taken() -> None:
    """take hands out its buffer itself: rows still held are never written again; a buffer
    nobody holds any more is refilled."""
    book = LevelBook()
    book.apply(rows_of([(BID, 10.0, 1.0), (ASK, 11.0, 2.0)]), 0, 2)
    buffer = TopBuffer(2, capacity=16)
    buffer.append(book)
    held = buffer.take()
    for old, price in ((10.0, 9.0), (9.0, 8.0), (8.0, 7.0)):
        book.apply(rows_of([(BID, old, 0.0), (BID, price, 1.0)]), 0, 2)
        buffer.append(book)
        buffer.take()  # dropped at once: its buffer may be refilled
    assert same_arrays(held[0][0], [10.0, math.nan]) and same_arrays(held[2][0], [11.0, math.nan])
    buffer.append(book)
    assert same_arrays(buffer.take()[0][0], [7.0, math.nan])



def test_top_buffer_rows_taken_pin_at_most_twice_their_size() -> None:
    """A few rows taken after a burst grew the buffer are not views of the large buffer."""
    book = LevelBook()
    book.apply(rows_of([(BID, 10.0, 1.0), (ASK, 11.0, 2.0)]), 0, 2)
    buffer = TopBuffer(5, capacity=16)
    for rows in (5000, 3, 2600, 1):
        for _ in range(rows):
            buffer.append(book)
        taken = buffer.take()
        for column in taken:
            assert column.shape == (rows, 5)
            assert same_arrays(column[-1], column[0])
            owner = column.base if column.base is not None else column
            while owner.base is not None:
                owner = owner.base
            assert owner.nbytes <= 2 * 4 * column.nbytes, (rows, owner.nbytes, column.nbytes)
        assert same_arrays(taken[0][0], [10.0] + [math.nan] * 4)

def test_ladder_follows_a_moving_market() -> None:
    """A market that walks far up then down keeps every level exact through re-centres."""
    book = LevelBook(tick=0.5, ladder_width=64, max_ladder_width=64)
    model = ModelBook()
    for step in list(range(0, 400, 7)) + list(range(400, -200, -9)):
        message = [(BID, 1000.0 + step * 0.5, 1.0), (ASK, 1000.5 + step * 0.5, 1.0),
                   (BID, 1000.0 + (step - 3) * 0.5, 0.0), (ASK, 1000.5 + (step + 200) * 0.5, 2.0)]
        book.apply(rows_of(message), 0, len(message))
        for row in message:
            model.apply(*row)
        assert same_arrays(book.top(10)[0], model.top(10)[0])
    assert book.levels(ASK) == model.levels(ASK) and book.levels(BID) == model.levels(BID)
    storage = book.storage()
    assert storage["bids"]["ladder"] > 0 and storage["asks"]["ladder"] > 0


def test_ladder_widens_while_levels_crowd_the_far_store() -> None:
    """A sparse book (one level every 7 ticks) moves into a wider ladder, up to its bound."""
    book = LevelBook(tick=1.0, ladder_width=64, max_ladder_width=1024)
    message = [(BID, 100_000.0 - 7 * i, 1.0) for i in range(500)]
    widths = []
    for _ in range(6):  # one step per message
        book.apply(rows_of(message), 0, len(message))
        widths.append(book.storage()["bids"]["width"])
    assert widths == [128, 256, 512, 1024, 1024, 1024]
    assert book.storage()["bids"]["ladder"] > 100
    assert book.levels(BID) == sorted(((p, a) for _, p, a in message), reverse=True)



@pytest.mark.parametrize("tick", [1 / 3, 0.1 + 0.2, math.pi / 100], ids=["third", "near-decimal", "irrational"])
def test_a_tick_that_is_no_decimal_keeps_the_book_exact(tick: float) -> None:
    """A tick that no power of ten makes whole (1/3, pi/100: grid keys a parsed price rarely
    equals, so the levels live in the far store), one that is only near a decimal (0.1 + 0.2,
    taken as 3/10), or one inferred from such prices: the book stays exactly the dict model
    through removals and a market that moves."""
    rng = np.random.default_rng(11)
    for given in (tick, 0.0):
        book, model = LevelBook(tick=given, ladder_width=64, max_ladder_width=256), ModelBook()
        for step in range(300):
            mid = 1000 + 40 * math.sin(step / 30)
            message = []
            for _ in range(8):
                side = BID if rng.random() < 0.5 else ASK
                k = round(mid / tick) + (-1 if side == BID else 1) * int(rng.integers(1, 60))
                price = float(f"{k * tick:.12g}")  # as a venue would print it
                message.append((side, price, 0.0 if rng.random() < 0.3 else float(rng.integers(1, 9))))
            book.apply(rows_of(message), 0, len(message))
            for side, price, amount in message:
                model.apply(side, price, amount)
        assert book.levels(BID) == model.levels(BID) and book.levels(ASK) == model.levels(ASK)
        assert all(same_arrays(a, b) for a, b in zip(book.top(10), model.top(10)))

def test_a_dense_book_widens_until_its_far_store_is_small() -> None:
    """A book with a level on every tick widens while more than a fifth as many levels wait in
    the far store as sit in the ladder: 6,000 levels end in one 8,192-slot ladder, none left
    outside (a rule that waits for the far store to outgrow the ladder stops at 4,096 slots
    with ~2,400 levels outside)."""
    book = LevelBook(tick=1.0, ladder_width=1024, max_ladder_width=65536)
    message = [(BID, 100_000.0 - i, 1.0) for i in range(6000)]
    for _ in range(4):  # one step per message
        book.apply(rows_of(message), 0, len(message))
    storage = book.storage()["bids"]
    assert (storage["width"], storage["far"]) == (8192, 0)
    assert book.levels(BID) == sorted(((p, a) for _, p, a in message), reverse=True)


def test_a_sparse_book_widens_only_within_its_memory_bound() -> None:
    """The ladder grows only while it stays within 128 bytes per level the side holds: 300
    levels 50 ticks apart with their texts (40 bytes a slot) stop at 512 slots, however many
    of them wait in the far store, instead of widening to the bound."""
    book = LevelBook(keep_texts=True, tick=1.0, ladder_width=64, max_ladder_width=65536)
    message = [(BID, 100_000.0 - 50 * i, 1.0) for i in range(300)]
    for _ in range(8):
        book.apply(rows_of(message, texts=True), 0, len(message))
    storage = book.storage()["bids"]
    assert storage["width"] == 512 and storage["far"] > storage["ladder"]
    assert storage["width"] * 40 <= 128 * 300
    assert book.levels(BID) == sorted(((p, a) for _, p, a in message), reverse=True)

def test_the_ladder_holds_grid_prices_and_the_far_store_the_rest() -> None:
    """A ladder slot keeps no key: only the float a price on the tick grid parses to lives
    there; off-grid prices inside the window and float-arithmetic near-misses go to the far
    store, and every level stays exact."""
    book = LevelBook(tick=0.1, ladder_width=1024)
    model = ModelBook()
    grid = [float(f"{1 + k / 10:.1f}") for k in range(40)]  # 1.0, 1.1, ...: parsed decimals
    near_misses = list(itertools.accumulate([1.0] + [0.1] * 39))  # 1.2000000000000002 and the like
    off_grid = [p + 0.05 for p in grid[:10]]
    wanted_far = sum(1 for p in near_misses if p not in grid) + len(off_grid)
    alone = LevelBook(tick=0.1, ladder_width=1024)  # near-misses alone: still not in the ladder
    alone.apply(rows_of([(BID, p, 1.0) for p in near_misses]), 0, len(near_misses))
    assert alone.storage()["bids"]["ladder"] == len(near_misses) - sum(1 for p in near_misses if p not in grid)
    assert alone.levels(BID) == [(p, 1.0) for p in sorted(near_misses, reverse=True)]
    message = [(BID, p, 1.0) for p in grid] + [(BID, p, 2.0) for p in near_misses + off_grid]
    book.apply(rows_of(message), 0, len(message))
    for row in message:
        model.apply(*row)
    assert book.levels(BID) == model.levels(BID)
    storage = book.storage()["bids"]
    assert storage["ladder"] == len(grid) and storage["far"] == wanted_far > 10
    assert storage["far_in_window"] == wanted_far
    removals = [(BID, p, 0.0) for p in grid[::2] + near_misses[1::2] + off_grid[::3]]
    book.apply(rows_of(removals), 0, len(removals))
    for row in removals:
        model.apply(*row)
    assert book.levels(BID) == model.levels(BID)
    assert same_arrays(book.top(5)[0], model.top(5)[0])


def test_far_store_takes_changes_at_both_ends_and_in_between() -> None:
    """Thousands of levels below a narrow ladder: levels come and go at the deep end, next to
    the window and in the middle (each change moves the shorter run of levels); every level
    stays exact and the store's arrays stay within a small multiple of its levels."""
    book = LevelBook(tick=1.0, ladder_width=64, max_ladder_width=64)
    model = ModelBook()
    rng = np.random.default_rng(7)
    top = 1_000_000.0
    seed = [(BID, top, 1.0)] + [(BID, top - 100 - 2 * i, 1.0) for i in range(3000)]
    book.apply(rows_of(seed), 0, len(seed))
    for row in seed:
        model.apply(*row)
    peak = len(seed)
    for step in range(300):
        deep = min(model.sides[BID])
        near = max(p for p in model.sides[BID] if p < top - 64)
        middle = top - 100 - 2 * float(rng.integers(0, 3000))
        message = [(BID, deep - 1 - step % 3, 1.0), (BID, near + 1, 2.0), (BID, middle + 1, 3.0),
                   (BID, deep, 0.0) if step % 2 else (BID, near, 0.0), (BID, middle, 0.0)]
        book.apply(rows_of(message), 0, len(message))
        for row in message:
            model.apply(*row)
        peak = max(peak, len(model.sides[BID]))
        if step % 50 == 0:
            assert book.levels(BID) == model.levels(BID)
    assert book.levels(BID) == model.levels(BID)
    storage = book.storage()["bids"]
    assert storage["far"] == len(model.sides[BID]) - storage["ladder"]
    assert storage["far"] <= storage["far_capacity"] <= 4 * peak
    book.clear()
    assert book.levels(BID) == [] and book.storage()["bids"]["far"] == 0


# ---------------------------------------------------------------- checksums

@given(st.binary(max_size=2000))
def test_crc32_is_zlibs_as_signed_int32(data: bytes) -> None:
    assert crc32_signed(data) == int(np.uint32(zlib.crc32(data)).astype(np.int32))


@pytest.fixture
def table_crc():
    """The slicing-by-8 CRC forced for the test (the carry-less one restored after)."""
    before = crc32_implementation("table")
    yield
    crc32_implementation(before)


def zlib_signed(data: bytes) -> int:
    return int(np.uint32(zlib.crc32(data)).astype(np.int32))


def test_crc32_implementations_agree_on_every_length(table_crc) -> None:
    """Every CRC this CPU runs equals zlib's on random bytes of every length 0..600 (the
    carry-less ones take whole 16-byte blocks from 64 bytes on, folded 64 bytes at a time,
    the table the tail), at every alignment."""
    rng = np.random.default_rng(7)
    data = rng.integers(0, 256, 600 + 16, dtype=np.uint8).tobytes()
    for length in range(601):
        for offset in (0, 1, 7, 15):
            chunk = data[offset : offset + length]
            want = zlib_signed(chunk)
            for name in crc32_implementations():
                crc32_implementation(name)
                assert crc32_signed(chunk) == want, (name, length, offset)


def test_crc32_implementation_switch() -> None:
    """The fastest CRC the CPU runs is the one in use; any it runs can be switched to, and
    one it does not (or no such name) is refused with an error naming what it has."""
    available = crc32_implementations()
    in_use = crc32_implementation()
    assert available[0] == "table" and in_use == available[-1]
    assert set(available) <= {"table", "clmul", "vpclmul"}
    assert crc32_implementation("table") == in_use
    assert crc32_implementation() == "table"
    crc32_implementation(in_use)
    with pytest.raises(ValueError, match="one of table, clmul, vpclmul"):
        crc32_implementation("crc")
    missing = [name for name in ("clmul", "vpclmul") if name not in available]
    for name in missing:
        with pytest.raises(ValueError, match=f"cannot run the {name} CRC32: it has"):
            crc32_implementation(name)
    assert crc32_implementation() == in_use


def test_okx_checksum_interleaves_texts_and_leaves_out_a_short_side() -> None:
    book = LevelBook(keep_texts=True)
    message = [(BID, 3366.1, 7.0), (BID, 3366.0, 6.0), (BID, 3365.5, 1.0), (ASK, 3366.8, 9.0)]
    texts = ["3366.1", "3366", "3365.5", "3366.8"], ["7", "6", "1", "9"]
    side, price, amount = zip(*message)
    book.apply(DeltaRows(np.array(side, np.int8), price, amount, *texts), 0, 4)
    expected = "3366.1:7:3366.8:9:3366:6:3365.5:1"
    assert book.checksum() == int(np.uint32(zlib.crc32(expected.encode())).astype(np.int32))
    # the latest texts count: the same level re-sent with other texts
    book.apply(DeltaRows(np.array([1], np.int8), [3366.0], [6.0], ["3366.0"], ["6.00"]), 0, 1)
    expected = "3366.1:7:3366.8:9:3366.0:6.00:3365.5:1"
    assert book.checksum() == int(np.uint32(zlib.crc32(expected.encode())).astype(np.int32))
    assert book.checksum(1) == int(np.uint32(zlib.crc32(b"3366.1:7:3366.8:9")).astype(np.int32))


@pytest.mark.parametrize("ladder_width", [0, 1024], ids=["far-store", "ladder"])
def test_texts_of_every_inline_length_are_kept_byte_for_byte(ladder_width: int) -> None:
    """Every split of a slot's 30 bytes between price and amount text (1 to 28 bytes each,
    distinct bytes throughout) is read back and checksummed exactly, in the ladder and in the
    far store."""
    pairs = [(p, a) for p in range(1, 29) for a in range(1, 30 - p)]
    alphabet = "0123456789.abcdefghijklmnopqrstuvwxyz"
    for k, (p, a) in enumerate(pairs):
        book = LevelBook(keep_texts=True, tick=1.0 if ladder_width else 0.0, ladder_width=ladder_width,
                         max_ladder_width=max(ladder_width, 64))
        price_text = (alphabet[k % 7:] * 2)[:p]
        amount_text = (alphabet[::-1][k % 5:] * 2)[:a]
        book.apply(DeltaRows(np.array([BID, ASK], np.int8), [100.0, 101.0], [1.0, 2.0],
                             [price_text, amount_text], [amount_text, price_text]), 0, 2)
        assert book.level_texts(BID) == [(price_text, amount_text)]
        assert book.level_texts(ASK) == [(amount_text, price_text)]
        expected = f"{price_text}:{amount_text}:{amount_text}:{price_text}"
        assert book.checksum() == int(np.uint32(zlib.crc32(expected.encode())).astype(np.int32))


def test_texts_are_held_inline_or_on_the_heap_and_follow_their_levels() -> None:
    """A book keeps copies of the texts (no reference to the given str); a ``price:amount``
    longer than a slot (30 bytes) is kept on the heap: it is read back, replaced, removed and
    cleared like an inline one, in the ladder and in the far store, and checksummed alike."""
    import sys
    import tracemalloc

    long_price, long_amount = "10.5" + "0" * 40, "1.0" + "0" * 30
    texts = ["".join(["1", str(i), ".5"]) for i in range(6)]  # fresh str objects
    before = [sys.getrefcount(t) for t in texts]
    tracemalloc.start()
    try:
        for ladder_width in (0, 64):
            book = LevelBook(keep_texts=True, tick=1.0 if ladder_width else 0.0, ladder_width=ladder_width,
                             max_ladder_width=max(ladder_width, 64))
            prices = [10.5, 11.5, 12.5, 5000.5]
            book.apply(DeltaRows(np.array([1, 1, 1, 1], np.int8), prices, [1.0] * 4, texts[:4], texts[:4]), 0, 4)
            assert [sys.getrefcount(t) for t in texts] == before
            base = tracemalloc.get_traced_memory()[0]
            for _ in range(50):  # heap texts replaced, removed, set again: nothing accumulates
                book.apply(DeltaRows(np.array([1, 1], np.int8), [10.5, 5000.5], [1.0, 2.0],
                                     [long_price, long_price], [long_amount, "2"]), 0, 2)
                assert book.level_texts(BID)[0] == (long_price, "2")
                assert book.level_texts(BID)[-1] == (long_price, long_amount)
                expected = f"{long_price}:2:12.5:12.5:11.5:11.5:{long_price}:{long_amount}"
                assert book.checksum() == int(np.uint32(zlib.crc32(expected.encode())).astype(np.int32))
                book.apply(DeltaRows(np.array([1, 1], np.int8), [10.5, 5000.5], [0.0, 3.0],
                                     ["10.5", "5000.5"], ["0", "3"]), 0, 2)
                assert book.level_texts(BID)[0] == ("5000.5", "3")
            assert tracemalloc.get_traced_memory()[0] - base < 4096
            book.apply(DeltaRows(np.array([1], np.int8), [10.5], [1.0], [long_price], [long_amount]), 0, 1)
            book.clear()
            book.apply(DeltaRows(np.array([-1], np.int8), [20.5], [1.0], [texts[0]], [texts[1]]), 0, 1)
            assert book.level_texts(ASK) == [(texts[0], texts[1])]
            del book
    finally:
        tracemalloc.stop()
    assert [sys.getrefcount(t) for t in texts] == before


def test_a_checksum_over_a_negative_number_of_levels_is_refused() -> None:
    book = LevelBook(keep_texts=True)
    book.apply(DeltaRows(np.array([1, -1], np.int8), [1.5, 2.5], [1.0, 2.0], ["1.5", "2.5"], ["1", "2"]), 0, 2)
    assert book.checksum(1) == book.checksum(25) == int(np.uint32(zlib.crc32(b"1.5:1:2.5:2")).astype(np.int32))
    assert book.checksum(0) == 0
    with pytest.raises(ValueError, match="levels must be >= 0"):
        book.checksum(-1)


def model_first_invalid(side, price, amount) -> int:
    """The first row that is not a valid level change (side 0: a marker row, always valid)."""
    for i, (s, p, a) in enumerate(zip(side, price, amount)):
        if s != 0 and (s not in (1, -1) or not math.isfinite(p) or not (math.isfinite(a) and a >= 0.0)):
            return i
    return -1


@pytest.fixture
def every_rows_scan():
    """The row scan implementations this CPU runs (the one in use restored after)."""
    before = rows_scan_implementation()
    yield rows_scan_implementations()
    rows_scan_implementation(before)


def test_rows_scan_implementations_find_the_same_invalid_row(every_rows_scan) -> None:
    """Every row scan this CPU runs finds the model's first invalid row, or none, in ranges of
    every length 0..40 at every offset into the batch (the vector ones take 4 or 8 rows a step
    and the tail apart), whatever row is bad and however it is bad; in a valid range, the
    same count of side changes."""
    rng = np.random.default_rng(11)
    n = 64
    bad_values = [(BID, math.nan, 1.0), (ASK, math.inf, 1.0), (ASK, -math.inf, 1.0), (BID, 1.0, -1.0),
                  (BID, 1.0, math.nan), (ASK, 1.0, math.inf), (2, 1.0, 1.0), (-3, 1.0, 1.0)]
    for trial in range(300):
        side = rng.choice(np.array([BID, ASK, 0], dtype=np.int8), n, p=[0.45, 0.45, 0.1])
        price = rng.uniform(1.0, 100.0, n)
        amount = rng.choice([0.0, 1.5, 2.0], n)
        price[side == 0] = math.nan  # a marker row's level fields are not read
        if trial % 3:
            for at in rng.integers(0, n, rng.integers(1, 3)):
                side[at], price[at], amount[at] = bad_values[rng.integers(len(bad_values))]
        rows = DeltaRows(side, price, amount)
        for start in (0, 1, 5, 13):
            for stop in range(start, min(n, start + 41)):
                want = model_first_invalid(side[start:stop], price[start:stop], amount[start:stop])
                got, turns = {}, {}
                for name in every_rows_scan:
                    rows_scan_implementation(name)
                    got[name] = rows.first_invalid(start, stop)
                    turns[name] = rows.checked_turns
                assert set(got.values()) == {-1 if want < 0 else start + want}, (trial, start, stop, got)
                if want < 0:  # a valid range: its side changes counted, the row before it as side 0
                    sides = [0, *side[start:stop].tolist()]
                    want_turns = sum(a != b for a, b in zip(sides, sides[1:]))
                    assert set(turns.values()) == {want_turns}, (trial, start, stop, turns)


def test_rows_scan_implementation_switch() -> None:
    """The fastest row scan the CPU runs is the one in use; one it does not run (or no such
    name) is refused with an error naming what it has."""
    available = rows_scan_implementations()
    in_use = rows_scan_implementation()
    assert available[0] == "scalar" and in_use == available[-1] and set(available) <= {"scalar", "avx2", "avx512"}
    assert rows_scan_implementation("scalar") == in_use
    assert rows_scan_implementation(in_use) == "scalar"
    with pytest.raises(ValueError, match="row scan implementation is one of scalar, avx2, avx512, got 'sse'"):
        rows_scan_implementation("sse")
    if "avx512" not in available:
        with pytest.raises(ValueError, match=f"cannot run the avx512 row scan: it has {', '.join(available)}$"):
            rows_scan_implementation("avx512")
    assert rows_scan_implementation() == in_use
