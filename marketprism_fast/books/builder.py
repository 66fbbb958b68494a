"""BookBuilder: book_delta batches in, maintained books and book_snapshot batches out.

    builder = BookBuilder(venue, instruments, depth=20, every_update=True)   # or interval_ns=T
    builder.apply(batch)          # book_delta rows in stream order (REST snapshot rows: is_snapshot=1)
    builder.take()                # [book_snapshot batch (+ quote batch with quotes=True)]
    builder.stats()               # gaps per symbol, checksum failures, crossed, applied, dropped, ...

Per message, the venue's sync rule decides; levels are applied by the compiled engine, OKX
checksums verified, and the top ``depth`` levels emitted after every applied message (or at
most once per ``interval_ns`` of receive time per symbol). All of that runs in the compiled
``BookCore`` without a Python object per message; this class carries out only the rare
events the core hands back (a new symbol, an invalid level, buffering and seeding around a
Binance REST snapshot, a gap, a checksum mismatch). An emitted row's ``frame`` is the frame of the batch row being processed
when it was emitted: events replayed after a REST snapshot carry the snapshot's frame, and
their own times and ids. Symbols are keyed by their raw (venue) symbol throughout.

A gap (or an OKX checksum failure, or a message with an invalid level) clears that symbol's
book, counts it, logs it once and marks the symbol out of sync (``needs_snapshot``,
``out_of_sync``) until its next snapshot; other symbols are untouched. Binance events of an
unsynced symbol wait (at most ``max_pending`` per symbol, oldest dropped first) for the REST
snapshot that they are replayed against. With a ``SnapshotScheduler``, every symbol that needs
a snapshot (a Binance symbol seen before its first one, any symbol after a gap) is queued
there once, and a snapshot that arrives cancels its request.
"""

from __future__ import annotations

import numpy as np

from .._book import (
    CARRY_CHECKSUM_FAILED,
    CARRY_DONE,
    DEFAULT_LADDER_WIDTH,
    DEFAULT_MAX_LADDER_WIDTH,
    DEFAULT_MAX_LEVELS,
    RUN_CHECKSUM,
    RUN_NEW_SYMBOL,
    BookCore,
    DeltaRows,
    LevelBook,
    SymbolBook,
)
from ..limits import DEFAULT_MAX_BOOKS
from ..batch import Batch
from ..errors import ConfigurationError, InputError, SequenceGap
from ..instruments import InstrumentRegistry
from ..log import logger
from ..records import INSTRUMENT_COLUMNS
from .messages import Message
from .output import Instrument, InstrumentTable, quote_batch, snapshot_batch
from .scheduler import SnapshotScheduler
from .sync import Action, Phase, rule_for

DEFAULT_MAX_PENDING = 10_000


