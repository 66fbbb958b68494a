"""The ``normalize`` command: capture files in, normalized records out (normalize-cli.md).

Frames are fed to one venue parser in file order, as one continuous stream; REST depth
snapshots are fed at their receive time in that stream. Every ``chunk_frames`` frames (and
before each snapshot) the parser's buffers are taken, book_delta batches go through the
book builder when ``--books`` is on, and the batches are handed to a writer as one
``Chunk`` that it puts in frame order.

Which symbol a REST snapshot belongs to (normalize-cli.md, "Details"): the ``symbol`` field
of its body, else the ``symbol=`` parameter of its URL in the meta file, else, on Binance,
the first unsynced symbol whose buffered or next depth event straddles its
``lastUpdateId``. ``DepthSync`` follows each symbol's depth stream for that last rule. A
snapshot that only a *next* event can attribute waits for it, as a live feed would: it is
fed right after the frame that carries that event (its rows follow that frame's records;
the book builder buffers the event and replays it when the snapshot arrives).
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from typing import Callable, Iterator, Mapping, Sequence
from urllib.parse import parse_qs, urlsplit

import numpy as np
import orjson

from ..batch import Batch
from ..errors import ConfigurationError
from ..instruments import InstrumentRegistry
from ..parser import FrameStatus, Parser, make_parser
from ..records import KIND_NAMES, VENUES
from ..refdata import load_metadata
from ..symbols import SymbolMetadata
from ..books.markers import without_markers
from .capture import STDIN, Body, CaptureStats, Clock, FrameReader, check_readable, iter_bodies, iter_lines, meta_path_for
from .writers import Chunk, RecordWriter

try:  # the compiled parser's lines fed from a block in C (absent without the build)
    from ._lines import feed_lines as _feed_lines
except ImportError:  # pragma: no cover - exercised only without the build
    _feed_lines = None

_NO_LIMIT = np.iinfo(np.int64).max

DEFAULT_BOOK_DEPTH = 20
# Without --book-every-update, a symbol's book is emitted at most once per this much receive time.
DEFAULT_BOOK_INTERVAL_MS = 1000
MAX_BOOK_DEPTH = 2**16 - 1  # book_snapshot.depth is u2
DEFAULT_CHUNK_FRAMES = 4096
# How many frames a snapshot naming no symbol waits for a depth event that tells it.
PENDING_FRAMES = 20_000
# Depth events remembered per unsynced symbol (a snapshot straddles a recent one).
BUFFERED_EVENTS = 4096
# Frames of a file tried with the other venues' parsers when none was of the given venue.
SAMPLE_FRAMES = 200
# The reference parser's loop reports progress every this many frames.
PROGRESS_FRAMES = 16384


@dataclass(frozen=True)
class NormalizeOptions:
    venue: str
    frames: Sequence[str]
    snapshots: str | None = None
    refdata: Sequence[str] = ()
    kinds: frozenset[str] | None = None  # None: every kind
    books: bool = False
    book_depth: int | None = None  # None: DEFAULT_BOOK_DEPTH
    book_every_update: bool = False
    book_interval_ms: int | None = None  # None: DEFAULT_BOOK_INTERVAL_MS unless every update
    implementation: str = "auto"
    chunk_frames: int = DEFAULT_CHUNK_FRAMES

    def validate(self) -> None:
        if self.venue not in VENUES:
            raise ConfigurationError(f"unknown venue {self.venue!r}; expected one of {', '.join(VENUES)}", field="venue")
        if not self.frames:
            raise ConfigurationError("no FRAMES file given", field="frames")
        inputs = [*self.frames, *([self.snapshots] if self.snapshots else []), *self.refdata]
        if inputs.count(STDIN) > 1:
            raise ConfigurationError("standard input ('-') can be read only once", field="frames")
        if self.kinds is not None:
            unknown = sorted(self.kinds - set(KIND_NAMES))
            if unknown:
                raise ConfigurationError(
                    f"unknown kind(s) {', '.join(unknown)}; known: {', '.join(KIND_NAMES)}", field="kinds"
                )
            if not self.kinds:
                raise ConfigurationError("--kinds names no kind", field="kinds")
            if "book_snapshot" in self.kinds and not self.books:
                raise ConfigurationError("book_snapshot records come only with --books", field="kinds")
        if not self.books and (
            self.book_depth is not None or self.book_every_update or self.book_interval_ms is not None
        ):
            raise ConfigurationError(
                "--book-depth, --book-every-update and --book-interval need --books", field="books"
            )
        if self.book_every_update and self.book_interval_ms is not None:
            raise ConfigurationError(
                "give either --book-every-update or --book-interval, not both", field="book_interval_ms"
            )
        if self.book_interval_ms is not None and self.book_interval_ms < 1:
            raise ConfigurationError(
                f"--book-interval must be at least 1 ms, got {self.book_interval_ms}", field="book_interval_ms"
            )
        if self.book_depth is not None and not 1 <= self.book_depth <= MAX_BOOK_DEPTH:
            raise ConfigurationError(f"--book-depth must be 1..{MAX_BOOK_DEPTH}, got {self.book_depth}", field="book_depth")
        if self.chunk_frames < 1:
            raise ConfigurationError("chunk_frames must be at least 1", field="chunk_frames")

    def wants(self, kind: str) -> bool:
        return self.kinds is None or kind in self.kinds


@dataclass
class NormalizeSummary:
    venue: str
    files: int = 0
    frames: int = 0
    parsed: int = 0
    skipped: int = 0
    malformed_frames: int = 0
    skipped_by_reason: dict[str, int] = field(default_factory=dict)
    records: dict[str, int] = field(default_factory=dict)
    snapshots_fed: int = 0
    snapshots_malformed: int = 0
    snapshots_unattributed: list[str] = field(default_factory=list)
    snapshots_for_synced: int = 0  # a second snapshot for a synced symbol (books do not apply it)
    unresolved_symbols: list[str] = field(default_factory=list)
    books: bool = False
    gaps: dict[str, int] = field(default_factory=dict)
    checksum_failures: int = 0
    book_counts: dict[str, int] = field(default_factory=dict)  # the builder's other counters
    books_waiting: list[str] = field(default_factory=list)  # symbols without a usable book at the end
    warnings: list[str] = field(default_factory=list)
    parser: str = ""  # "compiled" or "reference"
    elapsed_seconds: float = 0.0

    @property
    def malformed(self) -> int:
        return self.malformed_frames + self.snapshots_malformed + len(self.snapshots_unattributed)

    @property
    def exit_status(self) -> int:
        """0 when every frame was parsed or knowingly skipped, 1 when anything was malformed."""
        return 1 if self.malformed else 0

    def render(self) -> str:
        def listing(counts: Mapping[str, int]) -> str:
            items = [f"{k} {v}" for k, v in counts.items() if v]
            return ", ".join(items) if items else "none"

        total = sum(self.records.values())
        lines = [
            f"normalize {self.venue}: {self.frames} frames read from {self.files} file(s): "
            f"{self.parsed} parsed, {self.skipped} skipped, {self.malformed_frames} malformed",
            f"  records: {total} ({listing(self.records)})",
            f"  skipped frames: {listing(self.skipped_by_reason)}",
        ]
        if self.snapshots_fed or self.snapshots_malformed or self.snapshots_unattributed:
            lines.append(
                f"  REST snapshots: {self.snapshots_fed} fed, {self.snapshots_malformed} malformed, "
                f"{len(self.snapshots_unattributed)} without a symbol, "
                f"{self.snapshots_for_synced} for an already synced symbol (not applied to books)"
                + (f" ({'; '.join(self.snapshots_unattributed)})" if self.snapshots_unattributed else "")
            )
        lines.append(f"  malformed: {self.malformed}")
        if self.books:
            lines.append(f"  sequence gaps: {listing(self.gaps)}")
            lines.append(f"  checksum failures: {self.checksum_failures}")
            if self.book_counts:
                lines.append(f"  books: {listing(self.book_counts)}")
            if self.books_waiting:
                lines.append(f"  books waiting for a snapshot at the end: {', '.join(self.books_waiting)}")
        else:
            lines.append("  sequence gaps: not checked (needs --books)")
            lines.append("  checksum failures: not checked (needs --books)")
        if self.unresolved_symbols:
            lines.append(f"  symbols no rule could split (kept upper-cased): {', '.join(self.unresolved_symbols)}")
        if self.parser:
            rate = self.frames / self.elapsed_seconds if self.elapsed_seconds > 0 else 0.0
            lines.append(
                f"  time: {self.elapsed_seconds:.2f} s, {rate:,.0f} frames/s, "
                f"{sum(self.records.values()) / max(self.elapsed_seconds, 1e-9):,.0f} records/s ({self.parser} parser)"
            )
        lines += [f"  warning: {w}" for w in self.warnings]
        return "\n".join(lines)


# ---- snapshot attribution -----------------------------------------------------------------


def json_object(body: bytes) -> dict | None:
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    return doc if isinstance(doc, dict) else None


def explicit_symbol(doc: Mapping | None, url: str) -> str | None:
    """The body's ``symbol`` field, else the ``symbol=`` parameter of its URL."""
    if doc is not None and isinstance(doc.get("symbol"), str) and doc["symbol"]:
        return doc["symbol"]
    values = parse_qs(urlsplit(url).query).get("symbol") if "?" in url else None
    return values[0] if values and values[0] else None


