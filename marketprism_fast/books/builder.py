"""BookBuilder: book_delta batches in, maintained books and book_snapshot batches out.

    builder = BookBuilder(venue, instruments, depth=20, every_update=True)   # or interval_ns=T
    builder.apply(batch)          # book_delta rows in stream order (REST snapshot rows: is_snapshot=1)
    builder.take()                # [book_snapshot batch (+ quote batch with quotes=True)]
    builder.stats()               # gaps per symbol, checksum failures, crossed, applied, dropped, ...

Per message (``messages.split``), the venue's sync rule (``sync.py``) decides; the builder
applies levels through the compiled engine, verifies OKX checksums, and emits the top
``depth`` levels after every applied message (or at most once per ``interval_ns`` of receive
time per symbol). An emitted row's ``frame`` is the frame of the batch row being processed
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

from dataclasses import dataclass, field
import math

from .._book import DEFAULT_LADDER_WIDTH, DEFAULT_MAX_LADDER_WIDTH, DEFAULT_MAX_LEVELS, LevelBook
from ..limits import DEFAULT_MAX_BOOKS
from ..batch import Batch
from ..errors import ConfigurationError, SequenceGap
from ..instruments import InstrumentRegistry
from ..log import logger
from ..records import INSTRUMENT_COLUMNS
from . import messages
from .messages import Message
from .output import Instrument, QuoteRows, SnapshotRows
from .scheduler import SnapshotScheduler
from .sync import Action, Phase, SyncState, rule_for

DEFAULT_MAX_PENDING = 10_000


@dataclass(slots=True)
class SymbolBook:
    """Everything the builder keeps per symbol."""

    instrument: int  # index into the builder's instrument table
    book: LevelBook
    sync: SyncState = field(default_factory=SyncState)
    pending: list[Message] = field(default_factory=list)  # events waiting for a REST snapshot
    next_emit_ns: int = 0
    last_quote: tuple[float, float, float, float] | None = None


def _same_quote(a: tuple | None, b: tuple) -> bool:
    return a is not None and all(x == y or (math.isnan(x) and math.isnan(y)) for x, y in zip(a, b))


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
        self.scheduler = scheduler
        self._books: dict[str, SymbolBook] = {}
        self._instrument_table: list[Instrument] = []
        self._snapshots = SnapshotRows(venue, depth)
        self._quotes = QuoteRows(venue) if quotes else None
        self._gaps: dict[str, int] = {}
        self.last_gap: dict[str, SequenceGap] = {}
        self._counts = dict.fromkeys(
            ("applied", "dropped", "buffered", "pending_overflow", "snapshots_ignored", "checksum_failures",
             "crossed", "invalid_messages", "emitted", "books_refused"),
            0,
        )

    # ------------------------------------------------------------------ public surface

    def apply(self, batch: Batch) -> None:
        """Apply a book_delta batch whose rows are in stream order."""
        for message in messages.split(batch, texts=self.rule.checksums):
            symbol_book = self._books.get(message.raw_symbol)
            if symbol_book is None:
                if len(self._books) >= self.max_books:
                    self._refuse_book(message.raw_symbol)
                    continue
                symbol_book = self._add_symbol(message, batch)
            self._handle(symbol_book, message, message.frame)

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
        if len(self._snapshots):
            out.append(self._snapshots.take(self._instrument_table))
        if self._quotes is not None and len(self._quotes):
            out.append(self._quotes.take(self._instrument_table))
        return out

    def stats(self) -> dict:
        return dict(
            self._counts,
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
        return entry is None or entry.sync.phase is Phase.WAITING

    @property
    def out_of_sync(self) -> set[str]:
        """Symbols seen so far that wait for a snapshot."""
        return {symbol for symbol, b in self._books.items() if b.sync.phase is Phase.WAITING}

    # ------------------------------------------------------------------ per message

    def _add_symbol(self, message: Message, batch: Batch) -> SymbolBook:
        self._instrument_table.append(self._instrument_of(message, batch))
        entry = SymbolBook(
            len(self._instrument_table) - 1,
            LevelBook(self.max_levels, self.rule.checksums, 0.0, self.ladder_width, self.max_ladder_width),
        )
        self._books[message.raw_symbol] = entry
        if self.rule.rest_snapshots and not message.is_snapshot and self.scheduler is not None:
            self.scheduler.request(message.raw_symbol)
        return entry

    def _instrument_of(self, message: Message, batch: Batch) -> Instrument:
        code = self.instruments.code_of(message.raw_symbol) if self.instruments is not None else None
        if code is not None:
            i = self.instruments[code]
            return (i.exchange, i.market, i.symbol, i.raw_symbol)
        return tuple(str(batch.column(name)[message.batch_row]) for name in INSTRUMENT_COLUMNS)

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
        action = self.rule.decide(entry.sync, message)
        if action is Action.APPLY or action is Action.RESET:
            if action is Action.RESET:
                entry.book.clear()
            entry.book.apply(message.rows, message.start, message.stop)
            if self.rule.checksums and message.checksum and entry.book.checksum() != message.checksum:
                self._checksum_failed(entry, message)
                return
            entry.sync.advance(action, message)
            self._counts["applied"] += 1
            if self.scheduler is not None and action is Action.RESET:
                self.scheduler.cancel(message.raw_symbol)
            self._applied(entry, message, frame)
        elif action is Action.SEED:
            entry.book.clear()
            entry.book.apply(message.rows, message.start, message.stop)
            entry.sync.advance(action, message)
            if self.scheduler is not None:
                self.scheduler.cancel(message.raw_symbol)
            replay, entry.pending = entry.pending, []
            self._counts["buffered"] -= len(replay)
            for event in replay:
                self._handle(entry, event, frame)
        elif action is Action.BUFFER:
            self._buffer(entry, message)
        elif action is Action.DROP:
            self._counts["dropped"] += 1
        elif action is Action.IGNORE:
            self._counts["snapshots_ignored"] += 1
        else:
            self._gap(entry, message)

    def _applied(self, entry: SymbolBook, message: Message, frame: int) -> None:
        book = entry.book
        if book.is_crossed():
            self._counts["crossed"] += 1
        if self.every_update or (self.interval_ns is not None and message.ts_recv >= entry.next_emit_ns):
            self._snapshots.add(book, entry.instrument, message.ts_event, message.ts_recv, message.last_id, frame)
            self._counts["emitted"] += 1
            if self.interval_ns is not None:
                entry.next_emit_ns = message.ts_recv + self.interval_ns
        if self._quotes is not None:
            best = book.best()
            if not _same_quote(entry.last_quote, best):
                entry.last_quote = best
                self._quotes.add(best, entry.instrument, message.ts_event, message.ts_recv, message.last_id, frame)

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
        expected, got = self.rule.continuity(entry.sync, message)
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
        entry.book.clear()
        entry.sync.lose()
        entry.last_quote = None
        if replayable and self.rule.rest_snapshots and not message.is_snapshot:
            # the next REST snapshot may still need this event (and later ones) to sync
            self._buffer(entry, message)
        if self.scheduler is not None:
            self.scheduler.request(message.raw_symbol)