class BookBuilder:
    def __init__(
        self,
        venue: str,
        instruments: InstrumentRegistry | None = None,
        *,
        depth: int = 20,
        every_update: bool | None = None,
        interval_ns: int | None = None,
        quotes: bool = False,
        max_levels: int = DEFAULT_MAX_LEVELS,
        ladder_width: int = DEFAULT_LADDER_WIDTH,
        max_ladder_width: int = DEFAULT_MAX_LADDER_WIDTH,
        max_pending: int = DEFAULT_MAX_PENDING,
        scheduler: SnapshotScheduler | None = None,
        max_books: int = DEFAULT_MAX_BOOKS,
    ) -> None:
        if not 1 <= depth <= 65535:
            raise ConfigurationError(f"book depth must be between 1 and 65535, got {depth}", field="depth")
        if interval_ns is not None:
            if every_update:
                raise ConfigurationError("give either every_update=True or interval_ns, not both", field="interval_ns")
            if interval_ns <= 0:
                raise ConfigurationError(f"interval_ns must be > 0, got {interval_ns}", field="interval_ns")
        if max_pending < 0:
            raise ConfigurationError(f"max_pending must be >= 0, got {max_pending}", field="max_pending")
        if max_books < 1:
            raise ConfigurationError(f"max_books must be >= 1, got {max_books}", field="max_books")
        # At most max_books symbols get a book (limits.py): a message of one more is dropped,
        # counted in books_refused and logged (the first time, then every 1000th).
        self.max_books = max_books
        self.venue = venue
        self.rule = rule_for(venue)
        self.instruments = instruments
        self.depth = depth
        # every update unless an interval is given; every_update=False without one: no snapshots
        self.every_update = interval_ns is None and every_update is not False
        self.interval_ns = interval_ns
        self.max_levels = max_levels
        self.ladder_width = ladder_width
        self.max_ladder_width = max_ladder_width
        self.max_pending = max_pending
        self._core = BookCore(venue, depth, self.every_update, interval_ns or 0, quotes)
        self._core.scheduler = scheduler
        self._books: dict[str, SymbolBook] = {}
        self._instrument_table = InstrumentTable(instruments)
        self._code_space: object = None  # what the instrument codes of the bound batches index
        self._local_codes: dict[str, int] = {}  # raw symbol -> code, for batches without codes
        self._gaps: dict[str, int] = {}
        self.last_gap: dict[str, SequenceGap] = {}
        self._counts = dict.fromkeys(
            ("buffered", "pending_overflow", "checksum_failures", "invalid_messages", "books_refused"), 0
        )

    @property
    def scheduler(self) -> SnapshotScheduler | None:
        return self._core.scheduler

    @scheduler.setter
    def scheduler(self, scheduler: SnapshotScheduler | None) -> None:
        self._core.scheduler = scheduler

    # ------------------------------------------------------------------ public surface

    def apply(self, batch: Batch) -> None:
        """Apply a book_delta batch whose rows are in stream order."""
        if batch.kind.name != "book_delta":
            raise InputError(f"the book builder takes book_delta batches, got {batch.kind.name}")
        if not len(batch):
            return
        core = self._core
        self._bind(batch)
        try:
            row = core.run(0)
            while row >= 0:
                entry = self._books.get(self._raw_symbol(batch, row))
                if core.stop_reason == RUN_NEW_SYMBOL:
                    if entry is None and len(self._books) >= self.max_books:
                        self._refuse_book(self._raw_symbol(batch, row))
                        row = core.run(core.stop_end)  # the message is dropped, no book is made
                        continue
                    entry = entry or self._add_symbol(batch, row)
                    core.bind_code(core.stop_code, entry)
                    row = core.run(row)
                    continue
                message = self._message(batch, row, core.stop_end)
                if core.stop_reason == RUN_CHECKSUM:
                    self._checksum_failed(entry, message)
                else:
                    self._handle(entry, message, message.frame)
                row = core.run(core.stop_end)
        finally:
            core.release()

    def _refuse_book(self, raw_symbol: str) -> None:
        self._counts["books_refused"] += 1
        if self._counts["books_refused"] % 1000 == 1:
            logger.warning(
                "%s: book limit max_books=%d reached: message of new symbol %r dropped (%d dropped so far)",
                self.venue, self.max_books, raw_symbol[:64], self._counts["books_refused"],
            )

    def take(self) -> list[Batch]:
        """The rows emitted since the last take: [book_snapshot] (+ [quote]); empty kinds left out."""
        out = []
        if self._core.pending_snapshots:
            out.append(snapshot_batch(self.venue, self.depth, self._core.take_snapshots(), self._instrument_table))
        if self._core.pending_quotes:
            out.append(quote_batch(self.venue, self._core.take_quotes(), self._instrument_table))
        return out

    def stats(self) -> dict:
        core = self._core
        return dict(
            applied=core.applied,
            dropped=core.dropped,
            buffered=self._counts["buffered"],
            pending_overflow=self._counts["pending_overflow"],
            snapshots_ignored=core.snapshots_ignored,
            checksum_failures=self._counts["checksum_failures"],
            crossed=core.crossed,
            invalid_messages=self._counts["invalid_messages"],
            books_refused=self._counts["books_refused"],
            emitted=core.emitted,
            gaps=dict(self._gaps),
            pending=sum(len(b.pending) for b in self._books.values()),
            evicted=sum(b.book.evicted for b in self._books.values()),
            out_of_sync=sorted(self.out_of_sync),
            symbols=len(self._books),
        )

    def book(self, raw_symbol: str) -> LevelBook | None:
        entry = self._books.get(raw_symbol)
        return entry.book if entry is not None else None

    def needs_snapshot(self, raw_symbol: str) -> bool:
        """True while the symbol has no usable book and waits for a snapshot (also before its first)."""
        entry = self._books.get(raw_symbol)
        return entry is None or entry.phase == Phase.WAITING

    @property
    def out_of_sync(self) -> set[str]:
        """Symbols seen so far that wait for a snapshot."""
        return {symbol for symbol, b in self._books.items() if b.phase == Phase.WAITING}

    # ------------------------------------------------------------------ the bound batch

    def _bind(self, batch: Batch) -> None:
        storage = batch.storage
        codes = storage.get("instrument")
        if codes is not None:
            space = batch.instruments
        else:  # a batch of contract columns: codes of its raw symbols, local to this builder
            space = self._local_codes
            local = self._local_codes
            codes = np.fromiter(
                (local.setdefault(s, len(local)) for s in _column(batch, "raw_symbol").tolist()), np.uint32, len(batch)
            )
        if space is not self._code_space:
            self._core.forget_codes()
            self._code_space = space
        if not self.rule.checksums:
            rows = DeltaRows(_column(batch, "side"), _column(batch, "price"), _column(batch, "amount"))
        elif "price_text_off" in storage and batch.arena is not None:
            # the texts stay in the batch's arena: the engine copies a level's bytes into its slot
            rows = DeltaRows.from_arena(
                _column(batch, "side"), _column(batch, "price"), _column(batch, "amount"), batch.arena,
                storage["price_text_off"], storage["price_text_len"],
                storage["amount_text_off"], storage["amount_text_len"],
            )
        else:
            rows = DeltaRows(
                _column(batch, "side"), _column(batch, "price"), _column(batch, "amount"),
                _column(batch, "price_text"), _column(batch, "amount_text"),
            )
        self._core.bind(
            rows, codes, _column(batch, "frame"),
            *(_column(batch, name) for name in (
                "first_update_id", "update_id", "prev_update_id", "is_snapshot", "checksum", "ts_event", "ts_recv"
            )),
        )

    @staticmethod
    def _raw_symbol(batch: Batch, row: int) -> str:
        return str(_column(batch, "raw_symbol")[row])

    def _message(self, batch: Batch, start: int, stop: int) -> Message:
        first_id, last_id, prev_id, is_snapshot, checksum, ts_event, ts_recv, frame = self._core.message(start)
        return Message(
            self._core.rows, start, stop, self._raw_symbol(batch, start), first_id, last_id, prev_id, is_snapshot,
            checksum, ts_event, ts_recv, frame, start,
        )

    # ------------------------------------------------------------------ rare events

    def _add_symbol(self, batch: Batch, row: int) -> SymbolBook:
        raw_symbol = self._raw_symbol(batch, row)
        index = self._instrument_table.add(*self._instrument_of(raw_symbol, batch, row))
        entry = SymbolBook(
            LevelBook(self.max_levels, self.rule.checksums, 0.0, self.ladder_width, self.max_ladder_width),
            raw_symbol,
            index,
        )
        self._books[raw_symbol] = entry
        is_snapshot = bool(_column(batch, "is_snapshot")[row])
        if self.rule.rest_snapshots and not is_snapshot and self.scheduler is not None:
            self.scheduler.request(raw_symbol)
        return entry

    def _instrument_of(self, raw_symbol: str, batch: Batch, row: int) -> tuple[Instrument, int | None]:
        """The symbol's contract texts, and its code in the builder's registry (None: not there)."""
        code = self.instruments.code_of(raw_symbol) if self.instruments is not None else None
        if code is not None:
            i = self.instruments[code]
            return (i.exchange, i.market, i.symbol, i.raw_symbol), code
        return tuple(str(batch.column(name)[row]) for name in INSTRUMENT_COLUMNS), None

    def _handle(self, entry: SymbolBook, message: Message, frame: int) -> None:
        bad = message.rows.first_invalid(message.start, message.stop)
        if bad >= 0:
            self._counts["invalid_messages"] += 1
            logger.warning(
                "%s %s: book message at frame %d has an invalid level (row %d); book cleared until its next snapshot",
                self.venue, message.raw_symbol, message.frame, bad,
            )
            self._lose(entry, message, replayable=False)
            return
        done = self._core.carry(
            entry, message.rows, message.start, message.stop, message.is_snapshot, message.first_id,
            message.last_id, message.prev_id, message.checksum, message.ts_event, message.ts_recv, frame,
        )
        if done == CARRY_DONE:
            return
        if done == CARRY_CHECKSUM_FAILED:
            self._checksum_failed(entry, message)
        elif done == Action.SEED:
            entry.book.clear()
            entry.book.apply(message.rows, message.start, message.stop)
            entry.phase, entry.last_id = Phase.SEEDED, message.last_id
            if self.scheduler is not None:
                self.scheduler.cancel(message.raw_symbol)
            replay, entry.pending = entry.pending, []
            self._counts["buffered"] -= len(replay)
            for event in replay:
                self._handle(entry, event, frame)
        elif done == Action.BUFFER:
            self._buffer(entry, message)
        else:
            self._gap(entry, message)

    def _buffer(self, entry: SymbolBook, message: Message) -> None:
        if len(entry.pending) >= self.max_pending:
            if not entry.pending:
                self._counts["pending_overflow"] += 1
                return
            entry.pending.pop(0)
            self._counts["pending_overflow"] += 1
            self._counts["buffered"] -= 1
        entry.pending.append(message.detached())
        self._counts["buffered"] += 1

    def _gap(self, entry: SymbolBook, message: Message) -> None:
        expected, got = self.rule.continuity(entry.phase, entry.last_id, message.first_id, message.prev_id)
        symbol = message.raw_symbol
        self._gaps[symbol] = self._gaps.get(symbol, 0) + 1
        gap = SequenceGap(
            f"{self.venue} {symbol}: book sequence gap at frame {message.frame} (expected {expected}, got {got}); "
            "book cleared until its next snapshot",
            venue=self.venue, symbol=symbol, expected=expected, got=got,
        )
        self.last_gap[symbol] = gap
        logger.warning("%s", gap)
        self._lose(entry, message)

    def _checksum_failed(self, entry: SymbolBook, message: Message) -> None:
        self._counts["checksum_failures"] += 1
        logger.warning(
            "%s %s: book checksum mismatch at frame %d (venue %d, book %d); book cleared until its next snapshot",
            self.venue, message.raw_symbol, message.frame, message.checksum, entry.book.checksum(),
        )
        self._lose(entry, message)

    def _lose(self, entry: SymbolBook, message: Message, *, replayable: bool = True) -> None:
        """Clear the symbol's book until its next snapshot and ask for one."""
        entry.lose()
        if replayable and self.rule.rest_snapshots and not message.is_snapshot:
            # the next REST snapshot may still need this event (and later ones) to sync
            self._buffer(entry, message)
        if self.scheduler is not None:
            self.scheduler.request(message.raw_symbol)


def _column(batch: Batch, name: str) -> np.ndarray:
    try:
        return batch.column(name)
    except KeyError:
        raise InputError(f"{batch!r} has no {name!r} column; book_delta batches from a parser have it") from None