def snapshot_id_of(doc: Mapping | None) -> int | None:
    value = doc.get("lastUpdateId") if doc is not None else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def depth_events(batch: Batch) -> list[tuple[str, int, int, int]]:
    """``(raw_symbol, first_update_id, update_id, prev_update_id)`` per depth message of a
    book_delta batch, in order; REST snapshot rows are left out.

    A message's rows are consecutive and share frame, symbol and ids. A message with no
    level at all leaves no row, so it is not seen here.
    """
    live = np.flatnonzero(np.asarray(batch.column("is_snapshot")) == 0)
    if live.size == 0:
        return []
    frame = np.asarray(batch.frame)[live]
    symbol = np.asarray(batch.column("raw_symbol"))[live]
    first = np.asarray(batch.column("first_update_id"))[live]
    last = np.asarray(batch.column("update_id"))[live]
    prev = np.asarray(batch.column("prev_update_id"))[live]
    start = np.ones(live.size, dtype=bool)
    start[1:] = (frame[1:] != frame[:-1]) | (symbol[1:] != symbol[:-1]) | (last[1:] != last[:-1])
    at = np.flatnonzero(start)
    return list(zip(symbol[at].tolist(), first[at].tolist(), last[at].tolist(), prev[at].tolist()))


class _SymbolDepth:
    __slots__ = ("sync", "buffered")

    def __init__(self, sync) -> None:  # a books.sync.SyncState
        self.sync = sync
        self.buffered: deque[tuple[int, int, int]] = deque(maxlen=BUFFERED_EVENTS)


class DepthSync:
    """Per symbol, whether its Binance depth stream is in sync with a REST snapshot, by the
    venue's sync rule (``books.sync``: the rule the book builder runs). A break makes the
    symbol unsynced again. Used only to attribute snapshots that name no symbol; the book
    builder keeps the books.
    """

    def __init__(self, venue: str) -> None:
        # imported here: the rules live in the compiled book core, which only this needs
        from ..books import sync

        self._sync = sync
        self.rule = sync.rule_for(venue)
        self._symbols: dict[str, _SymbolDepth] = {}  # in order of first appearance

    def straddles(self, first: int, last: int, snapshot_id: int) -> bool:
        return self.rule.straddles(snapshot_id, first, last)

    def is_unsynced(self, symbol: str) -> bool:
        s = self._symbols.get(symbol)
        return s is None or s.sync.phase == self._sync.Phase.WAITING

    def event(self, symbol: str, first: int, last: int, prev: int) -> None:
        s = self._symbols.get(symbol)
        if s is None:
            s = self._symbols[symbol] = _SymbolDepth(self._sync.SyncState())
        action = self.rule.decide_ids(s.sync.phase, s.sync.last_id, False, first, last, prev)
        if action is self._sync.Action.APPLY:
            s.sync.advance(action, last)
        elif action is not self._sync.Action.DROP:  # unsynced, or the stream broke: wait for a snapshot
            s.sync.lose()
            s.buffered.append((first, last, prev))

    def snapshot(self, symbol: str, snapshot_id: int) -> bool:
        """A snapshot for ``symbol``: replay its buffered events through the sync rule.

        A second snapshot for a synced symbol changes nothing (it is not applied): False.
        """
        s = self._symbols.get(symbol)
        if s is None:
            s = self._symbols[symbol] = _SymbolDepth(self._sync.SyncState())
        action = self.rule.decide_ids(s.sync.phase, s.sync.last_id, True, snapshot_id, snapshot_id, 0)
        if action is self._sync.Action.IGNORE:
            return False
        s.sync.advance(action, snapshot_id)
        pending = list(s.buffered)
        s.buffered.clear()
        for event in pending:
            self.event(symbol, *event)
        return True

    def buffered_match(self, snapshot_id: int) -> str | None:
        """The first unsynced symbol (in order of appearance) with a buffered event that
        straddles ``snapshot_id``."""
        waiting = self._sync.Phase.WAITING
        for name, s in self._symbols.items():
            if s.sync.phase == waiting and any(self.straddles(f, l, snapshot_id) for f, l, _ in s.buffered):
                return name
        return None


@dataclass
class _PendingSnapshot:
    """A snapshot waiting for the next depth event of an unsynced symbol to straddle it."""

    body: Body
    snapshot_id: int
    frames_left: int = PENDING_FRAMES
    seen: set[str] = field(default_factory=set)  # symbols whose next event was looked at
    symbol: str | None = None

    def look(self, sync: DepthSync, symbol: str, first: int, last: int) -> None:
        """One depth event, before ``sync`` sees it."""
        if self.symbol is None and symbol not in self.seen:
            self.seen.add(symbol)
            if sync.is_unsynced(symbol) and sync.straddles(first, last, self.snapshot_id):
                self.symbol = symbol


# ---- the run ------------------------------------------------------------------------------


def _quietly(function, *args):
    """``function(*args)`` with the package's log lines held back (a guess must not log)."""
    import logging

    names = ["marketprism_fast"] + [n for n in logging.root.manager.loggerDict if n.startswith("marketprism_fast.")]
    loggers = [logging.getLogger(n) for n in names]
    previous = [log.disabled for log in loggers]
    for log in loggers:
        log.disabled = True
    try:
        return function(*args)
    finally:
        for log, was in zip(loggers, previous):
            log.disabled = was


def load_refdata(paths: Sequence[str]) -> SymbolMetadata | None:
    if not paths:
        return None
    metadata = SymbolMetadata()
    for path in paths:
        load_metadata(iter_lines(path), metadata, source=path)
    return metadata


def _make_book_builder(options: NormalizeOptions, instruments: InstrumentRegistry):
    try:
        from ..books import BookBuilder
    except ImportError as exc:
        raise ConfigurationError(f"--books: the book builder is not available ({exc})", field="books") from None
    depth = options.book_depth or DEFAULT_BOOK_DEPTH
    if options.book_every_update:
        return BookBuilder(options.venue, instruments, depth=depth, every_update=True)
    interval_ms = options.book_interval_ms or DEFAULT_BOOK_INTERVAL_MS
    return BookBuilder(options.venue, instruments, depth=depth, every_update=False, interval_ns=interval_ms * 1_000_000)


class Normalizer:
    """One ``normalize`` run. Construction checks every input and sets up the parser, so that
    bad usage and unreadable input fail before any output is written.
    """

    def __init__(self, options: NormalizeOptions, *, clock: Clock = time.time_ns) -> None:
        options.validate()
        self.options = options
        self.clock = clock
        for path in [*options.frames, *([options.snapshots] if options.snapshots else []), *options.refdata]:
            check_readable(path)
            meta = meta_path_for(path)
            if meta:
                check_readable(meta)
        self.metadata = load_refdata(options.refdata)
        self.instruments = InstrumentRegistry(options.venue, self.metadata)
        # With --books, a book message that changes no level still reaches the builder as a
        # side-0 marker row; markers are not records and are dropped before writing.
        self.parser: Parser = make_parser(
            options.venue, self.instruments, implementation=options.implementation, book_markers=options.books
        )
        self.builder = _make_book_builder(options, self.instruments) if options.books else None
        binance = options.venue.startswith("binance_")
        self.depth_sync = DepthSync(options.venue) if (binance and options.snapshots) else None
        self.reader = FrameReader(options.frames, clock=clock)
        self.summary = NormalizeSummary(options.venue, books=options.books, parser=self.parser_name)
        self._seq = 0  # feed calls so far: the parser's next frame number (before wrapping)
        self._chunk_start = 0
        self._pending: _PendingSnapshot | None = None
        # Called now and then with the reader's stats (frames and bytes read so far).
        self.progress: Callable[[CaptureStats], None] | None = None
        # Set (by a signal handler) to stop the run: raised at the next safe point (between
        # blocks, chunks or frames), never inside a lock or a write in progress.
        self.interrupt: BaseException | None = None

    def run(self, writer: RecordWriter) -> NormalizeSummary:
        started = time.perf_counter()
        summary = self._run_blocks(writer) if self._compiled_lines() else self._run_frames(writer)
        summary.elapsed_seconds = time.perf_counter() - started
        return summary

    @property
    def parser_name(self) -> str:
        """Which implementation runs: "compiled" or "reference"."""
        return "reference" if ".reference" in type(self.parser).__module__ else "compiled"

    def _compiled_lines(self) -> bool:
        if _feed_lines is None:
            return False
        from .. import _parse

        return isinstance(self.parser, _parse.ParserBase)

    def _run_blocks(self, writer: RecordWriter) -> NormalizeSummary:
        """The compiled parser's loop: blocks of lines fed in C, Python only between
        chunks and at snapshots."""
        opts = self.options
        statuses = np.zeros(3, dtype=np.uint64)  # indexed by FrameStatus
        parser = self.parser
        snapshots: Iterator[Body] = iter_bodies(opts.snapshots) if opts.snapshots else iter(())
        snapshot = next(snapshots, None)
        due = self._due(snapshot)
        chunk_end = self._seq + opts.chunk_frames
        for block in self.reader.blocks():
            data, ts = block.data, block.ts
            n, i, pos = len(ts), 0, 0
            while i < n:
                if self.interrupt is not None:
                    raise self.interrupt
                while due is not None and due < ts[i]:  # received before line i
                    self._flush(writer)
                    self._start_snapshot(snapshot)  # type: ignore[arg-type]
                    snapshot = None if self._pending else next(snapshots, None)
                    due = self._due(snapshot)
                if self._pending is not None:  # one frame at a time until it is attributed
                    k, pos = _feed_lines(parser, data, pos, ts, i, i + 1, _NO_LIMIT, statuses)
                    i += k
                    self._seq += k
                    self._flush(writer)
                    if self._end_pending():
                        snapshot = next(snapshots, None)
                        due = self._due(snapshot)
                    chunk_end = self._seq + opts.chunk_frames
                    continue
                stop = min(n, i + (chunk_end - self._seq))
                k, pos = _feed_lines(parser, data, pos, ts, i, stop, _NO_LIMIT if due is None else due, statuses)
                i += k
                self._seq += k
                if self._seq >= chunk_end:
                    self._flush(writer)
                    chunk_end = self._seq + opts.chunk_frames
            if self.progress is not None:
                self.progress(self.reader.stats)
        if self.interrupt is not None:
            raise self.interrupt
        self._after_frames(writer, snapshot, snapshots)
        return self._finish([int(x) for x in statuses])

    def _run_frames(self, writer: RecordWriter) -> NormalizeSummary:
        """Frame by frame, for a parser without the compiled entry point (the reference)."""
        opts = self.options
        statuses = [0, 0, 0]  # indexed by FrameStatus
        feed = self.parser.feed
        snapshots: Iterator[Body] = iter_bodies(opts.snapshots) if opts.snapshots else iter(())
        snapshot = next(snapshots, None)
        due = self._due(snapshot)
        chunk_end = self._seq + opts.chunk_frames
        for frame, ts in self.reader:
            if self.interrupt is not None:
                raise self.interrupt
            while due is not None and due < ts:  # received before this frame
                self._flush(writer)
                self._start_snapshot(snapshot)  # type: ignore[arg-type]
                snapshot = None if self._pending else next(snapshots, None)
                due = self._due(snapshot)
            statuses[feed(frame, ts)] += 1
            self._seq += 1
            if self._pending is not None:
                self._flush(writer)  # its depth events may attribute the snapshot
                if self._end_pending():
                    snapshot = next(snapshots, None)
                    due = self._due(snapshot)
                chunk_end = self._seq + opts.chunk_frames
            elif self._seq >= chunk_end:
                self._flush(writer)
                chunk_end = self._seq + opts.chunk_frames
            if self.progress is not None and self._seq % PROGRESS_FRAMES == 0:
                self.progress(self.reader.stats)
        if self.interrupt is not None:
            raise self.interrupt
        self._after_frames(writer, snapshot, snapshots)
        return self._finish(statuses)

    def _after_frames(self, writer: RecordWriter, snapshot: Body | None, snapshots: Iterator[Body]) -> None:
        if self._pending is not None:
            self._end_pending(give_up=True)
        while snapshot is not None:  # received after the last frame
            self._flush(writer)
            self._start_snapshot(snapshot)
            if self._pending is not None:
                self._end_pending(give_up=True)
            snapshot = next(snapshots, None)
        self._flush(writer)

    @staticmethod
    def _due(snapshot: Body | None) -> int | None:
        if snapshot is None:
            return None
        return -1 if snapshot.ts_recv is None else snapshot.ts_recv  # no receive time: at the start

    def _flush(self, writer: RecordWriter) -> None:
        batches = self.parser.take()
        deltas = [b for b in batches if b.kind.name == "book_delta"]
        if self.depth_sync is not None:
            for b in deltas:
                self._observe(b)
        if self.builder is not None:
            for b in deltas:
                self.builder.apply(b)
            batches = [without_markers(b) if b.kind.name == "book_delta" else b for b in batches]
            batches += self.builder.take()
        selected = [b for b in batches if len(b) and self.options.wants(b.kind.name)]
        for b in selected:
            self.summary.records[b.kind.name] = self.summary.records.get(b.kind.name, 0) + len(b)
        if selected:
            writer.write(Chunk(selected, self._chunk_start))
        self._chunk_start = self._seq

    def _observe(self, batch: Batch) -> None:
        sync = self.depth_sync
        assert sync is not None
        pending = self._pending
        for event in depth_events(batch):
            if pending is not None:
                pending.look(sync, event[0], event[1], event[2])
            sync.event(*event)

    def _where(self, snapshot: Body) -> str:
        return f"{self.options.snapshots} line {snapshot.line}"

    def _start_snapshot(self, snapshot: Body) -> None:
        """Feed a snapshot now if its symbol is known, else make it wait for a depth event."""
        doc = json_object(snapshot.body)
        symbol = explicit_symbol(doc, snapshot.note)
        snapshot_id = snapshot_id_of(doc)
        if symbol is None and self.depth_sync is not None and snapshot_id is not None:
            symbol = self.depth_sync.buffered_match(snapshot_id)
            if symbol is None:
                self._pending = _PendingSnapshot(snapshot, snapshot_id)
                return
        if symbol is None:
            reason = "not a JSON object" if doc is None else "it names no symbol (no symbol field or URL symbol)"
            self.summary.snapshots_unattributed.append(f"{self._where(snapshot)}: {reason}")
            return
        self._feed_snapshot(snapshot, symbol, snapshot_id)

    def _end_pending(self, *, give_up: bool = False) -> bool:
        """Feed the waiting snapshot if an event told its symbol; True when it is done with."""
        pending = self._pending
        assert pending is not None
        pending.frames_left -= 1
        if pending.symbol is not None:
            self._pending = None
            self._feed_snapshot(pending.body, pending.symbol, pending.snapshot_id)
            return True
        if give_up or pending.frames_left <= 0:
            self._pending = None
            self.summary.snapshots_unattributed.append(
                f"{self._where(pending.body)}: no unsynced symbol's buffered or next depth event "
                f"straddles lastUpdateId {pending.snapshot_id}"
            )
            return True
        return False

    def _feed_snapshot(self, snapshot: Body, symbol: str, snapshot_id: int | None) -> None:
        ts = snapshot.ts_recv if snapshot.ts_recv is not None else self.clock()
        status = self.parser.feed_snapshot(snapshot.body, ts, symbol)
        self._seq += 1
        if status == FrameStatus.MALFORMED:
            self.summary.snapshots_malformed += 1
            return
        self.summary.snapshots_fed += 1
        if self.depth_sync is not None and snapshot_id is not None:
            if not self.depth_sync.snapshot(symbol, snapshot_id):
                self.summary.snapshots_for_synced += 1

    def _input_warnings(self) -> list[str]:
        """A likely cause when nothing of the input was data of this venue."""
        s, opts = self.summary, self.options
        files = ", ".join(opts.frames)
        if s.frames == 0:
            return [f"no frames read: {files} holds no line (empty input?); a capture has one received frame per line"]
        if s.parsed:
            return []
        unknown = s.skipped_by_reason.get("unknown_channel", 0)
        what = f"none of the {s.frames} frames is {opts.venue} market data"
        detail = f" ({unknown} of an unknown channel, {s.malformed_frames} malformed)"
        hint = ""
        first = opts.frames[0]
        if first != STDIN and unknown + s.malformed_frames:
            others = _quietly(likely_venues, first, opts.venue)
            if others:
                if len(others) == 1:
                    hint = f"; they parse as {others[0]}: try --venue {others[0]}"
                else:
                    hint = f"; they parse as any of {', '.join(others)}: try --venue with the one recorded"
        if not hint and unknown:
            hint = f"; is {files} a capture of another venue, or of channels this venue's parser does not read?"
        return [what + detail + hint]

    def _finish(self, statuses: list[int]) -> NormalizeSummary:
        s = self.summary
        s.files = self.reader.stats.files
        s.frames = self.reader.stats.lines
        s.parsed = statuses[FrameStatus.PARSED]
        s.skipped = statuses[FrameStatus.SKIPPED]
        s.malformed_frames = statuses[FrameStatus.MALFORMED]
        s.skipped_by_reason = dict(self.parser.stats().get("skipped", {}))
        s.unresolved_symbols = sorted(self.instruments.unresolved)
        s.warnings = list(self.reader.stats.warnings) + self._input_warnings()
        if self.builder is not None:
            stats = self.builder.stats()
            s.gaps = dict(stats.get("gaps", {}))
            s.checksum_failures = int(stats.get("checksum_failures", 0))
            s.book_counts = {
                k: v for k, v in stats.items() if k not in ("gaps", "checksum_failures") and type(v) is int
            }
            s.books_waiting = sorted(stats.get("out_of_sync", ()))
        return s


def likely_venues(path: str, venue: str, *, sample: int = SAMPLE_FRAMES) -> list[str]:
    """The other venues whose parsers take the most of the first ``sample`` frames of
    ``path`` (several when they tie, as the Binance markets may; empty if none takes any)."""
    frames = []
    for line in iter_lines(path):
        frames.append(line)
        if len(frames) >= sample:
            break
    counts = {}
    for other in VENUES:
        if other != venue:
            parser = make_parser(other)
            counts[other] = sum(1 for frame in frames if parser.feed(frame, 0) == FrameStatus.PARSED)
    best = max(counts.values(), default=0)
    return [v for v, n in counts.items() if n == best] if best else []


def run(options: NormalizeOptions, writer: RecordWriter, *, clock: Clock = time.time_ns) -> NormalizeSummary:
    """Normalize ``options.frames`` into ``writer`` (which the caller closes)."""
    return Normalizer(options, clock=clock).run(writer)
